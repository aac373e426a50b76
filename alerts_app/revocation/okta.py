"""Okta: ``DELETE /api/v1/users/{id}/sessions?oauthTokens=true``, ``DELETE /api/v1/sessions/{id}``.

revokeUserSessions ends every Okta IdP session of the user and, with ``oauthTokens=true``, the
OIDC/OAuth refresh and access tokens Okta issued to them; it does not end sessions that
applications created themselves (governance.md §5.1). revokeSession ends one Okta session.
Both are synchronous (204) and naturally repeatable. Auth reuses the System Log connector's
settings and token helpers (SSWS API token, or a service app with private_key_jwt), asking
for ``okta.users.manage`` / ``okta.sessions.manage`` instead of ``okta.logs.read``.
"""

from __future__ import annotations

from urllib.parse import quote

from sessions_app.choices import TokenKind
from sessions_app.connectors.base import TOKEN_CACHE, ConnectorError, secret_digest
from sessions_app.connectors.okta import OktaConnector

from .base import (
    CallResult,
    Plan,
    RevocationProvider,
    result_from_error,
    result_from_response,
    retry_after_of,
)

USERS_SCOPE = "okta.users.manage"
SESSIONS_SCOPE = "okta.sessions.manage"
GRACE_SECONDS = 60  # synchronous; a minute covers clock skew between Okta and our events

USER_SESSIONS_REVOKES = (
    "every Okta sign-in session of the user",
    "OIDC/OAuth refresh and access tokens Okta issued to the user (oauthTokens=true)",
)
USER_SESSIONS_SURVIVES = (
    "sessions that applications created themselves after SSO (unless they use Universal "
    "Logout or Shared Signals)",
    "access tokens issued by other identity providers or by the applications",
)


class _OktaClient(OktaConnector):
    """The System Log connector's auth and HTTP plumbing, with the scope of one call."""

    scope = USERS_SCOPE

    def _token_key(self) -> str:
        return TOKEN_CACHE.key(
            "okta", self.token_url, self.client_id, self.scope, secret_digest(self.private_key)
        )

    def _request_token(self) -> tuple[str, float]:
        response = self._send(
            "POST",
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "scope": self.scope,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self._client_assertion(),
            },
            headers={"Accept": "application/json"},
        )
        return self._token_response(response, what="the OAuth token request")

    def headers(self) -> dict:
        if self.auth_method == "api_token":
            return {"Authorization": f"SSWS {self.api_token}", "Accept": "application/json"}
        token, _ = self._access_token()
        return self._headers(token)


class OktaProvider(RevocationProvider):
    name = "okta"

    def __init__(self, *, settings: dict, secrets: dict, **kwargs) -> None:
        self.settings, self.secrets, self.kwargs = settings, secrets, kwargs
        self._client(USERS_SCOPE)  # validate settings now: a bad config fails the preview

    def _client(self, scope: str) -> _OktaClient:
        client = _OktaClient(settings=self.settings, secrets=self.secrets, **self.kwargs)
        client.scope = scope
        return client

    def plan(self, *, scope: str, provider_user_id: str, session_key: str, token_kind: str) -> Plan:
        user = quote(provider_user_id, safe="")
        if scope == "session" and session_key and token_kind == TokenKind.BROWSER_SESSION:
            return Plan(
                action="okta.revoke_session",
                method="DELETE",
                path=f"/api/v1/sessions/{quote(session_key, safe='')}",
                provider_user_id=provider_user_id,
                provider_session_id=session_key,
                user_wide=False,
                revokes=("this Okta sign-in session",),
                survives=(
                    "the user's other Okta sessions",
                    "OAuth refresh and access tokens already issued from this session (they "
                    "live until they expire)",
                    "sessions that applications created themselves after SSO",
                ),
                grace_seconds=GRACE_SECONDS,
            )
        return Plan(
            action="okta.revoke_user_sessions",
            method="DELETE",
            path=f"/api/v1/users/{user}/sessions?oauthTokens=true",
            provider_user_id=provider_user_id,
            revokes=USER_SESSIONS_REVOKES,
            survives=USER_SESSIONS_SURVIVES,
            grace_seconds=GRACE_SECONDS,
        )

    def call(self, plan: Plan, *, idempotency_key: str) -> CallResult:
        client = self._client(
            SESSIONS_SCOPE if plan.action == "okta.revoke_session" else USERS_SCOPE
        )
        url = f"{client.base_url}{plan.path}"
        try:
            response = client._send(plan.method, url, headers=client.headers())
        except ConnectorError as exc:
            return result_from_error(exc, method=plan.method, url=url)
        return result_from_response(response, retry_after=retry_after_of(response, client.now()))
