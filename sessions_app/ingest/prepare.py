"""Records → events ready for the database: parse, enrich, coerce, serialise (pure).

No database and no Django settings: ``ingest_batches`` runs this in worker processes that
never set Django up. ``sessions_app.services`` persists what it returns.
"""

from __future__ import annotations

import functools
import gc
import ipaddress
import logging
import math
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, NamedTuple

import orjson

from sessions_app.choices import EventType, HighValueAction, IdentityKind, Outcome, TokenKind

from . import enrich, parse_record, split_records
from .schema import NormalizedEvent, QuarantineError

logger = logging.getLogger(__name__)

_MAX_KEY = 300  # varchar length of event ids, actor ids and session keys
_STRING_LIMITS = {
    "provider_event_type": 200,
    "actor_login": 300,
    "actor_display_name": 300,
    "as_org": 200,
    "city": 100,
    "device_id": 200,
    "client_app": 200,
}
_EVENT_TYPES = frozenset(EventType.values)
_OUTCOMES = frozenset(Outcome.values)
_IDENTITY_KINDS = frozenset(IdentityKind.values)
_TOKEN_KINDS = frozenset(TokenKind.values)
_HIGH_VALUE = frozenset(HighValueAction.values)


class RejectedInput(NamedTuple):
    """Input that never became a record (e.g. a line that isn't JSON): quarantined as is."""

    payload: str
    reason: str


class JsonLine(NamedTuple):
    """One line of a JSON Lines file, decoded (and split into events) where the batch is
    parsed: in a parse worker for bulk imports, so the writing process never decodes it."""

    number: int  # 1-based, for the quarantine reason
    text: bytes


class PackedLines(NamedTuple):
    """``JsonLine`` items for the trip to a parse process: their texts joined, their numbers
    and where each text ends as int64 arrays. Pickling a list of 2,000 small tuples took
    ~5 ms, in one call that holds the writer's GIL; three bytes objects are a copy each."""

    numbers: bytes
    ends: bytes
    text: bytes


def pack_lines(lines: list[JsonLine]) -> PackedLines:
    numbers = array("q", [line.number for line in lines])
    ends = array("q", accumulate(len(line.text) for line in lines))
    return PackedLines(numbers.tobytes(), ends.tobytes(), b"".join(line.text for line in lines))


def unpack_lines(packed: PackedLines) -> list[JsonLine]:
    numbers, ends = array("q"), array("q")
    numbers.frombytes(packed.numbers)
    ends.frombytes(packed.ends)
    text, start, lines = packed.text, 0, []
    for number, end in zip(numbers, ends, strict=True):
        lines.append(JsonLine(number, text[start:end]))
        start = end
    return lines


def split_line(fmt: str, line: JsonLine) -> list[Any]:
    """The records one JSON line holds; ``RejectedInput`` when it is not JSON or no event."""
    try:
        value = orjson.loads(line.text)
    except orjson.JSONDecodeError as exc:
        text = line.text.decode(errors="replace").rstrip("\r\n")
        return [RejectedInput(text, f"line {line.number} is not JSON: {exc}")]
    return split_value(fmt, value, f"line {line.number}")


def split_value(fmt: str, value: Any, where: str) -> list[Any]:
    """``split_records`` of one decoded JSON value; ``RejectedInput`` (saying ``where``) when
    it holds no usable event."""
    try:
        return split_records(fmt, value)
    except QuarantineError as exc:
        return [RejectedInput(orjson.dumps(value).decode(), f"{where}: {exc.reason}")]


def _expanded(fmt: str, records: Iterable[Any]) -> Iterator[tuple[Any, bytes | None]]:
    """(record, its JSON text when that is a whole JSON line, else None) for each record."""
    for record in records:
        if type(record) is JsonLine:
            parts = split_line(fmt, record)
            if len(parts) == 1 and type(parts[0]) is dict:
                # One event, the line's own top-level object: the line is its JSON already.
                yield parts[0], record.text.rstrip(b"\r\n")
            else:
                for part in parts:
                    yield part, None
        else:
            yield record, None


@dataclass(slots=True)
class PreparedEvent:
    """A normalised event made safe for the database, with its serialised JSON columns."""

    event: NormalizedEvent
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    details: bytes
    raw: bytes
    index: int  # position in the input, to map quarantine outcomes back

    @property
    def key(self) -> tuple[str, datetime]:
        return self.event.provider_event_id, self.event.occurred_at


