"""Okta System Log ``LogEvent`` → NormalizedEvent.

Field meanings are in docs/telemetry.md. Okta carries three session-ish keys that are kept
apart: ``authenticationContext.externalSessionId`` (the Okta session: our ``session_key``),
``authenticationContext.rootSessionId`` (groups sessions from one root authentication) and
``debugContext.debugData.dtHash`` (the device-token cookie hash: our ``device_id``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import orjson

from sessions_app.choices import EventType, HighValueAction, IdentityKind, Outcome, TokenKind

from .common import (
    as_dict,
    as_list,
    ci_get,
    clean_ip,
    country_code,
    dig,
    fold,
    parse_timestamp,
    to_bool,
    to_float,
    to_int,
    to_str,
    unfold,
)
from .schema import NormalizedEvent, QuarantineError

PROVIDER = "okta"
ADMIN_CONSOLE = "Okta Admin Console"

_EXACT_TYPES: dict[str, str] = {
    "user.session.start": EventType.LOGON,
    "user.session.end": EventType.LOGOFF,
    "user.authentication.slo": EventType.LOGOFF,
    "user.session.clear": EventType.SESSION_REVOKED,
    "user.session.revoke": EventType.SESSION_REVOKED,
    "user.session.expire": EventType.SESSION_EXPIRED,
    "user.authentication.sso": EventType.SSO,
    "policy.evaluate_sign_on": EventType.LOGON,
    "user.authentication.auth_via_mfa": EventType.MFA_CHALLENGE,
    "user.authentication.verify": EventType.MFA_CHALLENGE,
    "user.mfa.okta_verify.deny_push": EventType.MFA_CHALLENGE,
    "user.mfa.attempt_bypass": EventType.MFA_CHALLENGE,
    "system.push.send_factor_verify_push": EventType.MFA_CHALLENGE,
    "user.account.reset_password": EventType.CREDENTIAL_CHANGE,
    "user.account.update_password": EventType.CREDENTIAL_CHANGE,
    "user.credential.forgot_password": EventType.CREDENTIAL_CHANGE,
    "user.mfa.factor.reset_all": EventType.CREDENTIAL_CHANGE,
    "user.mfa.factor.deactivate": EventType.CREDENTIAL_CHANGE,
    "user.mfa.factor.suspend": EventType.CREDENTIAL_CHANGE,
    "user.mfa.factor.update": EventType.CREDENTIAL_CHANGE,
    "system.mfa.factor.deactivate": EventType.CREDENTIAL_CHANGE,
    "user.risk.detect": EventType.RISK_SIGNAL,
    "security.session.detect_client_roaming": EventType.RISK_SIGNAL,
    "policy.auth_reevaluate.fail": EventType.RISK_SIGNAL,
    "security.threat.detected": EventType.RISK_SIGNAL,
    "security.attack.start": EventType.RISK_SIGNAL,
    "security.breached_credential.detected": EventType.RISK_SIGNAL,
    "security.request.blocked": EventType.RISK_SIGNAL,
    "user.account.report_suspicious_activity_by_enduser": EventType.RISK_SIGNAL,
    "system.api_token.revoke": EventType.TOKEN_REVOKED,
}

# eventType → high-value action; these events are PRIVILEGED_ACTION whatever their domain.
_HIGH_VALUE_EXACT: dict[str, str] = {
    "user.account.privilege.grant": HighValueAction.PRIVILEGE_GRANT,
    "group.privilege.grant": HighValueAction.PRIVILEGE_GRANT,
    "iam.resourceset.bindings.add": HighValueAction.PRIVILEGE_GRANT,
    "iam.role.create": HighValueAction.PRIVILEGE_GRANT,
    "user.session.impersonation.grant": HighValueAction.PRIVILEGE_GRANT,
    "user.session.impersonation.initiate": HighValueAction.ADMIN_CONSOLE,
    "user.session.access_admin_app": HighValueAction.ADMIN_CONSOLE,
    "system.api_token.create": HighValueAction.CREDENTIAL_CREATE,
    "user.mfa.factor.activate": HighValueAction.CREDENTIAL_CREATE,
    "device.enrollment.create": HighValueAction.CREDENTIAL_CREATE,
    "app.oauth2.client.secret.create": HighValueAction.CREDENTIAL_CREATE,
    "app.oauth2.credentials.lifecycle.create": HighValueAction.CREDENTIAL_CREATE,
}
_HIGH_VALUE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("policy.lifecycle.", HighValueAction.POLICY_CHANGE),
    ("policy.rule.", HighValueAction.POLICY_CHANGE),
    ("zone.", HighValueAction.POLICY_CHANGE),
    ("system.idp.lifecycle.", HighValueAction.POLICY_CHANGE),
    ("application.policy.", HighValueAction.POLICY_CHANGE),
    ("security.authenticator.lifecycle.", HighValueAction.POLICY_CHANGE),
)
_ADMIN_GROUP = re.compile(r"admin|administrator|superuser|privileged", re.IGNORECASE)
_EXPORT = re.compile(r"(?:^|\.)(?:export|report)(?:\.|$)|\.export_|csv", re.IGNORECASE)

_OUTCOMES = {
    "SUCCESS": Outcome.SUCCESS,
    "ALLOW": Outcome.SUCCESS,
    "FAILURE": Outcome.FAILURE,
    "DENY": Outcome.FAILURE,
    "CHALLENGE": Outcome.CHALLENGE,
}

_ACTOR_KINDS = {
    "user": IdentityKind.HUMAN,
    "publicclientapp": IdentityKind.OAUTH_APP,
    "appinstance": IdentityKind.OAUTH_APP,
    "client": IdentityKind.OAUTH_APP,
    "systemprincipal": IdentityKind.WORKLOAD,
}

# Factors whose success means a second factor was presented.
_MFA_FACTORS = re.compile(
    r"otp|sms|push|signed_nonce|fastpass|webauthn|u2f|fido|token|email|call|voice|duo|"
    r"yubikey|okta_verify|security_question|smart_card|piv",
    re.IGNORECASE,
)


def parse(raw: dict[str, Any]) -> NormalizedEvent:
    """Normalise one Okta LogEvent; raises QuarantineError without uuid, published or actor.

    A record spelled as Okta documents it (what the System Log API and event hooks send)
    takes a fast path of plain look-ups; anything else (other letter case, nested objects
    sent as JSON strings, flattened dotted keys …) and every record that would be
    quarantined are read by the tolerant parser, which decides alone what is quarantined.
    Both give the same event (tests/sessions_app/ingest/test_okta_fast_path.py).
    """
    if type(raw) is dict:
        try:
            return _parse_documented(raw)
        except Exception:  # noqa: S110 — _Irregular, a quarantine or an oddity
            pass  # the tolerant parser is the reference: it returns or raises for real
    return parse_tolerant(raw)


def parse_tolerant(raw: dict[str, Any]) -> NormalizedEvent:
    """``parse`` through the case-insensitive, type-coercing look-ups for every field."""
    record = fold(raw)  # one case-insensitive view for the ~60 look-ups below
    event_id = to_str(ci_get(record, "uuid"))
    if not event_id:
        raise QuarantineError("missing event id (uuid)")
    published = ci_get(record, "published")
    if published is None or to_str(published) == "":
        raise QuarantineError("missing event time (published)")
    try:
        occurred_at = parse_timestamp(published)
    except ValueError as exc:
        raise QuarantineError(f"unparseable event time (published): {published!r}") from exc
    actor = as_dict(ci_get(record, "actor"))
    actor_id = to_str(ci_get(actor, "id"))
    if not actor_id:
        raise QuarantineError("missing actor (actor.id)")

    event_type_name = to_str(ci_get(record, "eventType"))
    debug = as_dict(dig(record, "debugContext.debugData"))
    targets = [as_dict(t) for t in as_list(ci_get(record, "target"))]
    app_name = _target_name(targets, "AppInstance")
    grant_type = to_str(ci_get(debug, "grantType")).lower()

    event_type, high_value = _classify(event_type_name, targets, app_name, grant_type)
    outcome = _OUTCOMES.get(to_str(dig(record, "outcome.result")).upper(), Outcome.UNKNOWN)

    session_keys = _session_keys(record, debug, targets)
    token_kind, session_key = _token(event_type_name, session_keys, targets)
    actor_kind = _actor_kind(actor, event_type_name, grant_type)

    client = as_dict(ci_get(record, "client"))
    geo = as_dict(ci_get(client, "geographicalContext"))
    security = as_dict(ci_get(record, "securityContext"))
    chain_first = as_dict(next(iter(as_list(dig(record, "request.ipChain"))), None))

    factor = to_str(ci_get(debug, "factor"))
    credential_type = to_str(dig(record, "authenticationContext.credentialType"))
    auth_methods = tuple(m for m in dict.fromkeys((credential_type, factor)) if m)

    return NormalizedEvent(
        provider=PROVIDER,
        provider_event_id=event_id,
        occurred_at=occurred_at,
        provider_event_type=event_type_name,
        event_type=event_type,
        outcome=outcome,
        actor_id=actor_id,
        actor_login=to_str(ci_get(actor, "alternateId")),
        actor_display_name=to_str(ci_get(actor, "displayName")),
        actor_kind=actor_kind,
        session_key=session_key,
        session_keys=session_keys,
        token_kind=token_kind,
        ip=clean_ip(ci_get(client, "ipAddress")) or clean_ip(ci_get(chain_first, "ip")),
        asn=to_int(ci_get(security, "asNumber")) or to_int(dig(chain_first, "ipDetails.asNumber")),
        as_org=to_str(ci_get(security, "asOrg")) or to_str(dig(chain_first, "ipDetails.asOrg")),
        country=country_code(ci_get(geo, "country")),
        city=to_str(ci_get(geo, "city")),
        lat=to_float(dig(geo, "geolocation.lat")),
        lon=to_float(dig(geo, "geolocation.lon")),
        anonymizer=_anonymizer(security, chain_first, debug),
        user_agent=to_str(dig(client, "userAgent.rawUserAgent")),
        device_id=session_keys.get("dt_hash", "") or to_str(dig(record, "device.id")),
        client_app=app_name,
        interactive=None,
        auth_methods=auth_methods,
        mfa=_mfa(event_type_name, outcome, factor),
        status_detail=to_str(dig(record, "outcome.reason")),
        high_value_action=high_value,
        risk=_risk(security, debug),
        target=_target(targets),
        raw=raw,
    )


def _classify(
    event_type: str, targets: list[dict], app_name: str, grant_type: str
) -> tuple[str, str]:
    """(EventType, HighValueAction or '') for an Okta eventType in its context."""
    if event_type in _HIGH_VALUE_EXACT:
        return EventType.PRIVILEGED_ACTION, _HIGH_VALUE_EXACT[event_type]
    for prefix, action in _HIGH_VALUE_PREFIXES:
        if event_type.startswith(prefix):
            return EventType.PRIVILEGED_ACTION, action
    if event_type == "group.user_membership.add" and any(
        _ADMIN_GROUP.search(to_str(ci_get(t, "displayName")))
        for t in targets
        if to_str(ci_get(t, "type")).lower() == "usergroup"
    ):
        return EventType.PRIVILEGED_ACTION, HighValueAction.PRIVILEGE_GRANT
    if app_name == ADMIN_CONSOLE and event_type == "user.authentication.sso":
        return EventType.PRIVILEGED_ACTION, HighValueAction.ADMIN_CONSOLE
    if event_type in _EXACT_TYPES:
        return _EXACT_TYPES[event_type], ""
    if event_type.startswith("app.oauth2.") and event_type.endswith(".detect_reuse"):
        return EventType.RISK_SIGNAL, ""
    if event_type.startswith("app.oauth2.") and ".token.grant" in event_type:
        if grant_type == "refresh_token":
            return EventType.TOKEN_REFRESH, ""
        return EventType.TOKEN_ISSUED, ""
    if event_type.startswith("app.oauth2.") and ".token.revoke" in event_type:
        return EventType.TOKEN_REVOKED, ""
    if event_type.startswith(("app.oauth2.as.authorize", "app.oauth2.authorize")):
        return EventType.SSO, ""
    if event_type.startswith("app.oauth2.as.consent.grant"):
        return EventType.TOKEN_ISSUED, ""
    if _EXPORT.search(event_type):
        return EventType.PRIVILEGED_ACTION, HighValueAction.DATA_EXPORT
    if event_type.startswith("user.authentication."):
        return EventType.LOGON, ""
    if event_type.startswith(("user.session.", "app.", "user.mfa.")):
        return EventType.SESSION_ACTIVITY, ""
    return EventType.OTHER, ""


def _session_keys(raw: dict, debug: dict, targets: list[dict]) -> dict[str, str]:
    keys = {
        "external_session_id": to_str(dig(raw, "authenticationContext.externalSessionId")),
        "root_session_id": to_str(dig(raw, "authenticationContext.rootSessionId")),
        "dt_hash": to_str(ci_get(debug, "dtHash")),
        "device_fingerprint": to_str(ci_get(debug, "deviceFingerprint")),
        "request_id": to_str(ci_get(debug, "requestId")),
        "transaction_id": to_str(dig(raw, "transaction.id")),
        "api_token_id": to_str(dig(raw, "transaction.detail.requestApiTokenId")),
    }
    for target in targets:
        kind = to_str(ci_get(target, "type")).lower()
        if kind in ("access_token", "refresh_token", "id_token", "token"):
            keys.setdefault(f"{kind}_id", to_str(ci_get(target, "id")))
    return {name: value for name, value in keys.items() if value}


def _token(event_type: str, keys: dict[str, str], targets: list[dict]) -> tuple[str, str]:
    """(TokenKind, session_key): which credential the event is about and the key to track.

    ``token_kind`` names the credential the event concerns; the session key stays the Okta
    session whenever Okta gave one, so token grants made inside a browser session join it.
    """
    session = keys.get("external_session_id", "")
    if event_type.startswith("app.oauth2."):
        if event_type.endswith(".refresh_token"):
            kind = TokenKind.REFRESH_TOKEN
        elif "consent" in event_type:
            kind = TokenKind.OAUTH_GRANT
        else:
            kind = TokenKind.ACCESS_TOKEN
        # Outside a browser session only a refresh token is long-lived enough to track;
        # every access token is new, so keying on one would make a session per event.
        return kind, session or keys.get("refresh_token_id", "")
    if event_type.startswith("system.api_token."):
        token_id = _target_id(targets, "Token") or keys.get("api_token_id", "")
        return TokenKind.API_TOKEN, f"api_token:{token_id}" if token_id else ""
    if not session and keys.get("api_token_id"):
        # An admin API call made with an SSWS token: the token is the credential in use.
        return TokenKind.API_TOKEN, f"api_token:{keys['api_token_id']}"
    return TokenKind.BROWSER_SESSION, session


def _actor_kind(actor: dict, event_type: str, grant_type: str) -> str:
    if event_type.startswith("app.oauth2.") and grant_type == "client_credentials":
        return IdentityKind.OAUTH_APP
    return _ACTOR_KINDS.get(to_str(ci_get(actor, "type")).lower(), IdentityKind.HUMAN)


def _anonymizer(security: dict, chain_first: dict, debug: dict) -> bool:
    if to_bool(ci_get(security, "isProxy")):
        return True
    categories = as_list(dig(security, "ipDetails.ipServiceCategories")) + as_list(
        dig(chain_first, "ipDetails.ipServiceCategories")
    )
    tunnels = as_list(ci_get(debug, "tunnels"))
    return any(to_bool(ci_get(c, "isAnonymous")) for c in categories) or any(
        to_bool(ci_get(t, "anonymous")) for t in tunnels
    )


def _mfa(event_type: str, outcome: str, factor: str) -> bool | None:
    if outcome != Outcome.SUCCESS:
        return None
    if event_type == "user.authentication.auth_via_mfa":
        return True
    if factor and _MFA_FACTORS.search(factor) and "password" not in factor.lower():
        return True
    return None


_RISK_LEVEL = re.compile(r"level=([A-Za-z]+)")
_RISK_REASONS = re.compile(r"reasons=(.*?)(?:,\s*[A-Za-z]+=|\}|$)")
_BEHAVIOR = re.compile(r"([^{},=]+)=(POSITIVE|NEGATIVE|UNKNOWN|BAD_REQUEST)", re.IGNORECASE)


def _risk(security: dict, debug: dict) -> dict[str, Any]:
    """Okta's own verdicts: ITP risk, login risk, behaviours and ThreatInsight, as given."""
    risk: dict[str, Any] = {}
    itp = as_dict(ci_get(security, "risk"))
    debug_risk = to_str(ci_get(debug, "risk"))
    log_only = as_dict(ci_get(debug, "logOnlySecurityData"))
    level = to_str(ci_get(itp, "level"))
    if not level and debug_risk:
        level = _debug_risk(debug_risk)[0]
    if not level:
        level = to_str(dig(log_only, "risk.level"))
    if level:
        risk["level"] = level.upper()
    reasons = [to_str(r) for r in as_list(ci_get(itp, "reasons")) if to_str(r)]
    if not reasons and debug_risk:
        reasons = list(_debug_risk(debug_risk)[1])
    if reasons:
        risk["reasons"] = reasons
    for name, value in (
        ("detection", ci_get(itp, "detectionName")),
        ("previous_level", ci_get(itp, "previousLevel")),
        ("issuer", ci_get(itp, "issuer")),
    ):
        if to_str(value):
            risk[name] = to_str(value)
    behaviors = _behaviors(ci_get(debug, "behaviors")) or _behaviors(ci_get(log_only, "behaviors"))
    behaviors.update(
        {
            to_str(ci_get(b, "name")): to_str(ci_get(b, "result")).upper()
            for b in as_list(ci_get(security, "userBehaviors"))
            if to_str(ci_get(b, "name"))
        }
    )
    positive = sorted(name for name, result in behaviors.items() if result == "POSITIVE")
    if positive:
        risk["behaviors"] = positive
    threat = to_bool(ci_get(debug, "threatSuspected"))
    if threat:
        risk["threat_suspected"] = True
    return risk


