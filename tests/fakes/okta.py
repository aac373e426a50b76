"""A fake Okta org: System Log polling (``/api/v1/logs``) and the org OAuth token endpoint.

Behaves like Okta's documented polling model: a ``since`` query starts at the first event
persisted at or after that time, every response carries ``Link: rel="self"`` and
``rel="next"`` (also on empty pages), ``after`` cursors are opaque, and ``X-Rate-Limit-*``
headers count down a per-minute budget that answers 429 (E0000047) when spent.

Session revocation: ``DELETE /api/v1/users/{id}/sessions`` (scope ``okta.users.manage``) and
``DELETE /api/v1/sessions/{id}`` (``okta.sessions.manage``) answer 204, 404 E0000007 for an
unknown user or session, 403 E0000006 for a missing scope and 429 from the same budget.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

import jwt
import pytest

from .server import FakeServer, Received, Reply, bearer, decode_token, encode_token

LOGS_PATH = "/api/v1/logs"
TOKEN_PATH = "/oauth2/v1/token"
USER_SESSIONS_RE = re.compile(r"^/api/v1/users/(?P<user>[^/]+)/sessions$")
SESSION_RE = re.compile(r"^/api/v1/sessions/(?P<session>[^/]+)$")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def okta_error(code: str, summary: str) -> dict:
    return {
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": uuid.uuid4().hex[:20],
        "errorCauses": [],
    }


def okta_event(published: datetime, **overrides: Any) -> dict:
    """A minimal but realistic System Log ``LogEvent``."""
    event = {
        "uuid": str(uuid.uuid4()),
        "published": published.astimezone(UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "eventType": "user.session.start",
        "legacyEventType": "core.user_auth.login_success",
        "displayMessage": "User login to Okta",
        "severity": "INFO",
        "version": "0",
        "outcome": {"result": "SUCCESS", "reason": None},
        "actor": {
            "id": "00u1abcd",
            "type": "User",
            "alternateId": "ana@example.com",
            "displayName": "Ana",
        },
        "client": {
            "ipAddress": "198.51.100.7",
            "userAgent": {"rawUserAgent": "Mozilla/5.0", "browser": "CHROME", "os": "Mac OS X"},
            "device": "Computer",
        },
        "authenticationContext": {"externalSessionId": "102abcSESSION"},
        "target": [],
    }
    event.update(overrides)
    return event


class FakeOkta(FakeServer):
    """Fake Okta org. Script it through the public attributes below."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict] = []  # in persistence order, as Okta serves polling queries
        self.api_tokens: set[str] = {"okta-api-token"}
        self.clients: dict[str, dict] = {}  # client_id -> {"public_key", "scopes"}
        self.access_tokens: dict[str, dict] = {}  # token -> {"client_id", "scope", "expires_at"}
        self.token_lifetime = 3600
        self.rate_limit = 1000
        self.rate_remaining = 1000
        self.rate_reset: int | None = None  # epoch seconds; default: next minute
        self.used_jti: set[str] = set()
        # Session revocation: known users and their Okta sessions, and what was revoked.
        self.users: set[str] = {"00u1abcd"}
        self.sessions: dict[str, str] = {}  # session id -> user id
        self.revoked: list[dict] = []  # {"user"| "session", "oauthTokens"}

    # --- scripting helpers ----------------------------------------------------------------

    def add_events(
        self,
        count: int,
        *,
        start: datetime,
        step: timedelta = timedelta(seconds=1),
        **overrides: Any,
    ) -> list[dict]:
        new = [okta_event(start + i * step, **overrides) for i in range(count)]
        self.events.extend(new)
        return new

    def register_client(
        self, client_id: str, public_key: str, scopes: tuple[str, ...] = ("okta.logs.read",)
    ) -> None:
        self.clients[client_id] = {"public_key": public_key, "scopes": set(scopes)}

    def expire_tokens(self) -> None:
        for info in self.access_tokens.values():
            info["expires_at"] = 0

    def token_requests(self) -> list[Received]:
        return self.requests_to(TOKEN_PATH)

    def log_requests(self) -> list[Received]:
        return self.requests_to(LOGS_PATH)

    def revocation_requests(self) -> list[Received]:
        return [
            r
            for r in self.requests
            if r.method == "DELETE" and (USER_SESSIONS_RE.match(r.path) or SESSION_RE.match(r.path))
        ]

    # --- routing --------------------------------------------------------------------------

    def handle(self, request: Received) -> Reply:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        if request.path == LOGS_PATH and request.method == "GET":
            return self._logs(request)
        match = USER_SESSIONS_RE.match(request.path)
        if match and request.method == "DELETE":
            return self._revoke_user_sessions(request, unquote(match["user"]))
        match = SESSION_RE.match(request.path)
        if match and request.method == "DELETE":
            return self._revoke_session(request, match["session"])
        return Reply(
            404, okta_error("E0000022", "The endpoint does not support the provided HTTP method")
        )

    def _authorize(self, request: Received, scope: str) -> Reply | None:
        auth = request.header("Authorization")
        if auth.startswith("SSWS "):
            if auth[5:] in self.api_tokens:
                return None
            return Reply(401, okta_error("E0000011", "Invalid token provided"))
        token = bearer(request)
        info = self.access_tokens.get(token)
        if info is None or info["expires_at"] < time.time():
            return Reply(
                401,
                okta_error("E0000011", "Invalid token provided"),
                {
                    "WWW-Authenticate": 'Bearer error="invalid_token", '
                    'error_description="The token is not valid."'
                },
            )
        if scope not in info["scope"].split():
            return Reply(
                403,
                okta_error(
                    "E0000006", "You do not have permission to perform the requested action"
                ),
                {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return None

    def _rate_headers(self) -> dict[str, str]:
        reset = self.rate_reset or int(time.time()) // 60 * 60 + 60
        return {
            "X-Rate-Limit-Limit": str(self.rate_limit),
            "X-Rate-Limit-Remaining": str(max(0, self.rate_remaining)),
            "X-Rate-Limit-Reset": str(reset),
        }

    def _logs(self, request: Received) -> Reply:
        denied = self._authorize(request, "okta.logs.read")
        if denied:
            return denied
        if self.rate_remaining <= 0:
            return Reply(
                429,
                okta_error("E0000047", "API call exceeded rate limit due to too many requests."),
                self._rate_headers(),
            )
        self.rate_remaining -= 1
        query = request.query
        if "since" in query and "after" in query:
            return Reply(
                400,
                okta_error(
                    "E0000001", "Api validation failed: since and after are mutually exclusive"
                ),
                self._rate_headers(),
            )
        try:
            limit = int(query.get("limit", "100"))
        except ValueError:
            limit = -1
        if not 0 <= limit <= 1000:
            return Reply(400, okta_error("E0000001", "Api validation failed: limit"))
        if "after" in query:
            cursor = decode_token(query["after"])
            if cursor is None:
                return Reply(400, okta_error("E0000001", "Api validation failed: after"))
            position = int(cursor["pos"])
        else:
            since = query.get("since")
            position = 0
            if since:
                try:
                    when = datetime.fromisoformat(since)
                except ValueError:
                    return Reply(400, okta_error("E0000001", "Api validation failed: since"))
                position = next(
                    (
                        i
                        for i, e in enumerate(self.events)
                        if datetime.fromisoformat(e["published"]) >= when
                    ),
                    len(self.events),
                )
        page = self.events[position : position + limit]
        next_query = urlencode(
            {"limit": limit, "after": encode_token({"pos": position + len(page)})}
        )
        self_query = urlencode(query)
        headers = {
            **self._rate_headers(),
            "Link": f'<{self.url}{LOGS_PATH}?{self_query}>; rel="self", '
            f'<{self.url}{LOGS_PATH}?{next_query}>; rel="next"',
        }
        return Reply(200, page, headers)

    def _spend(self) -> Reply | None:
        if self.rate_remaining <= 0:
            return Reply(
                429,
                okta_error("E0000047", "API call exceeded rate limit due to too many requests."),
                self._rate_headers(),
            )
        self.rate_remaining -= 1
        return None

    def _revoke_user_sessions(self, request: Received, user: str) -> Reply:
        """revokeUserSessions: 204, or 404 E0000007 for an unknown user."""
        denied = self._authorize(request, "okta.users.manage") or self._spend()
        if denied:
            return denied
        if user not in self.users:
            return Reply(
                404, okta_error("E0000007", f"Not found: Resource not found: {user} (User)")
            )
        oauth_tokens = request.query.get("oauthTokens", "false") == "true"
        self.revoked.append({"user": user, "oauthTokens": oauth_tokens})
        for sid in [s for s, u in self.sessions.items() if u == user]:
            del self.sessions[sid]
        return Reply(204, b"", self._rate_headers())

    def _revoke_session(self, request: Received, session: str) -> Reply:
        """revokeSession: 204, or 404 E0000007 when the session does not exist (any more)."""
        denied = self._authorize(request, "okta.sessions.manage") or self._spend()
        if denied:
            return denied
        if session not in self.sessions:
            return Reply(
                404, okta_error("E0000007", f"Not found: Resource not found: {session} (Session)")
            )
        del self.sessions[session]
        self.revoked.append({"session": session})
        return Reply(204, b"", self._rate_headers())

    def _token(self, request: Received) -> Reply:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return Reply(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "The authorization grant type is not "
                    "supported by the authorization server.",
                },
            )
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            return Reply(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed."},
            )
        assertion = form["client_assertion"]
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "The client_assertion is malformed.",
                },
            )
        client = self.clients.get(claims.get("iss", ""))
        if client is None:
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "Invalid value for 'client_id' parameter.",
                },
            )
        try:
            claims = jwt.decode(
                assertion,
                client["public_key"],
                algorithms=["RS256"],
                audience=f"{self.url}{TOKEN_PATH}",
                options={"require": ["exp", "iat", "jti", "iss", "sub", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": f"The client_assertion is invalid: {exc}",
                },
            )
        if claims["sub"] != claims["iss"] or claims["exp"] - claims["iat"] > 3600:
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "The client_assertion claims are invalid.",
                },
            )
        if claims["jti"] in self.used_jti:
            return Reply(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "The client_assertion token has already been used.",
                },
            )
        self.used_jti.add(claims["jti"])
        requested = set(form.get("scope", "").split())
        if not requested or not requested <= client["scopes"]:
            return Reply(
                400,
                {
                    "error": "invalid_scope",
                    "error_description": "The requested scope is invalid, unknown, or malformed.",
                },
            )
        token = secrets.token_urlsafe(24)
        self.access_tokens[token] = {
            "client_id": claims["iss"],
            "scope": " ".join(sorted(requested)),
            "expires_at": time.time() + self.token_lifetime,
        }
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "access_token": token,
                "scope": " ".join(sorted(requested)),
            },
        )


@pytest.fixture
def fake_okta():
    with FakeOkta() as fake:
        yield fake
