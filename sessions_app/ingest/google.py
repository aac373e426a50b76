"""Google Workspace Reports API activities (applications ``login`` and ``token``) → NormalizedEvent.

Two shapes are accepted:

* the API shape: one activity (``id.time``, ``id.uniqueQualifier``, ``actor``, ``ipAddress``,
  ``events[]`` each with ``parameters[]`` of ``{name, value|intValue|boolValue|multiValue…}``).
  An activity may hold several events; ``split`` turns it into one record per event;
* the flattened export: one event per record with ``name``/``type`` at the top level and
  ``parameters`` as a plain dict.

Google exposes no session id, so login events have ``session_key = ''`` and detectors work on
the actor, IP and ASN. Token events are keyed by the OAuth grant (client id + user).
"""

from __future__ import annotations

import copy
from typing import Any

from sessions_app.choices import EventType, IdentityKind, Outcome, TokenKind

from .common import (
    as_dict,
    as_list,
    ci_get,
    clean_ip,
    country_code,
    dig,
    parse_timestamp,
    to_bool,
    to_int,
    to_str,
)
from .schema import NormalizedEvent, QuarantineError

PROVIDER = "google"
# Key ``split`` adds when one activity holds the same event name more than once, so each
# record keeps a distinct, stable provider event id.
OCCURRENCE_KEY = "_govern_occurrence"

_RISK_EVENTS = frozenset(
    {
        "suspicious_login",
        "suspicious_login_less_secure_app",
        "suspicious_programmatic_login",
        "user_signed_out_due_to_suspicious_session_cookie",
        "account_disabled_hijacked",
        "account_disabled_password_leak",
        "account_disabled_generic",
        "account_disabled_spamming",
        "account_disabled_spamming_through_relay",
        "gov_attack_warning",
        "risky_sensitive_action_allowed",
        "risky_sensitive_action_blocked",
    }
)
_CREDENTIAL_EVENTS = frozenset(
    {
        "password_edit",
        "2sv_disable",
        "2sv_enroll",
        "passkey_enrolled",
        "passkey_removed",
        "recovery_email_edit",
        "recovery_phone_edit",
        "recovery_secret_qa_edit",
    }
)
_NON_MFA_METHODS = frozenset({"", "password", "none", "unknown"})


