"""Render planned events into the JSON each vendor's API returns.

Shapes follow the vendors' published schemas (research/detection.md §2): Okta System Log
``LogEvent``, Microsoft Graph ``signIn`` and Google Reports API login ``activity``. Values
that only exist to look real (request ids, correlation ids, etags) are derived from the
event id, so rendering is deterministic and needs no random state.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .catalog import ENTRA_GRAPH
from .plan import ENTRA, GOOGLE, OKTA, PlannedEvent

OKTA_ORG = "northwind-demo"
ENTRA_TENANT_ID = "6f2c9a41-3b7e-4d0a-9c55-1e8b7f0d2a63"
GOOGLE_CUSTOMER_ID = "C03nw7d5x"
ADMIN_CONSOLE_APP_ID = "0oa1admconsole0000x7"

_OKTA_MESSAGES: dict[str, tuple[str, str | None]] = {
    "user.session.start": ("User login to Okta", "core.user_auth.login_success"),
    "user.authentication.auth_via_mfa": (
        "Authentication of user via MFA",
        "core.user.factor.attempt_success",
    ),
    "policy.evaluate_sign_on": ("Evaluation of sign-on policy", None),
    "user.authentication.sso": ("User single sign on to app", "app.auth.sso"),
    "user.session.end": ("User logout from Okta", "core.user_auth.logout_success"),
    "user.session.access_admin_app": (
        "User accessing Okta admin app",
        "app.admin.sso.login.success",
    ),
    "user.account.privilege.grant": (
        "Grant user privilege",
        "core.user.admin_privilege.granted",
    ),
    "user.session.clear": ("Clear user session", "core.user_auth.session_clear"),
    "user.risk.detect": ("User risk detected", None),
    "app.oauth2.as.token.grant.access_token": (
        "OAuth2 access token is granted",
        "app.oauth2.as.token.grant.access_token_success",
    ),
    "user.account.update_profile": (
        "Update user profile for Okta",
        "core.user.config.profile_update.success",
    ),
}

_OKTA_URIS = {
    "user.session.start": "/idp/idx/identify",
    "user.authentication.auth_via_mfa": "/idp/idx/authenticators/poll",
    "policy.evaluate_sign_on": "/idp/idx/identify",
    "user.authentication.sso": "/app/{app}/sso/saml",
    "user.session.end": "/login/signout",
    "user.session.access_admin_app": "/admin/sso/callback",
    "user.account.privilege.grant": "/api/v1/users/{target}/roles",
    "user.session.clear": "/api/v1/users/me/sessions",
    "user.risk.detect": "/idp/idx/identify",
    "app.oauth2.as.token.grant.access_token": "/oauth2/v1/token",
    "user.account.update_profile": "/api/v1/users/{target}",
}

_SUBDIVISIONS = {
    "Berlin": "DE-BE",
    "London": "GB-ENG",
    "New York": "US-NY",
    "San Francisco": "US-CA",
    "Tokyo": "JP-13",
    "Singapore": "SG-01",
    "Frankfurt am Main": "DE-HE",
    "Bucharest": "RO-B",
}

_NEGATIVE_BEHAVIORS = {
    "New Geo-Location": "NEGATIVE",
    "New Device": "NEGATIVE",
    "New IP": "NEGATIVE",
    "New State": "NEGATIVE",
    "New Country": "NEGATIVE",
    "Velocity": "NEGATIVE",
    "New City": "NEGATIVE",
}


def _digest(event_id: str, salt: str) -> bytes:
    return hashlib.sha256(f"{salt}:{event_id}".encode()).digest()


def _b64(event_id: str, salt: str, length: int) -> str:
    raw = base64.urlsafe_b64encode(_digest(event_id, salt)).decode().rstrip("=")
    return raw[:length].replace("-", "A").replace("_", "B")


def _uuid(event_id: str, salt: str) -> str:
    h = _digest(event_id, salt).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _iso_ms(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _iso_s(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def behaviors_text(changes: dict[str, str] | None = None) -> str:
    """Okta's ``debugData.behaviors`` string, all NEGATIVE except the given changes."""
    values = {**_NEGATIVE_BEHAVIORS, **(changes or {})}
    return "{" + ", ".join(f"{k}={v}" for k, v in values.items()) + "}"