@functools.lru_cache(maxsize=4096)
def _debug_risk(text: str) -> tuple[str, tuple[str, ...]]:
    """(level, reasons) from debugData.risk's "{level=LOW, reasons=…}" text, cached like
    the behaviours below: a tenant's events repeat a few such texts."""
    match = _RISK_LEVEL.search(text)
    level = match.group(1) if match else ""
    match = _RISK_REASONS.search(text)
    reasons = match.group(1).split(",") if match and match.group(1).strip() else []
    return level, tuple(r.strip() for r in reasons if r.strip())


def _behaviors(value: Any) -> dict[str, str]:
    """Behaviour verdicts from the shapes Okta exports use: "{A=POSITIVE, …}", dict or list."""
    if isinstance(value, str) and value.strip().startswith("{") and "=" in value:
        return dict(_behaviors_text(value))
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    if isinstance(value, dict):  # behaviour names as Okta spells them, not as folded
        return {to_str(k): to_str(v).upper() for k, v in unfold(value).items()}
    if isinstance(value, list):
        found: dict[str, str] = {}
        for item in value:
            if isinstance(item, str):
                found.update(_behaviors("{" + item + "}"))
            elif isinstance(item, dict) and ci_get(item, "name"):
                found[to_str(ci_get(item, "name"))] = to_str(ci_get(item, "result")).upper()
        return found
    return {}


