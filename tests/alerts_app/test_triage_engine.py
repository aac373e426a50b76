"""Detection meets triage: SLA due times and owner routing on new alerts, suppression rules
recording matches as Suppressed, expiry bringing them back, the sweep task."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts_app import engine, services, tasks
from alerts_app.detectors.base import Factor, Finding
from alerts_app.models import Alert, SLAPolicy, Stage, SuppressionRule

from . import triage_helpers as h


def finding(subject: str, *, asn: int = 9009, severity: str = "high", at=None) -> Finding:
    at = at or timezone.now() - timedelta(minutes=5)
    return Finding(
        detector_id="session_context_change",
        detector_version=1,
        dedup_subject=subject,
        severity=severity,
        score=75,
        summary=f"Session {subject} moved to AS{asn}.",
        factors=(Factor("new network", 40),),
        evidence={
            "session_key": subject,
            "to": {"asn": asn, "country": "NL"},
            "event_ids": [subject],
        },
        first_event_at=at,
        last_event_at=at,
    )


def test_new_alert_gets_sla_due_times_and_owner(db):
    SLAPolicy.objects.create(
        severity="high", identity_class="non_human", ack_minutes=30, contain_minutes=90
    )
    owner = h.owner("Data platform")
    bot = h.identity(kind="workload", owner=owner)
    before = timezone.now()
    outcome, alert = engine.alert_upsert_from_finding(
        finding=finding("s1"), identity=bot, session=None
    )
    assert outcome == "created" and alert.stage == Stage.NEW
    assert alert.response_owner == owner
    assert timedelta(minutes=29) < alert.ack_due_at - before < timedelta(minutes=31)
    assert timedelta(minutes=89) < alert.contain_due_at - before < timedelta(minutes=91)


def test_matching_suppression_records_alert_as_suppressed(analyst):
    person = h.identity()
    first = h.alert(person, detector_id="session_context_change")
    rule = services.suppression_rule_create(
        alert=first,
        reason="office VPN egress",
        expires_at=timezone.now() + timedelta(days=7),
        actor=analyst,
        asn=9009,
    )
    first.refresh_from_db()
    assert first.stage == Stage.NEW  # evidence of the first names no ASN: no match
    _, suppressed = engine.alert_upsert_from_finding(
        finding=finding("s2", asn=9009), identity=person, session=None
    )
    _, other = engine.alert_upsert_from_finding(
        finding=finding("s3", asn=1234), identity=person, session=None
    )
    assert suppressed.stage == Stage.SUPPRESSED and suppressed.suppressed_by == rule
    assert list(suppressed.history.values_list("action", flat=True)) == ["created", "suppressed"]
    assert other.stage == Stage.NEW
    assert Alert.objects.count() == 3  # recorded, nothing discarded


def test_expired_suppression_returns_alerts_to_new_via_the_sweep_task(analyst):
    person = h.identity()
    alert = h.alert(person, evidence={"asn": 64500})
    rule = services.suppression_rule_create(
        alert=alert,
        reason="pen test",
        expires_at=timezone.now() + timedelta(minutes=1),
        actor=analyst,
        identity=person,
    )
    alert.refresh_from_db()
    assert alert.stage == Stage.SUPPRESSED
    SuppressionRule.objects.filter(pk=rule.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    result = tasks.triage_sweep()
    assert result["suppressions_ended"] == 1
    alert.refresh_from_db()
    assert alert.stage == Stage.NEW and alert.suppressed_by is None
    assert alert.history.last().action == "reopened"
    assert tasks.triage_sweep()["suppressions_ended"] == 0


def test_suppression_needs_a_condition_and_a_future_expiry(analyst):
    alert = h.alert()
    with pytest.raises(services.WorkflowError, match="condition"):
        services.suppression_rule_create(
            alert=alert, reason="x", expires_at=timezone.now() + timedelta(days=1), actor=analyst
        )
    with pytest.raises(services.WorkflowError, match="future"):
        services.suppression_rule_create(
            alert=alert, reason="x", expires_at=timezone.now(), actor=analyst, asn=1
        )
    assert not SuppressionRule.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_detection_of_one_subject_makes_one_alert():
    """Two workers upserting the same new finding at once: the second waits for the first
    to commit, then merges into its alert (it used to insert too and fail on the unique
    dedup key, rolling back its task's other alerts)."""
    import threading

    from django.db import connection, transaction

    person = h.identity()
    same = finding("s-race")
    created = threading.Event()
    release = threading.Event()
    outcomes: dict[str, object] = {}

    def first():
        try:
            with transaction.atomic():
                outcomes["first"] = engine.alert_upsert_from_finding(
                    finding=same, identity=person, session=None
                )[0]
                created.set()
                release.wait(10)  # still uncommitted while the second one starts
        finally:
            connection.close()

    def second():
        try:
            outcomes["second"] = engine.alert_upsert_from_finding(
                finding=same, identity=person, session=None
            )[0]
        except Exception as exc:  # the failure this test is about
            outcomes["second"] = exc
        finally:
            connection.close()

    one = threading.Thread(target=first)
    one.start()
    assert created.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    assert two.is_alive()  # waiting for the first transaction
    release.set()
    one.join(10)
    two.join(10)
    assert outcomes == {"first": "created", "second": "unchanged"}
    assert Alert.objects.filter(detector_id="session_context_change").count() == 1