def render_okta(e: PlannedEvent) -> dict[str, Any]:
    """An Okta System Log ``LogEvent``."""
    x = e.extra
    n = e.network
    ident = e.identity
    message, legacy = _OKTA_MESSAGES[e.name]
    target = x.get("target")
    app = x.get("app")  # (display name, app instance id)
    uri = x.get("uri") or _OKTA_URIS[e.name].format(
        app=app[1] if app else "", target=target.provider_ids[OKTA] if target else ""
    )
    geo = {
        "city": n.city,
        "state": n.state,
        "country": n.country_name,
        "postalCode": n.postal_code,
        "geolocation": {"lat": n.lat, "lon": n.lon},
    }
    debug: dict[str, Any] = {
        "requestId": _b64(e.event_id, "req", 27),
        "requestUri": uri,
        "url": uri + ("?" if e.name == "user.authentication.sso" else ""),
        "threatSuspected": "false",
    }
    if e.device is not None:
        debug["dtHash"] = e.device.dt_hash
    if n.anonymizer:
        debug["tunnels"] = f'[{{"anonymous":true,"operator":"{n.operator}","type":"VPN"}}]'
    if "behaviors" in x:
        debug["behaviors"] = x["behaviors"]
        debug["risk"] = x.get("risk", "{level=LOW}")
    elif "risk" in x:
        debug["risk"] = x["risk"]
    if "factor" in x:
        debug["factor"] = x["factor"]
    if app:
        debug["signOnMode"] = "SAML 2.0"
        debug["initiationType"] = "IDP_INITIATED"
    if "grant_type" in x:
        debug["grantType"] = x["grant_type"]
        debug["grantedScopes"] = x["scopes"]
        debug["requestedScopes"] = x["scopes"]
    if "privilege" in x:
        debug["privilegeGranted"] = x["privilege"]

    if x.get("actor_type") == "PublicClientApp":
        actor = {
            "id": ident.provider_ids[OKTA],
            "type": "PublicClientApp",
            "alternateId": ident.provider_ids[OKTA],
            "displayName": ident.display_name,
            "detailEntry": None,
        }
    else:
        actor = {
            "id": ident.provider_ids[OKTA],
            "type": "User",
            "alternateId": ident.login,
            "displayName": ident.display_name,
            "detailEntry": None,
        }

    targets: list[dict[str, Any]] | None = None
    if app:
        targets = [
            {
                "id": app[1],
                "type": "AppInstance",
                "alternateId": app[0],
                "displayName": app[0],
                "detailEntry": {"signOnModeType": "SAML_2_0"},
            },
            {
                "id": "0ua" + _b64(e.event_id + ident.key, "appuser", 17),
                "type": "AppUser",
                "alternateId": ident.login,
                "displayName": ident.display_name,
                "detailEntry": None,
            },
        ]
    elif e.name == "user.session.access_admin_app":
        targets = [
            {
                "id": ADMIN_CONSOLE_APP_ID,
                "type": "AppInstance",
                "alternateId": "Okta Admin Console",
                "displayName": "Okta Admin Console",
                "detailEntry": None,
            }
        ]
    elif target is not None:
        targets = [
            {
                "id": target.provider_ids[OKTA],
                "type": "User",
                "alternateId": target.login,
                "displayName": target.display_name,
                "detailEntry": None,
            }
        ]
    elif e.name == "app.oauth2.as.token.grant.access_token":
        targets = [
            {
                "id": ident.provider_ids[OKTA],
                "type": "AppInstance",
                "alternateId": ident.display_name,
                "displayName": ident.display_name,
                "detailEntry": None,
            },
            {
                "id": "AT." + _b64(e.event_id, "at", 43),
                "type": "access_token",
                "alternateId": _b64(e.event_id, "jti", 20),
                "displayName": "Access Token",
                "detailEntry": {
                    "expires": _iso_s(e.at + timedelta(hours=1)),
                    "subject": ident.provider_ids[OKTA],
                    "hash": _b64(e.event_id, "ath", 22),
                },
            },
        ]

    auth_ctx: dict[str, Any] = {
        "authenticationProvider": x.get("auth_provider"),
        "credentialProvider": x.get("credential_provider"),
        "credentialType": x.get("credential_type"),
        "issuer": None,
        "interface": None,
        "authenticationStep": 0,
        "rootSessionId": x.get("root_session", e.session) or None,
        "externalSessionId": e.session or None,
    }
    transaction: dict[str, Any] = {"type": "WEB", "id": debug["requestId"], "detail": {}}
    if "api_token_id" in x:
        transaction["detail"] = {"requestApiTokenId": x["api_token_id"]}

    security: dict[str, Any] = {
        "asNumber": n.asn,
        "asOrg": n.as_org.lower(),
        "isp": n.as_org.lower(),
        "domain": n.domain,
        "isProxy": n.anonymizer,
    }
    if "security_risk" in x:
        security["risk"] = x["security_risk"]

    return {
        "uuid": e.event_id,
        "published": _iso_ms(e.at),
        "eventType": e.name,
        "version": "0",
        "severity": x.get("severity", "INFO"),
        "legacyEventType": legacy,
        "displayMessage": message,
        "actor": actor,
        "client": {
            "userAgent": {
                "rawUserAgent": e.agent.raw,
                "os": e.agent.okta_os,
                "browser": e.agent.browser,
            },
            "zone": x.get("zone", "null"),
            "device": e.agent.device_class,
            "id": x.get("client_id"),
            "ipAddress": e.ip,
            "geographicalContext": geo,
        },
        "device": None,
        "authenticationContext": auth_ctx,
        "outcome": {"result": x.get("outcome", "SUCCESS"), "reason": x.get("reason")},
        "securityContext": security,
        "debugContext": {"debugData": debug},
        "transaction": transaction,
        "request": {
            "ipChain": [
                {
                    "ip": e.ip,
                    "geographicalContext": geo,
                    "version": "V4",
                    "source": None,
                }
            ]
        },
        "target": targets,
    }


