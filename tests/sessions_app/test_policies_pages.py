"""Policy pages through the real views: admins edit, everyone reads, htmx gets the partial."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from sessions_app.models import Identity, PolicyVersion, Session, SessionLifetimePolicy, Source


def form_data(**overrides):
    data = {
        "name": "Admins",
        "description": "",
        "assurance_level": "AAL3",
        "identity_kind": "human",
        "privilege_tier": "privileged",
        "source": "",
        "client_app": "",
        "department": "",
        "max_lifetime_s": "12h",
        "idle_timeout_s": "15m",
        "reauth_window_s": "15m",
        "device_binding": "on",
        "allowed_countries": "gb, de",
        "violation_action": "alert_and_revoke",
        "mode": "enforce",
        "priority": "10",
        "justification": "",
        "enabled": "on",
        "comment": "initial",
        "template": "aal3",
        "version": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def subject(db):
    source = Source.objects.create(name="okta", kind="okta")
    dana = Identity.objects.create(
        kind="human", display_name="Dana", login="dana", privilege_tier="privileged"
    )
    now = timezone.now()
    session = Session.objects.create(
        source=source,
        session_key="sess-1",
        identity=dana,
        first_seen_at=now - timedelta(hours=1),
        last_seen_at=now,
    )
    return {"identity": dana, "session": session}


def test_admin_creates_from_a_template_and_sees_history(client, admin_user, subject):
    client.force_login(admin_user)
    page = client.get(reverse("policies:create") + "?template=aal3")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="12h"' in html and 'value="15m"' in html and "NIST SP 800-63B-4 AAL3" in html
    assert client.get(reverse("policies:create") + "?template=nope").status_code == 404

    response = client.post(reverse("policies:create"), form_data())
    policy = SessionLifetimePolicy.objects.get(name="Admins")
    assert response.status_code == 302 and response["Location"] == reverse(
        "policies:detail", args=[policy.pk]
    )
    assert (policy.max_lifetime_s, policy.idle_timeout_s, policy.allowed_countries) == (
        43200,
        900,
        ["DE", "GB"],
    )
    response = client.post(
        reverse("policies:edit", args=[policy.pk]),
        form_data(max_lifetime_s="8h", version="1", comment="shorter"),
    )
    assert response.status_code == 302
    history = client.get(reverse("policies:history", args=[policy.pk])).content.decode()
    assert "shorter" in history and "12h" not in history  # shown in words, not raw input
    assert "max lifetime s" in history and "43200" in history and "28800" in history
    assert PolicyVersion.objects.filter(policy=policy).count() == 2


def test_shall_refusal_and_should_justification_are_shown(client, admin_user, db):
    client.force_login(admin_user)
    response = client.post(reverse("policies:create"), form_data(max_lifetime_s="13h"))
    assert response.status_code == 200
    assert "SHALL be no more than 12 h" in response.content.decode() or "SHALL" in (
        response.content.decode()
    )
    response = client.post(
        reverse("policies:create"), form_data(assurance_level="AAL2", max_lifetime_s="36h")
    )
    assert "Justify why these values are acceptable" in response.content.decode()
    assert not SessionLifetimePolicy.objects.exists()
    response = client.post(
        reverse("policies:create"),
        form_data(
            assurance_level="AAL2", max_lifetime_s="36h", justification="Night-shift kiosks."
        ),
    )
    assert response.status_code == 302
    bad = client.post(reverse("policies:create"), form_data(name="x", max_lifetime_s="soon"))
    assert "Type a number with a unit" in bad.content.decode()


def test_backtest_preview_htmx_partial_and_full_page(client, admin_user, subject):
    client.force_login(admin_user)
    url = reverse("policies:backtest")
    partial = client.post(url, form_data(), HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert partial.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="backtest">')
    assert "Sessions in scope" in html and "<form" not in html
    full = client.post(url, form_data())
    assert "<form" in full.content.decode() and "Sessions in scope" in full.content.decode()
    # Missing justification does not block a preview; invalid values do.
    preview = client.post(
        url, form_data(assurance_level="AAL2", max_lifetime_s="36h"), HTTP_HX_REQUEST="true"
    )
    assert "Sessions in scope" in preview.content.decode()
    invalid = client.post(url, form_data(max_lifetime_s="13h"), HTTP_HX_REQUEST="true")
    assert "Fix the values marked" in invalid.content.decode()
    assert not SessionLifetimePolicy.objects.exists()


def test_reading_roles_cannot_write(client, analyst, manager, subject):
    for user in (analyst, manager):
        client.force_login(user)
        assert client.get(reverse("policies:list")).status_code == 200
        assert client.get(reverse("policies:create")).status_code == 403
        assert client.post(reverse("policies:create"), form_data()).status_code == 403
        assert client.post(reverse("policies:backtest"), form_data()).status_code == 403
    assert not SessionLifetimePolicy.objects.exists()


def test_toggle_and_stale_toggle(client, admin_user, subject):
    client.force_login(admin_user)
    client.post(reverse("policies:create"), form_data())
    policy = SessionLifetimePolicy.objects.get()
    client.post(reverse("policies:toggle", args=[policy.pk]), {"version": "1"})
    policy.refresh_from_db()
    assert (policy.enabled, policy.version) == (False, 2)
    response = client.post(
        reverse("policies:toggle", args=[policy.pk]), {"version": "1"}, follow=True
    )
    assert "changed" in response.content.decode()
    policy.refresh_from_db()
    assert (policy.enabled, policy.version) == (False, 2)


def test_reason_shown_on_session_identity_and_explainer(client, analyst, admin_user, subject):
    client.force_login(admin_user)
    client.post(reverse("policies:create"), form_data())
    client.force_login(analyst)
    session_page = client.get(
        reverse("sessions_app:session_detail", args=[subject["session"].pk])
    ).content.decode()
    assert "“Admins” applies because it matches identity kind Human, privilege tier " in (
        session_page
    )
    identity_page = client.get(
        reverse("sessions_app:identity_detail", args=[subject["identity"].pk])
    ).content.decode()
    assert "“Admins” applies because" in identity_page
    explain = client.get(
        reverse("policies:explain"), {"session": subject["session"].pk}
    ).content.decode()
    assert "“Admins” applies because" in explain and "applies</span>" in explain
    missing = client.get(reverse("policies:explain"), {"session": 999999}).content.decode()
    assert "No session with this id." in missing
    empty = client.get(reverse("policies:explain"), {"session": ""}).content.decode()
    assert "Give a session id or an identity id." in empty


def test_list_page_query_count_is_flat(client, analyst, subject, django_assert_max_num_queries):
    for n in range(15):
        SessionLifetimePolicy.objects.create(
            name=f"p{n}",
            source=subject["session"].source,
            max_lifetime_s=3600,
            reauth_window_s=600,
        )
    client.force_login(analyst)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("policies:list")).status_code == 200
