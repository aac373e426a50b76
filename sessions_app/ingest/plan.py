"""A batch's writes worked out before the database is touched (pure).

``sessions_app.services`` stores a batch of new events as a handful of set-based statements:
identities, sessions, lifecycle endings, the events' COPY and the daily rollup. Everything
those statements carry except what only the database knows (identity, session and event ids)
follows from the batch alone, and is computed here: by the writer for ``ingest_records``,
and by ``ingest_batches``' parse processes (``prepare_planned``), so that a bulk import's
writing process only runs statements while the next batch is planned on another core.

A ``BatchPlan`` assumes that none of its events is stored yet; the writer checks that with
one indexed query and, when some are, stores that batch the ordinary way instead.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import accumulate
from typing import Any

import orjson

from sessions_app.choices import EventType, IdentityKind, Outcome, SessionStatus

from .prepare import (
    JsonLine,
    PackedLines,
    PreparedEvent,
    Reject,
    collect_between_batches,
    gc_paused,
    prepare_records,
    records_of,
)

# Lifecycle event type -> the session status it ends a session in. When one batch holds more
# than one for a session, revocation wins over expiry over logoff.
LIFECYCLE = {
    EventType.SESSION_REVOKED: SessionStatus.REVOKED,
    EventType.TOKEN_REVOKED: SessionStatus.REVOKED,
    EventType.SESSION_EXPIRED: SessionStatus.EXPIRED,
    EventType.LOGOFF: SessionStatus.ENDED,
}
_AUTHENTICATING = frozenset({EventType.LOGON, EventType.MFA_CHALLENGE})
_LIFECYCLE_RANK = {SessionStatus.REVOKED: 0, SessionStatus.EXPIRED: 1, SessionStatus.ENDED: 2}


def distinct_in_order(prepared: list[PreparedEvent]) -> list[PreparedEvent]:
    """Each (event id, time) once — the first copy, as one delivery may repeat an event —
    in event-time order (input order among equal times), the order events are written in."""
    by_key: dict[tuple[str, datetime], PreparedEvent] = {}
    for item in prepared:
        by_key.setdefault(item.key, item)
    return sorted(by_key.values(), key=lambda p: (p.event.occurred_at, p.index))


# ---------------------------------------------------------------------------------------
# identities


@dataclass(slots=True)
class ActorSeen:
    first_seen: datetime
    last_seen: datetime
    login: str = ""
    display_name: str = ""
    kind: str = IdentityKind.HUMAN
    credential_changed_at: datetime | None = None


def actors_seen(fresh: list[PreparedEvent]) -> dict[str, ActorSeen]:
    """What the batch says about each actor; ``fresh`` in event-time order, so later events
    refresh login and name."""
    actors: dict[str, ActorSeen] = {}
    for item in fresh:
        event = item.event
        seen = actors.get(event.actor_id)
        if seen is None:
            seen = actors[event.actor_id] = ActorSeen(event.occurred_at, event.occurred_at)
        seen.last_seen = event.occurred_at
        seen.login = event.actor_login or seen.login
        seen.display_name = event.actor_display_name or seen.display_name
        if event.actor_kind != IdentityKind.HUMAN:
            seen.kind = event.actor_kind
        if event.event_type == EventType.CREDENTIAL_CHANGE and event.outcome != Outcome.FAILURE:
            seen.credential_changed_at = event.occurred_at
    return actors


@dataclass(slots=True)
class ActorColumns:
    """Actors as parallel columns (sorted by provider id), as the identity statements bind
    them."""

    names: list[str]
    kinds: list[str]
    logins: list[str]
    display_names: list[str]
    first_seen: list[datetime]
    last_seen: list[datetime]
    credential_changed_at: list[datetime | None]

    @classmethod
    def of(cls, actors: dict[str, ActorSeen]) -> ActorColumns:
        names = sorted(actors)
        seen = [actors[name] for name in names]
        return cls(
            names,
            [s.kind for s in seen],
            [s.login for s in seen],
            [s.display_name for s in seen],
            [s.first_seen for s in seen],
            [s.last_seen for s in seen],
            [s.credential_changed_at for s in seen],
        )

    def take(self, positions: list[int]) -> ActorColumns:
        return ActorColumns(
            *([column[p] for p in positions] for column in self.columns())  # type: ignore[arg-type]
        )

    def columns(self) -> tuple[list, ...]:
        return (
            self.names,
            self.kinds,
            self.logins,
            self.display_names,
            self.first_seen,
            self.last_seen,
            self.credential_changed_at,
        )


# ---------------------------------------------------------------------------------------
# sessions


@dataclass(slots=True)
class SessionSeen:
    first: PreparedEvent
    last: PreparedEvent
    count: int = 0
    authenticated_at: datetime | None = None
    mfa: bool | None = None
    auth_methods: set[str] = field(default_factory=set)
    ends_as: str = ""  # SessionStatus the batch ends the session in ('' = none)
    ended_at: datetime | None = None


def sessions_seen(fresh: list[PreparedEvent]) -> dict[str, SessionSeen]:
    """What the batch says about each session it touches; ``fresh`` in event-time order."""
    sessions: dict[str, SessionSeen] = {}
    for item in fresh:
        event = item.event
        if not event.session_key:
            continue
        seen = sessions.get(event.session_key)
        if seen is None:
            seen = sessions[event.session_key] = SessionSeen(first=item, last=item)
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
        status = LIFECYCLE.get(event.event_type)
        ends = status is not None and event.outcome != Outcome.FAILURE
        if ends and (not seen.ends_as or _LIFECYCLE_RANK[status] < _LIFECYCLE_RANK[seen.ends_as]):
            seen.ends_as, seen.ended_at = status, event.occurred_at
    return sessions


CONTEXT_FIELDS = (
    "seen_at", "ip", "asn", "as_org", "country", "city", "lat", "lon", "user_agent", "device_id"
)  # fmt: skip
CONTEXT_TYPES = (
    "timestamptz", "inet", "integer", "text", "text", "text", "float8", "float8", "text", "text"
)  # fmt: skip


def context(item: PreparedEvent) -> list[Any]:
    """The first- or last-seen values a session takes from ``item``, in CONTEXT_FIELDS order."""
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


def session_columns(sessions: dict[str, SessionSeen], keys: list[str]) -> list[list[Any]]:
    """The session upsert's arrays but the identity ids, in the order of ``keys``: token
    kind, authenticated at, auth methods (JSON text), mfa, event count, the first- and the
    last-seen context (``CONTEXT_FIELDS`` each), then the status a lifecycle event of the
    batch ends the session in ('' for none) and when."""
    seen = [sessions[key] for key in keys]
    columns: list[list[Any]] = [
        [s.first.event.token_kind for s in seen],
        [s.authenticated_at for s in seen],
        [orjson.dumps(sorted(s.auth_methods)).decode() for s in seen],
        [s.mfa for s in seen],
        [s.count for s in seen],
    ]
    firsts = [context(s.first) for s in seen]
    lasts = [context(s.last) for s in seen]
    columns.extend([row[position] for row in firsts] for position in range(len(CONTEXT_FIELDS)))
    columns.extend([row[position] for row in lasts] for position in range(len(CONTEXT_FIELDS)))
    columns.append([s.ends_as for s in seen])
    columns.append([s.ended_at for s in seen])
    return columns


def daily_counts(fresh: list[PreparedEvent]) -> list[tuple[date, str, int]]:
    """(UTC day, event type, events) of the batch, sorted."""
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for item in fresh:
        counts[(item.event.occurred_at.astimezone(UTC).date(), item.event.event_type)] += 1
    return [(day, kind, n) for (day, kind), n in sorted(counts.items())]


def months_of(fresh: list[PreparedEvent]) -> list[date]:
    """The first days of the (UTC) months the events fall in: the partitions they need."""
    utc = (p.event.occurred_at.astimezone(UTC) for p in fresh)
    return sorted({date(at.year, at.month, 1) for at in utc})


# ---------------------------------------------------------------------------------------
# statement parameters encoded ahead


class EncodedArray:
    """A list already in PostgreSQL's binary array format, as psycopg would send it: a parse
    process encodes the session upsert's arrays, so the writer only passes the bytes on
    (``services._binding_cursor`` knows how). Encoding them was ~3 µs per event of the
    writer's time, in psycopg's Python array dumper."""

    __slots__ = ("data", "oid")

    def __init__(self, data: bytes, oid: int):
        self.data = data
        self.oid = oid

    def __reduce__(self) -> tuple[Any, ...]:
        return EncodedArray, (self.data, self.oid)


def encode_array(values: list[Any]) -> EncodedArray | list[Any]:
    """``values`` in binary array format; as is when psycopg would not send it binary (an
    empty list, or only NULLs: no element type to go by)."""
    from psycopg.adapt import PyFormat, Transformer
    from psycopg.pq import Format

    dumper = Transformer().get_dumper(values, PyFormat.BINARY)
    if dumper.format != Format.BINARY or not dumper.oid:
        return values
    return EncodedArray(bytes(dumper.dump(values)), dumper.oid)


# ---------------------------------------------------------------------------------------
# the events' rows in PostgreSQL's binary COPY format

# The columns a planned COPY writes, in order: first those the writer fills in (ids only the
# database can give, the source and the receive time), then those encoded here (``tail``).
HEAD_COLUMNS = ("id", "source_id", "received_at", "identity_id", "session_id")
TAIL_COLUMNS = (
    "provider_event_id", "occurred_at", "provider_event_type", "event_type", "outcome",
    "session_key", "ip", "asn", "as_org", "country", "city", "lat", "lon", "anonymizer",
    "user_agent", "device_id", "client_app", "high_value_action", "mfa", "details", "raw",
)  # fmt: skip
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_LENGTH = struct.Struct(">i")
_INT4 = struct.Struct(">ii")
_INT8 = struct.Struct(">iq")
_FLOAT8 = struct.Struct(">id")
_BOOL = struct.Struct(">i?")
_JSONB = struct.Struct(">iB")  # length, then jsonb's format version 1 before the JSON text
_INET = struct.Struct(">iBBBB")  # length, family, prefix bits, is-cidr, address bytes
# The row head: field count, then id, source id, received at and identity id, each int8 (a
# timestamp is int8 µs since 2000-01-01), and the session id or NULL.
_HEAD = struct.Struct(">hiqiqiqiq")
_HEAD_SESSION = struct.Struct(">hiqiqiqiqiq")
_FIELD_COUNT = len(HEAD_COLUMNS) + len(TAIL_COLUMNS)


def pg_timestamp(value: datetime) -> int:
    """``value`` (timezone-aware) as PostgreSQL's binary timestamptz: µs since 2000-01-01."""
    delta = value - _PG_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _text(value: str) -> bytes:
    data = value.encode()
    return _LENGTH.pack(len(data)) + data


