"""Writing the append-only, hash-chained audit log.

Every mutation calls ``audit_log`` inside its own transaction, so the audit row commits
or rolls back with the change it describes. Each row carries the hash of the previous
row; ``verify_chain`` finds the first broken link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from sessions_app.models import AuditEvent

_CHAIN_LOCK_ID = 0x60BE_A0D1  # pg_advisory_xact_lock key serialising chain appends


def _canonical(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True))


def _digest(row: AuditEvent) -> str:
    body = json.dumps(
        {
            "prev": row.prev_hash,
            "at": row.at.isoformat(),
            "actor": row.actor_label,
            "verb": row.verb,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "object_repr": row.object_repr,
            "before": row.before,
            "after": row.after,
            "client_ip": row.client_ip,
        },
        sort_keys=True,
        cls=DjangoJSONEncoder,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def audit_log(
    *,
    actor=None,
    actor_label: str = "",
    verb: str,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    before: dict | None = None,
    after: dict | None = None,
    client_ip: str | None = None,
) -> AuditEvent:
    """Append one audit row. ``actor`` is a user; system writers pass ``actor_label``."""
    if obj is not None:
        object_type = object_type or f"{obj._meta.app_label}.{obj._meta.model_name}"
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:300]
    label = actor_label or (actor.get_username() if actor is not None else "system")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_ID])
        previous = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        row = AuditEvent(
            at=timezone.now(),
            actor=actor if actor is not None and actor.is_authenticated else None,
            actor_label=label[:200],
            verb=verb,
            object_type=object_type,
            object_id=object_id,
            object_repr=object_repr[:300],
            before=_canonical(before) if before is not None else None,
            after=_canonical(after) if after is not None else None,
            client_ip=client_ip,
            prev_hash=previous or "",
        )
        row.hash = _digest(row)
        row.save(force_insert=True)
    return row


def verify_chain(rows: Iterable[AuditEvent] | None = None) -> AuditEvent | None:
    """Return the first row whose link or content hash does not verify, or None."""
    previous = ""
    for row in rows if rows is not None else AuditEvent.objects.order_by("id").iterator():
        if row.prev_hash != previous or row.hash != _digest(row):
            return row
        previous = row.hash
    return None


def client_ip_of(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None
