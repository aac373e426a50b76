"""Microsoft Entra ID sign-in → NormalizedEvent, from any of the three shapes it is exported in.

1. Graph ``signIn`` (v1.0 and beta fields), as ``GET /auditLogs/signIns`` returns it.
2. Azure Monitor diagnostic export (Event Hub / storage): ``time``, ``category``,
   ``callerIpAddress``, ``identity``, with the Graph fields under ``properties``.
3. Log Analytics / Sentinel columns (``SigninLogs`` and friends): the same fields flattened to
   PascalCase (``IPAddress``, ``LocationDetails``, ``ResultType``, ``TimeGenerated``), often with
   nested objects exported as JSON strings.

All three are read through one case-insensitive view: ``properties`` first, then the top level.
The session key is ``sessionId`` (the ``sid`` claim, shared by every token from one root
interactive sign-in).
"""

from __future__ import annotations

from typing import Any

from sessions_app.choices import EventType, IdentityKind, Outcome, TokenKind

from .common import (
    as_dict,
    as_list,
    ci_get,
    clean_ip,
    country_code,
    parse_timestamp,
    to_bool,
    to_float,
    to_int,
    to_str,
)
from .schema import NormalizedEvent, QuarantineError

PROVIDER = "entra"

# Error codes that mean "not yet: the user must do something" rather than "refused".
CHALLENGE_CODES = frozenset(
    {16000, 16001, 50058, 50072, 50074, 50076, 50079, 50097, 50125, 50140, 50155, 50158, 50199}
)
# Error codes raised while a second factor was being asked for or checked.
MFA_CODES = frozenset({50072, 50074, 50076, 50079, 500121})
# Error codes that say a session or refresh token was presented after it had been revoked or
# invalidated by a password change: the "used after revocation/reset" evidence.
REVOKED_TOKEN_CODES = frozenset({50132, 50133, 50173, 70008, 700082})

INTERACTIVE = "interactiveUser"
NON_INTERACTIVE = "nonInteractiveUser"
SERVICE_PRINCIPAL = "servicePrincipal"
MANAGED_IDENTITY = "managedIdentity"

_CATEGORY_KINDS = {
    "signinlogs": INTERACTIVE,
    "noninteractiveusersigninlogs": NON_INTERACTIVE,
    "serviceprincipalsigninlogs": SERVICE_PRINCIPAL,
    "managedidentitysigninlogs": MANAGED_IDENTITY,
}


# Top-level Azure Monitor keys that may stand in for a missing ``properties`` field. Others
# (``resourceId``, ``operationName``…) describe the export, not the sign-in.
_ENVELOPE_KEYS = frozenset(
    {
        "time",
        "calleripaddress",
        "category",
        "resulttype",
        "resultdescription",
        "correlationid",
        "location",
    }
)


class _View:
    """Case-insensitive lookup over ``properties`` (Azure Monitor) then the record itself."""

    def __init__(self, raw: dict[str, Any]):
        properties = as_dict(ci_get(raw, "properties"))
        if properties:
            envelope = {k: v for k, v in raw.items() if k.lower() in _ENVELOPE_KEYS}
            self.layers = [properties, envelope]
        else:
            self.layers = [raw]

    def get(self, *keys: str) -> Any:
        for layer in self.layers:
            value = ci_get(layer, *keys)
            if isinstance(value, dict | list) or (value is not None and to_str(value) != ""):
                return value
        return None


