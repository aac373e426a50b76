"""Template filters of the triage pages."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def render_mentions(text: str, mentioned) -> SafeString:
    """Comment text made safe: HTML-escaped, line breaks kept, real @mentions highlighted.

    Escaping happens before anything is marked up, so a comment can never inject markup.
    """
    names = {u.get_username() for u in mentioned}
    escaped = escape(text or "")

    def mark(match: re.Match) -> str:
        name = match.group(1)
        return format_html('<span class="mention">@{}</span>', name) if name in names else match[0]

    # Usernames are [\w.@+-]; escaping never produces those characters, so matching the
    # escaped text finds exactly the mentions the author wrote.
    html = re.sub(r"(?<![\w@])@([\w.+-]+)", mark, escaped)
    return mark_safe(html.replace("\n", "<br>"))  # noqa: S308 — built from escaped text only