_COMMON: dict[str, bytes] = {}  # encoded text of values that repeat: event types, places…
_INET4 = _INET.pack(8, 2, 32, 0, 4)
_INET6 = _INET.pack(20, 3, 128, 0, 16)
_TRUE, _FALSE = _BOOL.pack(1, True), _BOOL.pack(1, False)


def _common(value: str) -> bytes:
    """``_text`` of a value from a small set (an event type, a country, a user agent…),
    remembered: most of an event's text columns repeat from one event to the next."""
    data = _COMMON.get(value)
    if data is None:
        if len(_COMMON) >= 8192:  # bounded, whatever the input
            _COMMON.clear()
        data = _COMMON[value] = _text(value)
    return data


def copy_tail(item: PreparedEvent) -> bytes:
    """The event's ``TAIL_COLUMNS`` in binary COPY format (values as ``_prepare_one``
    coerced them: NUL-free text, finite floats, an int4 AS number)."""
    e = item.event
    ip = item.ip
    mfa = e.mfa
    return b"".join(
        (
            _text(e.provider_event_id),
            _INT8.pack(8, pg_timestamp(e.occurred_at)),
            _common(e.provider_event_type),
            _common(e.event_type),
            _common(e.outcome),
            _text(e.session_key),
            _NULL if ip is None else (_INET4 if ip.version == 4 else _INET6),
            b"" if ip is None else ip.packed,
            _NULL if e.asn is None else _INT4.pack(4, e.asn),
            _common(e.as_org),
            _common(e.country),
            _common(e.city),
            _NULL if e.lat is None else _FLOAT8.pack(8, e.lat),
            _NULL if e.lon is None else _FLOAT8.pack(8, e.lon),
            _TRUE if e.anonymizer else _FALSE,
            _common(e.user_agent),
            _text(e.device_id),
            _common(e.client_app),
            _common(e.high_value_action),
            _NULL if mfa is None else (_TRUE if mfa else _FALSE),
            _JSONB.pack(len(item.details) + 1, 1),
            item.details,
            _JSONB.pack(len(item.raw) + 1, 1),
            item.raw,
        )
    )


