"""Push ingestion: ``POST /hooks/<source_id>/`` takes one event or a batch.

Authentication, per source (secrets are set on the source page):

* ``X-Govern-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook_secret, "<t>." + body)>``
  — timestamps more than 5 minutes away are refused, and a signature is accepted only once
  (so a captured request can't be replayed inside the window either);
* Okta Event Hooks can't sign: they send a static ``Authorization`` header value configured
  in Okta, compared here with the ``okta_authorization`` secret. Okta's one-time verification
  is a GET with ``X-Okta-Verification-Challenge``, answered with ``{"verification": value}``.

Small batches (up to ``SYNC_LIMIT`` records) are ingested before answering: the sender gets
real counts, the events are durable when it sees 202, and it avoids the broker's per-event
cost. Bigger batches are stored as ``PendingBatch`` rows of ``TASK_BATCH`` records and an
``ingest_pending`` task is queued for each (idempotent, acks_late), so the answer stays
within Okta's 3-second hook deadline and a 202 still means nothing can be lost.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .ingest import split_records
from .ingest.schema import QuarantineError
from .models import Source
from .services import RejectedInput, ingest_records, pending_batches_accept, source_format
from .tasks import ingest_pending

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Govern-Signature"
TOLERANCE_SECONDS = 300
SYNC_LIMIT = 500  # records ingested in the request; more are handed to the queue
TASK_BATCH = 1000  # records per queued PendingBatch (performance.md: ≥1,000 per task)
DEFAULT_MAX_BYTES = 5 * 1024 * 1024


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Govern-Signature`` value for ``body`` (what senders compute; used in tests)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _check_signature(header: str, secret: str, body: bytes) -> str | None:
    """None when valid, else the reason to refuse."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return "signature header has no valid timestamp"
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        return "signature timestamp is outside the 5-minute tolerance"
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        return "signature does not match"
    # Remember the signature for longer than the tolerance: the same request twice is a replay.
    if not cache.add(f"sessions_app:hook-sig:{expected}", 1, timeout=TOLERANCE_SECONDS * 2):
        return "signature was already used (replayed request)"
    return None


def _okta_authorized(request: HttpRequest, secrets: dict) -> bool:
    expected = secrets.get("okta_authorization", "")
    given = request.headers.get("Authorization", "")
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


def _authenticate(request: HttpRequest, source: Source, body: bytes) -> str | None:
    secrets = source.get_secrets()
    header = request.headers.get(SIGNATURE_HEADER)
    if header:
        secret = secrets.get("webhook_secret", "")
        if not secret:
            return "this source has no webhook secret configured"
        return _check_signature(header, secret, body)
    if _okta_authorized(request, secrets):
        return None
    return f"missing or invalid {SIGNATURE_HEADER} header"


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest, source_id: int) -> JsonResponse:
    """Accept pushed events for one source (see the module docstring)."""
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        return _error(404, "unknown source")
    if not source.enabled:
        return _error(403, "source is disabled")

    if request.method == "GET":
        challenge = request.headers.get("X-Okta-Verification-Challenge")
        if not challenge:
            return _error(400, "nothing to verify")
        if not _okta_authorized(request, source.get_secrets()):
            return _error(401, "invalid Authorization header")
        return JsonResponse({"verification": challenge})

    limit = int(getattr(settings, "GOVERN_WEBHOOK_MAX_BYTES", DEFAULT_MAX_BYTES))
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _error(413, f"body is larger than {limit} bytes")
    body = request.read(limit + 1)  # read() bypasses DATA_UPLOAD_MAX_MEMORY_SIZE; bounded here
    if len(body) > limit:
        return _error(413, f"body is larger than {limit} bytes")

    refusal = _authenticate(request, source, body)
    if refusal:
        return _error(401, refusal)

    fmt = source_format(source)
    try:
        records = split_records(fmt, body)
    except QuarantineError as exc:
        # Keep what was sent so an admin can see why; the sender gets a 400 it can log.
        ingest_records(
            source=source, records=[RejectedInput(body.decode(errors="replace"), exc.reason)]
        )
        return _error(400, exc.reason)

    if len(records) <= SYNC_LIMIT:
        result = ingest_records(source=source, records=records, fmt=fmt)
        return JsonResponse(
            {
                "read": result.read,
                "imported": result.imported,
                "duplicates": result.duplicates,
                "quarantined": result.quarantined,
                "event_ids": result.event_ids,
            },
            status=202,
        )
    # Stored before the answer, queued after: a lost message only delays a batch (the
    # requeue sweep), and a broker that is down now does not lose what was accepted.
    pending = pending_batches_accept(source=source, records=records, fmt=fmt, per_batch=TASK_BATCH)
    task_ids = []
    for batch in pending:
        try:
            task_ids.append(ingest_pending.delay(batch.pk).id)
        except Exception:  # the row stays: requeue_pending queues it later
            logger.exception("could not queue pushed batch %s; it waits for the requeue", batch.pk)
    return JsonResponse(
        {"queued": len(records), "batches": [b.pk for b in pending], "task_ids": task_ids},
        status=202,
    )
