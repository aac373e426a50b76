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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, NamedTuple

import orjson
from django.conf import settings as django_settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg.adapt import Dumper, PyFormat
from psycopg.errors import UniqueViolation
from psycopg.pq import Format

from govern.audit import audit_log

from .choices import (
    IdentityStatus,
    PrivilegeTier,
    SessionStatus,
    SourceKind,
)
from .ingest.plan import (
    CONTEXT_FIELDS,
    CONTEXT_TYPES,
    HEAD_COLUMNS,
    TAIL_COLUMNS,
    ActorColumns,
    ActorSeen,
    BatchPlan,
    EncodedArray,
    SessionSeen,
    actors_seen,
    context,
    copy_chunks,
    daily_counts,
    prepare_planned,
    session_columns,
    sessions_seen,
)
from .ingest.prepare import (
    JsonLine,
    PreparedEvent,
    Reject,
    RejectedInput,
    gc_paused,
    pack_lines,
    parse_worker_started,
    prepare_packed,
    prepare_records,
    unpack_prepared,
)
from .models import (
    EventDailyCount,
    Identity,
    IdentityLink,
    PendingBatch,
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
    with gc_paused():
        prepared, rejects = _prepare(fmt, records, mapping)
        result = _store_new(source, prepared, rejects, fmt, cursor)
        del prepared, rejects  # before collection resumes, or it would walk them
    return result


def _store_new(
    source: Source,
    prepared: list[PreparedEvent],
    rejects: list[Reject],
    fmt: str,
    cursor: dict | None,
) -> IngestResult:
    """``_store`` of a freshly parsed batch: partitions first, rejects quarantined anew."""
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
        executor: Executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=_pool_context(), initializer=parse_worker_started
        )
    else:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-parse")

    # On PostgreSQL a parse process also plans the batch's writes (ingest.plan), so this
    # process only runs the statements; elsewhere it hands back the parsed events.
    parse = prepare_planned if connection.vendor == "postgresql" else prepare_packed
    check_stored = False  # see _store_planned

    def submit(batch: Iterable[Any]) -> tuple[Future, list[Any]]:
        records = list(batch)
        if workers > 0 and all(type(record) is JsonLine for record in records):
            return executor.submit(parse, fmt, pack_lines(records), mapping, *geoip), records
        if workers > 0 and all(type(record) is dict for record in records):
            try:
                payload = orjson.dumps(records, option=_EXACT_JSON)
            except TypeError:  # not plain JSON data: parsed in this process
                pass
            else:
                return executor.submit(parse, fmt, payload, mapping, *geoip), records
        if workers > 0:
            done: Future = Future()
            done.set_result(prepare_records(fmt, records, mapping, *geoip))
            return done, records
        return executor.submit(prepare_records, fmt, records, mapping, *geoip), records

    with executor, _flushed_once_at_the_end():
        iterator = iter(batches)
        pending: deque[tuple[Future, list[Any]]] = deque(
            submit(b) for b in islice(iterator, workers + 1)
        )
        while pending:
            with gc_paused():
                next_batch = next(iterator, None)
                future, records = pending.popleft()
                prepared, rejects = future.result()
                if next_batch is not None:
                    pending.append(submit(next_batch))
                result = None
                if isinstance(prepared, BatchPlan):
                    result = _store_planned(
                        source=source,
                        plan=prepared,
                        rejects=rejects,
                        fmt=fmt,
                        check_stored=check_stored,
                    )
                    if result is None:  # some of it is stored already: the ordinary way
                        check_stored = True  # and the next batches probably overlap too
                        prepared, rejects = prepare_records(fmt, records, mapping, *geoip)
                if result is None:
                    if prepared and type(prepared[0]) is tuple:
                        prepared = unpack_prepared(prepared)
                    result = _store_new(source, prepared, rejects, fmt, None)
                # Let go of the batch before collection resumes, or it would walk it all.
                future = records = prepared = rejects = None  # type: ignore[assignment]
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