def parse(raw: dict[str, Any]) -> NormalizedEvent:
    """Normalise one Entra sign-in; raises QuarantineError without id, time or actor."""
    view = _View(raw)
    event_id = to_str(view.get("id", "originalRequestId"))
    if not event_id:
        raise QuarantineError("missing event id (id)")
    when = view.get("createdDateTime", "TimeGenerated", "time")
    if when is None or to_str(when) == "":
        raise QuarantineError("missing event time (createdDateTime)")
    try:
        occurred_at = parse_timestamp(when)
    except ValueError as exc:
        raise QuarantineError(f"unparseable event time (createdDateTime): {when!r}") from exc

    kind = _sign_in_kind(raw, view)
    actor_id, login, display, actor_kind = _actor(view, kind)
    if not actor_id:
        raise QuarantineError("missing actor (userId / servicePrincipalId)")

    status = as_dict(view.get("status", "Status"))
    error_code = to_int(ci_get(status, "errorCode"))
    if error_code is None:
        error_code = to_int(view.get("resultType", "ResultType"))
    outcome = _outcome(error_code)
    event_type = _event_type(kind, outcome, error_code)
    failure = to_str(ci_get(status, "failureReason")) or to_str(view.get("resultDescription"))
    # Graph writes failureReason "Other." on successes; only failures and challenges get one.
    status_detail = f"{error_code}: {failure}".rstrip(": ") if error_code else ""

    # Log Analytics has both a flat "Location" (country) and the "LocationDetails" object.
    location = as_dict(view.get("LocationDetails", "location"))
    coordinates = as_dict(ci_get(location, "geoCoordinates"))
    device = as_dict(view.get("deviceDetail", "DeviceDetail"))
    token_kind, session_key, session_keys = _session(view, kind)
    risk = _risk(view)
    if error_code in REVOKED_TOKEN_CODES:
        risk["revoked_token_presented"] = True

    return NormalizedEvent(
        provider=PROVIDER,
        provider_event_id=event_id,
        occurred_at=occurred_at,
        provider_event_type=kind,
        event_type=event_type,
        outcome=outcome,
        actor_id=actor_id,
        actor_login=login,
        actor_display_name=display,
        actor_kind=actor_kind,
        session_key=session_key,
        session_keys=session_keys,
        token_kind=token_kind,
        ip=clean_ip(view.get("ipAddress", "callerIpAddress")),
        asn=to_int(view.get("autonomousSystemNumber")),
        as_org="",
        country=country_code(ci_get(location, "countryOrRegion")) or _country_column(view),
        city=to_str(ci_get(location, "city")),
        lat=to_float(ci_get(coordinates, "latitude")),
        lon=to_float(ci_get(coordinates, "longitude")),
        anonymizer=_anonymizer(view, risk),
        user_agent=to_str(view.get("userAgent")),
        device_id=to_str(ci_get(device, "deviceId")),
        client_app=to_str(
            view.get("appDisplayName", "servicePrincipalName", "resourceDisplayName", "appId")
        ),
        interactive=kind == INTERACTIVE,
        auth_methods=_auth_methods(view),
        mfa=_mfa(view, outcome),
        status_detail=status_detail,
        high_value_action="",
        risk=risk,
        target=_target(view),
        raw=raw,
    )


def _sign_in_kind(raw: dict, view: _View) -> str:
    """interactiveUser | nonInteractiveUser | servicePrincipal | managedIdentity."""
    types = [to_str(t) for t in as_list(view.get("signInEventTypes"))]
    for candidate in (MANAGED_IDENTITY, SERVICE_PRINCIPAL, NON_INTERACTIVE, INTERACTIVE):
        if any(t.lower() == candidate.lower() for t in types):
            return candidate
    # Azure Monitor "category" / Log Analytics "Category" or table "Type" (AAD… prefixed).
    for value in (ci_get(raw, "category"), ci_get(raw, "Type")):
        name = to_str(value).lower()
        name = name.removeprefix("aad")
        if name in _CATEGORY_KINDS:
            return _CATEGORY_KINDS[name]
    if to_bool(view.get("isInteractive")) is False:
        if to_str(view.get("managedServiceIdentity", "managedIdentityType")) and not to_str(
            view.get("userId")
        ):
            return MANAGED_IDENTITY
        if to_str(view.get("servicePrincipalId")) and not to_str(view.get("userId")):
            return SERVICE_PRINCIPAL
        return NON_INTERACTIVE
    if not to_str(view.get("userId")) and to_str(view.get("servicePrincipalId")):
        return SERVICE_PRINCIPAL
    return INTERACTIVE


def _actor(view: _View, kind: str) -> tuple[str, str, str, str]:
    """(actor_id, login, display name, IdentityKind)."""
    if kind in (SERVICE_PRINCIPAL, MANAGED_IDENTITY):
        actor_id = to_str(view.get("servicePrincipalId")) or to_str(view.get("appId"))
        name = to_str(view.get("servicePrincipalName", "appDisplayName"))
        actor_kind = (
            IdentityKind.WORKLOAD if kind == MANAGED_IDENTITY else (IdentityKind.SERVICE_ACCOUNT)
        )
        return actor_id, name, name, actor_kind
    login = to_str(view.get("userPrincipalName", "signInIdentifier")).lower()
    return (
        to_str(view.get("userId")),
        login,
        to_str(view.get("userDisplayName")),
        IdentityKind.HUMAN,
    )


def _outcome(error_code: int | None) -> str:
    if error_code is None:
        return Outcome.UNKNOWN
    if error_code == 0:
        return Outcome.SUCCESS
    if error_code in CHALLENGE_CODES:
        return Outcome.CHALLENGE
    return Outcome.FAILURE


def _event_type(kind: str, outcome: str, error_code: int | None) -> str:
    if error_code in MFA_CODES:
        return EventType.MFA_CHALLENGE
    if kind == NON_INTERACTIVE:
        return EventType.TOKEN_REFRESH
    if kind in (SERVICE_PRINCIPAL, MANAGED_IDENTITY):
        return EventType.TOKEN_ISSUED
    return EventType.LOGON


