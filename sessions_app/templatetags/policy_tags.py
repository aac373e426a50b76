"""Template helpers for session-lifetime policies: limits in words, the effective policy."""

from __future__ import annotations

from django import template

from sessions_app.models import Identity, Session
from sessions_app.policies import EffectivePolicy, effective_policy
from sessions_app.policy_rules import human

register = template.Library()


@register.filter
def limit(seconds: int | None) -> str:
    """A policy limit in words: "24 h", "15 min", "no limit"."""
    return human(seconds)


@register.simple_tag
def effective_policy_for(subject: Session | Identity) -> EffectivePolicy:
    """The effective policy of a session or identity (for the detail pages' panel)."""
    if isinstance(subject, Session):
        return effective_policy(session=subject)
    return effective_policy(identity=subject)