class Reject(NamedTuple):
    payload: str
    reason: str
    index: int


def _payload_text(record: Any) -> str:
    if isinstance(record, str):
        return record
    try:
        return orjson.dumps(record).decode()
    except TypeError:
        return repr(record)


def _clean_str(value: Any, limit: int | None = None) -> str:
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        value = value.replace("\x00", "")
    return value[:limit] if limit is not None and len(value) > limit else value


def _finite(value: float | None) -> float | None:
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def _prepare_one(
    event: NormalizedEvent, record: Any, index: int, text: bytes | None = None
) -> PreparedEvent:
    """Coerce a parser's output into what the columns accept; raise for what can't be kept.

    ``text``, when given, is ``record`` as the JSON it was decoded from: stored as the raw
    copy as is (jsonb keeps the same value either way) rather than encoded again."""
    for name in ("provider_event_id", "actor_id", "session_key"):
        value = _clean_str(getattr(event, name))
        if len(value) > _MAX_KEY:
            raise QuarantineError(f"{name} is longer than {_MAX_KEY} characters")
        setattr(event, name, value)
    if not event.provider_event_id:
        raise QuarantineError("event has no id")
    if not event.actor_id:
        raise QuarantineError("event has no actor id")
    if not isinstance(event.occurred_at, datetime):
        raise QuarantineError("event has no time")
    if event.occurred_at.tzinfo is None:
        event.occurred_at = event.occurred_at.replace(tzinfo=UTC)
    for name, limit in _STRING_LIMITS.items():
        value = getattr(event, name)
        # the common case, a short clean string, left as is without a call
        if type(value) is not str or len(value) > limit or "\x00" in value:
            setattr(event, name, _clean_str(value, limit))
    if type(event.user_agent) is not str or "\x00" in event.user_agent:
        event.user_agent = _clean_str(event.user_agent)
    if event.event_type not in _EVENT_TYPES:
        event.event_type = EventType.OTHER
    if event.outcome not in _OUTCOMES:
        event.outcome = Outcome.UNKNOWN
    if event.actor_kind not in _IDENTITY_KINDS:
        event.actor_kind = IdentityKind.HUMAN
    if event.token_kind not in _TOKEN_KINDS:
        event.token_kind = TokenKind.BROWSER_SESSION
    if event.high_value_action not in _HIGH_VALUE:
        event.high_value_action = ""
    country = _clean_str(event.country).upper()
    event.country = country if len(country) == 2 else ""
    if not (isinstance(event.asn, int) and 0 <= event.asn < 2**31):
        event.asn = None
    event.lat, event.lon = _finite(event.lat), _finite(event.lon)
    try:
        ip = _ip_address(event.ip) if event.ip else None
    except ValueError:
        ip = None
    try:
        raw = (
            text
            if text is not None
            else orjson.dumps(record if isinstance(record, dict) else event.raw)
        )
        details = orjson.dumps(
            {
                "session_keys": event.session_keys,
                "auth_methods": list(event.auth_methods),
                "risk": event.risk,
                "target": event.target,
                "interactive": event.interactive,
                # read back by alerts_app.engine.event_from_row for the detectors
                "token_kind": event.token_kind,
                "status_detail": event.status_detail,
                "actor_id": event.actor_id,
                "actor_login": event.actor_login,
                "actor_display_name": event.actor_display_name,
            }
        )
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise QuarantineError(f"event cannot be stored as JSON: {exc}") from exc
    if b"\\u0000" in raw:
        # PostgreSQL jsonb cannot hold NUL; quarantining would let an attacker hide events by
        # putting one in a user agent, so NUL becomes U+FFFD in the stored copy instead.
        raw = orjson.dumps(_without_nul(record if isinstance(record, dict) else event.raw))
    if b"\\u0000" in details:
        details = orjson.dumps(_without_nul(orjson.loads(details)))
    return PreparedEvent(event=event, ip=ip, details=details, raw=raw, index=index)


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value