@functools.lru_cache(maxsize=4096)
def _behaviors_text(value: str) -> tuple[tuple[str, str], ...]:
    """Verdicts from Okta's "{New IP=NEGATIVE, …}" text, cached: a tenant's events repeat a
    few dozen combinations, and the regex scan was a tenth of the parser's time."""
    return tuple((m.group(1).strip(), m.group(2).upper()) for m in _BEHAVIOR.finditer(value))


def _target_name(targets: list[dict], kind: str) -> str:
    for target in targets:
        if to_str(ci_get(target, "type")).lower() == kind.lower():
            return to_str(ci_get(target, "displayName"))
    return ""


def _target_id(targets: list[dict], kind: str) -> str:
    for target in targets:
        if to_str(ci_get(target, "type")).lower() == kind.lower():
            return to_str(ci_get(target, "id"))
    return ""


def _target(targets: list[dict]) -> dict[str, Any]:
    objects = []
    for target in targets:
        item = {
            "type": to_str(ci_get(target, "type")),
            "id": to_str(ci_get(target, "id")),
            "login": to_str(ci_get(target, "alternateId")),
            "name": to_str(ci_get(target, "displayName")),
        }
        objects.append({k: v for k, v in item.items() if v})
    return {"objects": objects} if objects else {}


# ---------------------------------------------------------------------------------------
# fast path for records spelled as documented
#
# ``ci_get``/``dig`` on a plain dict give what they give on its ``Folded`` view; a plain
# ``dict.get`` gives the same as ``ci_get`` as long as no other key of the object folds to
# the same lower-case name (it would be found case-insensitively) and, for a path read
# level by level, no key holds a dot (``dig`` matches flattened keys first). ``_level``
# checks exactly that for every object read with ``.get`` below, against the documented
# key names, and only lets dicts through (``as_dict``/``as_list``/``dig`` decode JSON
# strings; those records go the tolerant way). Objects handed to the shared helpers need
# no check: those use ``ci_get``/``dig`` themselves.