@contextmanager
def _flushed_once_at_the_end() -> Iterator[None]:
    """A bulk import's batches commit without waiting for their WAL to reach the disk
    (``synchronous_commit = off`` for this connection meanwhile), and the import waits once
    at the end, even when it fails: a last transaction that commits synchronously flushes
    everything written before it. A crash of PostgreSQL during an import can thus lose its
    last batches, but the import then fails and running it again stores them (re-imports add
    nothing); once it has returned, all of it is on disk. The wait was ~1 µs per event of the
    write chain. Inside a caller's transaction nothing changes: its commit decides."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    try:
        yield
    except BaseException:
        try:
            _flush_commits()
        except DatabaseError:  # the connection is gone: the import's own error says more
            logger.warning("could not flush the import's last commits", exc_info=True)
        raise
    _flush_commits()


def _flush_commits() -> None:
    with connection.cursor() as cursor:
        cursor.execute("RESET synchronous_commit")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")  # a transaction id: a commit to wait for


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


def pending_batches_accept(
    *, source: Source, records: list[Any], fmt: str, per_batch: int
) -> list[PendingBatch]:
    """Store a pushed delivery as ``PendingBatch`` rows of at most ``per_batch`` records, in
    one transaction: once this returns, nothing of it can be lost (see ``PendingBatch``)."""
    chunks = [records[start : start + per_batch] for start in range(0, len(records), per_batch)]
    with transaction.atomic():
        return [
            PendingBatch.objects.create(
                source=source, fmt=fmt, records=chunk, record_count=len(chunk)
            )
            for chunk in chunks
        ]


def pending_batch_ingest(batch_id: int) -> IngestResult | None:
    """Ingest a ``PendingBatch`` and delete it; None when it is gone already (an earlier
    delivery of its task ingested it). A failure is written on the row, which stays for
    ``pending_batches_due`` to queue again, and raised."""
    batch = PendingBatch.objects.select_related("source").filter(pk=batch_id).first()
    if batch is None:
        return None
    try:
        result = ingest_records(source=batch.source, records=batch.records, fmt=batch.fmt)
    except Exception as exc:
        PendingBatch.objects.filter(pk=batch_id).update(
            last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    # Deleted after the events committed: a worker dying in between leaves the row, and
    # ingesting it again adds nothing.
    PendingBatch.objects.filter(pk=batch_id).delete()
    return result


def pending_batches_due(*, older_than_seconds: float, limit: int = 1000) -> list[int]:
    """Ids of the ``PendingBatch`` rows last queued longer ago than ``older_than_seconds``,
    oldest first, marked as queued now; the caller queues a task for each."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            PendingBatch.objects.select_for_update(skip_locked=True)
            .filter(queued_at__lt=now - timedelta(seconds=older_than_seconds))
            .order_by("queued_at")
            .values_list("pk", flat=True)[:limit]
        )
        PendingBatch.objects.filter(pk__in=ids).update(queued_at=now, requeued=F("requeued") + 1)
    return ids


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
            _add_daily_counts(locked.pk, daily_counts(fresh))
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
        newest = max((p.event.occurred_at for p in fresh), default=None)
        _update_source(locked, newest, len(fresh), cursor)
        if fresh or verdicts:
            _send_on_commit(locked.pk, result)
    result.imported = len(fresh)
    result.duplicates = result.read - result.quarantined - result.imported
    return result


def _store_planned(
    *, source: Source, plan: BatchPlan, rejects: list[Reject], fmt: str, check_stored: bool
) -> IngestResult | None:
    """``_store`` of a batch a parse process planned (``ingest.plan``; PostgreSQL): the same
    statements in one transaction, their values taken from the plan. None, having written
    nothing, when one of its events is stored already: the plan assumed none was, so the
    caller stores that batch the ordinary way.

    ``check_stored``: ask first, with one indexed query. Otherwise the event table's unique
    key answers: the COPY fails on a stored key and the transaction rolls back. That is for
    an import's first batches, where nothing is stored yet as a rule and asking cost ~2 µs
    per event; the caller asks from the first batch that found something on.
    """
    result = IngestResult(read=plan.read + len(rejects), quarantined=len(rejects))
    received_at = timezone.now()
    for month in plan.months:  # before the transaction, as _ensure_partitions_for
        ensure_partitions(month, month)
    count = len(plan.event_keys)
    try:
        with transaction.atomic():
            locked = Source.objects.select_for_update().get(pk=source.pk)
            if count and check_stored and _any_stored(locked.pk, plan):
                return None
            if count:
                identity_ids = _write_identities(locked, plan.actors)
                session_ids: list[int] = []
                if plan.session_keys:
                    actors = [identity_ids[position] for position in plan.session_actor]
                    by_key = _write_sessions_pg(locked, plan.session_keys, actors, plan.sessions)
                    session_ids = [by_key[key] for key in plan.session_keys]
                result.event_ids = _copy_planned_pg(
                    locked, plan, identity_ids, session_ids, received_at
                )
                _add_daily_counts(locked.pk, plan.daily)
                result.identity_ids = sorted(set(identity_ids))
                result.session_ids = sorted(set(session_ids))
            _quarantine_new(locked, rejects, fmt)
            _update_source(locked, plan.last_at, count, None)
            if count:
                _send_on_commit(locked.pk, result)
    except UniqueViolation as exc:
        if not (exc.diag.table_name or "").startswith(TelemetryEvent._meta.db_table):
            raise
        return None  # rolled back: an event of the batch is stored already
    result.imported = count
    result.duplicates = result.read - result.quarantined - result.imported
    return result


