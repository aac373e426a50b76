"""Reads for the session-lifetime policy pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from .models import PolicyEnforcement, PolicyVersion, SessionLifetimePolicy
from .policies import precedence_key


def policy_list() -> list[SessionLifetimePolicy]:
    """All policies in precedence order (most specific, then priority, then oldest)."""
    policies = SessionLifetimePolicy.objects.select_related("source")
    return sorted(policies, key=lambda p: (not p.enabled, *precedence_key(p)))


def policy_history(policy: SessionLifetimePolicy) -> QuerySet[PolicyVersion]:
    return policy.versions.select_related("actor").order_by("-version")


def policy_enforcements(policy: SessionLifetimePolicy, *, limit: int = 50):
    return (
        PolicyEnforcement.objects.filter(policy=policy)
        .select_related("session", "session__identity")
        .order_by("-requested_at")[:limit]
    )


@dataclass(frozen=True)
class DiffRow:
    field: str
    before: object
    after: object


def version_rows(version: PolicyVersion) -> list[DiffRow]:
    """A version's diff as rows for display (sources shown by name)."""

    def show(value):
        if isinstance(value, dict) and "name" in value:
            return value["name"]
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "—"
        return "—" if value in (None, "") else value

    return [
        DiffRow(field=name.replace("_", " "), before=show(pair[0]), after=show(pair[1]))
        for name, pair in (version.diff or {}).items()
    ]