# Key names of the Okta LogEvent (developer.okta.com, System Log API) and of the debugData
# entries seen in exports; no two fold to the same lower-case name.
_DOCUMENTED_KEYS = frozenset(
    {
        "actor", "alternateId", "asNumber", "asOrg", "authenticationContext",
        "authenticationProvider", "authenticationStep", "behaviors", "browser", "city",
        "client", "country", "credentialProvider", "credentialType", "debugContext",
        "debugData", "detail", "detailEntry", "detectionName", "device",
        "deviceFingerprint", "displayMessage", "displayName", "domain", "dtHash",
        "eventType", "externalSessionId", "factor", "geographicalContext", "geolocation",
        "grantType", "grantedScopes", "id", "initiationType", "interface", "ip",
        "ipAddress", "ipChain", "ipDetails", "isProxy", "isp", "issuer", "lat", "legacyEventType",
        "level", "logOnlySecurityData", "lon", "name", "os", "outcome", "postalCode",
        "previousLevel", "published", "rawUserAgent", "reason", "reasons", "request",
        "requestApiTokenId", "requestId", "requestUri", "result", "risk", "rootSessionId",
        "securityContext", "severity", "signOnMode", "source", "state", "target",
        "threatSuspected", "transaction", "tunnels", "type", "url", "userAgent",
        "userBehaviors", "uuid", "version", "zone",
    }
)  # fmt: skip
_DOCUMENTED_FOLDED = frozenset(key.lower() for key in _DOCUMENTED_KEYS)
# A record whose top-level keys are all among these is a LogEvent, not an event hook's
# {"data": {"events": [...]}} envelope.
DOCUMENTED_KEYS = _DOCUMENTED_KEYS
_EMPTY: dict[str, Any] = {}  # read only


