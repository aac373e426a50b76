"""Celery tasks of the sessions domain: polling pulled sources, ingesting pushed batches,
retention.

Beat (configured in settings, see docs/performance.md) runs ``sessions_app.poll_due_sources``
every 15 s and ``sessions_app.enforce_retention`` daily. Tasks take ids, re-fetch, check the
state is still what they expect and call services.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .choices import SourceKind
from .models import Source
from .partitions import drop_partitions_before, month_start
from .services import (
    IngestResult,
    ingest_records,
    pending_batch_ingest,
    pending_batches_due,
    source_poll_failed,
    source_poll_succeeded,
)

logger = logging.getLogger(__name__)

POLL_SOFT_LIMIT = 240
POLL_HARD_LIMIT = 300
# Stop fetching further pages this long before the soft limit, so the last page's
# transaction (events + cursor) always finishes inside the task's time.
POLL_BUDGET_SECONDS = POLL_SOFT_LIMIT - 60
# A claimed source is not handed out again for this long, even if its poll task is lost
# (worker killed before the task ran); the poll task itself sets the real next time.
CLAIM_LEASE_SECONDS = POLL_HARD_LIMIT + 60
MAX_SOURCES_PER_SWEEP = 200


@shared_task(name="sessions_app.poll_due_sources", soft_time_limit=30, time_limit=60)
def poll_due_sources() -> list[int]:
    """Claim enabled pulled sources whose next poll is due and enqueue one poll per source.

    The claim is a row lock taken with SKIP LOCKED plus a lease on ``next_poll_at``, so two
    overlapping sweeps (or two beat instances) never hand out the same source twice.
    """
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Source.objects.select_for_update(skip_locked=True)
            .filter(enabled=True, kind__in=SourceKind.pulled())
            .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
            .order_by("next_poll_at")
            .values_list("pk", flat=True)[:MAX_SOURCES_PER_SWEEP]
        )
        if due:
            Source.objects.filter(pk__in=due).update(
                next_poll_at=now + timedelta(seconds=CLAIM_LEASE_SECONDS)
            )
            for pk in due:
                transaction.on_commit(lambda pk=pk: poll_source.delay(pk))
    return due


@shared_task(
    name="sessions_app.poll_source", soft_time_limit=POLL_SOFT_LIMIT, time_limit=POLL_HARD_LIMIT
)
def poll_source(source_id: int) -> dict[str, Any] | None:
    """Fetch pages from a source's IdP and ingest them until caught up or out of time.

    Each page is stored together with the cursor after it (one transaction), so a crash
    between pages loses nothing and repeats nothing. A cache lock keeps two poll tasks for
    the same source (a sweep plus a manual "poll now") from running at once.
    """
    from .connectors import ConnectorError, connector_for

    lock_key = f"sessions_app:poll:{source_id}"
    token = uuid.uuid4().hex
    if not cache.add(lock_key, token, timeout=POLL_HARD_LIMIT + 30):
        logger.info("source %s is already being polled", source_id)
        return None
    try:
        source = Source.objects.filter(pk=source_id, enabled=True).first()
        if source is None or not source.is_pulled:
            return None
        deadline = time.monotonic() + POLL_BUDGET_SECONDS
        totals = {"pages": 0, "read": 0, "imported": 0, "quarantined": 0}
        rate_limit: dict = {}
        try:
            connector = connector_for(source)
            cursor = dict(source.cursor or {})
            while True:
                page = connector.fetch_page(cursor)
                rate_limit = page.rate_limit or rate_limit
                result = ingest_records(source=source, records=page.records, cursor=page.cursor)
                cursor = page.cursor
                totals["pages"] += 1
                totals["read"] += result.read
                totals["imported"] += result.imported
                totals["quarantined"] += result.quarantined
                more = page.more
                if not more or time.monotonic() > deadline:
                    break
        except ConnectorError as exc:
            source_poll_failed(
                source_id=source_id,
                error=f"{exc.kind}: {exc}",
                retry_after=exc.retry_after,
                rate_limit=rate_limit,
            )
            logger.warning("polling source %s failed: %s: %s", source_id, exc.kind, exc)
            return {**totals, "error": exc.kind}
        except SoftTimeLimitExceeded:
            # Pages already stored are committed with their cursor; resume from there soon.
            source_poll_failed(source_id=source_id, error="poll ran out of time")
            return {**totals, "error": "timeout"}
        source_poll_succeeded(source_id=source_id, rate_limit=rate_limit, more=more)
        return totals
    finally:
        if cache.get(lock_key) == token:
            cache.delete(lock_key)


@shared_task(
    name="sessions_app.ingest_batch",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=120,
    time_limit=180,
)
def ingest_batch(source_id: int, records: list[dict], fmt: str | None = None) -> dict[str, int]:
    """Ingest a batch carried in the message itself. Idempotent (the event key is unique
    and re-delivery inserts nothing), so it is acknowledged only after it ran and redelivered
    if the worker dies. The webhook queues ``ingest_pending`` instead, whose batch is stored
    in PostgreSQL first: a message can be lost, a ``PendingBatch`` can't. Kept for messages
    queued by earlier versions and for callers that accept the broker's guarantees."""
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        logger.warning("ingest_batch for missing source %s dropped", source_id)
        return {"read": 0, "imported": 0, "duplicates": 0, "quarantined": 0}
    return _counts(ingest_records(source=source, records=records, fmt=fmt))


