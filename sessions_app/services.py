"""Writes of the sessions domain: event ingestion, quarantine and source administration.

Ingestion (``ingest_records``) is the hot path. One call is one transaction that:

1. parses every record with the pure parsers (``sessions_app.ingest``); a record that cannot
   be normalised is quarantined with its raw payload and the reason, and never blocks the rest;
2. locks the source row, so batches of one source are applied one at a time (a poller and a
   webhook for the same source can't interleave, and the "already stored?" check below is
   exact);
3. drops events already stored — the key is (source, provider event id, occurred at), backed
   by a unique constraint — so a re-delivered batch adds nothing at all, with one exception:
   a re-delivered event whose vendor risk verdict (``NormalizedEvent.risk``) differs from the
   stored copy updates that copy's ``details["risk"]`` and ``raw`` (the Graph connector
   re-polls recent risky sign-ins for late verdicts) and hands its session to detection;
4. upserts identities (via ``IdentityLink``) and sessions for the new events only, applies
   lifecycle events, then writes the events, the daily rollup, source health and the poll
   cursor, so a cursor only ever advances together with the events it fetched.

On PostgreSQL events are written with a binary ``COPY`` straight into the partitioned table and
identities/sessions with set-based ``INSERT … ON CONFLICT DO UPDATE``; see docs/performance.md
for why (and the figures). Other databases (the embedded SQLite default) use the ORM: correct,
not fast.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any, NamedTuple

import orjson
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from govern.audit import audit_log

from .choices import (
    EventType,
    IdentityKind,
    IdentityStatus,
    Outcome,
    PrivilegeTier,
    SessionStatus,
    SourceKind,
)
from .ingest.prepare import (
    JsonLine,
    PreparedEvent,
    Reject,
    RejectedInput,
    prepare_packed,
    prepare_records,
    unpack_prepared,
)
from .models import (
    EventDailyCount,
    Identity,
    IdentityLink,
    QuarantinedEvent,
    Session,
    Source,
    TelemetryEvent,
)
from .partitions import ensure_partitions, month_start
from .signals import events_ingested

logger = logging.getLogger(__name__)

# The parser each kind of source speaks unless its settings say otherwise ("format").
FORMAT_BY_KIND = {
    SourceKind.OKTA: "okta",
    SourceKind.ENTRA: "entra",
    SourceKind.GOOGLE: "google",
    SourceKind.WEBHOOK: "json",
    SourceKind.FILE: "json",
}

_KEY_QUERY_CHUNK = 900  # ids per "already stored?" query (SQLite caps bound parameters)
# Lifecycle event type -> the session status it ends a session in. When one batch holds more
# than one for a session, revocation wins over expiry over logoff.
_LIFECYCLE = {
    EventType.SESSION_REVOKED: SessionStatus.REVOKED,
    EventType.TOKEN_REVOKED: SessionStatus.REVOKED,
    EventType.SESSION_EXPIRED: SessionStatus.EXPIRED,
    EventType.LOGOFF: SessionStatus.ENDED,
}
_AUTHENTICATING = frozenset({EventType.LOGON, EventType.MFA_CHALLENGE})
_LIFECYCLE_RANK = {SessionStatus.REVOKED: 0, SessionStatus.EXPIRED: 1, SessionStatus.ENDED: 2}


@dataclass
class IngestResult:
    """What one ingest call did. ``duplicates`` = read − quarantined − imported.

    ``updated`` counts the duplicates that brought a changed vendor risk verdict and were
    applied to the stored event (they are also counted in ``duplicates``).
    """

    read: int = 0
    imported: int = 0
    duplicates: int = 0
    quarantined: int = 0
    updated: int = 0
    session_ids: list[int] = field(default_factory=list)
    identity_ids: list[int] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)
    updated_event_ids: list[int] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        """Accumulate another batch's result into this one (ids de-duplicated)."""
        self.read += other.read
        self.imported += other.imported
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.updated += other.updated
        self.session_ids = sorted(set(self.session_ids) | set(other.session_ids))
        self.identity_ids = sorted(set(self.identity_ids) | set(other.identity_ids))
        self.event_ids.extend(other.event_ids)
        self.updated_event_ids.extend(other.updated_event_ids)

    def summary(self) -> str:
        text = (
            f"read {self.read}, imported {self.imported}, "
            f"duplicates {self.duplicates}, quarantined {self.quarantined}"
        )
        return f"{text}, risk verdicts updated {self.updated}" if self.updated else text


def source_format(source: Source) -> str:
    """The parser name for a source: ``settings["format"]`` if set, else from its kind."""
    return (source.settings or {}).get("format") or FORMAT_BY_KIND.get(source.kind, "json")


def _prepare(
    fmt: str, records: Iterable[Any], mapping: dict | None
) -> tuple[list[PreparedEvent], list[Reject]]:
    return prepare_records(fmt, records, mapping, *_geoip_paths())


def _geoip_paths() -> tuple[str, str]:
    """The offline GeoIP/ASN files ingestion enriches events from ('' = none)."""
    return (
        getattr(django_settings, "GOVERN_GEOIP_CITY_DB", ""),
        getattr(django_settings, "GOVERN_GEOIP_ASN_DB", ""),
    )


# ---------------------------------------------------------------------------------------
# public ingestion services


def ingest_records(
    *,
    source: Source,
    records: Iterable[Any],
    fmt: str | None = None,
    cursor: dict | None = None,
) -> IngestResult:
    """Parse and store one batch of raw event records for ``source`` in one transaction.

    ``records`` are dicts as the provider sent them (``RejectedInput`` items are quarantined
    as is); ``fmt`` defaults to ``source_format(source)``; the generic mapping comes from
    ``source.settings["mapping"]``. ``cursor``, when given, is saved on the source in the same
    transaction. Safe to call again with the same records: nothing is added twice.
    """
    fmt = fmt or source_format(source)
    mapping = (source.settings or {}).get("mapping")
    prepared, rejects = _prepare(fmt, records, mapping)
    _ensure_partitions_for(prepared)
    return _store(
        source=source,
        prepared=prepared,
        rejects=rejects,
        cursor=cursor,
        on_rejects=lambda locked, items: _quarantine_new(locked, items, fmt),
    )