class _Irregular(Exception):
    """The record strays from the documented shape: the tolerant parser reads it."""


def _level(value: Any) -> dict[str, Any]:
    """``value`` if it is an object whose documented keys a plain ``.get`` finds exactly as
    ``ci_get``/``dig`` would; ``{}`` for None; otherwise ``_Irregular``."""
    if value is None:
        return _EMPTY
    if type(value) is not dict:
        raise _Irregular
    keys = value.keys()
    if not keys <= _DOCUMENTED_KEYS:
        for key in keys - _DOCUMENTED_KEYS:
            if type(key) is not str or "." in key or key.lower() in _DOCUMENTED_FOLDED:
                raise _Irregular
    return value


def _levels(value: Any) -> list[dict[str, Any]]:
    """A list of objects (``_level`` each); ``[]`` for None; otherwise ``_Irregular``."""
    if value is None:
        return []
    if type(value) is not list:
        raise _Irregular
    return [_level(item) for item in value]


def _parse_documented(raw: dict[str, Any]) -> NormalizedEvent:
    """``parse_tolerant`` for a documented record, with plain look-ups; ``_Irregular`` or
    ``QuarantineError`` send the record to the tolerant parser."""
    record = _level(raw)
    event_id = to_str(record.get("uuid"))
    published = record.get("published")
    actor = _level(record.get("actor"))
    actor_id = to_str(actor.get("id"))
    if not event_id or published is None or not actor_id:
        raise QuarantineError("the tolerant parser says why")
    occurred_at = parse_timestamp(published)  # ValueError: quarantined by the tolerant one

    event_type_name = to_str(record.get("eventType"))
    debug = _level(_level(record.get("debugContext")).get("debugData"))
    targets = _levels(record.get("target"))
    app_name = next(
        (to_str(t.get("displayName")) for t in targets if _kind(t) == "appinstance"), ""
    )
    grant_type = to_str(debug.get("grantType")).lower()

    event_type, high_value = _classify(event_type_name, targets, app_name, grant_type)
    outcome_object = _level(record.get("outcome"))
    outcome = _OUTCOMES.get(to_str(outcome_object.get("result")).upper(), Outcome.UNKNOWN)

    authentication = _level(record.get("authenticationContext"))
    transaction = _level(record.get("transaction"))
    session_keys = {
        "external_session_id": to_str(authentication.get("externalSessionId")),
        "root_session_id": to_str(authentication.get("rootSessionId")),
        "dt_hash": to_str(debug.get("dtHash")),
        "device_fingerprint": to_str(debug.get("deviceFingerprint")),
        "request_id": to_str(debug.get("requestId")),
        "transaction_id": to_str(transaction.get("id")),
        "api_token_id": to_str(_level(transaction.get("detail")).get("requestApiTokenId")),
    }
    for target in targets:
        kind = _kind(target)
        if kind in ("access_token", "refresh_token", "id_token", "token"):
            session_keys.setdefault(f"{kind}_id", to_str(target.get("id")))
    session_keys = {name: value for name, value in session_keys.items() if value}
    token_kind, session_key = _token(event_type_name, session_keys, targets)
    actor_kind = _actor_kind(actor, event_type_name, grant_type)

    client = _level(record.get("client"))
    geo = _level(client.get("geographicalContext"))
    geolocation = _level(geo.get("geolocation"))
    security = _level(record.get("securityContext"))
    chain = _levels(_level(record.get("request")).get("ipChain"))
    chain_first = chain[0] if chain else _EMPTY
    factor = to_str(debug.get("factor"))
    credential_type = to_str(authentication.get("credentialType"))
    no_anonymity_details = (
        security.get("ipDetails") is None
        and chain_first.get("ipDetails") is None
        and debug.get("tunnels") is None
    )
    if no_anonymity_details:
        anonymizer = to_bool(security.get("isProxy")) is True
    else:
        anonymizer = _anonymizer(security, chain_first, debug)

    device_id = session_keys.get("dt_hash", "") or to_str(_level(record.get("device")).get("id"))

    return NormalizedEvent(
        provider=PROVIDER,
        provider_event_id=event_id,
        occurred_at=occurred_at,
        provider_event_type=event_type_name,
        event_type=event_type,
        outcome=outcome,
        actor_id=actor_id,
        actor_login=to_str(actor.get("alternateId")),
        actor_display_name=to_str(actor.get("displayName")),
        actor_kind=actor_kind,
        session_key=session_key,
        session_keys=session_keys,
        token_kind=token_kind,
        ip=clean_ip(client.get("ipAddress")) or clean_ip(chain_first.get("ip")),
        asn=to_int(security.get("asNumber"))
        or to_int(_level(chain_first.get("ipDetails")).get("asNumber")),
        as_org=to_str(security.get("asOrg"))
        or to_str(_level(chain_first.get("ipDetails")).get("asOrg")),
        country=country_code(geo.get("country")),
        city=to_str(geo.get("city")),
        lat=to_float(geolocation.get("lat")),
        lon=to_float(geolocation.get("lon")),
        anonymizer=anonymizer,
        user_agent=to_str(_level(client.get("userAgent")).get("rawUserAgent")),
        device_id=device_id,
        client_app=app_name,
        interactive=None,
        auth_methods=tuple(m for m in dict.fromkeys((credential_type, factor)) if m),
        mfa=_mfa(event_type_name, outcome, factor),
        status_detail=to_str(outcome_object.get("reason")),
        high_value_action=high_value,
        risk=_risk_documented(security, debug),
        target=_target_documented(targets),
        raw=raw,
    )


