"""A small, fully known organisation for the compliance report tests.

Every figure the tests expect is worked out by hand in the comments below. The period is the
week 2026-03-01 00:00 to 2026-03-08 00:00 UTC and the report is built "now" = its end.
The SLA due times are govern's defaults (alerts created here carry no due times of their own):
acknowledge critical 15 min, high 1 h, medium 8 h, low 3 d; contain (human) critical 1 h,
high 4 h; (non-human) low 30 d.

Alerts raised in the period:

| id | detector                 | sev      | who   | created     | ack       | contain | closed    |
|----|--------------------------|----------|-------|-------------|-----------|---------|-----------|
| a1 | impossible_travel        | high     | alice | 03-02 10:00 | +30 min ✓ | +2 h ✓  | +4 h (TP) |
| a2 | concurrent_session_reuse | critical | alice | 03-03 09:00 | +45 min ✗ | +2 h ✗  | open      |
| a3 | human_use_of_nhi         | medium   | svc   | 03-05 08:00 | +4 h ✓    | —       | +5 h (FP) |
| a4 | nhi_new_context          | low      | svc   | 03-06 00:00 | not due   | not due | open      |

and a5 (impossible_travel, high, alice), raised 02-20 and still New: open, 16 days old, past
its containment due time.

MTTA = (30 + 45 + 240) / 3 min = 105 min = 6300 s; MTTC = (2 h + 2 h) / 2 = 7200 s (a3 was
closed as a false positive, so it owes no containment); MTTR = (4 h + 5 h) / 2 = 16200 s.
Acknowledge SLA 2 met / 1 breached; contain SLA 1 met / 1 breached; together 3 of 5 = 60%.
Open at the end: a2 and a4 (1–7 days), a5 (7–30 days); 1 past due (a5; a2 is contained).

Revocations requested in the period: r1 succeeded + verified, r2 succeeded + containment
failed, r3 failed, r4 rejected (r5, before the period, is ignored): 2 of 3 completed succeeded
(67%), 1 of 2 decided containments verified (50%). One escalation (a2). Alice's owner has an
e-mail address, the service account's owner none: 2 of 4 alerts routable (50%).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from alerts_app.models import Alert, AlertHistory, DetectorConfig, Revocation
from govern.compliance.metrics import Period
from sessions_app.models import Identity, Owner, Source, TelemetryEvent
from sessions_app.partitions import ensure_partitions

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 8, tzinfo=UTC)
PERIOD = Period(start=START, end=END)


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _alert(key, detector, severity, identity, created, stage="new", resolution=""):
    alert = Alert.objects.create(
        detector_id=detector,
        dedup_key=f"{detector}|{key}",
        title=f"{detector} on {identity.login}",
        summary="Constructed for the compliance tests.",
        severity=severity,
        score=50,
        identity=identity,
        first_seen_at=created,
        last_seen_at=created,
        stage=stage,
        resolution=resolution,
        response_owner=identity.owner,
    )
    # created_at is auto_now_add; the report measures from it, so set it explicitly.
    Alert.objects.filter(pk=alert.pk).update(created_at=created)
    AlertHistory.objects.create(
        alert=alert, at=created, actor_label="system:detection", action="created", to_stage="new"
    )
    alert.refresh_from_db()
    return alert


def _move(alert, when, action, from_stage, to_stage):
    AlertHistory.objects.create(
        alert=alert,
        at=when,
        actor_label="ana",
        action=action,
        from_stage=from_stage,
        to_stage=to_stage,
    )


def _revocation(key, identity, requested, status, containment):
    return Revocation.objects.create(
        scope="identity_all",
        identity=identity,
        reason="Constructed for the compliance tests.",
        provider="okta",
        idempotency_key=f"test-{key}",
        status=status,
        requested_by_label="ana",
        requested_at=requested,
        completed_at=requested + timedelta(minutes=1),
        containment=containment,
    )


def build() -> dict:
    source = Source.objects.create(
        name="okta-prod",
        kind="okta",
        last_success_at=at(7, 12),
        newest_event_at=at(7, 11),
    )
    iam = Owner.objects.create(name="IAM team", email="iam@example.org")
    build_team = Owner.objects.create(name="Build team")
    alice = Identity.objects.create(display_name="Alice", login="alice@example.org", owner=iam)
    svc = Identity.objects.create(
        kind="service_account", display_name="svc-build", login="svc-build", owner=build_team
    )
    ensure_partitions(date(2026, 3, 1), date(2026, 3, 1))
    TelemetryEvent.objects.create(
        source=source,
        provider_event_id="evt-1",
        occurred_at=at(7, 11),
        received_at=at(7, 11, 1),
        provider_event_type="user.session.start",
        event_type="logon",
        outcome="success",
        identity=alice,
        raw={},
    )
    DetectorConfig.objects.create(detector_id="idp_risk_verdict", enabled=False)

    a1 = _alert("a1", "impossible_travel", "high", alice, at(2, 10), "closed", "true_positive")
    _move(a1, at(2, 10, 30), "acknowledge", "new", "in_progress")
    _move(a1, at(2, 12), "contain", "in_progress", "contained")
    _move(a1, at(2, 14), "close", "contained", "closed")
    a2 = _alert("a2", "concurrent_session_reuse", "critical", alice, at(3, 9), "contained")
    _move(a2, at(3, 9, 45), "acknowledge", "new", "in_progress")
    _move(a2, at(3, 10), "escalate", "in_progress", "in_progress")
    _move(a2, at(3, 11), "contain", "in_progress", "contained")
    a3 = _alert("a3", "human_use_of_nhi", "medium", svc, at(5, 8), "closed", "false_positive")
    _move(a3, at(5, 12), "acknowledge", "new", "in_progress")
    _move(a3, at(5, 13), "close", "in_progress", "closed")
    a4 = _alert("a4", "nhi_new_context", "low", svc, at(6, 0))
    a5 = _alert("a5", "impossible_travel", "high", alice, at(20, 0, month=2))

    _revocation("r1", alice, at(2, 12), "succeeded", "verified")
    _revocation("r2", alice, at(3, 11), "succeeded", "failed")
    _revocation("r3", svc, at(4, 9), "failed", "not_applicable")
    _revocation("r4", svc, at(5, 9), "rejected", "not_applicable")
    _revocation("r5", alice, at(25, 9, month=2), "succeeded", "verified")
    return {"alerts": [a1, a2, a3, a4, a5], "alice": alice, "svc": svc, "source": source}