def copy_chunks(
    plan: BatchPlan,
    *,
    event_ids: list[int],
    source_id: int,
    received_at: datetime,
    identity_ids: list[int],
    session_ids: list[int],
    rows_per_chunk: int = 128,
) -> Iterator[bytes]:
    """The binary COPY payload of ``plan``'s events in chunks of ``rows_per_chunk`` rows:
    signature, one row per event (the head from the ids given — per event, per actor and
    per session, in the plan's order — then the event's tail), trailer. In chunks so that
    the database already reads the first rows while the next are put together."""
    received = pg_timestamp(received_at)
    head, head_session = _HEAD.pack, _HEAD_SESSION.pack
    parts: list[bytes | memoryview] = [COPY_SIGNATURE]
    append = parts.append
    tails = memoryview(plan.tails)
    start = 0
    rows = zip(event_ids, plan.event_actor, plan.event_session, plan.tail_ends, strict=True)
    for number, (pk, actor, session, end) in enumerate(rows, start=1):
        identity = identity_ids[actor]
        if session < 0:
            append(head(_FIELD_COUNT, 8, pk, 8, source_id, 8, received, 8, identity) + _NULL)
        else:
            sid = session_ids[session]
            append(
                head_session(_FIELD_COUNT, 8, pk, 8, source_id, 8, received, 8, identity, 8, sid)
            )
        append(tails[start:end])
        start = end
        if number % rows_per_chunk == 0:
            yield b"".join(parts)
            parts.clear()
    append(COPY_TRAILER)
    yield b"".join(parts)