def _session(view: _View, kind: str) -> tuple[str, str, dict[str, str]]:
    """(TokenKind, session_key, every session-ish id the sign-in carries)."""
    keys = {
        "session_id": to_str(view.get("sessionId")),
        "unique_token_identifier": to_str(view.get("uniqueTokenIdentifier")),
        "correlation_id": to_str(view.get("correlationId")),
        "original_request_id": to_str(view.get("originalRequestId")),
        "credential_key_id": to_str(view.get("servicePrincipalCredentialKeyId")),
    }
    keys = {name: value for name, value in keys.items() if value}
    if kind in (SERVICE_PRINCIPAL, MANAGED_IDENTITY):
        # Each workload sign-in mints a fresh token and has no sid; the credential (secret or
        # certificate key id) is what can be stolen and replayed, so that is what we track.
        credential = keys.get("credential_key_id", "")
        return TokenKind.ACCESS_TOKEN, f"credential:{credential}" if credential else "", keys
    token_kind = TokenKind.REFRESH_TOKEN if kind == NON_INTERACTIVE else TokenKind.BROWSER_SESSION
    return token_kind, keys.get("session_id", ""), keys


def _risk(view: _View) -> dict[str, Any]:
    """ID Protection verdicts and the conditional-access result, as Entra gave them."""
    risk: dict[str, Any] = {}
    for name, keys in (
        ("level", ("riskLevelDuringSignIn",)),
        ("aggregated_level", ("riskLevelAggregated",)),
        ("state", ("riskState",)),
        ("detail", ("riskDetail",)),
    ):
        value = to_str(view.get(*keys))
        if value and value.lower() not in ("none", "hidden"):
            risk[name] = value
    reasons = [to_str(r) for r in as_list(view.get("riskEventTypes_v2", "riskEventTypes"))]
    reasons = [r for r in reasons if r and r.lower() != "none"]
    if reasons:
        risk["reasons"] = reasons
    ca_status = to_str(view.get("conditionalAccessStatus"))
    if ca_status:
        risk["conditional_access"] = ca_status
    policies = as_list(view.get("appliedConditionalAccessPolicies", "ConditionalAccessPolicies"))
    failed = [
        to_str(ci_get(p, "displayName"))
        for p in policies
        if to_str(ci_get(p, "result")).lower() == "failure"
    ]
    if failed:
        risk["failed_policies"] = failed
    if to_bool(view.get("flaggedForReview")):
        risk["flagged_for_review"] = True
    return risk


def _anonymizer(view: _View, risk: dict[str, Any]) -> bool:
    if any(r.lower() == "anonymizedipaddress" for r in risk.get("reasons", [])):
        return True
    for detail in as_list(view.get("networkLocationDetails")):
        network_type = to_str(ci_get(detail, "networkType")).lower()
        if "anonym" in network_type or network_type == "tor":
            return True
    return False


def _auth_methods(view: _View) -> tuple[str, ...]:
    methods: list[str] = []
    for step in as_list(view.get("authenticationDetails")):
        method = to_str(ci_get(step, "authenticationMethod"))
        if method and to_bool(ci_get(step, "succeeded")) is not False:
            methods.append(method)
    methods += [to_str(m) for m in as_list(view.get("authenticationMethodsUsed")) if to_str(m)]
    return tuple(dict.fromkeys(methods))


def _mfa(view: _View, outcome: str) -> bool | None:
    requirement = to_str(view.get("authenticationRequirement")).lower()
    if requirement == "singlefactorauthentication":
        return False
    if requirement == "multifactorauthentication" and outcome == Outcome.SUCCESS:
        return True
    return None


def _country_column(view: _View) -> str:
    """The flat two-letter ``Location`` column (Log Analytics; Azure Monitor's top level)."""
    for layer in view.layers:
        text = to_str(ci_get(layer, "location"))
        if len(text) == 2 and text.isalpha():
            return text.upper()
    return ""


def _target(view: _View) -> dict[str, Any]:
    """The application and resource signed in to, and how the token was obtained."""
    fields = {
        "app_id": view.get("appId"),
        "app": view.get("appDisplayName"),
        "resource_id": view.get("resourceId"),
        "resource": view.get("resourceDisplayName"),
        "incoming_token_type": view.get("incomingTokenType"),
        "authentication_protocol": view.get("authenticationProtocol"),
        "client_app_used": view.get("clientAppUsed"),
        "token_protection": view.get("signInTokenProtectionStatus"),
    }
    target = {k: to_str(v) for k, v in fields.items() if to_str(v) and to_str(v) != "none"}
    return target
