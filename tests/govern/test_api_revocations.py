"""The revocations API: request, approve/reject by a second person, get — through HTTP with
real tokens and the revocation services (execution itself is the Celery task's, queued on
commit, and tested with the providers)."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alerts_app.models import Revocation
from sessions_app.models import AuditEvent, Source
from tests.alerts_app.revocation_helpers import alert_on, identity_at, session_of


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def target(db):
    source = Source(name="okta-prod", kind="okta", settings={"base_url": "https://acme.okta.test"})
    source.set_secrets({"api_token": "t"})
    source.save()
    identity = identity_at(source, tier="privileged")
    session = session_of(identity, source)
    return identity, session, alert_on(session)


def request_body(identity_, session_, alert_, **overrides) -> dict:
    return {
        "scope": "session",
        "identity": identity_.pk,
        "session": session_.pk,
        "alert": alert_.pk if alert_ else None,
        "reason": "Replay from a new ASN",
        **overrides,
    }


def test_analyst_requests_and_a_manager_approves(
    analyst, manager, target, django_capture_on_commit_callbacks
):
    body = request_body(*target)
    created = api(analyst).post("/api/v1/revocations/", body, format="json")
    assert created.status_code == 201, created.content
    revocation = created.json()
    assert revocation["status"] == "pending_approval"  # privileged identity
    assert revocation["requested_by_label"] == "ana"
    assert revocation["targets"][0]["provider"] == "okta"

    assert api(analyst).get(f"/api/v1/revocations/{revocation['id']}/").json() == revocation

    with django_capture_on_commit_callbacks() as callbacks:
        approved = api(manager).post(
            f"/api/v1/revocations/{revocation['id']}/approve/", {"note": "ok"}, format="json"
        )
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved" and approved.json()["approved_by"] == "max"
    assert len(callbacks) == 1  # execution queued on commit
    again = api(manager).post(f"/api/v1/revocations/{revocation['id']}/approve/", {}, format="json")
    assert again.status_code == 409 and "not pending" in again.json()["error"]["message"]
    assert AuditEvent.objects.filter(verb="revocation.approve").count() == 1


def test_the_same_idempotency_key_returns_the_same_revocation(analyst, target):
    body = request_body(*target, idempotency_key="a" * 32)
    first = api(analyst).post("/api/v1/revocations/", body, format="json").json()
    second = api(analyst).post("/api/v1/revocations/", body, format="json").json()
    assert first["id"] == second["id"] and Revocation.objects.count() == 1


def test_requester_cannot_approve_their_own(admin_user, target):
    client = api(admin_user)
    created = client.post("/api/v1/revocations/", request_body(*target), format="json").json()
    response = client.post(f"/api/v1/revocations/{created['id']}/approve/", {}, format="json")
    assert response.status_code == 403
    assert "own" in response.json()["error"]["message"]
    assert Revocation.objects.get().status == "pending_approval"


def test_rejection_needs_a_reason(analyst, manager, target):
    created = api(analyst).post("/api/v1/revocations/", request_body(*target), format="json")
    url = f"/api/v1/revocations/{created.json()['id']}/reject/"
    missing = api(manager).post(url, {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["details"]
    rejected = api(manager).post(url, {"reason": "Expected travel"}, format="json")
    assert rejected.json()["status"] == "rejected"


@pytest.mark.parametrize(
    ("role", "request_status", "approve_status"),
    [("analyst", 201, 403), ("manager", 403, None), ("admin_user", 201, None)],
)
def test_permissions_match_the_pages(request, target, role, request_status, approve_status):
    user = request.getfixturevalue(role)
    response = api(user).post("/api/v1/revocations/", request_body(*target), format="json")
    assert response.status_code == request_status, response.content
    if approve_status is not None:
        revocation_id = response.json()["id"]
        approve = api(user).post(f"/api/v1/revocations/{revocation_id}/approve/", {}, format="json")
        assert approve.status_code == approve_status


def test_inconsistent_or_incomplete_requests_are_400(analyst, target):
    identity, session, alert = target
    client = api(analyst)
    no_reason = client.post(
        "/api/v1/revocations/", request_body(identity, session, alert, reason=""), format="json"
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["error"]["details"]
    no_session = client.post(
        "/api/v1/revocations/", request_body(identity, session, alert, session=None), format="json"
    )
    assert no_session.status_code == 400
    assert (
        no_session.json()["error"]["message"] == "session: Choose the session or token to revoke."
    )
    other = identity_at(session.source, provider_id="00uOTHER", login="bob")
    wrong_owner = client.post(
        "/api/v1/revocations/", request_body(other, session, None), format="json"
    )
    assert wrong_owner.status_code == 400
    # no source can be called for an identity with no link: the service's message comes back
    unlinked = identity_at(Source.objects.create(name="file", kind="file"), login="carol")
    nothing = client.post(
        "/api/v1/revocations/",
        {"scope": "identity_all", "identity": unlinked.pk, "reason": "test"},
        format="json",
    )
    assert nothing.status_code == 400 and nothing.json()["error"]["code"] == "invalid"
    assert not Revocation.objects.exists()
