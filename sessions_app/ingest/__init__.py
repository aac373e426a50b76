"""Pure parsers: one module per provider, raw vendor JSON in, NormalizedEvent out.

The public API used by the ingestion service, the pollers and ``import_events``:

* ``split_records(provider, payload)``: whatever one delivery holds → one dict per event;
* ``parse_record(provider, record, mapping=None)``: one dict → ``NormalizedEvent``;
* ``enrich(event, city_db_path, asn_db_path)``: offline GeoIP/ASN fill-in from MaxMind files.

Both raise ``QuarantineError`` (with a reason an admin can read) for input that cannot be used.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from typing import Any

import orjson

from . import entra, generic, google, okta
from .common import ci_get, to_float, to_int, to_str
from .schema import NormalizedEvent, QuarantineError

logger = logging.getLogger(__name__)

PROVIDERS = ("okta", "entra", "google", "json")

_PARSERS = {"okta": okta.parse, "entra": entra.parse, "google": google.parse}

# Keys of wrapper objects that hold a list of events, per provider: Azure Monitor "records"
# and Graph "value" pages; a Google activities page "items". Generic JSON has none, because a
# generic event may well carry a list under any of these names.
_ENVELOPES = {"okta": (), "entra": ("records", "value"), "google": ("items",), "json": ()}

__all__ = [
    "PROVIDERS",
    "NormalizedEvent",
    "QuarantineError",
    "enrich",
    "parse_record",
    "split_records",
]


def split_records(provider: str, payload: Any) -> list[dict[str, Any]]:
    """One dict per event from whatever one delivery contains.

    ``payload`` may be parsed JSON or raw ``bytes``/``str`` (JSON, or JSON Lines as file exports
    write them). Understood wrappers: a JSON array, Azure Monitor ``{"records": [...]}``, Graph
    ``{"value": [...]}``, a Google page ``{"items": [...]}``, an Okta event hook
    ``{"data": {"events": [...]}}``; Google activities are split into one record per event.
    Generic JSON is a single object or an array of them.
    Raises ``QuarantineError`` for undecodable input or anything that is not event objects.
    """
    _check_provider(provider)
    if isinstance(payload, bytes | bytearray | memoryview | str):
        payload = _decode(bytes(payload) if not isinstance(payload, str) else payload.encode())
    records = _unwrap(provider, payload, depth=0)
    if provider == "google":
        records = [part for record in records for part in google.split(record)]
    return records


def parse_record(
    provider: str, record: dict[str, Any], *, mapping: dict[str, Any] | None = None
) -> NormalizedEvent:
    """Normalise one event record of ``provider``; ``mapping`` is required for ``"json"``.

    Strict about what cannot be guessed: a record without a usable event id, time or actor
    raises ``QuarantineError`` naming what is missing.
    """
    _check_provider(provider)
    if not isinstance(record, dict):
        raise QuarantineError(f"event record is a {type(record).__name__}, not a JSON object")
    if provider == "json":
        if not mapping:
            raise QuarantineError("no field mapping is configured for this generic JSON source")
        event = generic.parse(record, mapping)
    else:
        event = _PARSERS[provider](record)
    # Parsers assign TextChoices members; hand out their plain string values.
    for name in ("event_type", "outcome", "actor_kind", "token_kind", "high_value_action"):
        setattr(event, name, str(getattr(event, name)))
    return event


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {PROVIDERS}")


def _decode(data: bytes) -> Any:
    text = data.strip()
    if not text:
        raise QuarantineError("empty payload")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as whole_error:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise QuarantineError(f"payload is not valid JSON: {whole_error}") from whole_error
        try:
            return [orjson.loads(line) for line in lines]
        except orjson.JSONDecodeError as exc:
            raise QuarantineError(f"payload is neither JSON nor JSON Lines: {exc}") from exc


def _unwrap(provider: str, payload: Any, *, depth: int) -> list[dict[str, Any]]:
    if depth > 3:
        raise QuarantineError("payload nests event lists too deeply")
    if isinstance(payload, list):
        records: list[dict[str, Any]] = []
        for index, item in enumerate(payload):
            if isinstance(item, list) or (isinstance(item, dict) and _envelope(provider, item)):
                records.extend(_unwrap(provider, item, depth=depth + 1))
            elif isinstance(item, dict):
                records.append(item)
            else:
                raise QuarantineError(
                    f"element {index} of the payload is a {type(item).__name__}, not an event"
                )
        return records
    if isinstance(payload, dict):
        inner = _envelope(provider, payload)
        if inner is not None:
            return _unwrap(provider, inner, depth=depth + 1)
        return [payload]
    raise QuarantineError(f"payload is a {type(payload).__name__}, not an event or event list")


def _envelope(provider: str, payload: dict[str, Any]) -> list | None:
    """The event list a wrapper object holds, or None when ``payload`` is itself an event."""
    for key in _ENVELOPES[provider]:
        inner = payload.get(key)
        if isinstance(inner, list):
            return inner
    if provider == "okta":
        if "data" not in payload and payload.keys() <= okta.DOCUMENTED_KEYS:
            return None  # spelled as a LogEvent is (the common case, kept cheap)
        events = ci_get(ci_get(payload, "data"), "events")
        if isinstance(events, list):
            return events
    return None


# ---------------------------------------------------------------------------
# offline GeoIP / ASN enrichment

_readers: dict[str, Any] = {}
_readers_lock = threading.Lock()


def _reader(path: str) -> Any:
    """An opened maxminddb reader for ``path``, cached; None (logged once) if it won't open."""
    if path in _readers:
        return _readers[path]
    with _readers_lock:
        if path not in _readers:
            import maxminddb

            try:
                _readers[path] = maxminddb.open_database(path)
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                logger.warning("GeoIP database %s could not be opened: %s", path, exc)
                _readers[path] = None
    return _readers[path]


def enrich(
    event: NormalizedEvent, city_db_path: str | None = None, asn_db_path: str | None = None
) -> NormalizedEvent:
    """Fill missing geo and ASN on ``event`` from local MaxMind databases; returns it.

    Only fields the IdP left empty are filled, only for public IPs, and only from the files
    configured (``GOVERN_GEOIP_CITY_DB`` / ``GOVERN_GEOIP_ASN_DB``); nothing online is called.
    """
    if not event.ip or not (city_db_path or asn_db_path):
        return event
    try:
        address = ipaddress.ip_address(event.ip)
    except ValueError:
        return event
    if not address.is_global:
        return event
    needs_geo = not event.country and event.lat is None
    if city_db_path and needs_geo:
        found = _lookup(city_db_path, event.ip)
        event.country = to_str(ci_get(ci_get(found, "country"), "iso_code")).upper()
        event.city = event.city or to_str(ci_get(ci_get(ci_get(found, "city"), "names"), "en"))
        location = ci_get(found, "location") or {}
        event.lat = to_float(ci_get(location, "latitude"))
        event.lon = to_float(ci_get(location, "longitude"))
    if asn_db_path and event.asn is None:
        found = _lookup(asn_db_path, event.ip)
        event.asn = to_int(ci_get(found, "autonomous_system_number"))
        event.as_org = event.as_org or to_str(ci_get(found, "autonomous_system_organization"))
    return event


def _lookup(path: str, ip: str) -> dict[str, Any]:
    reader = _reader(path)
    if reader is None:
        return {}
    try:
        found = reader.get(ip)
    except ValueError:  # e.g. an IPv6 address against an IPv4-only database
        return {}
    return found if isinstance(found, dict) else {}