def ingest_batches(
    *,
    source: Source,
    batches: Iterable[Iterable[Any]],
    fmt: str | None = None,
    workers: int | None = None,
    keep_ids: bool = True,
) -> IngestResult:
    """``ingest_records`` for a stream of batches, parsed ahead while earlier ones are written.

    For bulk work (file imports, backfills): each batch is its own transaction exactly as
    ``ingest_records`` would commit it, in order, so a crash leaves whole batches stored and
    re-running adds nothing. Parsing is pure Python and CPU-bound, so it runs in ``workers``
    other processes (default ``bulk_parse_workers()``) while this one writes: records go
    there as JSON (``JsonLine`` items as the bytes read, decoded there) and come back as
    plain tuples. With ``workers=0``, or where this process
    may not start processes (a Celery prefork child is daemonic), one thread parses the next
    batch instead. A batch JSON cannot carry (e.g. with ``RejectedInput`` items) is parsed
    here. ``keep_ids=False`` leaves the id lists of the result empty (millions of ids over a
    large import); the batches' counts are added together either way.
    """
    fmt = fmt or source_format(source)
    mapping = (source.settings or {}).get("mapping")
    if workers is None or not _may_start_processes():
        workers = bulk_parse_workers() if workers is None else 0
    geoip = _geoip_paths()
    total = IngestResult()
    session_ids: set[int] = set()
    identity_ids: set[int] = set()

    if workers > 0:
        executor: Executor = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context())
    else:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-parse")

    def submit(batch: Iterable[Any]) -> Future:
        records = list(batch)
        if workers > 0 and all(type(record) is JsonLine for record in records):
            return executor.submit(prepare_packed, fmt, records, mapping, *geoip)
        if workers > 0 and all(type(record) is dict for record in records):
            try:
                payload = orjson.dumps(records, option=_EXACT_JSON)
            except TypeError:  # not plain JSON data: parsed in this process
                pass
            else:
                return executor.submit(prepare_packed, fmt, payload, mapping, *geoip)
        if workers > 0:
            done: Future = Future()
            done.set_result(prepare_records(fmt, records, mapping, *geoip))
            return done
        return executor.submit(prepare_records, fmt, records, mapping, *geoip)

    with executor:
        iterator = iter(batches)
        pending: deque[Future] = deque(submit(b) for b in islice(iterator, workers + 1))
        while pending:
            prepared, rejects = pending.popleft().result()
            next_batch = next(iterator, None)
            if next_batch is not None:
                pending.append(submit(next_batch))
            if prepared and type(prepared[0]) is tuple:
                prepared = unpack_prepared(prepared)
            _ensure_partitions_for(prepared)
            result = _store(
                source=source,
                prepared=prepared,
                rejects=rejects,
                cursor=None,
                on_rejects=lambda locked, items: _quarantine_new(locked, items, fmt),
            )
            if keep_ids:
                # Ids gathered in sets: IngestResult.add re-sorts its lists on every call.
                session_ids.update(result.session_ids)
                identity_ids.update(result.identity_ids)
            else:
                result.event_ids, result.updated_event_ids = [], []
            result.session_ids = result.identity_ids = []
            total.add(result)
    total.session_ids, total.identity_ids = sorted(session_ids), sorted(identity_ids)
    return total


# orjson refuses (TypeError) what JSON would change: datetimes, dataclasses, subclasses of
# str/int/dict/list (e.g. a NamedTuple), non-string keys, integers past 64 bits.
_EXACT_JSON = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def bulk_parse_workers() -> int:
    """Processes ``ingest_batches`` parses in by default: one per CPU but the writer's, at
    most 4 (the writer and its PostgreSQL backend cannot keep more busy); 0 (parse in this
    process) where it may not start processes."""
    if not _may_start_processes():
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus - 1))


