"""Reads for revocation pages and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from ..models import Containment, Revocation


def revocation_list() -> QuerySet[Revocation]:
    return Revocation.objects.select_related(
        "identity", "session", "alert", "requested_by", "approved_by"
    )


def revocations_for(
    *, identity=None, session=None, alert=None, limit: int = 10
) -> list[Revocation]:
    """The latest revocations of an alert, else of a session, else of an identity."""
    rows = revocation_list()
    # Templates pass "" for variables they do not have, hence truthiness, not ``is None``.
    if alert:
        rows = rows.filter(alert=alert)
    elif session:
        rows = rows.filter(Q(session=session) | Q(session_ids__contains=[session.pk]))
    elif identity:
        rows = rows.filter(identity=identity)
    else:
        return []
    return list(rows.order_by("-requested_at", "-id")[:limit])


@dataclass(frozen=True)
class ContainmentRates:
    """How revocations held: verified and failed counts and their share of decided ones."""

    verified: int
    failed: int
    pending: int

    @property
    def decided(self) -> int:
        return self.verified + self.failed

    @property
    def verified_rate(self) -> float | None:
        return self.verified / self.decided if self.decided else None

    @property
    def failed_rate(self) -> float | None:
        return self.failed / self.decided if self.decided else None


def containment_rates(
    *, since: datetime | None = None, until: datetime | None = None
) -> ContainmentRates:
    """Containment outcomes of revocations completed in [since, until)."""
    rows = Revocation.objects.all()
    if since is not None:
        rows = rows.filter(completed_at__gte=since)
    if until is not None:
        rows = rows.filter(completed_at__lt=until)
    counts = rows.aggregate(
        verified=Count("pk", filter=Q(containment=Containment.VERIFIED)),
        failed=Count("pk", filter=Q(containment=Containment.FAILED)),
        pending=Count("pk", filter=Q(containment=Containment.PENDING)),
    )
    return ContainmentRates(**counts)
