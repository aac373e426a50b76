"""Scheduled evaluation: violations become alerts; enforce mode requests revocation once,
through the real revocation service and its approval rules."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts_app.models import Alert, Revocation, RevocationStatus
from sessions_app.models import Identity, PolicyEnforcement, Session, Source
from sessions_app.policy_enforcement import policy_evaluate, policy_violators
from sessions_app.policy_services import policy_create
from sessions_app.services import ingest_records
from sessions_app.tasks import evaluate_session_policies
from tests.alerts_app.okta_events import BUCHAREST, okta_event

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = START + timedelta(hours=14)  # 14 h after sign-in: within AAL2's 24 h, over 12 h


@pytest.fixture
def okta_session(db):
    # Configured like a real Okta org: planning a revocation needs its URL and credentials
    # (nothing is called here: executing the request is the revocation task's job).
    okta = Source(
        name="okta-test",
        kind="okta",
        settings={"base_url": "https://example.okta.com", "auth_method": "api_token"},
    )
    okta.set_secrets({"api_token": "okta-api-token"})
    okta.save()
    ingest_records(
        source=okta,
        records=[
            okta_event(at=START, event_type="user.session.start", session="102sessLONG"),
            okta_event(at=START + timedelta(minutes=10), session="102sessLONG"),
            # Still in use 10 minutes before the evaluation (14 h after sign-in).
            okta_event(at=NOW - timedelta(minutes=10), session="102sessLONG"),
        ],
    )
    return Session.objects.select_related("identity").get(session_key="102sessLONG")


def twelve_hours(**kw):
    values = {
        "name": "Humans 12 h",
        "assurance_level": "AAL2",
        "identity_kind": "human",
        "max_lifetime_s": 12 * 3600,
        "idle_timeout_s": 3600,
        "reauth_window_s": 3600,
        "violation_action": "alert_and_revoke",
        "mode": "enforce",
        "priority": 100,
        "enabled": True,
    }
    return {**values, **kw}


def test_a_use_from_a_country_the_policy_does_not_allow_is_an_alert(okta_session, admin_user):
    from alerts_app.engine import detect_sessions

    policy_create(
        values=twelve_hours(
            name="Germany only", max_lifetime_s=24 * 3600, allowed_countries=["DE"], mode="monitor"
        ),
        actor=admin_user,
    )
    ingest_records(
        source=okta_session.source,
        records=[okta_event(at=START + timedelta(hours=1), session="102sessLONG", where=BUCHAREST)],
    )
    detect_sessions([okta_session.pk], now=NOW)
    alert = Alert.objects.get(detector_id="session_policy_violation", session=okta_session)
    assert alert.evidence["kind"] == "country"
    assert alert.evidence["countries"] == ["RO"] and alert.evidence["policy"] == (
        "policy “Germany only”"
    )


def test_default_policy_finds_nothing_at_14_hours(okta_session):
    assert policy_violators(now=NOW) == []


def test_enforce_mode_alerts_and_requests_revocation_once(okta_session, admin_user):
    policy = policy_create(values=twelve_hours(), actor=admin_user)
    assert policy_violators(now=NOW) == [okta_session.pk]
    result = policy_evaluate(now=NOW)
    assert result.violating == [okta_session.pk] and result.alerts_created == 1
    alert = Alert.objects.get(detector_id="session_policy_violation", session=okta_session)
    assert alert.evidence["kind"] == "lifetime" and alert.evidence["policy"] == (
        "policy “Humans 12 h”"
    )
    revocation = Revocation.objects.get(alert=alert)
    assert revocation.session == okta_session and revocation.scope == "session"
    assert revocation.status == RevocationStatus.APPROVED  # a standard identity: no 2nd person
    assert "Humans 12 h" in revocation.reason
    record = PolicyEnforcement.objects.get(alert_id=alert.pk)
    assert (record.policy, record.policy_version) == (policy, 1)
    assert record.outcome == f"revocation #{revocation.pk}: approved"
    # Again: the alert is merged, nothing new is requested.
    again = policy_evaluate(now=NOW + timedelta(minutes=5))
    assert again.revocations_requested == 0 and again.alerts_created == 0
    assert Revocation.objects.count() == 1 and PolicyEnforcement.objects.count() == 1


def test_privileged_identities_wait_for_approval(okta_session, admin_user):
    Identity.objects.filter(pk=okta_session.identity_id).update(privilege_tier="privileged")
    policy_create(values=twelve_hours(), actor=admin_user)
    policy_evaluate(now=NOW)
    revocation = Revocation.objects.get()
    assert revocation.status == RevocationStatus.PENDING_APPROVAL and revocation.approval_reasons


def test_monitor_mode_and_alert_only_do_not_revoke(okta_session, admin_user):
    policy = policy_create(values=twelve_hours(mode="monitor"), actor=admin_user)
    result = policy_evaluate(now=NOW)
    assert result.alerts_created == 1 and not Revocation.objects.exists()
    from sessions_app.policy_services import policy_update

    policy_update(
        policy=policy,
        values={"mode": "enforce", "violation_action": "alert"},
        expected_version=1,
        actor=admin_user,
    )
    policy_evaluate(now=NOW)
    assert not Revocation.objects.exists() and not PolicyEnforcement.objects.exists()


def test_refusal_is_recorded_and_not_retried(okta_session, admin_user):
    # Without a link to the identity at the source, nothing can be revoked there.
    okta_session.identity.links.all().delete()
    policy_create(values=twelve_hours(), actor=admin_user)
    result = policy_evaluate(now=NOW)
    assert result.enforcement_refused == 1 and not Revocation.objects.exists()
    record = PolicyEnforcement.objects.get()
    assert record.outcome.startswith("refused: Nothing can be revoked")
    assert policy_evaluate(now=NOW).enforcement_refused == 0


def test_task_runs_the_evaluation(okta_session, admin_user):
    now = timezone.now().replace(microsecond=0)
    ingest_records(
        source=okta_session.source,
        records=[
            okta_event(at=now - timedelta(hours=14), event_type="user.session.start", session="s2"),
            okta_event(at=now - timedelta(minutes=10), session="s2"),
        ],
    )
    policy_create(values=twelve_hours(mode="monitor"), actor=admin_user)
    outcome = evaluate_session_policies()
    assert outcome["violating"] == 1 and outcome["alerts_created"] == 1
    assert outcome["revocations_requested"] == 0