def _any_stored(source_id: int, plan: BatchPlan) -> bool:
    """Whether an event of the plan's ids and time range is stored (an exact-key check would
    also compare times; the ordinary path does that for the rare batch this one flags)."""
    with _binding_cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (
              SELECT FROM sessions_app_telemetryevent
              WHERE source_id = %b AND occurred_at BETWEEN %b AND %b
                AND provider_event_id = ANY(%b::text[]))
            """,
            [source_id, plan.first_at, plan.last_at, plan.event_keys],
        )
        return cursor.fetchone()[0]


def _copy_planned_pg(
    source: Source,
    plan: BatchPlan,
    identity_ids: list[int],
    session_ids: list[int],
    received_at: datetime,
) -> list[int]:
    """``_copy_events_pg`` of a plan: its rows are binary COPY already but for their heads."""
    with _binding_cursor() as cursor:
        cursor.execute(_DRAW_EVENT_IDS + "%b)", [len(plan.event_keys)])
        ids = [row[0] for row in cursor.fetchall()]
        chunks = copy_chunks(
            plan,
            event_ids=ids,
            source_id=source.pk,
            received_at=received_at,
            identity_ids=identity_ids,
            session_ids=session_ids,
        )
        names = ", ".join((*HEAD_COLUMNS, *TAIL_COLUMNS))
        sql = f"COPY sessions_app_telemetryevent ({names}) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(sql) as copy:
            for chunk in chunks:
                copy.write(chunk)
    return ids


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


def _update_source(
    source: Source, newest: datetime | None, stored: int, cursor: dict | None
) -> None:
    """Source health after a batch that stored ``stored`` new events, the newest at
    ``newest``; the poll ``cursor`` too when given."""
    changes: dict[str, Any] = {"updated_at": timezone.now()}
    if stored:
        if source.newest_event_at is None or newest > source.newest_event_at:
            changes["newest_event_at"] = newest
        changes["events_total"] = F("events_total") + stored
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
                  -- by primary key in the months concerned, whatever the statistics say
                  AND e.id = ANY(%b::bigint[]) AND e.occurred_at BETWEEN %b AND %b
                """,
                [
                    [row.event_id for row, _ in verdicts],
                    [row.occurred_at for row, _ in verdicts],
                    [orjson.dumps(orjson.loads(i.details)["risk"]).decode() for _, i in verdicts],
                    [item.raw.decode() for _, item in verdicts],
                    [row.event_id for row, _ in verdicts],
                    min(row.occurred_at for row, _ in verdicts),
                    max(row.occurred_at for row, _ in verdicts),
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
    cursor = psycopg.Cursor(connection.connection)
    cursor.adapters.register_dumper(EncodedArray, _EncodedArrayDumper)
    return cursor


class _EncodedArrayDumper(Dumper):
    """Sends an ``EncodedArray`` as the binary array it already is; specialised per array
    type by ``upgrade``, as psycopg's own list dumper is."""

    format = Format.BINARY

    def get_key(self, obj: EncodedArray, format: PyFormat) -> Any:
        return (self.cls, obj.oid)

    def upgrade(self, obj: EncodedArray, format: PyFormat) -> Dumper:
        dumper = _EncodedArrayDumper(self.cls)
        dumper.oid = obj.oid
        return dumper

    def dump(self, obj: EncodedArray) -> bytes:
        return obj.data


def _upsert_identities(source: Source, fresh: list[PreparedEvent]) -> dict[str, int]:
    """Identity id per actor id: linked ones updated, unknown ones created with their link."""
    actors = ActorColumns.of(actors_seen(fresh))
    ids = _write_identities(source, actors)
    return dict(zip(actors.names, ids, strict=True))


def _write_identities(source: Source, actors: ActorColumns) -> list[int]:
    """The identity id of each of ``actors`` (in their order): linked ones updated where a
    value changes, unknown ones created with their link."""
    names = actors.names
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
    new = [position for position, name in enumerate(names) if name not in linked]
    ids = [linked.get(name, 0) for name in names]
    if new:
        created = _create_identities(source, actors.take(new))
        for position in new:
            ids[position] = created[names[position]]
    # in identity id order: a stable lock order between concurrent writers
    existing = sorted((p for p, name in enumerate(names) if name in linked), key=ids.__getitem__)
    if existing:
        update = (
            _update_identities_pg if connection.vendor == "postgresql" else _update_identities_orm
        )
        update([ids[p] for p in existing], actors.take(existing))
    return ids


def _create_identities(source: Source, new: ActorColumns) -> dict[str, int]:
    if connection.vendor == "postgresql":
        return _create_identities_pg(source, new)
    identities = Identity.objects.bulk_create(
        [
            Identity(
                kind=kind,
                login=login or name,
                display_name=display_name or login or name,
                provider_ids={str(source.pk): name},
                first_seen_at=first_seen,
                last_seen_at=last_seen,
                credential_changed_at=credential_changed_at,
            )
            for name, kind, login, display_name, first_seen, last_seen, credential_changed_at in (
                zip(*new.columns(), strict=True)
            )
        ]
    )
    IdentityLink.objects.bulk_create(
        [
            IdentityLink(source=source, provider_id=name, identity_id=identity.pk)
            for name, identity in zip(new.names, identities, strict=True)
        ]
    )
    return {name: identity.pk for name, identity in zip(new.names, identities, strict=True)}


def _create_identities_pg(source: Source, new: ActorColumns) -> dict[str, int]:
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
              SELECT nextval((SELECT pg_get_serial_sequence('sessions_app_identity', 'id'))
                             ::regclass) AS id, u.*
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
                new.names,
                new.kinds,
                [login or name for name, login in zip(new.names, new.logins, strict=True)],
                [
                    display_name or login or name
                    for name, login, display_name in zip(
                        new.names, new.logins, new.display_names, strict=True
                    )
                ],
                new.first_seen,
                new.last_seen,
                new.credential_changed_at,
                str(source.pk),
                PrivilegeTier.STANDARD.value,
                IdentityStatus.ACTIVE.value,
                now,
                now,
                source.pk,
            ],
        )
        return dict(cursor.fetchall())


