"""Celery tasks of the SSF transmitter. They take ids, re-fetch, call one service."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(
    bind=True,
    name="alerts_app.ssf_push",
    # Redelivery is safe: the service only sends SETs still queued, under a row lock, and
    # RFC 8935 receivers de-duplicate by jti anyway.
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=services.PUSH_MAX_ATTEMPTS - 1,
    soft_time_limit=60,
    time_limit=90,
)
def ssf_push(self, event_id: int) -> str:
    """Push one SET; retried with exponential backoff and jitter on 429, 5xx and timeouts."""
    outcome = services.ssf_event_push(
        event_id=event_id, final_attempt=self.request.retries >= self.max_retries
    )
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(
    name="alerts_app.ssf_announce_revocation",
    acks_late=True,  # idempotent: one SET per (stream, revocation) by a unique constraint
    reject_on_worker_lost=True,
    soft_time_limit=60,
    time_limit=90,
)
def ssf_announce_revocation(revocation_id: int) -> int:
    """Sign and queue the session-revoked SETs of one successful revocation."""
    return len(services.ssf_revocation_announce(revocation_id=revocation_id))


def on_revocation_succeeded(sender, *, revocation_id: int, **kwargs) -> None:
    """Receiver of alerts_app.signals.revocation_succeeded (sent on commit)."""
    ssf_announce_revocation.delay_on_commit(revocation_id)