def render_entra(e: PlannedEvent) -> dict[str, Any]:
    """A Microsoft Graph ``signIn`` (beta superset), as ``GET /auditLogs/signIns`` returns it."""
    x = e.extra
    n = e.network
    ident = e.identity
    category = e.name
    interactive = category == "interactiveUser"
    is_user = category in ("interactiveUser", "nonInteractiveUser")
    app_name, app_id = x["app"]
    resource_name, resource_id = x.get("resource", ENTRA_GRAPH)
    mfa = bool(x.get("mfa"))
    device = e.device
    record: dict[str, Any] = {
        "id": e.event_id,
        "createdDateTime": _iso_s(e.at),
        "userDisplayName": ident.display_name if is_user else None,
        "userPrincipalName": ident.login if is_user else None,
        "userId": ident.provider_ids[ENTRA] if is_user else None,
        "userType": "member" if is_user else None,
        "appId": app_id,
        "appDisplayName": app_name,
        "resourceId": resource_id,
        "resourceDisplayName": resource_name,
        "resourceTenantId": ENTRA_TENANT_ID,
        "homeTenantId": ENTRA_TENANT_ID,
        "ipAddress": e.ip,
        "autonomousSystemNumber": n.asn,
        "isThroughGlobalSecureAccess": False,
        "clientAppUsed": x.get(
            "client_app", "Browser" if interactive else "Mobile Apps and Desktop clients"
        ),
        "userAgent": e.agent.raw,
        "correlationId": _uuid(e.event_id, "corr"),
        "originalRequestId": _uuid(e.event_id, "orig"),
        "isInteractive": interactive,
        "signInEventTypes": [category],
        "incomingTokenType": x.get("incoming_type", "none"),
        "tokenIssuerType": "AzureAD",
        "tokenIssuerName": "",
        "authenticationProtocol": x.get("protocol", "none"),
        "authenticationRequirement": (
            "multiFactorAuthentication" if mfa else "singleFactorAuthentication"
        ),
        "authenticationDetails": x.get("auth_details", []),
        "authenticationMethodsUsed": x.get("methods", []),
        "conditionalAccessStatus": "success" if is_user else "notApplied",
        "riskDetail": "none",
        "riskLevelAggregated": x.get("risk_level", "none"),
        "riskLevelDuringSignIn": x.get("risk_level", "none"),
        "riskState": "atRisk" if x.get("risk_events") else "none",
        "riskEventTypes_v2": list(x.get("risk_events", [])),
        "status": {
            "errorCode": x.get("error_code", 0),
            "failureReason": x.get("failure_reason", "Other."),
            "additionalDetails": x.get("additional_details"),
        },
        "deviceDetail": {
            "deviceId": device.device_id if device else "",
            "displayName": device.display_name if device and device.device_id else "",
            "operatingSystem": e.agent.entra_os,
            "browser": e.agent.entra_browser,
            "isCompliant": bool(device and device.managed),
            "isManaged": bool(device and device.managed),
            "trustType": (
                ("Azure AD joined" if device.managed else "Azure AD registered")
                if device and device.device_id
                else ""
            ),
        },
        "location": {
            "city": n.city,
            "state": n.state,
            "countryOrRegion": n.country,
            "geoCoordinates": {"altitude": None, "latitude": n.lat, "longitude": n.lon},
        },
        "sessionId": e.session if is_user else "",
        "uniqueTokenIdentifier": _b64(e.event_id, "uti", 22),
        "servicePrincipalId": "" if is_user else ident.provider_ids[ENTRA],
        "servicePrincipalName": "" if is_user else ident.display_name,
        "servicePrincipalCredentialKeyId": "" if is_user else e.session,
        "servicePrincipalCredentialThumbprint": "",
        "clientCredentialType": x.get("credential_type", "none"),
        "managedServiceIdentity": {
            "msiType": "systemAssigned" if category == "managedIdentity" else "none",
            "associatedResourceId": x.get("msi_resource", ""),
            "federatedTokenId": "",
            "federatedTokenIssuer": "",
        },
    }
    if "agent_info" in x:
        record["agent"] = x["agent_info"]
    return record