# ---------------------------------------------------------------------------------------
# the plan


@dataclass(slots=True)
class BatchPlan:
    """Everything ``services`` writes for a batch of new events but the database's ids."""

    read: int  # events parsed (before the batch's own repeats were dropped)
    event_keys: list[str]  # provider event ids, in write order
    first_at: datetime | None
    last_at: datetime | None
    months: list[date]
    actors: ActorColumns
    event_actor: list[int]  # per event: its actor's position in ``actors``
    session_keys: list[str]  # sorted: a stable lock order between concurrent writers
    session_actor: list[int]  # per session: the actor position of its first event
    sessions: list[EncodedArray | list[Any]]  # ``session_columns``, encoded
    event_session: list[int]  # per event: its session's position, -1 for none
    daily: list[tuple[date, str, int]]
    # every event's ``copy_tail``, joined (one bytes object pickles and unpickles as one
    # copy, 2,000 of them took ~1.3 ms of the writer's GIL per batch), and where each ends
    tails: bytes = field(repr=False)
    tail_ends: list[int] = field(repr=False)


def plan_batch(prepared: list[PreparedEvent]) -> BatchPlan:
    """The plan of storing ``prepared`` when none of its events is stored yet."""
    fresh = distinct_in_order(prepared)
    actors = ActorColumns.of(actors_seen(fresh))
    actor_position = {name: position for position, name in enumerate(actors.names)}
    sessions = sessions_seen(fresh)
    keys = sorted(sessions)
    session_position = {key: position for position, key in enumerate(keys)}
    tails = [copy_tail(p) for p in fresh]
    return BatchPlan(
        read=len(prepared),
        event_keys=[p.event.provider_event_id for p in fresh],
        first_at=fresh[0].event.occurred_at if fresh else None,
        last_at=fresh[-1].event.occurred_at if fresh else None,
        months=months_of(fresh),
        actors=actors,
        event_actor=[actor_position[p.event.actor_id] for p in fresh],
        session_keys=keys,
        session_actor=[actor_position[sessions[k].first.event.actor_id] for k in keys],
        sessions=[encode_array(column) for column in session_columns(sessions, keys)],
        event_session=[session_position.get(p.event.session_key, -1) for p in fresh],
        daily=daily_counts(fresh),
        tails=b"".join(tails),
        tail_ends=list(accumulate(map(len, tails))),
    )


def prepare_planned(
    fmt: str,
    records: PackedLines | list[JsonLine] | bytes,
    mapping: dict | None,
    city_db: str,
    asn_db: str,
) -> tuple[BatchPlan, list[Reject]]:
    """``prepare_records`` and ``plan_batch`` of one batch, in a parse process (which does
    nothing else; see ``parse_worker_started``): a JSON array of records or ``JsonLine``
    items in, the plan and the rejects out."""
    collect_between_batches()
    with gc_paused():
        prepared, rejects = prepare_records(fmt, records_of(records), mapping, city_db, asn_db)
        return plan_batch(prepared), rejects


__all__ = [
    "LIFECYCLE",
    "ActorColumns",
    "ActorSeen",
    "BatchPlan",
    "EncodedArray",
    "SessionSeen",
    "actors_seen",
    "copy_chunks",
    "copy_tail",
    "daily_counts",
    "distinct_in_order",
    "encode_array",
    "months_of",
    "plan_batch",
    "prepare_planned",
    "sessions_seen",
]
