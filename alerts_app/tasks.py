"""Celery tasks of the detection engine. They take ids, re-read state, call the engine."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from sessions_app.choices import SessionStatus
from sessions_app.models import Session

from . import engine
from .detectors.base import DEFAULT_POLICY
from .revocation import tasks as revocation_tasks  # noqa: F401  (registers its tasks)

SWEEP_BATCH = 2000


@shared_task(
    name="alerts_app.detect_batch",
    acks_late=True,  # idempotent: detection over stored events merges into dedup-keyed alerts
    reject_on_worker_lost=True,
    soft_time_limit=240,
    time_limit=300,
)
def detect_batch(session_ids: list[int], identity_ids: list[int]) -> dict:
    """Detection for the sessions and identities one ingested batch touched."""
    result = engine.detect_sessions(session_ids)
    result.merge(engine.detect_identities(identity_ids))
    return {
        "created": len(result.created),
        "updated": len(result.updated),
        "reopened": len(result.reopened),
    }


@shared_task(
    name="alerts_app.sweep_sessions",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=240,
    time_limit=300,
)
def sweep_sessions() -> dict:
    """Time-based checks (lifetime, idle) on active sessions that received no new events."""
    now = timezone.now()
    horizon = now - timedelta(
        seconds=min(DEFAULT_POLICY.max_lifetime_s or 86400, DEFAULT_POLICY.idle_timeout_s or 3600)
    )
    ids = list(
        Session.objects.filter(status=SessionStatus.ACTIVE, first_seen_at__lte=horizon)
        .order_by("first_seen_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    result = engine.detect_sessions(ids, now=now)
    return {"sessions": len(ids), "created": len(result.created)}


def on_events_ingested(sender, *, session_ids, identity_ids, **kwargs) -> None:
    """Receiver of sessions_app.signals.events_ingested (sent on commit)."""
    if session_ids or identity_ids:
        detect_batch.delay(sorted(session_ids), sorted(identity_ids))


# ---------------------------------------------------------------------------- triage


@shared_task(
    name="alerts_app.deliver_notifications",
    soft_time_limit=60,
    time_limit=90,
)
def deliver_notifications(notification_ids: list[int]) -> dict:
    """Send the given notifications (skips those already sent; holds digest/burst ones)."""
    from .notifications import deliver

    return deliver(notification_ids)


@shared_task(name="alerts_app.send_notification_digests", soft_time_limit=240, time_limit=300)
def send_notification_digests() -> dict:
    """One message per recipient with everything held for the digest."""
    from .notifications import send_digests

    return send_digests()


@shared_task(
    name="alerts_app.triage_sweep",
    acks_late=True,  # idempotent: each breach/expiry is a conditional update done once
    reject_on_worker_lost=True,
    soft_time_limit=240,
    time_limit=300,
)
def triage_sweep() -> dict:
    """Flag SLA breaches, re-open expired risk acceptances, end expired suppressions."""
    from . import services

    now = timezone.now()
    breaches = services.sla_sweep(now=now)
    return {
        "sla_ack_breaches": breaches["ack"],
        "sla_contain_breaches": breaches["contain"],
        "risk_acceptances_reopened": services.risk_acceptance_sweep(now=now),
        "suppressions_ended": services.suppression_sweep(now=now),
    }