@shared_task(
    name="sessions_app.ingest_pending",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=120,
    time_limit=180,
)
def ingest_pending(batch_id: int) -> dict[str, int] | None:
    """Ingest a pushed batch stored as a ``PendingBatch`` (what the webhook queues), then
    delete it. None when an earlier delivery of this task did it already."""
    result = pending_batch_ingest(batch_id)
    return None if result is None else _counts(result)


def _counts(result: IngestResult) -> dict[str, int]:
    return {
        "read": result.read,
        "imported": result.imported,
        "duplicates": result.duplicates,
        "quarantined": result.quarantined,
    }


@shared_task(name="sessions_app.requeue_pending", soft_time_limit=60, time_limit=90)
def requeue_pending() -> int:
    """Queue again the pushed batches left waiting longer than
    ``GOVERN_PENDING_REQUEUE_SECONDS`` (their message lost, or their worker gone)."""
    ids = pending_batches_due(older_than_seconds=settings.GOVERN_PENDING_REQUEUE_SECONDS)
    for batch_id in ids:
        ingest_pending.delay(batch_id)
    if ids:
        logger.warning("queued %d pushed batch(es) again that were left waiting", len(ids))
    return len(ids)


@shared_task(name="sessions_app.enforce_retention", soft_time_limit=300, time_limit=360)
def enforce_retention() -> list[str]:
    """Drop event partitions older than ``GOVERN_EVENT_RETENTION_DAYS`` (0 = keep forever).

    Whole months only: a month goes once its last day is older than the retention period.
    """
    days = int(getattr(settings, "GOVERN_EVENT_RETENTION_DAYS", 0) or 0)
    if days <= 0:
        return []
    return drop_partitions_before(month_start(timezone.now() - timedelta(days=days)))


@shared_task(name="sessions_app.evaluate_session_policies", soft_time_limit=240, time_limit=300)
def evaluate_session_policies() -> dict[str, int]:
    """Turn session-lifetime policy violations into alerts and, in enforce mode, revocations.

    Safe to overlap or repeat: alerts merge by dedup key and each alert is enforced once
    (``PolicyEnforcement`` is unique per alert).
    """
    from .policy_enforcement import policy_evaluate

    result = policy_evaluate()
    return {
        "violating": len(result.violating),
        "alerts_created": result.alerts_created,
        "revocations_requested": result.revocations_requested,
        "enforcement_refused": result.enforcement_refused,
    }
