"""Writes for API access: issuing and revoking a user's API token (audit-logged)."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token

from govern.audit import audit_log


@transaction.atomic
def api_token_issue(*, user, actor=None, actor_label: str = "", rotate: bool = False) -> str:
    """Create the user's API token and return its key.

    A user holds at most one token; with ``rotate`` an existing one is replaced (the old key
    stops working at once), without it an existing token is an error.
    """
    if not user.is_active:
        raise ValueError(f"User {user.get_username()} is inactive.")
    existing = Token.objects.select_for_update().filter(user=user).first()
    if existing is not None and not rotate:
        raise ValueError(
            f"User {user.get_username()} already has an API token; rotate to replace it."
        )
    if existing is not None:
        existing.delete()
    token = Token.objects.create(user=user)
    audit_log(
        actor=actor,
        actor_label=actor_label,
        verb="api_token.rotate" if existing is not None else "api_token.issue",
        obj=user,
        after={"token_prefix": token.key[:6]},
    )
    return token.key


@transaction.atomic
def api_token_revoke(*, user, actor=None, actor_label: str = "") -> bool:
    """Delete the user's API token; False when there was none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        audit_log(actor=actor, actor_label=actor_label, verb="api_token.revoke", obj=user)
    return bool(deleted)
