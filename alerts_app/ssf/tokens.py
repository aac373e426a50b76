"""Security Event Tokens (RFC 8417 as profiled by SSF 1.0 and CAEP 1.0): claims and signing.

Pure apart from reading settings: callers pass the key and the stream's values. SETs carry
``typ: secevent+jwt`` and a ``kid`` in the header, are signed RS256, have ``sub_id`` (never
``sub``) and no ``exp``, and hold exactly one event.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
SESSION_REVOKED = CAEP + "session-revoked"
VERIFICATION = SSF + "verification"
STREAM_UPDATED = SSF + "stream-updated"
# Event types receivers may request; what govern emits today.
EVENTS_SUPPORTED = [SESSION_REVOKED]
KEY_BITS = 2048  # the CAEP interoperability profile's minimum for RS256
SET_MEDIA_TYPE = "application/secevent+jwt"

_GOOGLE_ISSUER = "https://accounts.google.com"


def issuer() -> str:
    """The transmitter's issuer: GOVERN_BASE_URL without a trailing slash."""
    return settings.GOVERN_BASE_URL.rstrip("/")


@dataclass(frozen=True)
class KeyPair:
    """A freshly generated signing key: the PEM to store encrypted and the public JWK."""

    kid: str
    private_pem: str
    public_jwk: dict


def _b64uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def generate_key(now: datetime) -> KeyPair:
    """A new RSA key with a kid naming its creation time (unique by the random suffix)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    kid = f"ssf-{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    numbers = key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": "RS256",
        "n": _b64uint(numbers.n),
        "e": _b64uint(numbers.e),
    }
    return KeyPair(kid=kid, private_pem=pem, public_jwk=jwk)


def sign(claims: dict, *, private_pem: str, kid: str) -> str:
    """The compact JWS of ``claims``, RS256, explicitly typed secevent+jwt."""
    return jwt.encode(
        claims, private_pem, algorithm="RS256", headers={"typ": "secevent+jwt", "kid": kid}
    )


def new_jti() -> str:
    return uuid.uuid4().hex


def _idp_issuer(source) -> str:
    """The IdP's OIDC issuer for a source, when govern knows it ('' otherwise)."""
    if source is None:
        return ""
    if source.kind == "okta":
        return str(source.settings.get("base_url", "")).rstrip("/")
    if source.kind == "entra" and source.settings.get("tenant_id"):
        return f"https://login.microsoftonline.com/{source.settings['tenant_id']}/v2.0"
    if source.kind == "google":
        return _GOOGLE_ISSUER
    return ""


def user_subject(identity, source=None) -> dict:
    """RFC 9493 identifier of an identity: email if its login is one, else iss_sub, else opaque.

    Receivers key their users by email far more often than by IdP subject, so email wins when
    the login is an address; service accounts and keys usually have the IdP's id instead.
    """
    login = identity.login or ""
    if "@" in login and not login.startswith("@"):
        return {"format": "email", "email": login}
    provider_id = ""
    if source is not None:
        provider_id = str((identity.provider_ids or {}).get(str(source.pk), ""))
    idp = _idp_issuer(source)
    if idp and provider_id:
        return {"format": "iss_sub", "iss": idp, "sub": provider_id}
    return {"format": "opaque", "id": login or f"identity-{identity.pk}"}


def session_revoked_subject(identity, session=None, source=None) -> dict:
    """A complex subject: the user, and the session when one session was revoked.

    Without a session member, CAEP applies the event to every session of the user, which is
    what revoking all sessions of an identity means. ``source`` (the session's, by default)
    names the IdP for an iss_sub user identifier.
    """
    if source is None and session is not None:
        source = session.source
    subject = {"format": "complex", "user": user_subject(identity, source)}
    if session is not None:
        subject["session"] = {"format": "opaque", "id": session.session_key}
    return subject


def session_revoked_claims(
    *,
    aud: str,
    subject: dict,
    revoked_at: datetime,
    reason_admin: str,
    txn: str,
    jti: str,
    now: datetime,
) -> dict:
    """The payload of a CAEP session-revoked SET (reason_admin must not be empty)."""
    if not reason_admin.strip():
        raise ValueError("reason_admin must not be empty (CAEP interoperability profile).")
    return {
        "iss": issuer(),
        "iat": int(now.timestamp()),
        "jti": jti,
        "aud": aud,
        "txn": txn,
        "sub_id": subject,
        "events": {
            SESSION_REVOKED: {
                "event_timestamp": int(revoked_at.timestamp()),
                "initiating_entity": "admin",
                "reason_admin": {"en": reason_admin[:500]},
                "reason_user": {
                    "en": "Your session was ended for security reasons. Please sign in again."
                },
            }
        },
    }


def control_claims(
    *, aud: str, stream_id: str, event_type: str, body: dict, txn: str, jti: str, now: datetime
) -> dict:
    """The payload of an SSF control event (verification, stream-updated) for one stream."""
    return {
        "iss": issuer(),
        "iat": int(now.timestamp()),
        "jti": jti,
        "aud": aud,
        "txn": txn,
        "sub_id": {"format": "opaque", "id": stream_id},
        "events": {event_type: body},
    }