def _update_identities_pg(ids: list[int], seen: ActorColumns) -> None:
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
            WHERE i.id = v.id
              -- the ids again, so the plan reads them by primary key whatever the table's
              -- statistics say (a hash join on a scan of every identity otherwise)
              AND i.id = ANY(%b::bigint[])
              AND (
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
                ids,
                seen.first_seen,
                seen.last_seen,
                seen.logins,
                seen.display_names,
                seen.credential_changed_at,
                ids,
            ],
        )


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    return max(filter(None, (current, candidate)), default=None)


def _earlier(current: datetime | None, candidate: datetime | None) -> datetime | None:
    return min(filter(None, (current, candidate)), default=None)


def _update_identities_orm(ids: list[int], actors: ActorColumns) -> None:
    seen_by_id = {
        pk: ActorSeen(first, last, login, name, kind, changed)
        for pk, (_, kind, login, name, first, last, changed) in zip(
            ids, zip(*actors.columns(), strict=True), strict=True
        )
    }
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


def _upsert_sessions(
    source: Source, fresh: list[PreparedEvent], identities: dict[str, int]
) -> dict[str, int]:
    """Session id per session key, for the sessions the new events belong to."""
    sessions = sessions_seen(fresh)
    if not sessions:
        return {}
    if connection.vendor == "postgresql":  # lifecycle endings are part of the upsert
        keys = sorted(sessions)  # a stable lock order between concurrent writers
        identity_ids = [identities[sessions[k].first.event.actor_id] for k in keys]
        return _write_sessions_pg(source, keys, identity_ids, session_columns(sessions, keys))
    ids = _upsert_sessions_orm(source, sessions, identities)
    _end_sessions_orm([(ids[k], s.ends_as, s.ended_at) for k, s in sessions.items() if s.ends_as])
    return ids


