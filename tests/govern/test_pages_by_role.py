"""Every page × every role: allowed (200) or denied (403); anonymous users go to the login."""

import pytest
from django.urls import reverse

from sessions_app.models import Identity, Owner, Session, Source

ALL = {"analyst", "manager", "admin_user"}
MANAGERS_UP = {"manager", "admin_user"}
ADMIN_ONLY = {"admin_user"}
REQUESTERS = {"analyst", "admin_user"}


@pytest.fixture
def objects(db):
    from django.utils import timezone

    source = Source.objects.create(name="okta-test", kind="okta")
    owner = Owner.objects.create(name="Platform SRE")
    identity = Identity.objects.create(
        kind="service_account", display_name="svc-backup", login="svc-backup", owner=owner
    )
    now = timezone.now()
    session = Session.objects.create(
        source=source, session_key="abc123", identity=identity, first_seen_at=now, last_seen_at=now
    )
    from alerts_app.models import Alert

    alert = Alert.objects.create(
        detector_id="impossible_travel",
        dedup_key="impossible_travel|x|1",
        title="Travel",
        summary="Signed in from two far-apart places.",
        severity="high",
        score=70,
        identity=identity,
        session=session,
        first_seen_at=now,
        last_seen_at=now,
    )
    from alerts_app.models import Revocation

    revocation = Revocation.objects.create(
        scope="session",
        identity=identity,
        session=session,
        alert=alert,
        reason="replay",
        provider="okta",
        idempotency_key="c" * 32,
        status="pending_approval",
        requested_by_label="system:policy",
        requested_at=now,
    )
    return {
        "source": source,
        "identity": identity,
        "session": session,
        "alert": alert,
        "revocation": revocation,
    }


def _control_pk(ref_id):
    from govern.models import Control

    return Control.objects.get(framework__slug="nist-csf-2.0", ref_id=ref_id).pk


def _policy_pk():
    from sessions_app.models import SessionLifetimePolicy

    policy, _ = SessionLifetimePolicy.objects.get_or_create(
        name="Humans", defaults={"max_lifetime_s": 43200, "reauth_window_s": 900}
    )
    return policy.pk


def _mapping_pk():
    from govern.models import ControlMapping

    return ControlMapping.objects.order_by("pk").values_list("pk", flat=True).first()


def pages(objects):
    return [
        (reverse("home"), ALL),
        (reverse("sessions_app:identity_list"), ALL),
        (reverse("sessions_app:identity_detail", args=[objects["identity"].pk]), ALL),
        (reverse("sessions_app:session_list"), ALL),
        (reverse("sessions_app:session_detail", args=[objects["session"].pk]), ALL),
        (reverse("sessions_app:event_list"), ALL),
        (reverse("alerts_app:alert_list"), ALL),
        (reverse("alerts_app:alert_detail", args=[objects["alert"].pk]), ALL),
        (reverse("alerts_app:alert_list") + "?assignee=me&sla=breaching", ALL),
        (reverse("alerts_app:alert_counts"), ALL),
        (reverse("alerts_app:alert_poll") + "?after=0", ALL),
        (reverse("alerts_app:suppression_list"), ALL),
        (reverse("alerts_app:sla_matrix"), ALL),
        (reverse("alerts_app:notification_settings"), ALL),
        (reverse("alerts_app:detector_list"), MANAGERS_UP),
        (reverse("alerts_app:detector_edit", args=["impossible_travel"]), ADMIN_ONLY),
        (reverse("sessions_app:source_list"), MANAGERS_UP),
        (reverse("sessions_app:source_detail", args=[objects["source"].pk]), MANAGERS_UP),
        (reverse("audit_log"), MANAGERS_UP),
        (reverse("audit_log") + "?export=csv", MANAGERS_UP),
        (reverse("revocations:list"), ALL),
        (reverse("revocations:detail", args=[objects["revocation"].pk]), ALL),
        (reverse("revocations:status", args=[objects["revocation"].pk]), ALL),
        (
            reverse("revocations:new")
            + f"?scope=identity_all&identity={objects['identity'].pk}&alert={objects['alert'].pk}",
            REQUESTERS,
        ),
        (reverse("ssf:admin"), MANAGERS_UP),
        (reverse("user_list"), ADMIN_ONLY),
        (reverse("user_create"), ADMIN_ONLY),
        (reverse("compliance:report"), MANAGERS_UP),
        (reverse("compliance:framework", args=["nist-csf-2.0"]), MANAGERS_UP),
        (reverse("compliance:control", args=[_control_pk("RS.MI-01")]), MANAGERS_UP),
        (reverse("compliance:export_csv"), MANAGERS_UP),
        (reverse("compliance:export_pdf"), MANAGERS_UP),
        (reverse("compliance:export_ciso", args=["owasp-nhi-2025"]), MANAGERS_UP),
        (reverse("compliance:mapping_list"), ADMIN_ONLY),
        (reverse("compliance:mapping_create"), ADMIN_ONLY),
        (reverse("compliance:mapping_edit", args=[_mapping_pk()]), ADMIN_ONLY),
        (reverse("policies:list"), ALL),
        (reverse("policies:detail", args=[_policy_pk()]), ALL),
        (reverse("policies:history", args=[_policy_pk()]), ALL),
        (reverse("policies:explain") + f"?session={objects['session'].pk}", ALL),
        (reverse("policies:create") + "?template=aal3", ADMIN_ONLY),
        (reverse("policies:edit", args=[_policy_pk()]), ADMIN_ONLY),
    ]


@pytest.mark.parametrize("role", sorted(ALL))
def test_role_page_matrix(client, request, objects, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    for url, allowed in pages(objects):
        response = client.get(url)
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, f"{role} GET {url}"


def test_anonymous_is_sent_to_login_everywhere(client, objects):
    for url, _allowed in pages(objects):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_login_and_health_are_public(client, db):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200


def test_navigation_shows_only_permitted_pages(client, analyst, admin_user):
    client.force_login(analyst)
    html = client.get(reverse("home")).content.decode()
    assert "Audit log" not in html and "Users" not in html and "Identities" in html
    client.force_login(admin_user)
    html = client.get(reverse("home")).content.decode()
    assert "Audit log" in html and "Users" in html
