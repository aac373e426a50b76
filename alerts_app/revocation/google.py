"""Google Directory: ``POST /admin/directory/v1/users/{userKey}/signOut`` (users.signOut).

"Signs a user out of all web and device sessions and reset their sign-in cookies"; the user
must sign in again. OAuth grants to third-party apps (tokens.delete) are untouched, and there
is no per-session call (governance.md §5.3). Auth reuses the Reports connector's service
account and domain-wide delegation, asking for ``admin.directory.user.security``. Google
also reports quota exhaustion as 403 ``rateLimitExceeded``, which is retried like a 429.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import jwt

from sessions_app.connectors.base import TOKEN_CACHE, ConnectorError, secret_digest
from sessions_app.connectors.google import GoogleConnector

from .base import (
    CallResult,
    Plan,
    RevocationProvider,
    result_from_error,
    result_from_response,
    retry_after_of,
)

SECURITY_SCOPE = "https://www.googleapis.com/auth/admin.directory.user.security"
GRACE_SECONDS = 5 * 60


class _GoogleClient(GoogleConnector):
    def _token_key(self) -> str:
        return TOKEN_CACHE.key(
            "google",
            self.token_uri,
            self.client_email,
            self.admin_email,
            SECURITY_SCOPE,
            secret_digest(self.private_key),
        )

    def _assertion(self) -> str:
        issued = self.now()
        claims = {
            "iss": self.client_email,
            "sub": self.admin_email,
            "scope": SECURITY_SCOPE,
            "aud": self.token_uri,
            "iat": int(issued.timestamp()),
            "exp": int((issued + timedelta(hours=1)).timestamp()),
        }
        headers = {"kid": self.key_id} if self.key_id else None
        try:
            return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)
        except (ValueError, TypeError, jwt.PyJWTError):
            raise self._config_error("the service account private key could not sign.") from None


class GoogleProvider(RevocationProvider):
    name = "google"

    def __init__(self, *, settings: dict, secrets: dict, **kwargs) -> None:
        self.client = _GoogleClient(settings=settings, secrets=secrets, **kwargs)

    def plan(self, *, scope: str, provider_user_id: str, session_key: str, token_kind: str) -> Plan:
        return Plan(
            action="google.sign_out",
            method="POST",
            path=f"/admin/directory/v1/users/{quote(provider_user_id, safe='')}/signOut",
            provider_user_id=provider_user_id,
            revokes=(
                "all of the user's Google web and device sessions (not just this one)",
                "the user's sign-in cookies",
            ),
            survives=(
                "OAuth tokens granted to third-party applications (revoke per app with "
                "tokens.delete)",
                "app-specific passwords",
            ),
            grace_seconds=GRACE_SECONDS,
        )

    def call(self, plan: Plan, *, idempotency_key: str) -> CallResult:
        client = self.client
        url = f"{client.api_base}{plan.path}"
        try:
            token, cached = client._access_token()
            response = client._send(plan.method, url, headers=client._headers(token))
            if response.status_code == 401 and cached:
                token, _ = client._access_token(fresh=True)
                response = client._send(plan.method, url, headers=client._headers(token))
        except ConnectorError as exc:
            return result_from_error(exc, method=plan.method, url=url)
        result = result_from_response(response, retry_after=retry_after_of(response, client.now()))
        if response.status_code == 403 and client._rate_reason(response):
            result.outcome = "retryable"
        return result
