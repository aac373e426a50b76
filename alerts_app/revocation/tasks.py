"""Celery tasks of the revocation flow. They take ids, re-read state and call one service."""

from __future__ import annotations

from celery import shared_task

from sessions_app.signals import events_ingested

from . import services


@shared_task(
    name="alerts_app.revocation_execute",
    # Idempotent: a lease lets one worker call providers, succeeded targets are never called
    # again and the provider calls themselves are repeatable (DELETE / reset-to-now).
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=240,
    time_limit=300,
)
def revocation_execute(revocation_id: int) -> dict:
    """Run the revocation's pending provider calls; schedule the next pass on transient errors."""
    result = services.revocation_run(revocation_id=revocation_id)
    if result.retry_in is not None:
        revocation_execute.apply_async((revocation_id,), countdown=result.retry_in)
    return {"status": result.status, "retry_in": result.retry_in, "claimed": result.claimed}


@shared_task(
    name="alerts_app.containment_check_sessions",
    acks_late=True,  # idempotent: a decided containment is never decided again
    reject_on_worker_lost=True,
    soft_time_limit=120,
    time_limit=150,
)
def containment_check_sessions(session_ids: list[int]) -> dict:
    """Containment check for the sessions an ingested batch touched."""
    return {"failed": services.containment_check_sessions(session_ids)}


@shared_task(
    name="alerts_app.containment_sweep",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=240,
    time_limit=300,
)
def containment_sweep() -> dict:
    """Periodic: decide pending containments (verified once their window held)."""
    return services.containment_sweep()


def on_events_ingested(sender, *, session_ids, identity_ids, **kwargs) -> None:
    """Receiver of sessions_app.signals.events_ingested (sent on commit)."""
    if session_ids and services.pending_containment_exists():
        containment_check_sessions.delay(sorted(session_ids))


# Connected here rather than in AppConfig.ready: alerts_app.tasks imports this module there,
# and the dispatch_uid keeps a re-import from connecting twice.
events_ingested.connect(on_events_ingested, dispatch_uid="alerts_app.containment_on_ingest")
