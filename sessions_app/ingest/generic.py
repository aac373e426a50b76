"""Generic JSON events read through an admin-configured field mapping.

A mapping is a dict::

    {
        "fields": {"provider_event_id": "id", "occurred_at": "ts", "actor_id": "user.id",
                   "event_type": "action", "ip": "client.ip", ...},
        "values": {"event_type": {"login": "logon", "logout": "logoff"},
                   "outcome": {"ok": "success", "denied": "failure"}},
    }

``fields`` maps our field names to dotted paths in the record (case-insensitive; numeric
segments index lists; a literal key containing dots such as ``"client.ip"`` also matches).
``values`` optionally maps the raw values found for ``event_type`` and ``outcome`` to ours
(case-insensitive). A raw value that already is one of ours passes through; any other becomes
``other`` / ``unknown``. ``validate_mapping`` returns the errors an admin form should show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sessions_app.choices import EventType, HighValueAction, IdentityKind, Outcome, TokenKind

from .common import (
    as_list,
    clean_ip,
    country_code,
    dig,
    parse_timestamp,
    to_bool,
    to_float,
    to_int,
    to_str,
)
from .schema import NormalizedEvent, QuarantineError

PROVIDER = "generic"
REQUIRED_FIELDS = ("provider_event_id", "occurred_at", "actor_id")

# Our field → how its raw value is coerced.
_COERCE: dict[str, Callable[[Any], Any]] = {
    "provider_event_id": to_str,
    "occurred_at": parse_timestamp,
    "provider_event_type": to_str,
    "event_type": to_str,
    "outcome": to_str,
    "actor_id": to_str,
    "actor_login": to_str,
    "actor_display_name": to_str,
    "actor_kind": to_str,
    "session_key": to_str,
    "token_kind": to_str,
    "ip": clean_ip,
    "asn": to_int,
    "as_org": to_str,
    "country": country_code,
    "city": to_str,
    "lat": to_float,
    "lon": to_float,
    "anonymizer": to_bool,
    "user_agent": to_str,
    "device_id": to_str,
    "client_app": to_str,
    "interactive": to_bool,
    "mfa": to_bool,
    "auth_methods": lambda v: tuple(to_str(m) for m in as_list(v) if to_str(m)),
    "status_detail": to_str,
    "high_value_action": to_str,
    "risk_level": to_str,
    "risk_reasons": lambda v: [to_str(r) for r in as_list(v) if to_str(r)],
}
FIELDS = tuple(_COERCE)
VALUE_MAPPED = {"event_type": EventType.values, "outcome": Outcome.values}


def validate_mapping(mapping: Any) -> list[str]:
    """Human-readable problems with a field mapping; an empty list means it is usable."""
    if not isinstance(mapping, dict):
        return ["The mapping must be a JSON object with a 'fields' object."]
    errors: list[str] = []
    unknown_top = sorted(set(mapping) - {"fields", "values"})
    if unknown_top:
        errors.append(f"Unknown mapping keys: {', '.join(unknown_top)} (use 'fields', 'values').")
    fields = mapping.get("fields")
    if not isinstance(fields, dict):
        return [*errors, "'fields' must be an object mapping our field names to paths."]
    for name in REQUIRED_FIELDS:
        if name not in fields:
            errors.append(f"'fields' must map '{name}'.")
    for name, path in fields.items():
        if name not in _COERCE:
            errors.append(f"Unknown field '{name}'. Known fields: {', '.join(FIELDS)}.")
        elif not isinstance(path, str) or not path.strip():
            errors.append(f"Field '{name}' needs a non-empty dotted path.")
        elif any(segment.strip() == "" for segment in path.split(".")):
            errors.append(f"Field '{name}' has a malformed path {path!r} (empty segment).")
    values = mapping.get("values", {})
    if not isinstance(values, dict):
        return [*errors, "'values' must be an object."]
    for name, table in values.items():
        if name not in VALUE_MAPPED:
            errors.append(f"Values can only be mapped for: {', '.join(VALUE_MAPPED)}.")
            continue
        if not isinstance(table, dict):
            errors.append(f"'values.{name}' must be an object of raw value → our value.")
            continue
        allowed = VALUE_MAPPED[name]
        for raw, ours in table.items():
            if ours not in allowed:
                errors.append(
                    f"'values.{name}' maps {raw!r} to {ours!r}, which is not one of: "
                    f"{', '.join(allowed)}."
                )
    return errors


def parse(raw: dict[str, Any], mapping: dict[str, Any]) -> NormalizedEvent:
    """Normalise one record through ``mapping``; raises QuarantineError on missing essentials."""
    errors = validate_mapping(mapping)
    if errors:
        raise QuarantineError("invalid field mapping: " + " ".join(errors))
    paths: dict[str, str] = mapping["fields"]
    values: dict[str, dict[str, str]] = mapping.get("values", {})
    found: dict[str, Any] = {}
    for name, path in paths.items():
        value = dig(raw, path)
        if value is None:
            continue
        if name == "occurred_at":
            try:
                found[name] = parse_timestamp(value)
            except ValueError as exc:
                raise QuarantineError(f"unparseable event time ({path}): {value!r}") from exc
        else:
            found[name] = _COERCE[name](value)
    for name in REQUIRED_FIELDS:
        if found.get(name) in (None, ""):
            label = {"provider_event_id": "event id", "occurred_at": "event time"}.get(
                name, "actor"
            )
            raise QuarantineError(f"missing {label} ({paths[name]})")

    raw_type = found.get("event_type", "")
    risk: dict[str, Any] = {}
    if found.get("risk_level"):
        risk["level"] = found["risk_level"]
    if found.get("risk_reasons"):
        risk["reasons"] = found["risk_reasons"]

    return NormalizedEvent(
        provider=PROVIDER,
        provider_event_id=found["provider_event_id"],
        occurred_at=found["occurred_at"],
        provider_event_type=found.get("provider_event_type") or raw_type,
        event_type=_mapped(
            raw_type, values.get("event_type", {}), EventType.values, EventType.OTHER
        ),
        outcome=_mapped(
            found.get("outcome", ""), values.get("outcome", {}), Outcome.values, Outcome.UNKNOWN
        ),
        actor_id=found["actor_id"],
        actor_login=found.get("actor_login", ""),
        actor_display_name=found.get("actor_display_name", ""),
        actor_kind=_choice(found.get("actor_kind"), IdentityKind.values, IdentityKind.HUMAN),
        session_key=found.get("session_key", ""),
        session_keys={"session_key": found["session_key"]} if found.get("session_key") else {},
        token_kind=_choice(found.get("token_kind"), TokenKind.values, TokenKind.BROWSER_SESSION),
        ip=found.get("ip"),
        asn=found.get("asn"),
        as_org=found.get("as_org", ""),
        country=found.get("country", ""),
        city=found.get("city", ""),
        lat=found.get("lat"),
        lon=found.get("lon"),
        anonymizer=bool(found.get("anonymizer")),
        user_agent=found.get("user_agent", ""),
        device_id=found.get("device_id", ""),
        client_app=found.get("client_app", ""),
        interactive=found.get("interactive"),
        auth_methods=found.get("auth_methods", ()),
        mfa=found.get("mfa"),
        status_detail=found.get("status_detail", ""),
        high_value_action=_choice(found.get("high_value_action"), HighValueAction.values, ""),
        risk=risk,
        target={},
        raw=raw,
    )


def _mapped(raw: str, table: dict[str, str], allowed: list[str], default: str) -> str:
    """Our value for ``raw``: via the admin's table, else as-is when valid, else ``default``."""
    lowered = {to_str(k).lower(): v for k, v in table.items()}
    if raw.lower() in lowered:
        return lowered[raw.lower()]
    if raw.lower() in allowed:
        return raw.lower()
    return default


def _choice(value: str | None, allowed: list[str], default: str) -> str:
    text = (value or "").lower()
    return text if text in allowed else default
