"""The triage workflow through its services, against PostgreSQL."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts_app import services
from alerts_app.models import (
    Alert,
    AlertHistory,
    Notification,
    NotificationKind,
    Resolution,
    SLAPolicy,
    Stage,
    Substatus,
)
from alerts_app.selectors import sla_due_times, sla_matrix
from alerts_app.services import WorkflowError
from sessions_app.models import AuditEvent

from . import triage_helpers as h


def verbs(alert):
    return list(
        AuditEvent.objects.filter(object_type="alerts_app.alert", object_id=str(alert.pk))
        .order_by("id")
        .values_list("verb", flat=True)
    )


def test_assign_acknowledges_new_alert_and_notifies_assignee(analyst, admin_user):
    alert = h.alert()
    alert = services.alert_assign(alert=alert, assignee=admin_user, actor=analyst)
    assert alert.assignee == admin_user
    assert alert.stage == Stage.IN_PROGRESS and alert.substatus == Substatus.ACKNOWLEDGED
    assert alert.acknowledged_at is not None
    row = alert.history.get(action="assigned")
    assert (row.from_stage, row.to_stage, row.actor) == (Stage.NEW, Stage.IN_PROGRESS, analyst)
    assert verbs(alert) == ["alert.assign"]
    assert Notification.objects.get(kind=NotificationKind.ASSIGNED).recipient == admin_user


def test_assign_to_self_does_not_notify_and_refuses_non_triager(analyst, manager):
    alert = h.alert()
    services.alert_assign(alert=alert, assignee=analyst, actor=analyst)
    assert not Notification.objects.exists()
    with pytest.raises(WorkflowError, match="cannot triage"):
        services.alert_assign(alert=alert, assignee=manager, actor=analyst)
    with pytest.raises(WorkflowError, match="permission"):
        services.alert_assign(alert=alert, assignee=analyst, actor=manager)


def test_transition_requires_reason_and_legal_move(analyst):
    alert = h.alert()
    with pytest.raises(WorkflowError, match="reason"):
        services.alert_transition(alert=alert, to_stage=Stage.CONTAINED, actor=analyst, reason=" ")
    with pytest.raises(WorkflowError, match="cannot go from New to New"):
        services.alert_transition(alert=alert, to_stage=Stage.NEW, actor=analyst, reason="x")
    with pytest.raises(WorkflowError, match="resolution"):
        services.alert_transition(alert=alert, to_stage=Stage.CLOSED, actor=analyst, reason="x")
    alert.refresh_from_db()
    assert alert.stage == Stage.NEW and not alert.history.exists()


def test_full_lifecycle_records_every_step(analyst):
    alert = h.alert()
    services.alert_transition(
        alert=alert, to_stage=Stage.IN_PROGRESS, actor=analyst, reason="looking"
    )
    services.alert_transition(
        alert=alert, to_stage=Stage.CONTAINED, actor=analyst, reason="session revoked"
    )
    services.alert_transition(
        alert=alert,
        to_stage=Stage.CLOSED,
        actor=analyst,
        reason="confirmed replay, remediated",
        resolution=Resolution.TRUE_POSITIVE,
    )
    alert.refresh_from_db()
    assert alert.stage == Stage.CLOSED and alert.resolution == Resolution.TRUE_POSITIVE
    assert alert.acknowledged_at and alert.contained_at and alert.closed_at
    steps = list(alert.history.values_list("from_stage", "to_stage", "reason"))
    assert steps == [
        ("new", "in_progress", "looking"),
        ("in_progress", "contained", "session revoked"),
        ("contained", "closed", "confirmed replay, remediated"),
    ]
    assert verbs(alert) == ["alert.transition"] * 3


def test_reopen_needs_permission_except_for_the_system(analyst, manager):
    alert = h.alert()
    services.alert_transition(
        alert=alert, to_stage=Stage.CLOSED, actor=analyst, reason="fp", resolution="false_positive"
    )
    with pytest.raises(WorkflowError, match="permission"):
        services.alert_transition(
            alert=alert, to_stage=Stage.IN_PROGRESS, actor=analyst, reason="again"
        )
    services.alert_transition(alert=alert, to_stage=Stage.IN_PROGRESS, actor=manager, reason="no")
    alert.refresh_from_db()
    assert alert.stage == Stage.IN_PROGRESS and alert.resolution == "" and alert.closed_at is None
    assert alert.history.last().action == "reopened"
    services.alert_transition(alert=alert, to_stage=Stage.CONTAINED, actor=None, reason="revoked")
    alert.refresh_from_db()
    assert alert.stage == Stage.CONTAINED
    assert alert.history.last().actor_label == "system:triage"


def test_duplicate_needs_the_original(analyst):
    original, alert = h.alert(), h.alert()
    with pytest.raises(WorkflowError, match="duplicates"):
        services.alert_transition(
            alert=alert, to_stage=Stage.CLOSED, actor=analyst, reason="dup", resolution="duplicate"
        )
    with pytest.raises(WorkflowError, match="itself"):
        services.alert_transition(
            alert=alert,
            to_stage=Stage.CLOSED,
            actor=analyst,
            reason="dup",
            resolution="duplicate",
            duplicate_of=alert,
        )
    services.alert_transition(
        alert=alert,
        to_stage=Stage.CLOSED,
        actor=analyst,
        reason="same incident",
        resolution="duplicate",
        duplicate_of=original,
    )
    alert.refresh_from_db()
    assert alert.duplicate_of == original


def test_risk_acceptance_goes_through_approval_then_reopens_on_expiry(analyst, manager):
    alert = h.alert()
    until = timezone.now() + timedelta(days=7)
    with pytest.raises(WorkflowError, match="approve"):
        services.alert_transition(
            alert=alert,
            to_stage=Stage.CLOSED,
            actor=analyst,
            reason="vendor VPN",
            resolution="risk_accepted",
            accepted_until=until,
            approver=analyst,
        )
    services.alert_transition(
        alert=alert,
        to_stage=Stage.CLOSED,
        actor=analyst,
        reason="vendor VPN",
        resolution="risk_accepted",
        accepted_until=until,
        approver=manager,
    )
    alert.refresh_from_db()
    assert alert.stage == Stage.IN_PROGRESS and alert.substatus == Substatus.PENDING_APPROVAL
    assert alert.risk_approver == manager
    assert Notification.objects.get(kind=NotificationKind.APPROVAL).recipient == manager
    # The manager approves by closing it as risk accepted themselves.
    services.alert_transition(
        alert=alert,
        to_stage=Stage.CLOSED,
        actor=manager,
        reason="accepted until the VPN moves",
        resolution="risk_accepted",
        accepted_until=until,
    )
    alert.refresh_from_db()
    assert alert.stage == Stage.CLOSED and alert.resolution == Resolution.RISK_ACCEPTED
    assert services.risk_acceptance_sweep(now=until - timedelta(minutes=1)) == 0
    assert services.risk_acceptance_sweep(now=until + timedelta(minutes=1)) == 1
    alert.refresh_from_db()
    assert alert.stage == Stage.IN_PROGRESS and alert.history.last().action == "reopened"
    assert "expired" in alert.history.last().reason
    assert services.risk_acceptance_sweep(now=until + timedelta(minutes=2)) == 0


def test_manager_cannot_triage_but_can_approve(manager, analyst):
    alert = h.alert()
    with pytest.raises(WorkflowError, match="permission"):
        services.alert_transition(
            alert=alert, to_stage=Stage.IN_PROGRESS, actor=manager, reason="x"
        )
    with pytest.raises(WorkflowError, match="permission"):
        services.alert_comment(alert=alert, text="hi", actor=manager)
    assert Alert.objects.restrict(manager, "triage").count() == 0
    assert Alert.objects.restrict(analyst, "triage").count() == 1
    assert Alert.objects.restrict(manager, "view").count() == 1


def test_escalation_is_an_attribute_in_any_open_stage(analyst, admin_user):
    alert = h.alert(stage=Stage.CONTAINED)
    with pytest.raises(WorkflowError, match="level"):
        services.alert_escalate(alert=alert, level=5, to="x", reason="y", actor=analyst)
    alert = services.alert_escalate(
        alert=alert, level=2, to=admin_user.username, reason="privileged", actor=analyst
    )
    assert alert.stage == Stage.CONTAINED and alert.escalation_level == 2
    assert alert.escalated_at is not None
    assert Notification.objects.get(kind=NotificationKind.ESCALATED).recipient == admin_user
    closed = h.alert(stage=Stage.CLOSED, resolution="benign")
    with pytest.raises(WorkflowError, match="open"):
        services.alert_escalate(alert=closed, level=1, to="x", reason="y", actor=analyst)


def test_comment_mentions_notify_and_unknown_names_are_ignored(analyst, admin_user, manager):
    alert = h.alert()
    comment = services.alert_comment(
        alert=alert,
        text=f"@{admin_user.username} and @{manager.username} see this; @nobody; mail a@b.c",
        actor=analyst,
    )
    assert set(comment.mentions.all()) == {admin_user, manager}
    recipients = set(Notification.objects.values_list("recipient__username", flat=True))
    assert recipients == {admin_user.username, manager.username}
    assert alert.history.get(action="commented").details["mentions"] == sorted(
        [admin_user.username, manager.username]
    )
    with pytest.raises(WorkflowError, match="empty"):
        services.alert_comment(alert=alert, text="   ", actor=analyst)


def test_sla_defaults_and_admin_matrix(admin_user, analyst):
    start = timezone.now()
    ack, contain = sla_due_times(severity="critical", identity_kind="human", start=start)
    assert (ack - start, contain - start) == (timedelta(minutes=15), timedelta(hours=1))
    ack, contain = sla_due_times(severity="high", identity_kind="service_account", start=start)
    assert contain - start == timedelta(hours=8)
    with pytest.raises(WorkflowError, match="permission"):
        services.sla_policy_set(matrix={("high", "human"): (30, 120)}, actor=analyst)
    with pytest.raises(WorkflowError, match="≤ contain"):
        services.sla_policy_set(matrix={("high", "human"): (300, 120)}, actor=admin_user)
    services.sla_policy_set(matrix={("high", "human"): (30, 120)}, actor=admin_user)
    assert sla_matrix()[("high", "human")] == (30, 120)
    assert SLAPolicy.objects.count() == 1
    assert AuditEvent.objects.filter(verb="sla.configure").count() == 1


def test_sla_sweep_flags_each_breach_once_and_notifies(analyst, manager):
    past = timezone.now() - timedelta(minutes=5)
    unassigned = h.alert(ack_due_at=past)
    mine = h.alert(ack_due_at=past, contain_due_at=past, assignee=analyst)
    acknowledged = h.alert(ack_due_at=past, acknowledged_at=past)
    flagged = services.sla_sweep()
    assert flagged == {"ack": 2, "contain": 1}
    assert services.sla_sweep() == {"ack": 0, "contain": 0}
    assert AlertHistory.objects.filter(action="sla_breach", alert=mine).count() == 2
    assert not AlertHistory.objects.filter(action="sla_breach", alert=acknowledged).exists()
    breach = Notification.objects.filter(kind=NotificationKind.SLA_BREACH)
    assert set(breach.filter(alert=unassigned).values_list("recipient", flat=True)) == {manager.pk}
    assert set(breach.filter(alert=mine).values_list("recipient", flat=True)) == {analyst.pk}
    assert Alert.objects.sla_breaching(timezone.now()).count() == 2


def test_bulk_close_applies_to_each_and_reports_skips(analyst):
    alerts = [h.alert() for _ in range(3)]
    done = h.alert(stage=Stage.CLOSED, resolution="benign")
    result = services.alert_bulk_apply(
        alerts=Alert.objects.filter(pk__in=[a.pk for a in [*alerts, done]]),
        action="close",
        actor=analyst,
        reason="scanner noise",
        resolution="false_positive",
    )
    assert sorted(result.done) == sorted(a.pk for a in alerts)
    assert set(result.skipped) == {done.pk}
    assert Alert.objects.filter(resolution="false_positive").count() == 3
    assert AuditEvent.objects.filter(verb="alert.bulk").count() == 1
    with pytest.raises(WorkflowError, match="reason"):
        services.alert_bulk_apply(
            alerts=Alert.objects.all(), action="close", actor=analyst, resolution="benign"
        )


def test_bulk_limit_refuses_too_many(analyst, monkeypatch):
    monkeypatch.setattr(services, "BULK_LIMIT", 2)
    for _ in range(3):
        h.alert()
    with pytest.raises(WorkflowError, match="narrow"):
        services.alert_bulk_apply(
            alerts=Alert.objects.all(), action="assign", actor=analyst, assignee=analyst
        )
    assert not Alert.objects.filter(assignee=analyst).exists()
