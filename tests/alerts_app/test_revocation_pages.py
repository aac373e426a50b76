"""Revocation pages through the real views: preview, request, approve/reject, live status."""

from __future__ import annotations

import pytest
from django.urls import reverse

from alerts_app.models import Revocation, RevocationStatus
from sessions_app.connectors.base import TOKEN_CACHE
from tests.fakes.okta import fake_okta  # noqa: F401 - fixture

from .revocation_helpers import OKTA_USER, alert_on, identity_at, okta_source, session_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()


@pytest.fixture
def target(fake_okta):  # noqa: F811 - the imported fixture
    fake_okta.sessions["102abcSESSION"] = OKTA_USER
    source = okta_source(fake_okta)
    identity = identity_at(source, tier="privileged")
    session = session_of(identity, source)
    return identity, session, alert_on(session)


def _new_url(identity, session, alert, scope="session"):
    return (
        f"{reverse('revocations:new')}?scope={scope}&identity={identity.pk}"
        f"&session={session.pk}&alert={alert.pk}"
    )


def test_preview_shows_the_blast_radius_and_what_survives(client, analyst, target):
    identity, session, alert = target
    client.force_login(analyst)
    page = client.get(_new_url(identity, session, alert)).content.decode()
    assert "/api/v1/sessions/102abcSESSION" in page
    assert "Does not revoke" in page and "live until they expire" in page
    assert "a second person must approve" in page
    assert 'name="idempotency_key"' in page


def test_request_without_reason_keeps_the_form_and_creates_nothing(client, analyst, target):
    identity, session, alert = target
    client.force_login(analyst)
    response = client.post(
        reverse("revocations:new"),
        {"scope": "session", "identity": identity.pk, "session": session.pk, "alert": alert.pk},
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert Revocation.objects.count() == 0


def test_bad_target_is_a_clear_400(client, analyst, target):
    identity, _session, _alert = target
    client.force_login(analyst)
    response = client.get(f"{reverse('revocations:new')}?scope=session&identity={identity.pk}")
    assert response.status_code == 400
    assert "Choose the session" in response.content.decode()


def test_request_approve_and_poll(
    client, analyst, manager, target, django_capture_on_commit_callbacks
):
    identity, session, alert = target
    client.force_login(analyst)
    form = {
        "scope": "session",
        "identity": identity.pk,
        "session": session.pk,
        "alert": alert.pk,
        "reason": "token replay from a new ASN",
        "idempotency_key": "b" * 32,
    }
    response = client.post(reverse("revocations:new"), form)
    revocation = Revocation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("revocations:detail", args=[revocation.pk])
    assert revocation.status == RevocationStatus.PENDING_APPROVAL
    # Submitting the same form again (double click, back button) does not add a request.
    client.post(reverse("revocations:new"), form)
    assert Revocation.objects.count() == 1
    # The requester sees no approval form and cannot approve by POST either.
    assert "Approve and revoke" not in client.get(response["Location"]).content.decode()
    assert client.post(reverse("revocations:approve", args=[revocation.pk])).status_code == 403

    status_url = reverse("revocations:status", args=[revocation.pk])
    polling = client.get(status_url, HTTP_HX_REQUEST="true")
    assert polling.status_code == 200 and 'hx-trigger="every 2s"' in polling.content.decode()

    client.force_login(manager)
    assert "Approve and revoke" in client.get(response["Location"]).content.decode()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("revocations:approve", args=[revocation.pk]), {"note": "ok"})
    assert len(callbacks) == 1  # the execution task, queued on commit
    revocation.refresh_from_db()
    assert revocation.status == RevocationStatus.APPROVED and revocation.approved_by == manager

    from alerts_app.revocation.services import revocation_run

    revocation_run(revocation_id=revocation.pk)
    done = client.get(status_url, HTTP_HX_REQUEST="true")
    assert done.status_code == 286  # htmx: stop polling
    assert 'data-status="succeeded"' in done.content.decode()


def test_reject_needs_a_reason(client, analyst, manager, target):
    identity, _session, alert = target
    client.force_login(analyst)
    client.post(
        reverse("revocations:new"),
        {"scope": "identity_all", "identity": identity.pk, "alert": alert.pk, "reason": "r"},
    )
    revocation = Revocation.objects.get()
    client.force_login(manager)
    client.post(reverse("revocations:reject", args=[revocation.pk]), {"reason": ""})
    revocation.refresh_from_db()
    assert revocation.status == RevocationStatus.PENDING_APPROVAL
    client.post(reverse("revocations:reject", args=[revocation.pk]), {"reason": "false positive"})
    revocation.refresh_from_db()
    assert revocation.status == RevocationStatus.REJECTED


def test_response_panel_on_session_and_identity_pages(client, analyst, manager, target):
    identity, session, _alert = target
    client.force_login(analyst)
    page = client.get(reverse("sessions_app:session_detail", args=[session.pk])).content.decode()
    assert "Revoke this session" in page and "Revoke all sessions" in page
    page = client.get(reverse("sessions_app:identity_detail", args=[identity.pk])).content.decode()
    assert "Revoke all sessions" in page and "Revoke this session" not in page
    client.force_login(manager)  # managers approve; they do not request
    page = client.get(reverse("sessions_app:session_detail", args=[session.pk])).content.decode()
    assert "Revoke this session" not in page and "No revocation yet" in page


def test_list_filters_and_query_count(client, manager, target, django_assert_max_num_queries):
    identity, _session, _alert = target
    from alerts_app.revocation import services

    from .revocation_helpers import session_of as make_session

    for n in range(5):
        s = make_session(identity, identity.links.get().source, key=f"k{n}")
        services.revocation_request(
            scope="session", identity=identity, session=s, reason="r", actor=None
        )
    client.force_login(manager)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("revocations:list"), {"status": "pending_approval"})
    assert (
        page.status_code == 200
        and page.content.decode().count('data-status="pending_approval"') == 5
    )
    bad = client.get(reverse("revocations:list"), {"status": "nope"})
    assert "Select a valid choice" in bad.content.decode()
