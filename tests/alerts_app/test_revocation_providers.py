"""Every provider path against local servers that speak the vendors' APIs, failures included."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from alerts_app.models import AttemptOutcome, RevocationStatus
from alerts_app.revocation import services
from sessions_app.connectors.base import TOKEN_CACHE
from sessions_app.models import Source
from tests.fakes.google import AUDIT_SCOPE, fake_google  # noqa: F401 - fixture
from tests.fakes.graph import fake_graph  # noqa: F401 - fixture
from tests.fakes.okta import fake_okta  # noqa: F401 - fixture
from tests.fakes.server import FakeServer, Received, Reply, rsa_keypair

from .revocation_helpers import (
    OKTA_USER,
    entra_source,
    google_source,
    identity_at,
    run_to_end,
    session_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()


def _revoke(identity, analyst, *, scope="identity_all", session=None):
    revocation = services.revocation_request(
        scope=scope, identity=identity, session=session, reason="replay", actor=analyst
    )
    run_to_end(revocation)
    return revocation


# --- Okta with OAuth (service app, private_key_jwt) -------------------------------------------


def test_okta_oauth_asks_for_the_management_scopes(fake_okta, analyst):  # noqa: F811
    _, public = rsa_keypair("okta")
    fake_okta.register_client(
        "0oa-govern", public, scopes=("okta.users.manage", "okta.sessions.manage")
    )
    private, _ = rsa_keypair("okta")
    source = Source(
        name="okta-oauth",
        kind="okta",
        settings={"base_url": fake_okta.url, "auth_method": "oauth", "client_id": "0oa-govern"},
    )
    source.set_secrets({"private_key": private})
    source.save()
    identity = identity_at(source)
    revocation = _revoke(identity, analyst)
    assert revocation.status == RevocationStatus.SUCCEEDED
    assert fake_okta.token_requests()[0].form["scope"] == "okta.users.manage"
    assert fake_okta.revocation_requests()[0].header("Authorization").startswith("Bearer ")


def test_okta_missing_scope_is_a_permanent_failure(fake_okta, analyst):  # noqa: F811
    _, public = rsa_keypair("okta")
    fake_okta.register_client("0oa-govern", public, scopes=("okta.logs.read",))
    private, _ = rsa_keypair("okta")
    source = Source(
        name="okta-oauth",
        kind="okta",
        settings={"base_url": fake_okta.url, "auth_method": "oauth", "client_id": "0oa-govern"},
    )
    source.set_secrets({"private_key": private})
    source.save()
    revocation = _revoke(identity_at(source), analyst)
    assert revocation.status == RevocationStatus.FAILED
    [attempt] = revocation.attempts.all()
    assert attempt.outcome == AttemptOutcome.FAILED
    assert "refused" in attempt.error and fake_okta.revocation_requests() == []


def test_okta_403_is_not_retried(fake_okta, analyst):  # noqa: F811
    from .revocation_helpers import okta_source

    source = okta_source(fake_okta)
    fake_okta.fail_next(
        403,
        body={"errorCode": "E0000006", "errorSummary": "You do not have permission"},
        path="/api/v1/users/",
    )
    revocation = _revoke(identity_at(source), analyst)
    assert revocation.status == RevocationStatus.FAILED
    assert [a.status_code for a in revocation.attempts.all()] == [403]


# --- Microsoft Graph --------------------------------------------------------------------------


def test_graph_revoke_sign_in_sessions(fake_graph, analyst):  # noqa: F811
    source = entra_source(fake_graph)
    identity = identity_at(source, provider_id="u-1")
    session = session_of(identity, source, key="sid-1")
    revocation = _revoke(identity, analyst, scope="session", session=session)
    assert revocation.status == RevocationStatus.SUCCEEDED
    [call] = fake_graph.revocation_requests()
    assert (call.method, call.path) == ("POST", "/v1.0/users/u-1/revokeSignInSessions")
    assert fake_graph.revoked == ["u-1"]
    attempt = revocation.attempts.get()
    assert attempt.status_code == 200 and '"value": true' in attempt.response_body
    # Graph has no per-session call: the preview said so and every session is affected.
    target = revocation.preview["targets"][0]
    assert any("not just this one" in r for r in target["revokes"])
    assert any("access tokens already issued" in s for s in target["survives"])
    assert revocation.targets.get().grace_seconds == 15 * 60


def test_graph_429_with_retry_after_then_success(fake_graph, analyst):  # noqa: F811
    source = entra_source(fake_graph)
    fake_graph.fail_next(
        429,
        {"Retry-After": "7"},
        {"error": {"code": "TooManyRequests", "message": "Too many requests"}},
        path="/v1.0/users/",
    )
    revocation = _revoke(identity_at(source, provider_id="u-1"), analyst)
    attempts = list(revocation.attempts.order_by("number"))
    assert [a.status_code for a in attempts] == [429, 200]
    assert attempts[0].retry_in_seconds >= 7
    assert revocation.status == RevocationStatus.SUCCEEDED


def test_graph_without_the_permission_gets_403_and_fails(fake_graph, analyst):  # noqa: F811
    source = entra_source(fake_graph)
    fake_graph.clients["app-1"]["roles"] = {"AuditLog.Read.All"}
    revocation = _revoke(identity_at(source, provider_id="u-1"), analyst)
    assert revocation.status == RevocationStatus.FAILED
    attempt = revocation.attempts.get()
    assert attempt.status_code == 403 and "Authorization_RequestDenied" in attempt.response_body


def test_graph_unknown_user_is_404_and_fails(fake_graph, analyst):  # noqa: F811
    source = entra_source(fake_graph)
    revocation = _revoke(identity_at(source, provider_id="u-404"), analyst)
    assert revocation.status == RevocationStatus.FAILED
    assert revocation.attempts.get().status_code == 404


# --- Google Directory -------------------------------------------------------------------------


def test_google_users_sign_out(fake_google, analyst):  # noqa: F811
    source = google_source(fake_google)
    identity = identity_at(source, provider_id="ana@example.com")
    revocation = _revoke(identity, analyst)
    assert revocation.status == RevocationStatus.SUCCEEDED
    [call] = fake_google.signout_requests()
    assert call.path == "/admin/directory/v1/users/ana%40example.com/signOut"
    assert fake_google.signed_out == ["ana@example.com"]
    assert revocation.attempts.get().status_code == 204


def test_google_without_delegated_security_scope_fails(fake_google, analyst):  # noqa: F811
    source = google_source(fake_google, delegated=(AUDIT_SCOPE,))
    revocation = _revoke(identity_at(source, provider_id="ana@example.com"), analyst)
    assert revocation.status == RevocationStatus.FAILED
    assert "Domain-wide delegation" in revocation.attempts.get().error


def test_google_rate_limit_403_is_retried(fake_google, analyst):  # noqa: F811
    source = google_source(fake_google)
    fake_google.fail_next(
        403,
        body={
            "error": {
                "code": 403,
                "message": "Quota exceeded",
                "errors": [{"reason": "rateLimitExceeded", "message": "Quota exceeded"}],
            }
        },
        path="/admin/directory/",
    )
    revocation = _revoke(identity_at(source, provider_id="ana@example.com"), analyst)
    assert [a.outcome for a in revocation.attempts.order_by("number")] == [
        AttemptOutcome.RETRYABLE,
        AttemptOutcome.SUCCESS,
    ]


# --- generic signed webhook -------------------------------------------------------------------


class FakeReceiver(FakeServer):
    """A system that accepts govern's signed revocation webhook."""

    secret = "hook-secret"

    def __init__(self) -> None:
        super().__init__()
        self.done: set[str] = set()

    def handle(self, request: Received) -> Reply:
        header = request.header("X-Govern-Signature")
        parts = dict(p.split("=", 1) for p in header.split(","))
        expected = hmac.new(
            self.secret.encode(), f"{parts['t']}.".encode() + request.body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            return Reply(401, {"error": "bad signature"})
        self.done.add(request.header("Idempotency-Key"))
        return Reply(202, {"ok": True})


@pytest.fixture
def receiver():
    with FakeReceiver() as fake:
        yield fake


def _webhook_source(receiver, secret="hook-secret") -> Source:
    source = Source(name="hr-app", kind="webhook", settings={"revocation_url": receiver.url})
    source.set_secrets({"revocation_secret": secret})
    source.save()
    return source


def test_webhook_is_signed_and_carries_the_idempotency_key(receiver, analyst):
    source = _webhook_source(receiver)
    identity = identity_at(source, provider_id="emp-7")
    session = session_of(identity, source, key="tok-1", token_kind="api_token")
    revocation = _revoke(identity, analyst, scope="credential", session=session)
    assert revocation.status == RevocationStatus.SUCCEEDED
    [request] = receiver.requests
    body = json.loads(request.body)
    assert body == {
        "action": "revoke_credential",
        "idempotency_key": request.header("Idempotency-Key"),
        "session_id": "tok-1",
        "user_id": "emp-7",
    }
    assert request.header("Idempotency-Key").startswith(revocation.idempotency_key)


def test_webhook_with_a_wrong_secret_fails(receiver, analyst):
    source = _webhook_source(receiver, secret="other")
    revocation = _revoke(identity_at(source, provider_id="emp-7"), analyst)
    assert revocation.status == RevocationStatus.FAILED
    assert revocation.attempts.get().status_code == 401


def test_source_without_a_revocation_webhook_cannot_be_revoked(analyst):
    source = Source.objects.create(name="csv", kind="file")
    identity = identity_at(source, provider_id="x")
    preview = services.revocation_preview(scope="identity_all", identity=identity)
    assert not preview.revocable
    assert "revocation_url" in preview.errors[0]


def test_identity_at_two_providers_partially_succeeds(fake_okta, fake_graph, analyst):  # noqa: F811
    from .revocation_helpers import okta_source

    okta = okta_source(fake_okta)
    entra = entra_source(fake_graph)
    identity = identity_at(okta)
    from sessions_app.models import IdentityLink

    IdentityLink.objects.create(source=entra, provider_id="u-404", identity=identity)
    okta_session = session_of(identity, okta, key="102abcSESSION")
    revocation = _revoke(identity, analyst)
    assert revocation.provider == "entra,okta"
    assert revocation.status == RevocationStatus.PARTIALLY_SUCCEEDED
    okta_session.refresh_from_db()
    assert okta_session.status == "revoked"
    assert fake_okta.revoked == [{"user": OKTA_USER, "oauthTokens": True}]