def prepare_records(
    fmt: str,
    records: Iterable[Any],
    mapping: dict | None,
    city_db: str = "",
    asn_db: str = "",
) -> tuple[list[PreparedEvent], list[Reject]]:
    """Parse, enrich (when GeoIP files are given) and coerce ``records`` (``JsonLine`` items
    are decoded and split first); never raises for one bad record: it becomes a ``Reject``
    with the reason, and the rest go on."""
    prepared: list[PreparedEvent] = []
    rejects: list[Reject] = []
    for index, (record, text) in enumerate(_expanded(fmt, records)):
        if isinstance(record, RejectedInput):
            rejects.append(Reject(record.payload, record.reason, index))
            continue
        try:
            event = parse_record(fmt, record, mapping=mapping)
            if city_db or asn_db:
                event = enrich(event, city_db, asn_db)
            prepared.append(_prepare_one(event, record, index, text))
        except QuarantineError as exc:
            rejects.append(Reject(_payload_text(record), exc.reason, index))
        except Exception as exc:  # a parser bug must not lose the rest of the batch
            logger.exception("parser %s failed on a record", fmt)
            reason = f"parser error: {type(exc).__name__}: {exc}"
            rejects.append(Reject(_payload_text(record), reason, index))
    return prepared, rejects


# ---------------------------------------------------------------------------------------
# across a process boundary: JSON in, plain tuples out (pickle is slow on dataclasses and
# on the 2 KB record dicts; the stored copy of each record travels as its JSON bytes)

# What the writer reads of an event travels; the rest (session_keys, risk, target,
# status_detail, interactive, raw) is already inside the serialised ``details``/``raw``
# columns and travels as its empty default: those dicts were half the unpickling cost.
_LEFT_BEHIND = {
    "session_keys": dict,
    "interactive": lambda: None,
    "status_detail": str,
    "risk": dict,
    "target": dict,
}
_FIELDS = tuple(f.name for f in fields(NormalizedEvent) if f.name != "raw")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Automatic cycle collection off for a block, back to how it was after.

    A batch allocates hundreds of thousands of short-lived container objects (decoded
    records, events, rows) that reference counting frees and that form no cycles, yet every
    few hundred allocations trigger a collection that walks the young objects, and now and
    then the whole heap: measured at a quarter of the parse time and a fifth of the writer's
    CPU in a bulk import (docs/performance.md). Nothing is leaked: a cycle made meanwhile
    (an exception's traceback, say) is collected by the next collection after the block.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_worker_started() -> None:
    """Initialiser of ``ingest_batches``' parse processes: the heap inherited from the
    writer at fork is never garbage for this process, so it is left out of collections
    (``gc.freeze``: they would walk it, and touch every page of it, for nothing), and
    automatic collection is off for good: each batch starts with ``collect_between_batches``
    instead, when the last batch's objects are gone. (Collection re-enabled at the end of a
    batch would walk everything the batch still holds: 9 µs per event.)"""
    gc.freeze()
    gc.disable()


def collect_between_batches() -> None:
    """Where automatic collection is off (a parse process), collect the young generations
    now, while little is alive: whatever cycles the previous batch left behind."""
    if not gc.isenabled():
        gc.collect(1)


def records_of(payload: PackedLines | bytes | list[JsonLine]) -> list[Any]:
    """The records a parse process was sent: packed JSON lines, a JSON array, or a list."""
    if isinstance(payload, PackedLines):
        return unpack_lines(payload)
    return orjson.loads(payload) if isinstance(payload, bytes) else payload


def prepare_packed(
    fmt: str,
    payload: PackedLines | bytes | list[JsonLine],
    mapping: dict | None,
    city_db: str,
    asn_db: str,
) -> tuple[list[tuple], list[Reject]]:
    """``prepare_records`` over what ``records_of`` reads from ``payload``, packed for the
    trip back. Runs in a parse process (see ``parse_worker_started``)."""
    collect_between_batches()
    with gc_paused():
        prepared, rejects = prepare_records(fmt, records_of(payload), mapping, city_db, asn_db)
        packed = []
        for item in prepared:
            event = item.event
            values = [
                _LEFT_BEHIND[name]() if name in _LEFT_BEHIND else getattr(event, name)
                for name in _FIELDS
            ]
            ip = str(item.ip) if item.ip is not None else None  # as coerced, not as parsed
            packed.append((*values, ip, item.details, item.raw, item.index))
        return packed, rejects


def unpack_prepared(packed: list[tuple]) -> list[PreparedEvent]:
    """The ``PreparedEvent`` items ``prepare_packed`` packed. Their events carry only what
    the writer reads; ``_LEFT_BEHIND`` fields are empty (their values are in ``details``)."""
    items = []
    for row in packed:
        *values, ip, details, raw, index = row
        event = NormalizedEvent(*values)
        items.append(PreparedEvent(event, _ip_address(ip) if ip else None, details, raw, index))
    return items


@functools.lru_cache(maxsize=65536)
def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)
