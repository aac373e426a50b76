"""Session-lifetime policies: validation, precedence and reasons, versioned writes, engine."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from alerts_app import engine
from alerts_app.detectors.base import DEFAULT_POLICY
from alerts_app.models import Alert
from govern.audit import verify_chain
from sessions_app.models import (
    AuditEvent,
    Identity,
    PolicyVersion,
    Session,
    SessionLifetimePolicy,
    Source,
    TelemetryEvent,
)
from sessions_app.partitions import ensure_partitions
from sessions_app.policies import effective_policy
from sessions_app.policy_rules import check_policy_values
from sessions_app.policy_services import policy_create, policy_set_enabled, policy_update
from sessions_app.policy_templates import DEFAULT_TEMPLATE, TEMPLATES
from sessions_app.services import ingest_records
from tests.alerts_app.okta_events import okta_event

H = 3600
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def values(**overrides):
    base = {
        "name": "Humans",
        "assurance_level": "AAL2",
        "max_lifetime_s": 12 * H,
        "idle_timeout_s": 30 * 60,
        "reauth_window_s": 15 * 60,
        "violation_action": "alert",
        "mode": "monitor",
        "priority": 100,
        "enabled": True,
    }
    return {**base, **overrides}


# ------------------------------------------------------------------------- validation


def test_templates_match_the_reference_and_the_detectors_default():
    assert (TEMPLATES["aal1"].max_lifetime_s, TEMPLATES["aal1"].idle_timeout_s) == (2592000, None)
    assert (TEMPLATES["aal2"].max_lifetime_s, TEMPLATES["aal2"].idle_timeout_s) == (86400, 3600)
    assert (TEMPLATES["aal3"].max_lifetime_s, TEMPLATES["aal3"].idle_timeout_s) == (43200, 900)
    assert (TEMPLATES["strict"].max_lifetime_s, TEMPLATES["strict"].idle_timeout_s) == (
        43200,
        1800,
    )
    assert DEFAULT_TEMPLATE.max_lifetime_s == DEFAULT_POLICY.max_lifetime_s
    assert DEFAULT_TEMPLATE.idle_timeout_s == DEFAULT_POLICY.idle_timeout_s
    assert DEFAULT_TEMPLATE.reauth_window_s == DEFAULT_POLICY.reauth_window_s
    for template in TEMPLATES.values():
        check = check_policy_values(
            assurance_level=template.assurance_level,
            max_lifetime_s=template.max_lifetime_s,
            idle_timeout_s=template.idle_timeout_s,
            reauth_window_s=template.reauth_window_s,
        )
        assert not check.errors and not check.should_exceeded, template.key


def test_shall_violations_are_refused():
    aal3 = check_policy_values(
        assurance_level="AAL3", max_lifetime_s=13 * H, idle_timeout_s=900, reauth_window_s=900
    )
    assert (
        "SHALL" in aal3.errors["max_lifetime_s"][0] and "2.3.3" in aal3.errors["max_lifetime_s"][0]
    )
    missing = check_policy_values(
        assurance_level="AAL1", max_lifetime_s=None, idle_timeout_s=None, reauth_window_s=H
    )
    assert "SHALL be established" in missing.errors["max_lifetime_s"][0]
    inverted = check_policy_values(
        assurance_level="AAL2", max_lifetime_s=H, idle_timeout_s=2 * H, reauth_window_s=600
    )
    assert "idle_timeout_s" in inverted.errors
    countries = check_policy_values(
        assurance_level="AAL2",
        max_lifetime_s=H,
        idle_timeout_s=600,
        reauth_window_s=600,
        allowed_countries=["GB", "XX", "Germany"],
    )
    assert countries.errors["allowed_countries"] == [
        "Not ISO 3166-1 alpha-2 country codes: XX, Germany."
    ]


def test_should_excess_needs_a_justification(admin_user):
    check = check_policy_values(
        assurance_level="AAL2", max_lifetime_s=36 * H, idle_timeout_s=None, reauth_window_s=H
    )
    assert not check.errors and len(check.should_exceeded) == 2
    with pytest.raises(ValidationError) as refused:
        policy_create(values=values(max_lifetime_s=36 * H, idle_timeout_s=None), actor=admin_user)
    assert "justification" in refused.value.message_dict
    assert not SessionLifetimePolicy.objects.exists()
    policy = policy_create(
        values=values(
            max_lifetime_s=36 * H,
            idle_timeout_s=None,
            justification="Kiosk shift of 36 h, badge-controlled room.",
        ),
        actor=admin_user,
    )
    assert policy.max_lifetime_s == 36 * H and policy.version == 1


# ------------------------------------------------------------------------- precedence


@pytest.fixture
def world(db):
    ensure_partitions(START, START)
    okta = Source.objects.create(name="okta", kind="okta")
    entra = Source.objects.create(name="entra", kind="entra")
    dana = Identity.objects.create(
        kind="human",
        display_name="Dana",
        login="dana",
        privilege_tier="privileged",
        department="Finance",
    )
    now = START
    session = Session.objects.create(
        source=okta, session_key="s-okta", identity=dana, first_seen_at=now, last_seen_at=now
    )
    other = Session.objects.create(
        source=entra, session_key="s-entra", identity=dana, first_seen_at=now, last_seen_at=now
    )
    return {"okta": okta, "entra": entra, "dana": dana, "session": session, "other": other}


def make(name, **kw):
    return SessionLifetimePolicy.objects.create(
        name=name, max_lifetime_s=kw.pop("max_lifetime_s", 12 * H), reauth_window_s=900, **kw
    )


def test_default_applies_when_nothing_matches(world):
    make("Service accounts", identity_kind="service_account")
    make("Disabled humans", identity_kind="human", enabled=False)
    result = effective_policy(session=world["session"])
    assert result.policy is None and result.detector_policy == DEFAULT_POLICY
    assert result.reason.startswith("No enabled policy matches this session")
    assert "AAL2" in result.reason


def test_detectors_receive_every_limit_of_the_effective_policy(world):
    make(
        "Humans in the EU",
        identity_kind="human",
        idle_timeout_s=1800,
        device_binding=True,
        allowed_countries=["DE", "FR"],
    )
    limits = effective_policy(session=world["session"]).detector_policy
    assert (limits.max_lifetime_s, limits.idle_timeout_s, limits.reauth_window_s) == (
        12 * H,
        1800,
        900,
    )
    assert limits.device_binding is True
    assert limits.allowed_countries == ("DE", "FR")


def test_most_specific_then_priority_then_oldest(world):
    everyone = make("Everyone", priority=1)
    humans = make("Humans", identity_kind="human", priority=50)
    result = effective_policy(session=world["session"])
    assert result.policy == humans
    assert "more specific than “Everyone”" in result.reason
    privileged = make(
        "Privileged humans", identity_kind="human", privilege_tier="privileged", priority=90
    )
    okta_humans = make("Okta humans", identity_kind="human", source=world["okta"], priority=10)
    result = effective_policy(session=world["session"])
    assert result.policy == okta_humans  # as specific as "Privileged humans", lower priority
    assert "priority 10 comes before 90" in result.reason
    assert [p.name for p in result.matched] == [
        "Okta humans",
        "Privileged humans",
        "Humans",
        "Everyone",
    ]
    # The entra session is not at the okta source.
    assert effective_policy(session=world["other"]).policy == privileged
    twin = make(
        "Privileged humans (copy)", identity_kind="human", privilege_tier="privileged", priority=90
    )
    result = effective_policy(session=world["other"])
    assert result.policy == privileged and twin in result.matched
    assert "the older policy wins" in result.reason
    assert everyone in result.matched


def test_application_and_identity_scopes(world):
    TelemetryEvent.objects.create(
        source=world["okta"],
        provider_event_id="e1",
        occurred_at=START,
        received_at=START,
        provider_event_type="app.auth.sso",
        event_type="sso",
        outcome="success",
        identity=world["dana"],
        session=world["session"],
        session_key="s-okta",
        client_app="Salesforce",
        details={},
        raw={},
    )
    salesforce = make("Salesforce", client_app="Salesforce")
    finance = make("Finance", department="Finance", priority=500)
    assert effective_policy(session=world["session"]).policy in (salesforce, finance)
    # Equally specific (one field each): priority 100 beats 500.
    assert effective_policy(session=world["session"]).policy == salesforce
    assert effective_policy(session=world["other"]).policy == finance
    result = effective_policy(identity=world["dana"])
    assert result.policy == finance
    with pytest.raises(ValueError):
        effective_policy()


def test_identity_skips_per_session_policies_and_says_so(world):
    make("Okta only", source=world["okta"])
    result = effective_policy(identity=world["dana"])
    assert result.policy is None
    assert "1 policy is scoped to a source or application" in result.reason


# ------------------------------------------------------------------------- versioned writes


def test_every_change_is_versioned_and_audited(admin_user, world):
    policy = policy_create(values=values(), actor=admin_user, comment="first cut")
    v1 = PolicyVersion.objects.get(policy=policy)
    assert (v1.version, v1.action, v1.actor, v1.comment) == (1, "created", admin_user, "first cut")
    assert v1.snapshot["max_lifetime_s"] == 12 * H
    updated = policy_update(
        policy=policy,
        values={"idle_timeout_s": 15 * 60, "source": world["okta"].pk},
        expected_version=1,
        actor=admin_user,
    )
    assert updated.version == 2
    v2 = PolicyVersion.objects.get(policy=policy, version=2)
    assert v2.diff == {
        "source": [None, {"id": world["okta"].pk, "name": "okta"}],
        "idle_timeout_s": [1800, 900],
    }
    # Nothing changed: no new version.
    same = policy_update(
        policy=policy, values={"idle_timeout_s": 900}, expected_version=2, actor=admin_user
    )
    assert same.version == 2 and policy.versions.count() == 2
    disabled = policy_set_enabled(
        policy=policy, enabled=False, expected_version=2, actor=admin_user
    )
    assert disabled.version == 3 and policy.versions.get(version=3).action == "disabled"
    verbs = list(
        AuditEvent.objects.filter(object_type="sessions_app.sessionlifetimepolicy")
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["policy.created", "policy.updated", "policy.disabled"]
    assert verify_chain() is None


def test_stale_edit_is_refused_and_loses_nothing(admin_user):
    policy = policy_create(values=values(), actor=admin_user)
    policy_update(policy=policy, values={"priority": 5}, expected_version=1, actor=admin_user)
    with pytest.raises(ValidationError, match="changed"):
        policy_update(policy=policy, values={"priority": 7}, expected_version=1, actor=admin_user)
    policy.refresh_from_db()
    assert (policy.priority, policy.version) == (5, 2)


def test_invalid_update_changes_nothing(admin_user):
    policy = policy_create(values=values(), actor=admin_user)
    with pytest.raises(ValidationError):
        policy_update(
            policy=policy,
            values={"assurance_level": "AAL3", "max_lifetime_s": 20 * H},
            expected_version=1,
            actor=admin_user,
        )
    policy.refresh_from_db()
    assert (policy.assurance_level, policy.max_lifetime_s, policy.version) == ("AAL2", 12 * H, 1)
    assert policy.versions.count() == 1


def test_duplicate_name_is_refused(admin_user):
    policy_create(values=values(), actor=admin_user)
    with pytest.raises(ValidationError) as refused:
        policy_create(values=values(), actor=admin_user)
    assert "name" in refused.value.message_dict


# ------------------------------------------------------------------------- engine


def _idle_sequence(session: str) -> list[dict]:
    """Sign-in, use, then 45 minutes of silence and use again on another device
    (AAL2 allows 1 h idle)."""
    return [
        okta_event(at=START, event_type="user.session.start", session=session),
        okta_event(at=START + timedelta(minutes=5), session=session),
        okta_event(at=START + timedelta(minutes=50), session=session, dt_hash="dt-other-9"),
    ]


def test_engine_uses_the_effective_policy(db, admin_user):
    okta = Source.objects.create(name="okta-test", kind="okta")
    ingest_records(source=okta, records=_idle_sequence("102sessIDLE"))
    session = Session.objects.get(session_key="102sessIDLE")
    now = START + timedelta(hours=1)
    engine.detect_sessions([session.pk], now=now)
    assert not Alert.objects.filter(detector_id="session_policy_violation").exists()

    policy_create(values=values(name="Strict humans", identity_kind="human"), actor=admin_user)
    engine.detect_sessions([session.pk], now=now)
    alert = Alert.objects.get(detector_id="session_policy_violation")
    assert alert.evidence["kind"] == "idle" and alert.evidence["limit_s"] == 1800
    assert alert.evidence["policy"] == "policy “Strict humans”"
    assert "policy “Strict humans” allows 30 min" in alert.summary