def _pool_context() -> Any:
    """Fork where there is fork: "spawn" and "forkserver" re-run the caller's main script in
    every worker, which breaks any script without a ``__main__`` guard. A forked worker only
    parses: it never uses the Django connection it inherits, and leaves with ``os._exit``
    without closing it (CPython forks every pool worker at once, before the pool's own
    thread starts)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _may_start_processes() -> bool:
    """False inside a daemonic process, which may not have children: a Celery prefork child
    (billiard's own process bookkeeping) or a daemonic ``multiprocessing`` process."""
    if multiprocessing.current_process().daemon:
        return False
    try:
        from billiard.process import current_process as billiard_process
    except ImportError:
        return True
    return not billiard_process().daemon


def quarantine_reprocess(*, quarantined_ids: Iterable[int], actor: Any) -> IngestResult:
    """Re-parse open quarantined items (e.g. after a mapping fix) with the source's settings.

    Items that now parse are stored (or found already stored) and marked resolved; the rest
    stay open with the new reason. Every item's ``attempts`` goes up by one. Audit-logged.
    """
    ids = sorted({int(pk) for pk in quarantined_ids})
    items = list(
        QuarantinedEvent.objects.filter(pk__in=ids, resolved_at__isnull=True)
        .select_related("source")
        .order_by("pk")
    )
    groups: dict[tuple[int, str], list[QuarantinedEvent]] = defaultdict(list)
    for item in items:
        groups[(item.source_id, item.format or source_format(item.source))].append(item)
    parsed = []
    for (_, fmt), group in groups.items():
        source = group[0].source
        records = [_reload_payload(item) for item in group]
        prepared, rejects = _prepare(fmt, records, (source.settings or {}).get("mapping"))
        parsed.append((source, group, prepared, rejects))
    _ensure_partitions_for([p for _, _, prepared, _ in parsed for p in prepared])

    total = IngestResult()
    with transaction.atomic():
        for source, group, prepared, rejects in parsed:
            result = _store(
                source=source,
                prepared=prepared,
                rejects=rejects,
                cursor=None,
                on_rejects=lambda _locked, items, group=group: _quarantine_retried(group, items),
            )
            total.add(result)
        audit_log(
            actor=actor,
            verb="quarantine.reprocess",
            object_type="sessions_app.quarantinedevent",
            object_id=",".join(str(item.pk) for item in items)[:100],
            object_repr=f"{len(items)} quarantined event(s)",
            after={
                "ids": [item.pk for item in items],
                "imported": total.imported,
                "duplicates": total.duplicates,
                "still_quarantined": total.quarantined,
            },
        )
    return total


def _reload_payload(item: QuarantinedEvent) -> Any:
    try:
        return orjson.loads(item.payload)
    except orjson.JSONDecodeError as exc:
        return RejectedInput(item.payload, f"not JSON: {exc}")


def _quarantine_new(source: Source, rejects: list[Reject], fmt: str) -> None:
    if not rejects:
        return
    QuarantinedEvent.objects.bulk_create(
        [
            QuarantinedEvent(source=source, reason=r.reason, payload=r.payload, format=fmt)
            for r in rejects
        ]
    )


def _quarantine_retried(group: list[QuarantinedEvent], rejects: list[Reject]) -> None:
    still_failing = {r.index: r.reason for r in rejects}
    now = timezone.now()
    for index, item in enumerate(group):
        item.attempts += 1
        if index in still_failing:
            item.reason = still_failing[index]
        else:
            item.resolved_at = now
    QuarantinedEvent.objects.bulk_update(group, ["attempts", "reason", "resolved_at"])


def _ensure_partitions_for(prepared: list[PreparedEvent]) -> None:
    # Before the ingest transaction opens: creating a partition locks the parent table, which
    # must not happen while this connection already holds locks on it (see partitions.py).
    # Only the months present, not every month between the oldest and newest event.
    for month in sorted({month_start(p.event.occurred_at) for p in prepared}):
        ensure_partitions(month, month)


def _store(
    *,
    source: Source,
    prepared: list[PreparedEvent],
    rejects: list[Reject],
    cursor: dict | None,
    on_rejects: Callable[[Source, list[Reject]], None],
) -> IngestResult:
    result = IngestResult(read=len(prepared) + len(rejects), quarantined=len(rejects))
    by_key: dict[tuple[str, datetime], PreparedEvent] = {}
    for item in prepared:  # the same event twice in one delivery counts once
        by_key.setdefault(item.key, item)
    received_at = timezone.now()
    with transaction.atomic():
        locked = Source.objects.select_for_update().get(pk=source.pk)
        stored = _find_stored(locked.pk, list(by_key.values()))
        fresh = [item for key, item in by_key.items() if key not in stored]
        fresh.sort(key=lambda p: (p.event.occurred_at, p.index))
        session_ids: set[int] = set()
        identity_ids: set[int] = set()
        if fresh:
            identities = _upsert_identities(locked, fresh)
            sessions = _upsert_sessions(locked, fresh, identities)
            result.event_ids = _insert_events(locked, fresh, identities, sessions, received_at)
            _add_daily_counts(locked.pk, fresh)
            identity_ids.update(identities.values())
            session_ids.update(sessions.values())
        verdicts = _changed_verdicts(by_key, stored)
        if verdicts:
            _apply_verdicts(verdicts)
            result.updated = len(verdicts)
            result.updated_event_ids = sorted(row.event_id for row, _ in verdicts)
            identity_ids.update(row.identity_id for row, _ in verdicts if row.identity_id)
            session_ids.update(row.session_id for row, _ in verdicts if row.session_id)
        result.identity_ids = sorted(identity_ids)
        result.session_ids = sorted(session_ids)
        on_rejects(locked, rejects)
        _update_source(locked, fresh, cursor)
        if fresh or verdicts:
            _send_on_commit(locked.pk, result)
    result.imported = len(fresh)
    result.duplicates = result.read - result.quarantined - result.imported
    return result


def _send_on_commit(source_id: int, result: IngestResult) -> None:
    payload = {
        "source_id": source_id,
        "session_ids": list(result.session_ids),
        "identity_ids": list(result.identity_ids),
        "event_ids": list(result.event_ids),
        # stored events whose late vendor risk verdict this batch applied
        "updated_event_ids": list(result.updated_event_ids),
    }

    def send() -> None:
        for receiver, response in events_ingested.send_robust(sender=Source, **payload):
            if isinstance(response, Exception):
                logger.error("events_ingested receiver %r failed", receiver, exc_info=response)

    transaction.on_commit(send)


def _update_source(source: Source, fresh: list[PreparedEvent], cursor: dict | None) -> None:
    changes: dict[str, Any] = {"updated_at": timezone.now()}
    if fresh:
        newest = max(p.event.occurred_at for p in fresh)
        if source.newest_event_at is None or newest > source.newest_event_at:
            changes["newest_event_at"] = newest
        changes["events_total"] = F("events_total") + len(fresh)
    if cursor is not None:
        changes["cursor"] = cursor
    Source.objects.filter(pk=source.pk).update(**changes)


# ---------------------------------------------------------------------------------------
# the steps of _store


class _StoredEvent(NamedTuple):
    """What the re-delivery check needs of an event already stored."""

    event_id: int
    occurred_at: datetime
    details: dict[str, Any]  # only "risk" on PostgreSQL (all that is compared or replaced)
    identity_id: int | None
    session_id: int | None


def _find_stored(
    source_id: int, items: list[PreparedEvent]
) -> dict[tuple[str, datetime], _StoredEvent]:
    """The items' keys already stored, with what a late risk verdict needs of them.

    Exact because the caller holds the source's row lock. On PostgreSQL one round trip: the
    unique index (source, event id, occurred at) answers ``= ANY(array)`` and the time range
    prunes the monthly partitions.
    """
    if not items:
        return {}
    if connection.vendor == "postgresql":
        times = [p.event.occurred_at for p in items]
        with _binding_cursor() as cursor:
            cursor.execute(
                """
                SELECT provider_event_id, occurred_at, id, details -> 'risk', identity_id,
                       session_id
                FROM sessions_app_telemetryevent
                WHERE source_id = %b AND occurred_at BETWEEN %b AND %b
                  AND provider_event_id = ANY(%b::text[])
                """,
                [source_id, min(times), max(times), [p.event.provider_event_id for p in items]],
            )
            rows = cursor.fetchall()
        return {
            (event_key, at): _StoredEvent(pk, at, {"risk": _json_value(risk)}, identity, session)
            for event_key, at, pk, risk, identity, session in rows
        }
    stored: dict[tuple[str, datetime], _StoredEvent] = {}
    for start in range(0, len(items), _KEY_QUERY_CHUNK):
        chunk = items[start : start + _KEY_QUERY_CHUNK]
        times = [p.event.occurred_at for p in chunk]
        rows = TelemetryEvent.objects.filter(
            source_id=source_id,
            provider_event_id__in={p.event.provider_event_id for p in chunk},
            occurred_at__gte=min(times),
            occurred_at__lte=max(times),
        ).values_list(
            "provider_event_id", "occurred_at", "id", "details", "identity_id", "session_id"
        )
        for event_key, at, pk, details, identity, session in rows:
            stored[(event_key, at)] = _StoredEvent(pk, at, details or {}, identity, session)
    return stored


def _json_value(value: Any) -> Any:
    """A jsonb column as Python: Django's connection hands jsonb back as text."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _changed_verdicts(
    items: dict[tuple[str, datetime], PreparedEvent],
    stored: dict[tuple[str, datetime], _StoredEvent],
) -> list[tuple[_StoredEvent, PreparedEvent]]:
    """Re-delivered events whose vendor risk verdict differs from the stored copy's."""
    changed = []
    for key, row in stored.items():
        item = items[key]
        # Compared as stored (the serialised, NUL-free details), not as the parser returned it.
        risk = orjson.loads(item.details).get("risk") or {}
        if risk != (row.details.get("risk") or {}):
            changed.append((row, item))
    return changed


def _apply_verdicts(verdicts: list[tuple[_StoredEvent, PreparedEvent]]) -> None:
    """Replace the stored events' ``details["risk"]`` and ``raw`` with the re-delivered ones."""
    if connection.vendor == "postgresql":
        with _binding_cursor() as cursor:
            cursor.execute(
                """
                UPDATE sessions_app_telemetryevent AS e SET
                  details = jsonb_set(e.details, '{risk}', v.risk),
                  raw = v.raw
                FROM unnest(%b::bigint[], %b::timestamptz[], %b::jsonb[], %b::jsonb[])
                  AS v(id, occurred_at, risk, raw)
                WHERE e.id = v.id AND e.occurred_at = v.occurred_at
                """,
                [
                    [row.event_id for row, _ in verdicts],
                    [row.occurred_at for row, _ in verdicts],
                    [orjson.dumps(orjson.loads(i.details)["risk"]).decode() for _, i in verdicts],
                    [item.raw.decode() for _, item in verdicts],
                ],
            )
        return
    for row, item in verdicts:
        details = dict(row.details)  # the whole stored details on this path
        details["risk"] = orjson.loads(item.details)["risk"]
        TelemetryEvent.objects.filter(pk=row.event_id).update(
            details=details, raw=orjson.loads(item.raw)
        )


def _binding_cursor() -> Any:
    """A psycopg cursor with server-side parameter binding on Django's connection.

    Django's default client-side binding quotes every array element into the SQL text in
    Python, which dominated the cost of the unnest-based upserts; bound parameters travel
    as binary arrays instead. Same connection, so same transaction.
    """
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


@dataclass(slots=True)
class _ActorSeen:
    first_seen: datetime
    last_seen: datetime
    login: str = ""
    display_name: str = ""
    kind: str = IdentityKind.HUMAN
    credential_changed_at: datetime | None = None


def _actors(fresh: list[PreparedEvent]) -> dict[str, _ActorSeen]:
    actors: dict[str, _ActorSeen] = {}
    for item in fresh:  # in event-time order: later events refresh login and name
        event = item.event
        seen = actors.get(event.actor_id)
        if seen is None:
            seen = actors[event.actor_id] = _ActorSeen(event.occurred_at, event.occurred_at)
        seen.last_seen = event.occurred_at
        seen.login = event.actor_login or seen.login
        seen.display_name = event.actor_display_name or seen.display_name
        if event.actor_kind != IdentityKind.HUMAN:
            seen.kind = event.actor_kind
        if event.event_type == EventType.CREDENTIAL_CHANGE and event.outcome != Outcome.FAILURE:
            seen.credential_changed_at = event.occurred_at
    return actors


def _upsert_identities(source: Source, fresh: list[PreparedEvent]) -> dict[str, int]:
    """Identity id per actor id: linked ones updated, unknown ones created with their link."""
    actors = _actors(fresh)
    names = sorted(actors)
    linked: dict[str, int] = {}
    if connection.vendor == "postgresql":
        with _binding_cursor() as cursor:
            cursor.execute(
                "SELECT provider_id, identity_id FROM sessions_app_identitylink "
                "WHERE source_id = %b AND provider_id = ANY(%b::text[])",
                [source.pk, names],
            )
            linked.update(cursor.fetchall())
    else:
        for start in range(0, len(names), _KEY_QUERY_CHUNK):
            linked.update(
                IdentityLink.objects.filter(
                    source=source, provider_id__in=names[start : start + _KEY_QUERY_CHUNK]
                ).values_list("provider_id", "identity_id")
            )
    new = [name for name in names if name not in linked]
    created: dict[str, int] = {}
    if new and connection.vendor == "postgresql":
        created = _create_identities_pg(source, [(name, actors[name]) for name in new])
    elif new:
        identities = Identity.objects.bulk_create(
            [
                Identity(
                    kind=actors[name].kind,
                    login=actors[name].login or name,
                    display_name=actors[name].display_name or actors[name].login or name,
                    provider_ids={str(source.pk): name},
                    first_seen_at=actors[name].first_seen,
                    last_seen_at=actors[name].last_seen,
                    credential_changed_at=actors[name].credential_changed_at,
                )
                for name in new
            ]
        )
        IdentityLink.objects.bulk_create(
            [
                IdentityLink(source=source, provider_id=name, identity_id=identity.pk)
                for name, identity in zip(new, identities, strict=True)
            ]
        )
        created = {name: identity.pk for name, identity in zip(new, identities, strict=True)}
    existing = sorted((linked[name], actors[name]) for name in linked)
    if existing:
        if connection.vendor == "postgresql":
            _update_identities_pg(existing)
        else:
            _update_identities_orm(existing)
    return {**linked, **created}


def _create_identities_pg(source: Source, new: list[tuple[str, _ActorSeen]]) -> dict[str, int]:
    """Create identities and their links for unknown actors in one statement.

    What ``bulk_create`` of both models wrote (model defaults included), as one
    ``INSERT … SELECT FROM unnest(…)`` with binary arrays: ids are drawn from the sequence
    in a CTE (volatile, so evaluated once) and used by both inserts.
    """
    now = timezone.now()
    with _binding_cursor() as cursor:
        cursor.execute(
            """
            WITH v AS (
              SELECT nextval(pg_get_serial_sequence('sessions_app_identity', 'id')) AS id, u.*
              FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[],
                          %b::timestamptz[], %b::timestamptz[])
                AS u(provider_id, kind, login, display_name, first_seen, last_seen,
                     credential_changed_at)
            ), identities AS (
              INSERT INTO sessions_app_identity (
                id, kind, display_name, login, provider_ids, privilege_tier, owner_id, status,
                department, first_seen_at, last_seen_at, credential_changed_at, risk_score,
                risk_factors, created_at, updated_at)
              SELECT id, kind, display_name, login, jsonb_build_object(%b::text, provider_id),
                     %b, NULL, %b, '', first_seen, last_seen, credential_changed_at, 0,
                     '[]'::jsonb, %b, %b
              FROM v ORDER BY id
            )
            INSERT INTO sessions_app_identitylink (source_id, provider_id, identity_id)
            SELECT %b, provider_id, id FROM v ORDER BY id
            RETURNING provider_id, identity_id
            """,
            [
                [name for name, _ in new],
                [seen.kind for _, seen in new],
                [seen.login or name for name, seen in new],
                [seen.display_name or seen.login or name for name, seen in new],
                [seen.first_seen for _, seen in new],
                [seen.last_seen for _, seen in new],
                [seen.credential_changed_at for _, seen in new],
                str(source.pk),
                PrivilegeTier.STANDARD.value,
                IdentityStatus.ACTIVE.value,
                now,
                now,
                source.pk,
            ],
        )
        return dict(cursor.fetchall())


def _update_identities_pg(existing: list[tuple[int, _ActorSeen]]) -> None:
    with _binding_cursor() as cursor:
        cursor.execute(
            """
            UPDATE sessions_app_identity AS i SET
              first_seen_at = LEAST(i.first_seen_at, v.first_seen),
              last_seen_at = GREATEST(i.last_seen_at, v.last_seen),
              login = CASE WHEN v.login <> ''
                AND v.last_seen >= COALESCE(i.last_seen_at, '-infinity') THEN v.login
                ELSE i.login END,
              display_name = CASE WHEN v.display_name <> ''
                AND v.last_seen >= COALESCE(i.last_seen_at, '-infinity') THEN v.display_name
                ELSE i.display_name END,
              credential_changed_at = GREATEST(i.credential_changed_at, v.credential_changed_at),
              updated_at = %b
            FROM unnest(%b::bigint[], %b::timestamptz[], %b::timestamptz[], %b::text[],
                        %b::text[], %b::timestamptz[])
              AS v(id, first_seen, last_seen, login, display_name, credential_changed_at)
            WHERE i.id = v.id AND (
              -- only rows that change: a re-seen actor inside its known time span is no write
              i.first_seen_at IS NULL OR v.first_seen < i.first_seen_at
              OR i.last_seen_at IS NULL OR v.last_seen > i.last_seen_at
              OR (v.last_seen = i.last_seen_at AND (
                (v.login <> '' AND v.login <> i.login)
                OR (v.display_name <> '' AND v.display_name <> i.display_name)))
              OR v.credential_changed_at > COALESCE(i.credential_changed_at, '-infinity'))
            """,
            [
                timezone.now(),  # as auto_now would, not the transaction's start
                [pk for pk, _ in existing],
                [seen.first_seen for _, seen in existing],
                [seen.last_seen for _, seen in existing],
                [seen.login for _, seen in existing],
                [seen.display_name for _, seen in existing],
                [seen.credential_changed_at for _, seen in existing],
            ],
        )


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    return max(filter(None, (current, candidate)), default=None)


def _earlier(current: datetime | None, candidate: datetime | None) -> datetime | None:
    return min(filter(None, (current, candidate)), default=None)


def _update_identities_orm(existing: list[tuple[int, _ActorSeen]]) -> None:
    seen_by_id = dict(existing)
    rows = list(Identity.objects.filter(pk__in=seen_by_id).order_by("pk"))
    for identity in rows:
        seen = seen_by_id[identity.pk]
        newer = identity.last_seen_at is None or seen.last_seen >= identity.last_seen_at
        if newer and seen.login:
            identity.login = seen.login
        if newer and seen.display_name:
            identity.display_name = seen.display_name
        identity.first_seen_at = _earlier(identity.first_seen_at, seen.first_seen)
        identity.last_seen_at = _later(identity.last_seen_at, seen.last_seen)
        identity.credential_changed_at = _later(
            identity.credential_changed_at, seen.credential_changed_at
        )
    Identity.objects.bulk_update(
        rows,
        ["login", "display_name", "first_seen_at", "last_seen_at", "credential_changed_at"],
    )


@dataclass(slots=True)
class _SessionSeen:
    first: PreparedEvent
    last: PreparedEvent
    count: int = 0
    authenticated_at: datetime | None = None
    mfa: bool | None = None
    auth_methods: set[str] = field(default_factory=set)
    ends_as: str = ""  # SessionStatus the batch ends the session in ('' = none)
    ended_at: datetime | None = None


def _sessions(fresh: list[PreparedEvent]) -> dict[str, _SessionSeen]:
    sessions: dict[str, _SessionSeen] = {}
    for item in fresh:  # in event-time order
        event = item.event
        if not event.session_key:
            continue
        seen = sessions.get(event.session_key)
        if seen is None:
            seen = sessions[event.session_key] = _SessionSeen(first=item, last=item)
        seen.last = item
        seen.count += 1
        seen.auth_methods.update(event.auth_methods)
        if event.outcome == Outcome.SUCCESS and event.event_type in _AUTHENTICATING:
            if event.event_type == EventType.LOGON:
                seen.authenticated_at = seen.authenticated_at or event.occurred_at
            if event.mfa is True:
                seen.mfa = True
            elif seen.mfa is None:
                seen.mfa = event.mfa
        status = _LIFECYCLE.get(event.event_type)
        ends = status is not None and event.outcome != Outcome.FAILURE
        if ends and (not seen.ends_as or _LIFECYCLE_RANK[status] < _LIFECYCLE_RANK[seen.ends_as]):
            seen.ends_as, seen.ended_at = status, event.occurred_at
    return sessions


def _context(item: PreparedEvent) -> list[Any]:
    event = item.event
    return [
        event.occurred_at,
        str(item.ip) if item.ip is not None else None,
        event.asn,
        event.as_org,
        event.country,
        event.city,
        event.lat,
        event.lon,
        event.user_agent,
        event.device_id,
    ]


_CONTEXT_FIELDS = (
    "seen_at", "ip", "asn", "as_org", "country", "city", "lat", "lon", "user_agent", "device_id"
)  # fmt: skip
_CONTEXT_TYPES = (
    "timestamptz", "inet", "integer", "text", "text", "text", "float8", "float8", "text", "text"
)  # fmt: skip


def _upsert_sessions(
    source: Source, fresh: list[PreparedEvent], identities: dict[str, int]
) -> dict[str, int]:
    """Session id per session key, for the sessions the new events belong to."""
    sessions = _sessions(fresh)
    if not sessions:
        return {}
    if connection.vendor == "postgresql":
        ids = _upsert_sessions_pg(source, sessions, identities)
    else:
        ids = _upsert_sessions_orm(source, sessions, identities)
    _end_sessions(source, sessions, ids)
    return ids


def _upsert_sessions_pg(
    source: Source, sessions: dict[str, _SessionSeen], identities: dict[str, int]
) -> dict[str, int]:
    keys = sorted(sessions)  # a stable lock order between concurrent writers
    columns: list[list[Any]] = [
        keys,
        [identities[sessions[k].first.event.actor_id] for k in keys],
        [sessions[k].first.event.token_kind for k in keys],
        [sessions[k].authenticated_at for k in keys],
        [orjson.dumps(sorted(sessions[k].auth_methods)).decode() for k in keys],
        [sessions[k].mfa for k in keys],
        [sessions[k].count for k in keys],
    ]
    firsts = [_context(sessions[k].first) for k in keys]
    lasts = [_context(sessions[k].last) for k in keys]
    for position in range(len(_CONTEXT_FIELDS)):
        columns.append([row[position] for row in firsts])
    for position in range(len(_CONTEXT_FIELDS)):
        columns.append([row[position] for row in lasts])
    firsts_sql = [f"first_{name}" for name in _CONTEXT_FIELDS]
    lasts_sql = [f"last_{name}" for name in _CONTEXT_FIELDS]
    fixed = "session_key, identity_id, token_kind, authenticated_at, auth_methods, mfa, n"
    unnest_types = ["text", "bigint", "text", "timestamptz", "text", "boolean", "integer"]
    unnest_types += list(_CONTEXT_TYPES) * 2
    unnest_args = ", ".join(f"%b::{t}[]" for t in unnest_types)
    insert_columns = [
        "session_key", "identity_id", "token_kind", "authenticated_at", "auth_methods", "mfa",
        "event_count", *firsts_sql, *lasts_sql,
    ]  # fmt: skip
    select_columns = [
        "v.session_key", "v.identity_id", "v.token_kind", "v.authenticated_at",
        "v.auth_methods::jsonb", "v.mfa", "v.n", *(f"v.{c}" for c in firsts_sql),
        *(f"v.{c}" for c in lasts_sql),
    ]  # fmt: skip
    keep_first = ",\n".join(
        f"{c} = CASE WHEN EXCLUDED.first_seen_at < s.first_seen_at THEN EXCLUDED.{c} ELSE s.{c} END"
        for c in firsts_sql[1:]
    )
    keep_last = ",\n".join(
        f"{c} = CASE WHEN EXCLUDED.last_seen_at >= s.last_seen_at THEN EXCLUDED.{c} ELSE s.{c} END"
        for c in lasts_sql[1:]
    )
    sql = f"""
        INSERT INTO sessions_app_session AS s (
            source_id, {", ".join(insert_columns)},
            status, revoked_by, risk_score, risk_factors)
        SELECT %b, {", ".join(select_columns)}, 'active', '', 0, '[]'::jsonb
        FROM unnest({unnest_args}) AS v({fixed}, {", ".join(firsts_sql)}, {", ".join(lasts_sql)})
        ON CONFLICT (source_id, session_key) DO UPDATE SET
            authenticated_at = LEAST(s.authenticated_at, EXCLUDED.authenticated_at),
            auth_methods = CASE WHEN s.auth_methods @> EXCLUDED.auth_methods THEN s.auth_methods
                ELSE (SELECT jsonb_agg(DISTINCT m ORDER BY m)
                      FROM jsonb_array_elements(s.auth_methods || EXCLUDED.auth_methods) m)
                END,
            mfa = CASE WHEN s.mfa OR EXCLUDED.mfa THEN TRUE ELSE COALESCE(s.mfa, EXCLUDED.mfa)
                END,
            event_count = s.event_count + EXCLUDED.event_count,
            {keep_first},
            {keep_last},
            first_seen_at = LEAST(s.first_seen_at, EXCLUDED.first_seen_at),
            last_seen_at = GREATEST(s.last_seen_at, EXCLUDED.last_seen_at)
        RETURNING session_key, id
    """
    with _binding_cursor() as cursor:
        cursor.execute(sql, [source.pk, *columns])
        return dict(cursor.fetchall())


def _apply_context(session: Session, prefix: str, item: PreparedEvent) -> None:
    for name, value in zip(_CONTEXT_FIELDS, _context(item), strict=True):
        setattr(session, f"{prefix}_{name}", value)


def _upsert_sessions_orm(
    source: Source, sessions: dict[str, _SessionSeen], identities: dict[str, int]
) -> dict[str, int]:
    keys = sorted(sessions)
    existing = {
        s.session_key: s for s in Session.objects.filter(source=source, session_key__in=keys)
    }
    for key in keys:
        seen = sessions[key]
        session = existing.get(key)
        if session is None:
            session = Session(
                source=source,
                session_key=key,
                identity_id=identities[seen.first.event.actor_id],
                token_kind=seen.first.event.token_kind,
            )
            _apply_context(session, "first", seen.first)
            _apply_context(session, "last", seen.last)
            session.event_count = 0
        else:
            if seen.first.event.occurred_at < session.first_seen_at:
                _apply_context(session, "first", seen.first)
            if seen.last.event.occurred_at >= session.last_seen_at:
                _apply_context(session, "last", seen.last)
        session.event_count += seen.count
        session.authenticated_at = _earlier(session.authenticated_at, seen.authenticated_at)
        if session.mfa is True or seen.mfa is True:
            session.mfa = True
        elif session.mfa is None:
            session.mfa = seen.mfa
        session.auth_methods = sorted(set(session.auth_methods or []) | seen.auth_methods)
        session.save()
        existing[key] = session
    return {key: existing[key].pk for key in keys}


def _end_sessions(source: Source, sessions: dict[str, _SessionSeen], ids: dict[str, int]) -> None:
    """Apply logoff / revocation / expiry to sessions that are still active."""
    ending = sorted((ids[k], s.ends_as, s.ended_at) for k, s in sessions.items() if s.ends_as)
    if not ending:
        return
    if connection.vendor == "postgresql":
        with _binding_cursor() as cursor:
            cursor.execute(
                """
                UPDATE sessions_app_session AS s SET
                  status = v.status,
                  ended_at = CASE WHEN v.status = 'revoked' THEN s.ended_at ELSE v.at END,
                  revoked_at = CASE WHEN v.status = 'revoked' THEN v.at ELSE s.revoked_at END,
                  revoked_by = CASE WHEN v.status = 'revoked' THEN 'idp' ELSE s.revoked_by END
                FROM unnest(%b::bigint[], %b::text[], %b::timestamptz[]) AS v(id, status, at)
                WHERE s.id = v.id AND s.status = 'active'
                """,
                [[e[0] for e in ending], [e[1] for e in ending], [e[2] for e in ending]],
            )
        return
    for pk, status, at in ending:
        changes: dict[str, Any] = {"status": status}
        if status == SessionStatus.REVOKED:
            changes.update(revoked_at=at, revoked_by="idp")
        else:
            changes["ended_at"] = at
        Session.objects.filter(pk=pk, status=SessionStatus.ACTIVE).update(**changes)


_EVENT_COLUMNS = (
    ("id", "int8"),
    ("source_id", "int8"),
    ("provider_event_id", "text"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("provider_event_type", "text"),
    ("event_type", "text"),
    ("outcome", "text"),
    ("identity_id", "int8"),
    ("session_id", "int8"),
    ("session_key", "text"),
    ("ip", "inet"),
    ("asn", "int4"),
    ("as_org", "text"),
    ("country", "text"),
    ("city", "text"),
    ("lat", "float8"),
    ("lon", "float8"),
    ("anonymizer", "bool"),
    ("user_agent", "text"),
    ("device_id", "text"),
    ("client_app", "text"),
    ("high_value_action", "text"),
    ("mfa", "bool"),
    ("details", "jsonb"),
    ("raw", "jsonb"),
)


def _insert_events(
    source: Source,
    fresh: list[PreparedEvent],
    identities: dict[str, int],
    sessions: dict[str, int],
    received_at: datetime,
) -> list[int]:
    if connection.vendor == "postgresql":
        return _copy_events_pg(source, fresh, identities, sessions, received_at)
    rows = TelemetryEvent.objects.bulk_create(
        [
            TelemetryEvent(
                source_id=source.pk,
                provider_event_id=p.event.provider_event_id,
                occurred_at=p.event.occurred_at,
                received_at=received_at,
                provider_event_type=p.event.provider_event_type,
                event_type=p.event.event_type,
                outcome=p.event.outcome,
                identity_id=identities[p.event.actor_id],
                session_id=sessions.get(p.event.session_key),
                session_key=p.event.session_key,
                ip=str(p.ip) if p.ip is not None else None,
                asn=p.event.asn,
                as_org=p.event.as_org,
                country=p.event.country,
                city=p.event.city,
                lat=p.event.lat,
                lon=p.event.lon,
                anonymizer=bool(p.event.anonymizer),
                user_agent=p.event.user_agent,
                device_id=p.event.device_id,
                client_app=p.event.client_app,
                high_value_action=p.event.high_value_action,
                mfa=p.event.mfa,
                details=orjson.loads(p.details),
                raw=orjson.loads(p.raw),
            )
            for p in fresh
        ],
        batch_size=500,
    )
    return [row.pk for row in rows]


def _copy_events_pg(
    source: Source,
    fresh: list[PreparedEvent],
    identities: dict[str, int],
    sessions: dict[str, int],
    received_at: datetime,
) -> list[int]:
    """Binary COPY into the partitioned table, with ids drawn from its sequence first.

    No ON CONFLICT is needed: under the source lock ``_find_stored`` already found every
    stored key. The unique constraint remains the backstop — a violation aborts the whole
    transaction (nothing half-written, the cursor not advanced) rather than duplicating.
    """
    from psycopg.types.json import set_json_dumps

    with connection.cursor() as wrapper:
        wrapper.execute(
            "SELECT nextval(pg_get_serial_sequence('sessions_app_telemetryevent', 'id')) "
            "FROM generate_series(1, %s)",
            [len(fresh)],
        )
        ids = [row[0] for row in wrapper.fetchall()]
        cursor = wrapper.cursor  # the psycopg cursor under Django's wrapper
        set_json_dumps(_already_json, cursor)  # details/raw are serialised bytes already
        names = ", ".join(name for name, _ in _EVENT_COLUMNS)
        source_id = source.pk
        with cursor.copy(
            f"COPY sessions_app_telemetryevent ({names}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types([kind for _, kind in _EVENT_COLUMNS])
            for pk, p in zip(ids, fresh, strict=True):
                e = p.event
                copy.write_row(
                    (
                        pk, source_id, e.provider_event_id, e.occurred_at, received_at,
                        e.provider_event_type, e.event_type, e.outcome,
                        identities[e.actor_id], sessions.get(e.session_key), e.session_key,
                        p.ip, e.asn, e.as_org, e.country, e.city, e.lat, e.lon,
                        bool(e.anonymizer), e.user_agent, e.device_id, e.client_app,
                        e.high_value_action, e.mfa, p.details, p.raw,
                    )
                )  # fmt: skip
    return ids


def _already_json(value: bytes) -> bytes:
    return value


def _add_daily_counts(source_id: int, fresh: list[PreparedEvent]) -> None:
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for item in fresh:
        counts[(item.event.occurred_at.astimezone(UTC).date(), item.event.event_type)] += 1
    table = EventDailyCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (day, source_id, event_type, count) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT (day, source_id, event_type) "
            f"DO UPDATE SET count = {table}.count + excluded.count",
            [(day, source_id, kind, n) for (day, kind), n in sorted(counts.items())],
        )


# ---------------------------------------------------------------------------------------
# source administration (audit-logged) and poll health (system writes)


def _source_snapshot(source: Source) -> dict[str, Any]:
    """What the audit log records about a source: never a secret value, only secret names."""
    return {
        "name": source.name,
        "kind": source.kind,
        "enabled": source.enabled,
        "poll_interval_seconds": source.poll_interval_seconds,
        "settings": source.settings,
        "secret_names": source.secret_names,
    }


def source_create(
    *,
    name: str,
    kind: str,
    actor: Any,
    settings: dict | None = None,
    secrets: dict[str, str] | None = None,
    enabled: bool = True,
    poll_interval_seconds: int = 60,
    client_ip: str | None = None,
) -> Source:
    """Create a source (secrets encrypted at rest) and audit it without the secret values."""
    source = Source(
        name=name,
        kind=kind,
        settings=settings or {},
        enabled=enabled,
        poll_interval_seconds=poll_interval_seconds,
    )
    if secrets:
        source.set_secrets({k: v for k, v in secrets.items() if v})
    if source.is_pulled:
        source.next_poll_at = timezone.now()
    source.full_clean()
    with transaction.atomic():
        source.save()
        audit_log(
            actor=actor,
            verb="source.create",
            obj=source,
            after=_source_snapshot(source),
            client_ip=client_ip,
        )
    return source


def source_update(
    *,
    source: Source,
    actor: Any,
    name: str | None = None,
    settings: dict | None = None,
    enabled: bool | None = None,
    poll_interval_seconds: int | None = None,
    client_ip: str | None = None,
) -> Source:
    """Change a source's non-secret configuration; ``None`` leaves a field as it is."""
    before = _source_snapshot(source)
    if name is not None:
        source.name = name
    if settings is not None:
        source.settings = settings
    if poll_interval_seconds is not None:
        source.poll_interval_seconds = poll_interval_seconds
    if enabled is not None:
        if enabled and not source.enabled and source.is_pulled:
            source.next_poll_at = timezone.now()  # poll as soon as it's switched back on
        source.enabled = enabled
    source.full_clean()
    with transaction.atomic():
        source.save()
        audit_log(
            actor=actor,
            verb="source.update",
            obj=source,
            before=before,
            after=_source_snapshot(source),
            client_ip=client_ip,
        )
    return source


def source_set_secrets(
    *, source: Source, secrets: dict[str, str | None], actor: Any, client_ip: str | None = None
) -> Source:
    """Set (or, with an empty value, remove) named secrets; the audit row names them only."""
    before = source.secret_names
    values = source.get_secrets()
    for key, value in secrets.items():
        if value:
            values[key] = value
        else:
            values.pop(key, None)
    source.set_secrets(values)
    with transaction.atomic():
        source.save(update_fields=["secrets_encrypted", "updated_at"])
        audit_log(
            actor=actor,
            verb="source.set_secrets",
            obj=source,
            before={"secret_names": before},
            after={"secret_names": source.secret_names, "changed": sorted(secrets)},
            client_ip=client_ip,
        )
    return source


def source_poll_succeeded(
    *, source_id: int, rate_limit: dict | None, more: bool, now: datetime | None = None
) -> None:
    """Record a successful poll; poll again at once if the provider said there is more."""
    now = now or timezone.now()
    source = Source.objects.get(pk=source_id)
    delay = timedelta(seconds=0 if more else source.poll_interval_seconds)
    Source.objects.filter(pk=source_id).update(
        last_poll_at=now,
        last_success_at=now,
        consecutive_failures=0,
        last_error="",
        rate_limit=rate_limit or {},
        next_poll_at=now + delay,
        updated_at=now,
    )


MAX_BACKOFF_SECONDS = 3600


def poll_backoff_seconds(interval: int, failures: int, retry_after: float | None) -> float:
    """Exponential backoff from the poll interval, capped at an hour; ``retry_after`` wins
    when the provider asks for a longer pause."""
    backoff = min(interval * 2 ** max(failures - 1, 0), MAX_BACKOFF_SECONDS)
    return max(backoff, retry_after or 0)


def source_poll_failed(
    *,
    source_id: int,
    error: str,
    retry_after: float | None = None,
    rate_limit: dict | None = None,
    now: datetime | None = None,
) -> None:
    """Record a failed poll and push the next one back (backoff, provider's Retry-After)."""
    now = now or timezone.now()
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source_id)
        failures = source.consecutive_failures + 1
        delay = poll_backoff_seconds(source.poll_interval_seconds, failures, retry_after)
        changes: dict[str, Any] = {
            "last_poll_at": now,
            "last_error": error[:2000],
            "last_error_at": now,
            "consecutive_failures": failures,
            "next_poll_at": now + timedelta(seconds=delay),
            "updated_at": now,
        }
        if rate_limit:
            changes["rate_limit"] = rate_limit
        Source.objects.filter(pk=source_id).update(**changes)
