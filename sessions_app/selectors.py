"""Reads for the sessions domain: the home page figures and list/detail querysets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone

from .choices import IdentityKind, SessionStatus
from .models import (
    EventDailyCount,
    Identity,
    PendingBatch,
    QuarantinedEvent,
    Session,
    Source,
    TelemetryEvent,
)


@dataclass(frozen=True)
class HomeStats:
    identities_total: int
    identities_by_kind: list[tuple[str, int]]  # (label, count), every kind listed
    non_human_total: int
    non_human_without_owner: int
    active_sessions: int
    events_24h: int
    events_24h_by_source: list[tuple[Source, int]]
    quarantined_open: int
    daily: list[EventDailyCount]


def home_stats(*, now: datetime | None = None, days: int = 30) -> HomeStats:
    now = now or timezone.now()
    by_kind = dict(Identity.objects.values_list("kind").annotate(n=Count("id")))
    identities_by_kind = [(label, by_kind.get(value, 0)) for value, label in IdentityKind.choices]
    since = now - timedelta(hours=24)
    per_source = dict(
        TelemetryEvent.objects.filter(occurred_at__gte=since, occurred_at__lte=now)
        .values_list("source_id")
        .annotate(n=Count("id"))
    )
    sources = list(Source.objects.order_by("name"))
    daily = list(
        EventDailyCount.objects.filter(day__gte=(now - timedelta(days=days)).date())
        .select_related("source")
        .order_by("day")
    )
    return HomeStats(
        identities_total=sum(by_kind.values()),
        identities_by_kind=identities_by_kind,
        non_human_total=sum(n for k, n in by_kind.items() if k != IdentityKind.HUMAN),
        non_human_without_owner=Identity.objects.exclude(kind=IdentityKind.HUMAN)
        .filter(owner__isnull=True)
        .count(),
        # "Active" as the IdP last told us, and used in the last 24 h: IdPs expire quiet
        # sessions without logging it, so status alone overstates what is live.
        active_sessions=Session.objects.filter(
            status=SessionStatus.ACTIVE, last_seen_at__gte=since
        ).count(),
        events_24h=sum(per_source.values()),
        events_24h_by_source=[(s, per_source.get(s.pk, 0)) for s in sources],
        quarantined_open=QuarantinedEvent.objects.filter(resolved_at__isnull=True).count(),
        daily=daily,
    )


def daily_event_series(daily: list[EventDailyCount]) -> dict[str, dict]:
    """{source name: {day: count}} summed over event types, for the events-over-time chart."""
    series: dict[str, dict] = {}
    for row in daily:
        per_day = series.setdefault(row.source.name, {})
        per_day[row.day] = per_day.get(row.day, 0) + row.count
    return series


def identity_list() -> QuerySet[Identity]:
    return (
        Identity.objects.select_related("owner")
        .annotate(
            active_sessions=Count("sessions", filter=Q(sessions__status=SessionStatus.ACTIVE))
        )
        .order_by("display_name", "id")
    )


def identity_detail(pk: int) -> Identity:
    return Identity.objects.select_related("owner").get(pk=pk)


def identity_sessions(identity: Identity, limit: int = 50) -> list[Session]:
    return list(identity.sessions.select_related("source").order_by("-last_seen_at")[:limit])


def identity_events(identity: Identity, limit: int = 100) -> list[TelemetryEvent]:
    return list(
        TelemetryEvent.objects.filter(identity=identity)
        .select_related("source")
        .order_by("-occurred_at")[:limit]
    )


def session_list() -> QuerySet[Session]:
    return Session.objects.select_related("identity", "source")


def session_events(session: Session, limit: int = 500) -> list[TelemetryEvent]:
    """The session's timeline, oldest first (bounded)."""
    return list(
        TelemetryEvent.objects.filter(session=session)
        .select_related("source")
        .order_by("occurred_at", "id")[:limit]
    )


def event_list() -> QuerySet[TelemetryEvent]:
    return TelemetryEvent.objects.select_related("source", "identity").defer("raw")


def source_list() -> QuerySet[Source]:
    return Source.objects.annotate(
        quarantine_open=Count("quarantined", filter=Q(quarantined__resolved_at__isnull=True))
    ).order_by("name")


def source_pending(source: Source) -> dict[str, Any]:
    """Pushed batches of ``source`` waiting for a worker: how many, their records, the oldest,
    and the latest failure written on one (``PendingBatch``)."""
    waiting = PendingBatch.objects.filter(source=source)
    summary = waiting.aggregate(
        batches=Count("pk"), records=Sum("record_count"), oldest=Min("created_at")
    )
    failed = waiting.exclude(last_error="").order_by("-queued_at").first()
    summary["last_error"] = failed.last_error if failed else ""
    summary["requeued"] = failed.requeued if failed else 0
    return summary


def source_event_totals() -> dict[int, int]:
    return dict(EventDailyCount.objects.values_list("source_id").annotate(n=Sum("count")))


TIMELINE_FIELDS = ("ip", "asn", "country", "city", "user_agent", "device_id")


def timeline_with_changes(events: list[TelemetryEvent]) -> list[tuple[TelemetryEvent, set[str]]]:
    """Pair each event with the context fields that differ from the previous event."""
    rows, previous = [], None
    for event in events:
        changed = set()
        if previous is not None:
            changed = {
                f
                for f in TIMELINE_FIELDS
                if getattr(event, f) not in (None, "") and getattr(event, f) != getattr(previous, f)
            }
        rows.append((event, changed))
        previous = event
    return rows
