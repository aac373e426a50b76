"""A fake Microsoft identity platform token endpoint and Graph ``auditLogs/signIns``.

``/v1.0`` serves interactive sign-ins only and rejects ``signInEventTypes`` filters; ``/beta``
serves interactive sign-ins unless ``signInEventTypes/any(t: t eq '…')`` asks for another
type, as Graph documents. Results come newest first; ``$top`` pages with an opaque
``$skiptoken`` inside ``@odata.nextLink``. ``$filter`` understands the clauses the connector
uses (``createdDateTime ge|le``, ``signInEventTypes/any(...)``, ``riskState eq``) and answers
anything else with 400 like Graph does.

``POST /{v1.0|beta}/users/{id|userPrincipalName}/revokeSignInSessions`` needs
User.RevokeSessions.All (or a broader User/Directory write role): 200 ``{"value": true}``,
403 Authorization_RequestDenied without it, 404 Request_ResourceNotFound for unknown users.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

import jwt
import pytest

from .server import FakeServer, Received, Reply, bearer, decode_token, encode_token

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_RE = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
SIGNINS_RE = re.compile(r"^/(?P<version>v1\.0|beta)/auditLogs/signIns$")
CLAUSE_TIME = re.compile(r"^createdDateTime (?P<op>ge|le) (?P<value>\S+)$")
CLAUSE_TYPE = re.compile(r"^signInEventTypes/any\(t: t eq '(?P<value>\w+)'\)$")
REVOKE_RE = re.compile(r"^/(?P<version>v1\.0|beta)/users/(?P<user>[^/]+)/revokeSignInSessions$")
# Least privileged first, as Graph documents for revokeSignInSessions.
REVOKE_ROLES = {"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
CLAUSE_RISK = re.compile(r"^riskState eq '(?P<value>\w+)'$")


def graph_error(code: str, message: str) -> dict:
    return {
        "error": {"code": code, "message": message, "innerError": {"request-id": str(uuid.uuid4())}}
    }


def aad_error(error: str, description: str) -> dict:
    return {
        "error": error,
        "error_description": description,
        "error_codes": [0],
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }


def signin(created: datetime, event_type: str = "interactiveUser", **overrides: Any) -> dict:
    """A minimal Graph ``signIn`` record."""
    record = {
        "id": str(uuid.uuid4()),
        "createdDateTime": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "userId": "u-1",
        "userPrincipalName": "ana@example.com",
        "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": "198.51.100.7",
        "isInteractive": event_type == "interactiveUser",
        "signInEventTypes": [event_type],
        "sessionId": "sid-1",
        "riskState": "none",
        "riskLevelAggregated": "none",
        "status": {"errorCode": 0},
    }
    record.update(overrides)
    return record


class FakeGraph(FakeServer):
    """Fake login.microsoftonline.com + graph.microsoft.com on one local port."""

    def __init__(self, tenant_id: str = "tenant-1") -> None:
        super().__init__()
        self.tenant_id = tenant_id
        self.signins: list[dict] = []
        self.clients: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self.token_lifetime = 3599
        self.users: set[str] = {"u-1"}  # object ids (userPrincipalName also accepted)
        self.user_principal_names: dict[str, str] = {"ana@example.com": "u-1"}
        self.revoked: list[str] = []  # user ids whose sign-in sessions were revoked

    def register_client(
        self,
        client_id: str,
        *,
        secret: str | None = None,
        public_key: str | None = None,
        thumbprint: str | None = None,
        roles: tuple[str, ...] = ("AuditLog.Read.All",),
    ) -> None:
        self.clients[client_id] = {
            "secret": secret,
            "public_key": public_key,
            "thumbprint": (thumbprint or "").upper(),
            "roles": set(roles),
        }

    def expire_tokens(self) -> None:
        for info in self.access_tokens.values():
            info["expires_at"] = 0

    def token_requests(self) -> list[Received]:
        return [r for r in self.requests if TOKEN_RE.match(r.path)]

    def revocation_requests(self) -> list[Received]:
        return [r for r in self.requests if REVOKE_RE.match(r.path)]

    def signin_requests(self) -> list[Received]:
        return [r for r in self.requests if SIGNINS_RE.match(r.path)]

    def handle(self, request: Received) -> Reply:
        match = TOKEN_RE.match(request.path)
        if match and request.method == "POST":
            return self._token(request, match["tenant"])
        match = SIGNINS_RE.match(request.path)
        if match and request.method == "GET":
            return self._signins(request, match["version"])
        match = REVOKE_RE.match(request.path)
        if match and request.method == "POST":
            return self._revoke(request, match["version"], unquote(match["user"]))
        return Reply(404, graph_error("UnknownError", "Resource not found"))

    # --- token endpoint -------------------------------------------------------------------

    def _token(self, request: Received, tenant: str) -> Reply:
        form = request.form
        if tenant != self.tenant_id:
            return Reply(
                400, aad_error("invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
            )
        if form.get("grant_type") != "client_credentials":
            return Reply(400, aad_error("unsupported_grant_type", "AADSTS70003"))
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            return Reply(
                400,
                aad_error(
                    "unauthorized_client", "AADSTS700016: Application not found in the directory."
                ),
            )
        if "client_secret" in form:
            if not client["secret"] or not secrets.compare_digest(
                form["client_secret"], client["secret"]
            ):
                return Reply(
                    401,
                    aad_error("invalid_client", "AADSTS7000215: Invalid client secret provided."),
                )
        elif form.get("client_assertion_type") == ASSERTION_TYPE:
            problem = self._check_assertion(
                form.get("client_assertion", ""), client, form["client_id"], request
            )
            if problem:
                return Reply(401, aad_error("invalid_client", problem))
        else:
            return Reply(
                401,
                aad_error(
                    "invalid_client",
                    "AADSTS7000218: The request body "
                    "must contain client_assertion or client_secret.",
                ),
            )
        if form.get("scope") != GRAPH_SCOPE:
            return Reply(
                400,
                aad_error(
                    "invalid_scope",
                    "AADSTS1002012: The provided scope "
                    "value is invalid for client credentials grants.",
                ),
            )
        token = secrets.token_urlsafe(24)
        self.access_tokens[token] = {
            "client_id": form["client_id"],
            "expires_at": time.time() + self.token_lifetime,
        }
        return Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token,
            },
        )

    def _check_assertion(
        self, assertion: str, client: dict, client_id: str, request: Received
    ) -> str:
        if not client["public_key"]:
            return "AADSTS700027: No certificate is registered for this application."
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return "AADSTS50027: Invalid JWT token."
        expected = base64.urlsafe_b64encode(bytes.fromhex(client["thumbprint"])).decode()
        if header.get("x5t") != expected:
            return (
                "AADSTS700027: The certificate with identifier used to sign the client "
                "assertion is not registered on application."
            )
        try:
            claims = jwt.decode(
                assertion,
                client["public_key"],
                algorithms=["RS256"],
                audience=f"{self.url}{request.path}",
                options={"require": ["exp", "nbf", "iss", "sub", "aud", "jti"]},
            )
        except jwt.PyJWTError as exc:
            return f"AADSTS700027: Client assertion failed signature validation: {exc}"
        if claims["iss"] != client_id or claims["sub"] != client_id:
            return "AADSTS700023: Client assertion issuer/subject mismatch."
        return ""

    # --- revokeSignInSessions ---------------------------------------------------------------

    def _revoke(self, request: Received, version: str, user: str) -> Reply:
        """revokeSignInSessions: 200 {"value": true}; 403 without the permission; 404 unknown."""
        info = self.access_tokens.get(bearer(request))
        if info is None or info["expires_at"] < time.time():
            return Reply(
                401,
                graph_error("InvalidAuthenticationToken", "Access token validation failure."),
            )
        if not REVOKE_ROLES & self.clients[info["client_id"]]["roles"]:
            return Reply(
                403,
                graph_error(
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                ),
            )
        user_id = self.user_principal_names.get(user, user)
        if user_id not in self.users:
            return Reply(
                404,
                graph_error(
                    "Request_ResourceNotFound",
                    f"Resource '{user}' does not exist or one of its queried reference-property "
                    "objects are not present.",
                ),
            )
        self.revoked.append(user_id)
        return Reply(
            200,
            {"@odata.context": f"{self.url}/{version}/$metadata#Edm.Boolean", "value": True},
        )

    # --- sign-ins -------------------------------------------------------------------------

    def _signins(self, request: Received, version: str) -> Reply:
        info = self.access_tokens.get(bearer(request))
        if info is None:
            return Reply(
                401,
                graph_error(
                    "InvalidAuthenticationToken",
                    "Access token validation failure. Invalid audience.",
                ),
            )
        if info["expires_at"] < time.time():
            return Reply(
                401,
                graph_error(
                    "InvalidAuthenticationToken",
                    "Lifetime validation failed, the token is expired.",
                ),
            )
        if "AuditLog.Read.All" not in self.clients[info["client_id"]]["roles"]:
            return Reply(
                403,
                graph_error(
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                ),
            )
        query = dict(request.query)
        if "$skiptoken" in query:
            state = decode_token(query["$skiptoken"])
            if state is None:
                return Reply(400, graph_error("BadRequest", "Invalid $skiptoken."))
        else:
            state = {"offset": 0}
        predicates = []
        event_type = "interactiveUser"
        for clause in filter(None, (query.get("$filter") or "").split(" and ")):
            clause = clause.strip()
            if m := CLAUSE_TIME.match(clause):
                bound = datetime.fromisoformat(m["value"])
                if m["op"] == "ge":
                    predicates.append(lambda r, b=bound: _created(r) >= b)
                else:
                    predicates.append(lambda r, b=bound: _created(r) <= b)
            elif m := CLAUSE_TYPE.match(clause):
                if version == "v1.0":
                    return Reply(
                        400,
                        graph_error(
                            "BadRequest",
                            "Could not find a property named 'signInEventTypes' on "
                            "type 'microsoft.graph.signIn'.",
                        ),
                    )
                event_type = m["value"]
            elif m := CLAUSE_RISK.match(clause):
                predicates.append(lambda r, v=m["value"]: r.get("riskState") == v)
            else:
                return Reply(400, graph_error("BadRequest", f"Invalid filter clause: {clause}"))
        try:
            top = int(query.get("$top", "1000"))
        except ValueError:
            top = 0
        if not 1 <= top <= 1000:
            return Reply(400, graph_error("BadRequest", "Invalid $top value."))
        matching = [
            r
            for r in self.signins
            if event_type in r.get("signInEventTypes", ["interactiveUser"])
            and all(p(r) for p in predicates)
        ]
        matching.sort(key=_created, reverse=True)
        offset = int(state["offset"])
        page = matching[offset : offset + top]
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/{version}/$metadata#auditLogs/signIns",
            "value": page,
        }
        if offset + top < len(matching):
            next_query = {k: v for k, v in query.items() if k != "$skiptoken"}
            next_query["$skiptoken"] = encode_token({"offset": offset + top})
            body["@odata.nextLink"] = f"{self.url}{request.path}?{urlencode(next_query)}"
        return Reply(200, body)


def _created(record: dict) -> datetime:
    return datetime.fromisoformat(record["createdDateTime"])


@pytest.fixture
def fake_graph():
    with FakeGraph() as fake:
        yield fake
