"""The alerts API through HTTP with real tokens: filters, permissions per role, triage actions
through the triage services, and JSON errors."""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alerts_app.models import Alert, AlertHistory, Comment
from sessions_app.models import AuditEvent, Identity, Owner, Session, Source

_seq = itertools.count(1)


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def make_alert(*, kind="human", severity="high", stage="new", login=None, **kwargs) -> Alert:
    n = next(_seq)
    source = Source.objects.get_or_create(name="okta-api", defaults={"kind": "okta"})[0]
    extra = {"owner": Owner.objects.get_or_create(name="SRE")[0]} if kind != "human" else {}
    identity = Identity.objects.create(
        kind=kind, display_name=f"user{n}", login=login or f"user{n}@example.com", **extra
    )
    now = timezone.now()
    session = Session.objects.create(
        source=source, session_key=f"s{n}", identity=identity, first_seen_at=now, last_seen_at=now
    )
    return Alert.objects.create(
        detector_id="impossible_travel",
        dedup_key=f"impossible_travel|{n}",
        title=f"Travel {n}",
        summary="Signed in from two far-apart places.",
        severity=severity,
        score=70,
        identity=identity,
        session=session,
        source=source,
        first_seen_at=now,
        last_seen_at=now,
        stage=stage,
        **kwargs,
    )


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_list_uses_the_queue_filters_and_default(analyst):
    high = make_alert(severity="high")
    low = make_alert(severity="low", kind="service_account", login="svc-backup")
    closed = make_alert(stage="closed", resolution="benign")
    client = api(analyst)

    assert ids(client.get("/api/v1/alerts/")) == {high.pk, low.pk}  # open by default
    assert ids(client.get("/api/v1/alerts/", {"status": ""})) == {high.pk, low.pk, closed.pk}
    assert ids(client.get("/api/v1/alerts/", {"severity": "low"})) == {low.pk}
    assert ids(client.get("/api/v1/alerts/", {"identity_class": "non_human"})) == {low.pk}
    assert ids(client.get("/api/v1/alerts/", {"q": "svc-back"})) == {low.pk}
    assert ids(client.get("/api/v1/alerts/", {"stage": ["closed"], "status": ""})) == {closed.pk}
    page = client.get("/api/v1/alerts/", {"ordering": "score", "page_size": 1}).json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]


def test_invalid_filter_is_a_json_400_not_everything(analyst):
    make_alert()
    response = api(analyst).get("/api/v1/alerts/", {"severity": "apocalyptic"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["status"] == 400
    assert "severity" in error["details"] and "apocalyptic" in error["message"]


def test_get_shows_evidence_history_and_comments(analyst):
    alert = make_alert()
    body = api(analyst).get(f"/api/v1/alerts/{alert.pk}/").json()
    assert body["id"] == alert.pk and body["identity"]["login"] == alert.identity.login
    assert body["history"] == [] and body["comments"] == [] and "evidence" in body
    missing = api(analyst).get("/api/v1/alerts/999999/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_assign_transition_and_comment_go_through_the_triage_services(analyst):
    alert = make_alert()
    client = api(analyst)

    assigned = client.post(f"/api/v1/alerts/{alert.pk}/assign/", {"assignee": "ana"}, format="json")
    assert assigned.status_code == 200, assigned.content
    assert assigned.json()["assignee"] == "ana"
    assert assigned.json()["stage"] == "in_progress"  # claiming acknowledges

    moved = client.post(
        f"/api/v1/alerts/{alert.pk}/transition/",
        {"to_stage": "closed", "resolution": "false_positive", "reason": "VPN egress"},
        format="json",
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["stage"] == "closed" and moved.json()["resolution"] == "false_positive"
    assert [h["action"] for h in moved.json()["history"]][-1] == "transition"

    commented = client.post(
        f"/api/v1/alerts/{alert.pk}/comment/", {"text": "Confirmed with the user."}, format="json"
    )
    assert commented.status_code == 201
    assert commented.json()["author"] == "ana"
    assert Comment.objects.get(alert=alert).text == "Confirmed with the user."
    assert AuditEvent.objects.filter(verb="alert.transition", object_id=str(alert.pk)).exists()


def test_workflow_refusals_are_409_with_the_services_message(analyst):
    alert = make_alert()
    client = api(analyst)
    no_reason = client.post(
        f"/api/v1/alerts/{alert.pk}/transition/", {"to_stage": "contained"}, format="json"
    )
    assert no_reason.status_code == 409
    assert no_reason.json()["error"] == {
        "status": 409,
        "code": "conflict",
        "message": "A reason is required.",
    }
    illegal = client.post(
        f"/api/v1/alerts/{alert.pk}/transition/",
        {"to_stage": "closed", "reason": "done"},
        format="json",
    )
    assert illegal.status_code == 409 and "resolution" in illegal.json()["error"]["message"]
    assert Alert.objects.get(pk=alert.pk).stage == "new"  # nothing changed


def test_bad_input_is_400_with_field_details(analyst):
    alert = make_alert()
    client = api(analyst)
    response = client.post(
        f"/api/v1/alerts/{alert.pk}/transition/", {"to_stage": "limbo"}, format="json"
    )
    assert response.status_code == 400
    assert "to_stage" in response.json()["error"]["details"]
    unknown = client.post(
        f"/api/v1/alerts/{alert.pk}/assign/", {"assignee": "nobody"}, format="json"
    )
    assert unknown.status_code == 400 and "assignee" in unknown.json()["error"]["message"]
    not_json = client.post(
        f"/api/v1/alerts/{alert.pk}/comment/", "{", content_type="application/json"
    )
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize(
    ("role", "assign", "reopen"),
    [("analyst", 200, 403), ("manager", 403, 200), ("admin_user", 200, 200)],
)
def test_permissions_match_the_pages(request, role, assign, reopen):
    user = request.getfixturevalue(role)
    client = api(user)
    open_alert, closed_alert = make_alert(), make_alert(stage="closed", resolution="benign")
    assert client.get("/api/v1/alerts/").status_code == 200
    response = client.post(
        f"/api/v1/alerts/{open_alert.pk}/assign/", {"assignee": user.username}, format="json"
    )
    assert response.status_code == assign, response.content
    comment = client.post(f"/api/v1/alerts/{open_alert.pk}/comment/", {"text": "x"}, format="json")
    assert comment.status_code == (201 if assign == 200 else 403)
    reopened = client.post(
        f"/api/v1/alerts/{closed_alert.pk}/transition/",
        {"to_stage": "in_progress", "reason": "it happened again"},
        format="json",
    )
    assert reopened.status_code == reopen, reopened.content
    if reopen == 403:
        assert reopened.json()["error"]["code"] == "permission_denied"
        assert not AlertHistory.objects.filter(alert=closed_alert).exists()


def test_no_token_or_a_bad_token_is_401(db):
    assert APIClient().get("/api/v1/alerts/").status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/alerts/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    # the session cookie of a logged-in page user is not an API credential
    assert response["WWW-Authenticate"] == "Token"


def test_user_without_roles_is_forbidden(django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="x")
    response = api(nobody).get("/api/v1/alerts/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_list_query_count_does_not_grow_with_rows(analyst, django_assert_max_num_queries):
    client = api(analyst)
    make_alert()
    with django_assert_max_num_queries(8) as few:
        client.get("/api/v1/alerts/")
    for _ in range(10):
        make_alert()
    with django_assert_max_num_queries(len(few)):
        assert len(ids(client.get("/api/v1/alerts/"))) == 11