def render_google(e: PlannedEvent) -> dict[str, Any]:
    """A Google Reports API ``activity`` from the login application."""
    x = e.extra
    n = e.network
    parameters: list[dict[str, Any]] = []
    if "login_type" in x:
        parameters.append({"name": "login_type", "value": x["login_type"]})
    if "challenge" in x:
        parameters.append({"name": "login_challenge_method", "multiValue": list(x["challenge"])})
    if e.name.startswith("login_") and e.name != "login_failure":
        parameters.append({"name": "is_suspicious", "boolValue": bool(x.get("suspicious"))})
    if "second_factor" in x:
        parameters.append({"name": "is_second_factor", "boolValue": x["second_factor"]})
    return {
        "kind": "admin#reports#activity",
        "id": {
            "time": _iso_ms(e.at),
            "uniqueQualifier": e.event_id,
            "applicationName": "login",
            "customerId": GOOGLE_CUSTOMER_ID,
        },
        "etag": '"' + _b64(e.event_id, "etag", 40) + '"',
        "actor": {
            "email": e.identity.login,
            "profileId": e.identity.provider_ids[GOOGLE],
            "callerType": "USER",
        },
        "ownerDomain": e.identity.login.split("@", 1)[1],
        "ipAddress": e.ip,
        "networkInfo": {
            "ipAsn": [n.asn],
            "regionCode": n.country,
            "subdivisionCode": _SUBDIVISIONS.get(n.city, ""),
        },
        "events": [{"type": x.get("type", "login"), "name": e.name, "parameters": parameters}],
    }


RENDERERS: dict[str, Callable[[PlannedEvent], dict[str, Any]]] = {
    OKTA: render_okta,
    ENTRA: render_entra,
    GOOGLE: render_google,
}
