"""Microsoft Graph: ``POST /v1.0/users/{id}/revokeSignInSessions``.

Resets ``signInSessionsValidFromDateTime``: every refresh token issued to apps for the user
and the browser session cookies stop working, after "a small delay of a few minutes".
Already-issued access tokens are **not** revoked and live until they expire (1 hour by
default, up to 28 h for CAE-capable clients, which CAE-enabled resources reject within about
15 minutes). There is no per-session call, so "this session" revokes them all
(governance.md §5.2). Needs ``User.RevokeSessions.All`` on the same app registration the
sign-in connector uses; the token is the connector's client-credentials token (``.default``).
"""

from __future__ import annotations

from urllib.parse import quote

from sessions_app.choices import TokenKind
from sessions_app.connectors.base import ConnectorError
from sessions_app.connectors.entra import EntraConnector

from .base import (
    CallResult,
    Plan,
    RevocationProvider,
    result_from_error,
    result_from_response,
    retry_after_of,
)

# Microsoft: "a small delay of a few minutes"; CAE: "latency of up to 15 minutes".
GRACE_SECONDS = 15 * 60
# Access tokens are not revoked: they stay valid until expiry (1 h default).
ACCESS_TOKEN_GRACE_SECONDS = 60 * 60


class EntraProvider(RevocationProvider):
    name = "entra"

    def __init__(self, *, settings: dict, secrets: dict, **kwargs) -> None:
        self.client = EntraConnector(settings=settings, secrets=secrets, **kwargs)

    def plan(self, *, scope: str, provider_user_id: str, session_key: str, token_kind: str) -> Plan:
        grace = (
            ACCESS_TOKEN_GRACE_SECONDS if token_kind == TokenKind.ACCESS_TOKEN else GRACE_SECONDS
        )
        return Plan(
            action="entra.revoke_sign_in_sessions",
            method="POST",
            path=f"/v1.0/users/{quote(provider_user_id, safe='')}/revokeSignInSessions",
            provider_user_id=provider_user_id,
            revokes=(
                "all refresh tokens issued to applications for the user",
                "the user's browser session cookies (every session, not just this one)",
            ),
            survives=(
                "access tokens already issued: valid until they expire (1 h by default; "
                "CAE-enabled resources reject them within about 15 minutes)",
                "sessions of external (B2B) users in other tenants",
                "application sessions that do not re-check Entra ID",
            ),
            grace_seconds=grace,
        )

    def call(self, plan: Plan, *, idempotency_key: str) -> CallResult:
        client = self.client
        url = f"{client.graph_base}{plan.path}"
        try:
            token, cached = client._access_token()
            response = client._send(plan.method, url, headers=client._headers(token))
            if response.status_code == 401 and cached:
                token, _ = client._access_token(fresh=True)
                response = client._send(plan.method, url, headers=client._headers(token))
        except ConnectorError as exc:
            return result_from_error(exc, method=plan.method, url=url)
        return result_from_response(response, retry_after=retry_after_of(response, client.now()))