def _write_sessions_pg(
    source: Source, keys: list[str], identity_ids: list[int], columns: list[list[Any]]
) -> dict[str, int]:
    """Insert or update the sessions ``keys`` (sorted), ``columns`` as ``session_columns``
    gives them; their ids by key."""
    firsts_sql = [f"first_{name}" for name in CONTEXT_FIELDS]
    lasts_sql = [f"last_{name}" for name in CONTEXT_FIELDS]
    fixed = "session_key, identity_id, token_kind, authenticated_at, auth_methods, mfa, n"
    unnest_types = ["text", "bigint", "text", "timestamptz", "text", "boolean", "integer"]
    unnest_types += [*CONTEXT_TYPES, *CONTEXT_TYPES, "text", "timestamptz"]
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
            status, ended_at, revoked_at, revoked_by, risk_score, risk_factors)
        SELECT %b, {", ".join(select_columns)},
            CASE WHEN v.ends_as = '' THEN 'active' ELSE v.ends_as END,
            CASE WHEN v.ends_as IN ('ended', 'expired') THEN v.ended END,
            CASE WHEN v.ends_as = 'revoked' THEN v.ended END,
            CASE WHEN v.ends_as = 'revoked' THEN 'idp' ELSE '' END,
            0, '[]'::jsonb
        FROM unnest({unnest_args})
          AS v({fixed}, {", ".join(firsts_sql)}, {", ".join(lasts_sql)}, ends_as, ended)
        ON CONFLICT (source_id, session_key) DO UPDATE SET
            -- a lifecycle event ends a session still active (the old row's values here)
            status = CASE WHEN s.status = 'active' THEN EXCLUDED.status ELSE s.status END,
            ended_at = CASE WHEN s.status = 'active' AND EXCLUDED.status IN ('ended', 'expired')
                THEN EXCLUDED.ended_at ELSE s.ended_at END,
            revoked_at = CASE WHEN s.status = 'active' AND EXCLUDED.status = 'revoked'
                THEN EXCLUDED.revoked_at ELSE s.revoked_at END,
            revoked_by = CASE WHEN s.status = 'active' AND EXCLUDED.status = 'revoked'
                THEN EXCLUDED.revoked_by ELSE s.revoked_by END,
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
        cursor.execute(sql, [source.pk, keys, identity_ids, *columns])
        return dict(cursor.fetchall())


def _apply_context(session: Session, prefix: str, item: PreparedEvent) -> None:
    for name, value in zip(CONTEXT_FIELDS, context(item), strict=True):
        setattr(session, f"{prefix}_{name}", value)


def _upsert_sessions_orm(
    source: Source, sessions: dict[str, SessionSeen], identities: dict[str, int]
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


def _end_sessions_orm(endings: list[tuple[int, str, datetime]]) -> None:
    """Apply logoff / revocation / expiry (session id, status, at) to sessions still active."""
    for pk, status, at in sorted(endings):
        changes: dict[str, Any] = {"status": status}
        if status == SessionStatus.REVOKED:
            changes.update(revoked_at=at, revoked_by="idp")
        else:
            changes["ended_at"] = at
        Session.objects.filter(pk=pk, status=SessionStatus.ACTIVE).update(**changes)


# Event ids drawn from the table's sequence before the COPY, so they are known for the
# events_ingested signal. The sequence is looked up once per statement (a sub-select), not
# once per id: pg_get_serial_sequence per row made drawing 2,000 ids take 4–5 ms.
_DRAW_EVENT_IDS = (
    "SELECT nextval((SELECT pg_get_serial_sequence('sessions_app_telemetryevent', 'id'))"
    "::regclass) FROM generate_series(1, "
)

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
        wrapper.execute(_DRAW_EVENT_IDS + "%s)", [len(fresh)])
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


def _add_daily_counts(source_id: int, counts: list[tuple[date, str, int]]) -> None:
    table = EventDailyCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (day, source_id, event_type, count) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT (day, source_id, event_type) "
            f"DO UPDATE SET count = {table}.count + excluded.count",
            [(day, source_id, kind, n) for day, kind, n in counts],
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
