"""A fake Google OAuth token endpoint and Admin SDK Reports ``activities.list``.

The token endpoint accepts the jwt-bearer grant only for registered service accounts whose
client has domain-wide delegation for the requested scope and a ``sub`` that is a known admin,
verifying the RS256 signature. ``/admin/reports/v1/activity/users/all/applications/{app}``
filters on ``startTime``, returns newest first, pages with an opaque ``nextPageToken`` bound to
the query's ``startTime``, and omits ``items`` when nothing matched, as Google does.
``POST /admin/directory/v1/users/{userKey}/signOut`` (users.signOut) answers 204 with the
``admin.directory.user.security`` scope, 403 insufficientPermissions without it, 404 for an
unknown user.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import jwt
import pytest

from .server import FakeServer, Received, Reply, bearer, decode_token, encode_token, rsa_keypair

TOKEN_PATH = "/token"
REPORTS_RE = re.compile(r"^/admin/reports/v1/activity/users/all/applications/(?P<app>\w+)$")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIT_SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"
SECURITY_SCOPE = "https://www.googleapis.com/auth/admin.directory.user.security"
SIGNOUT_RE = re.compile(r"^/admin/directory/v1/users/(?P<user>[^/]+)/signOut$")
APPLICATIONS = {"login", "token", "admin", "drive", "saml"}


def google_error(code: int, message: str, status: str, reason: str = "") -> dict:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["errors"] = [{"message": message, "domain": "global", "reason": reason}]
    return {"error": error}


def activity(
    when: datetime, name: str = "login_success", application: str = "login", **overrides: Any
) -> dict:
    """A minimal Reports API ``Activity`` resource."""
    record = {
        "kind": "admin#reports#activity",
        "id": {
            "time": when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "uniqueQualifier": str(uuid.uuid4().int % 10**19),
            "applicationName": application,
            "customerId": "C01abc",
        },
        "actor": {"email": "ana@example.com", "profileId": "1001"},
        "ipAddress": "198.51.100.7",
        "events": [
            {
                "type": "login",
                "name": name,
                "parameters": [{"name": "login_type", "value": "google_password"}],
            }
        ],
    }
    record.update(overrides)
    return record


class FakeGoogle(FakeServer):
    """Fake oauth2.googleapis.com + admin.googleapis.com on one local port."""

    def __init__(self) -> None:
        super().__init__()
        self.activities: dict[str, list[dict]] = {"login": [], "token": []}
        self.accounts: dict[str, dict] = {}  # client_email -> {"public_key", "scopes"}
        self.admins: set[str] = {"admin@example.com"}
        self.access_tokens: dict[str, dict] = {}
        self.token_lifetime = 3599
        self.users: set[str] = {"ana@example.com", "1001"}  # primary emails or immutable ids
        self.signed_out: list[str] = []

    @property
    def token_uri(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def service_account(
        self,
        client_email: str = "govern@proj.iam.gserviceaccount.com",
        *,
        delegated: tuple[str, ...] = (AUDIT_SCOPE,),
        key_name: str = "google",
    ) -> str:
        """Register a service account and return its JSON key file (pointing at this fake)."""
        private, public = rsa_keypair(key_name)
        key_id = uuid.uuid4().hex
        self.accounts[client_email] = {
            "public_key": public,
            "scopes": set(delegated),
            "key_id": key_id,
        }
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "proj",
                "private_key_id": key_id,
                "private_key": private,
                "client_email": client_email,
                "client_id": "1234567890",
                "token_uri": self.token_uri,
            }
        )

    def expire_tokens(self) -> None:
        for info in self.access_tokens.values():
            info["expires_at"] = 0

    def token_requests(self) -> list[Received]:
        return self.requests_to(TOKEN_PATH)

    def signout_requests(self) -> list[Received]:
        return [r for r in self.requests if SIGNOUT_RE.match(r.path)]

    def report_requests(self) -> list[Received]:
        return [r for r in self.requests if REPORTS_RE.match(r.path)]

    def handle(self, request: Received) -> Reply:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        match = REPORTS_RE.match(request.path)
        if match and request.method == "GET":
            return self._activities(request, match["app"])
        match = SIGNOUT_RE.match(request.path)
        if match and request.method == "POST":
            return self._sign_out(request, unquote(match["user"]))
        return Reply(404, google_error(404, "Not Found", "NOT_FOUND"))

    def _token(self, request: Received) -> Reply:
        form = request.form
        if form.get("grant_type") != JWT_BEARER:
            return Reply(
                400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
            )
        assertion = form.get("assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return Reply(400, {"error": "invalid_grant", "error_description": "Bad JWT."})
        account = self.accounts.get(unverified.get("iss", ""))
        if account is None:
            return Reply(
                400,
                {"error": "invalid_grant", "error_description": "Invalid grant: account not found"},
            )
        try:
            claims = jwt.decode(
                assertion,
                account["public_key"],
                algorithms=["RS256"],
                audience=self.token_uri,
                options={"require": ["iss", "scope", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError:
            return Reply(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        if claims["exp"] - claims["iat"] > 3600:
            return Reply(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "Invalid JWT: Token must be a short-lived token "
                    "(60 minutes)",
                },
            )
        if not set(claims["scope"].split()) <= account["scopes"]:
            return Reply(
                401,
                {
                    "error": "unauthorized_client",
                    "error_description": "Client is unauthorized to retrieve access tokens "
                    "using this method, or client not authorized for any of the scopes "
                    "requested.",
                },
            )
        if claims.get("sub") not in self.admins:
            return Reply(
                400, {"error": "invalid_grant", "error_description": "Invalid email or User ID"}
            )
        token = "ya29." + secrets.token_urlsafe(24)
        self.access_tokens[token] = {
            "expires_at": time.time() + self.token_lifetime,
            "scope": claims["scope"],
        }
        return Reply(
            200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _sign_out(self, request: Received, user: str) -> Reply:
        """users.signOut: 204 with an empty body; 403 without the security scope; 404 unknown."""
        info = self.access_tokens.get(bearer(request))
        if info is None or info["expires_at"] < time.time():
            return Reply(
                401,
                google_error(
                    401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"
                ),
            )
        if SECURITY_SCOPE not in info.get("scope", "").split():
            return Reply(
                403,
                google_error(
                    403,
                    "Request had insufficient authentication scopes.",
                    "PERMISSION_DENIED",
                    "insufficientPermissions",
                ),
            )
        if user not in self.users:
            return Reply(
                404, google_error(404, "Resource Not Found: userKey", "NOT_FOUND", "notFound")
            )
        self.signed_out.append(user)
        return Reply(204, b"")

    def _activities(self, request: Received, app: str) -> Reply:
        info = self.access_tokens.get(bearer(request))
        if info is None or info["expires_at"] < time.time():
            return Reply(
                401,
                google_error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.",
                    "UNAUTHENTICATED",
                ),
            )
        if app not in APPLICATIONS:
            return Reply(
                400,
                google_error(
                    400, "Invalid value for applicationName", "INVALID_ARGUMENT", "invalid"
                ),
            )
        query = request.query
        start = query.get("startTime", "")
        try:
            start_at = datetime.fromisoformat(start) if start else None
        except ValueError:
            return Reply(
                400, google_error(400, "Invalid value for startTime", "INVALID_ARGUMENT", "invalid")
            )
        offset = 0
        if "pageToken" in query:
            state = decode_token(query["pageToken"])
            if state is None or state.get("startTime") != start or state.get("app") != app:
                return Reply(
                    400, google_error(400, "Invalid page token", "INVALID_ARGUMENT", "invalid")
                )
            offset = int(state["offset"])
        try:
            size = int(query.get("maxResults", "1000"))
        except ValueError:
            size = 0
        if not 1 <= size <= 1000:
            return Reply(
                400,
                google_error(400, "Invalid value for maxResults", "INVALID_ARGUMENT", "invalid"),
            )
        matching = [
            a
            for a in self.activities.get(app, [])
            if start_at is None or datetime.fromisoformat(a["id"]["time"]) >= start_at
        ]
        matching.sort(key=lambda a: a["id"]["time"], reverse=True)
        page = matching[offset : offset + size]
        body: dict[str, Any] = {"kind": "admin#reports#activities", "etag": f'"{uuid.uuid4().hex}"'}
        if page:
            body["items"] = page
        if offset + size < len(matching):
            body["nextPageToken"] = encode_token(
                {"offset": offset + size, "startTime": start, "app": app}
            )
        return Reply(200, body)


@pytest.fixture
def fake_google():
    with FakeGoogle() as fake:
        yield fake
