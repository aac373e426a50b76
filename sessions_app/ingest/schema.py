"""The one normalised event shape every parser returns (aligned with OCSF Authentication).

Parsers are pure functions ``parse(raw: dict) -> NormalizedEvent`` that raise
``QuarantineError`` with a human-readable reason when the event lacks what it cannot do
without (its id, its time, who acted). Detectors read the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class QuarantineError(ValueError):
    """The raw event cannot be normalised; ``reason`` says why (shown to admins)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class NormalizedEvent:
    # identity of the event
    provider: str  # okta | entra | google | generic
    provider_event_id: str
    occurred_at: datetime  # timezone-aware, UTC
    provider_event_type: str  # e.g. "user.session.start", "signIn", "login_success"
    event_type: str  # sessions_app.choices.EventType value
    outcome: str  # sessions_app.choices.Outcome value
    # actor (OCSF actor.user)
    actor_id: str  # provider's stable id for the identity
    actor_login: str = ""
    actor_display_name: str = ""
    actor_kind: str = "human"  # sessions_app.choices.IdentityKind value (inferred)
    # session (OCSF actor.session)
    session_key: str = ""  # the key govern tracks the session by ('' when none)
    session_keys: dict[str, str] = field(default_factory=dict)  # every session id the provider gave
    # sessions_app.choices.TokenKind value (a kind of token, not a secret)
    token_kind: str = "browser_session"  # noqa: S105
    # src_endpoint
    ip: str | None = None
    asn: int | None = None
    as_org: str = ""
    country: str = ""  # ISO 3166-1 alpha-2 when known
    city: str = ""
    lat: float | None = None
    lon: float | None = None
    anonymizer: bool = False  # Tor, anonymising proxy/VPN or relay as flagged by the IdP
    # device, http user agent
    user_agent: str = ""
    device_id: str = ""  # Okta dtHash / Entra deviceId / Google device id
    client_app: str = ""  # app / client the event was for ("Okta Admin Console", appDisplayName)
    interactive: bool | None = None
    # authentication
    auth_methods: tuple[str, ...] = ()
    mfa: bool | None = None
    status_detail: str = ""  # why it failed or was challenged: Okta reason, Entra error code…
    high_value_action: str = ""  # sessions_app.choices.HighValueAction value, '' if none
    # vendor risk verdicts, kept as given: {"level": ..., "reasons": [...], "state": ...}
    risk: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)  # what the action was done to
    raw: dict[str, Any] = field(default_factory=dict)