def _kind(target: dict[str, Any]) -> str:
    return to_str(target.get("type")).lower()


def _risk_documented(security: dict[str, Any], debug: dict[str, Any]) -> dict[str, Any]:
    """``_risk`` over objects that passed ``_level``."""
    itp = _level(security.get("risk"))
    debug_risk = to_str(debug.get("risk"))
    log_only = _level(debug.get("logOnlySecurityData"))
    risk: dict[str, Any] = {}
    level = to_str(itp.get("level"))
    if not level and debug_risk:
        level = _debug_risk(debug_risk)[0]
    if not level:
        level = to_str(_level(log_only.get("risk")).get("level"))
    if level:
        risk["level"] = level.upper()
    reasons = [to_str(r) for r in as_list(itp.get("reasons")) if to_str(r)]
    if not reasons and debug_risk:
        reasons = list(_debug_risk(debug_risk)[1])
    if reasons:
        risk["reasons"] = reasons
    for name, key in (
        ("detection", "detectionName"),
        ("previous_level", "previousLevel"),
        ("issuer", "issuer"),
    ):
        value = to_str(itp.get(key))
        if value:
            risk[name] = value
    behaviors = _behaviors(debug.get("behaviors")) or _behaviors(log_only.get("behaviors"))
    user_behaviors = security.get("userBehaviors")
    if user_behaviors is not None:
        behaviors.update(
            {
                to_str(ci_get(b, "name")): to_str(ci_get(b, "result")).upper()
                for b in as_list(user_behaviors)
                if to_str(ci_get(b, "name"))
            }
        )
    positive = sorted(name for name, result in behaviors.items() if result == "POSITIVE")
    if positive:
        risk["behaviors"] = positive
    if to_bool(debug.get("threatSuspected")):
        risk["threat_suspected"] = True
    return risk


def _target_documented(targets: list[dict[str, Any]]) -> dict[str, Any]:
    """``_target`` over objects that passed ``_level``."""
    objects = []
    for target in targets:
        item = {
            "type": to_str(target.get("type")),
            "id": to_str(target.get("id")),
            "login": to_str(target.get("alternateId")),
            "name": to_str(target.get("displayName")),
        }
        objects.append({k: v for k, v in item.items() if v})
    return {"objects": objects} if objects else {}