def split(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per event of an API-shaped activity (a flattened record is returned as is).

    Each record is a copy of the activity with ``events`` narrowed to that one event. When the
    same event name repeats inside the activity, the second and later copies carry
    ``_govern_occurrence`` (1, 2, …) so their ids differ; the first keeps the plain id, which
    is also what the flattened export of the same event produces.
    """
    events = ci_get(activity, "events")
    if not isinstance(events, list):
        return [activity]
    records = []
    seen: dict[str, int] = {}
    for event in events:
        name = to_str(ci_get(event, "name"))
        occurrence = seen.get(name, 0)
        seen[name] = occurrence + 1
        record = {k: v for k, v in activity.items() if k != "events"}
        record = copy.deepcopy(record)
        record["events"] = [copy.deepcopy(event)]
        if occurrence:
            record[OCCURRENCE_KEY] = occurrence
        records.append(record)
    return records


def parse(raw: dict[str, Any]) -> NormalizedEvent:
    """Normalise one Google event record; raises QuarantineError without id, time or actor."""
    event = _single_event(raw)
    name = to_str(ci_get(event, "name"))
    qualifier = to_str(dig(raw, "id.uniqueQualifier")) or to_str(ci_get(raw, "uniqueQualifier"))
    if not qualifier:
        raise QuarantineError("missing event id (id.uniqueQualifier)")
    if not name:
        raise QuarantineError("missing event name (events[].name)")
    when = dig(raw, "id.time")
    if when is None:
        when = ci_get(raw, "time", "timestamp")
    if when is None or to_str(when) == "":
        raise QuarantineError("missing event time (id.time)")
    try:
        occurred_at = parse_timestamp(when)
    except ValueError as exc:
        raise QuarantineError(f"unparseable event time (id.time): {when!r}") from exc

    actor = as_dict(ci_get(raw, "actor"))
    email = to_str(ci_get(actor, "email")).lower()
    api_key = to_str(ci_get(actor, "key"))
    # profileId is the stable id; exports without it fall back to the email (or OAuth key),
    # which Google also treats as unique within the customer.
    actor_id = to_str(ci_get(actor, "profileId")) or email or api_key
    if not actor_id:
        raise QuarantineError("missing actor (actor.profileId / actor.email)")

    application = (
        to_str(dig(raw, "id.applicationName")) or to_str(ci_get(raw, "applicationName"))
    ).lower()
    params = _parameters(ci_get(event, "parameters"))
    occurrence = to_int(ci_get(raw, OCCURRENCE_KEY)) or 0
    event_id = f"{qualifier}:{name}" + (f":{occurrence}" if occurrence else "")

    if application == "token" or name in ("authorize", "revoke", "request"):
        event_type, outcome = _token_event(name)
        client_id = to_str(params.get("client_id"))
        session_key = f"grant:{client_id}:{actor_id}" if client_id else ""
        session_keys = {"client_id": client_id} if client_id else {}
        token_kind = TokenKind.OAUTH_GRANT
        client_app = to_str(params.get("app_name")) or client_id
    else:
        event_type, outcome = _login_event(name, params)
        session_key, session_keys, token_kind = "", {}, TokenKind.BROWSER_SESSION
        client_app = ""

    methods = [to_str(m) for m in as_list(params.get("login_challenge_method")) if to_str(m)]
    login_type = to_str(params.get("login_type"))
    network = as_dict(ci_get(raw, "networkInfo"))

    return NormalizedEvent(
        provider=PROVIDER,
        provider_event_id=event_id,
        occurred_at=occurred_at,
        provider_event_type=name,
        event_type=event_type,
        outcome=outcome,
        actor_id=actor_id,
        actor_login=email,
        actor_display_name="",
        actor_kind=_actor_kind(actor, email),
        session_key=session_key,
        session_keys=session_keys,
        token_kind=token_kind,
        ip=clean_ip(ci_get(raw, "ipAddress")),
        asn=to_int(next(iter(as_list(ci_get(network, "ipAsn"))), None)),
        as_org="",
        country=country_code(ci_get(network, "regionCode")),
        city="",
        lat=None,
        lon=None,
        anonymizer=False,
        user_agent="",
        device_id=to_str(params.get("device_id")),
        client_app=client_app,
        interactive=None,
        auth_methods=tuple(dict.fromkeys(([login_type] if login_type else []) + methods)),
        mfa=_mfa(name, outcome, methods, params),
        status_detail=to_str(params.get("login_failure_type"))
        or to_str(params.get("login_challenge_status")),
        high_value_action="",
        risk=_risk(name, params),
        target=_target(params),
        raw=raw,
    )


def _single_event(raw: dict[str, Any]) -> dict[str, Any]:
    events = ci_get(raw, "events")
    if events is None:
        return raw  # flattened export: the record is the event
    events = as_list(events)
    if len(events) != 1:
        raise QuarantineError(
            f"activity holds {len(events)} events; split it into one record per event first"
        )
    return as_dict(events[0])


def _parameters(value: Any) -> dict[str, Any]:
    """Parameters as a dict from the API list (value/intValue/boolValue/multi…) or a dict."""
    if isinstance(value, dict):
        return {to_str(k): v for k, v in value.items()}
    params: dict[str, Any] = {}
    for item in as_list(value):
        item = as_dict(item)
        name = to_str(ci_get(item, "name"))
        if not name:
            continue
        for key in ("value", "intValue", "boolValue", "multiValue", "multiIntValue"):
            found = ci_get(item, key)
            if found is not None:
                if key == "intValue":
                    found = to_int(found)
                elif key == "boolValue":
                    found = to_bool(found)
                params[name] = found
                break
        else:
            message = ci_get(item, "messageValue")
            if message is not None:
                params[name] = message
    return params


def _login_event(name: str, params: dict[str, Any]) -> tuple[str, str]:
    if name == "login_success":
        return EventType.LOGON, Outcome.SUCCESS
    if name == "login_failure":
        return EventType.LOGON, Outcome.FAILURE
    if name in ("login_challenge", "login_verification"):
        status = to_str(params.get("login_challenge_status")).lower()
        if "pass" in status:
            outcome = Outcome.SUCCESS
        elif "fail" in status:
            outcome = Outcome.FAILURE
        else:
            outcome = Outcome.CHALLENGE
        return EventType.MFA_CHALLENGE, outcome
    if name == "logout":
        return EventType.LOGOFF, Outcome.SUCCESS
    if name in _RISK_EVENTS:
        return EventType.RISK_SIGNAL, Outcome.UNKNOWN
    if name in _CREDENTIAL_EVENTS or name.startswith("recovery_"):
        return EventType.CREDENTIAL_CHANGE, Outcome.SUCCESS
    return EventType.OTHER, Outcome.UNKNOWN


def _token_event(name: str) -> tuple[str, str]:
    if name == "authorize":
        return EventType.TOKEN_ISSUED, Outcome.SUCCESS
    if name == "revoke":
        return EventType.TOKEN_REVOKED, Outcome.SUCCESS
    if name == "request":
        return EventType.TOKEN_REFRESH, Outcome.SUCCESS
    return EventType.OTHER, Outcome.UNKNOWN


def _actor_kind(actor: dict, email: str) -> str:
    caller = to_str(ci_get(actor, "callerType")).upper()
    if caller == "KEY" and not email:
        return IdentityKind.API_KEY
    if email.endswith(".gserviceaccount.com"):
        return IdentityKind.SERVICE_ACCOUNT
    return IdentityKind.HUMAN


def _mfa(name: str, outcome: str, methods: list[str], params: dict[str, Any]) -> bool | None:
    if outcome != Outcome.SUCCESS:
        return None
    second = to_bool(params.get("is_second_factor"))
    if second is not None and name in ("login_challenge", "login_verification"):
        return second
    if methods:
        return any(m.lower() not in _NON_MFA_METHODS for m in methods)
    return None


def _risk(name: str, params: dict[str, Any]) -> dict[str, Any]:
    risk: dict[str, Any] = {}
    if name in _RISK_EVENTS:
        risk["reasons"] = [name]
    if to_bool(params.get("is_suspicious")):
        risk["suspicious"] = True
        risk.setdefault("reasons", []).append("is_suspicious")
    return risk


def _target(params: dict[str, Any]) -> dict[str, Any]:
    fields = {
        "affected_email": params.get("affected_email_address"),
        "client_id": params.get("client_id"),
        "app": params.get("app_name"),
        "client_type": params.get("client_type"),
        "api": params.get("api_name"),
        "method": params.get("method_name"),
    }
    target: dict[str, Any] = {k: to_str(v) for k, v in fields.items() if to_str(v)}
    scopes = [to_str(s) for s in as_list(params.get("scope")) if to_str(s)]
    if scopes:
        target["scopes"] = scopes
    return target
