"""Writes for detectors, alerts and the triage workflow.

Every change is audit-logged and recorded in the alert's history in the same transaction;
notifications are recorded with it and delivered on commit. ``actor=None`` is the system
(detection, sweeps, the revocation service), which may do what any role may, including
re-opening.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from govern.audit import audit_log
from sessions_app.models import Identity

from . import notifications, selectors
from .detectors import REGISTRY
from .models import (
    Alert,
    AlertHistory,
    Comment,
    DetectorConfig,
    IdentityClass,
    NotificationKind,
    NotificationPreference,
    OwnerAnswer,
    OwnerQuestion,
    Resolution,
    SavedView,
    Severity,
    SLAPolicy,
    Stage,
    Substatus,
    SuppressionRule,
)


class WorkflowError(Exception):
    """An illegal transition, a missing reason/resolution or a missing permission."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Which stage may follow which. In progress → In progress changes the status inside the stage.
TRANSITIONS: dict[str, set[str]] = {
    Stage.NEW: {Stage.IN_PROGRESS, Stage.CONTAINED, Stage.CLOSED, Stage.SUPPRESSED},
    Stage.IN_PROGRESS: {Stage.IN_PROGRESS, Stage.CONTAINED, Stage.CLOSED, Stage.SUPPRESSED},
    Stage.CONTAINED: {Stage.IN_PROGRESS, Stage.CLOSED},
    Stage.CLOSED: {Stage.IN_PROGRESS},
    Stage.SUPPRESSED: {Stage.NEW},
}
REOPENS = {(Stage.CLOSED, Stage.IN_PROGRESS), (Stage.SUPPRESSED, Stage.NEW)}
MAX_ACCEPTANCE = timedelta(days=365)
MAX_SUPPRESSION = timedelta(days=365)
BULK_LIMIT = 2000
MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")


def _label(actor) -> str:
    return actor.get_username() if actor is not None else "system"


def _require(actor, *perms: str) -> None:
    """The actor must hold one of ``perms``; the system (None) always may."""
    if actor is None:
        return
    if not any(actor.has_perm(p) for p in perms):
        raise WorkflowError("You do not have permission to do this.")


def _history(alert: Alert, *, actor, action: str, from_stage="", to_stage="", reason="", **details):
    AlertHistory.objects.create(
        alert=alert,
        at=timezone.now(),
        actor=actor,
        actor_label=_label(actor) if actor is not None else "system:triage",
        action=action,
        from_stage=from_stage,
        to_stage=to_stage,
        reason=reason,
        details=details,
    )


def _locked(alert: Alert) -> Alert:
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("response_owner")
        .get(pk=alert.pk)
    )


def _refresh_risk(alert: Alert) -> None:
    """Session and identity risk follow their strongest open alert (the engine's rule)."""
    from . import engine

    engine.refresh_risk(identity=alert.identity, session=alert.session)


# ---------------------------------------------------------------------------- detectors


@transaction.atomic
def detector_configure(
    *, detector_id: str, enabled: bool, params: dict, actor, client_ip: str | None = None
) -> DetectorConfig:
    """Enable/disable a detector and set threshold overrides (validated; raises ValueError)."""
    detector = REGISTRY[detector_id]
    clean = detector.validate_params(params)  # raises ParamsError (a ValueError) per field
    overrides = {k: v for k, v in clean.items() if v != detector.spec.thresholds[k].default}
    config, _ = DetectorConfig.objects.select_for_update().get_or_create(detector_id=detector_id)
    before = {"enabled": config.enabled, "params": config.params}
    config.enabled, config.params, config.updated_by = enabled, overrides, actor
    config.save()
    audit_log(
        actor=actor,
        verb="detector.configure",
        object_type="alerts_app.detector",
        object_id=detector_id,
        object_repr=detector.spec.title,
        before=before,
        after={"enabled": enabled, "params": overrides},
        client_ip=client_ip,
    )
    return config


# ---------------------------------------------------------------------------- assignment


@transaction.atomic
def alert_assign(*, alert: Alert, assignee, actor) -> Alert:
    """Set (or clear, with ``assignee=None``) the analyst working an alert.

    Claiming a New alert acknowledges it: it moves to In progress / acknowledged and its
    time-to-acknowledge clock stops.
    """
    _require(actor, "alerts_app.triage_alert")
    alert = _locked(alert)
    if not alert.is_open:
        raise WorkflowError("Only open alerts can be assigned; re-open it first.")
    if assignee is not None and not (
        assignee.is_active and assignee.has_perm("alerts_app.triage_alert")
    ):
        raise WorkflowError(f"{assignee.get_username()} cannot triage alerts.")
    if assignee is not None and alert.assignee_id == assignee.pk:
        raise WorkflowError(f"Already assigned to {assignee.get_username()}.")
    before = {"assignee": alert.assignee.get_username() if alert.assignee else None}
    previous_stage = alert.stage
    alert.assignee = assignee
    now = timezone.now()
    if assignee is not None and alert.stage == Stage.NEW:
        alert.stage, alert.substatus = Stage.IN_PROGRESS, Substatus.ACKNOWLEDGED
        alert.acknowledged_at = alert.acknowledged_at or now
    alert.save()
    who = assignee.get_username() if assignee else None
    _history(
        alert,
        actor=actor,
        action="assigned" if assignee else "unassigned",
        from_stage=previous_stage,
        to_stage=alert.stage,
        reason=f"Assigned to {who}." if who else "Unassigned.",
        assignee=who,
    )
    audit_log(
        actor=actor,
        actor_label="" if actor else "system:triage",
        verb="alert.assign",
        obj=alert,
        before={**before, "stage": previous_stage},
        after={"assignee": who, "stage": alert.stage},
    )
    if assignee is not None and assignee != actor:
        notifications.notify(
            kind=NotificationKind.ASSIGNED,
            alert=alert,
            users=[assignee],
            subject=f"Alert #{alert.pk} assigned to you: {alert.title}",
            body=f"{_label(actor)} assigned you alert #{alert.pk} "
            f"({alert.get_severity_display()}).",
        )
    return alert


# ---------------------------------------------------------------------------- transitions


@transaction.atomic
def alert_transition(
    *,
    alert: Alert,
    to_stage: str,
    actor,
    reason: str,
    substatus: str = "",
    resolution: str = "",
    duplicate_of: Alert | None = None,
    accepted_until: datetime | None = None,
    approver=None,
) -> Alert:
    """Move an alert to another stage (or status inside In progress), with a reason.

    Raises ``WorkflowError`` for an illegal move, a missing reason or resolution, a missing
    permission, or a bad duplicate/risk-acceptance. Closing as risk accepted needs an approver
    holding ``accept_risk`` and an expiry: when the actor is not the approver, the alert goes
    to In progress / pending approval and the approver is asked; the approver then closes it.
    """
    alert = _locked(alert)
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError("A reason is required.")
    if to_stage not in Stage.values:
        raise WorkflowError(f"Unknown stage {to_stage!r}.")
    from_stage = alert.stage
    if to_stage not in TRANSITIONS[from_stage]:
        raise WorkflowError(
            f"An alert cannot go from {Stage(from_stage).label} to {Stage(to_stage).label}."
        )
    if to_stage == Stage.IN_PROGRESS:
        substatus = substatus or Substatus.INVESTIGATING
        if substatus not in Substatus.values:
            raise WorkflowError(f"Unknown status {substatus!r}.")
        if from_stage == Stage.IN_PROGRESS and substatus == alert.substatus:
            raise WorkflowError(f"The alert is already {Substatus(substatus).label.lower()}.")
    else:
        substatus = ""
    pending_approval = alert.substatus == Substatus.PENDING_APPROVAL
    if (from_stage, to_stage) in REOPENS:
        _require(actor, "alerts_app.reopen_alert")
    elif pending_approval and (
        resolution == Resolution.RISK_ACCEPTED or to_stage == Stage.IN_PROGRESS
    ):
        _require(actor, "alerts_app.accept_risk", "alerts_app.triage_alert")
    else:
        _require(actor, "alerts_app.triage_alert")

    now = timezone.now()
    if to_stage == Stage.CLOSED:
        if resolution not in Resolution.values:
            raise WorkflowError("Closing needs a resolution.")
        if resolution == Resolution.DUPLICATE:
            if duplicate_of is None:
                raise WorkflowError("Say which alert this duplicates.")
            if duplicate_of.pk == alert.pk:
                raise WorkflowError("An alert cannot duplicate itself.")
        if resolution == Resolution.RISK_ACCEPTED:
            return _accept_risk(
                alert, actor=actor, reason=reason, until=accepted_until, approver=approver, now=now
            )
    elif resolution:
        raise WorkflowError("A resolution is only given when closing.")

    before = {"stage": from_stage, "substatus": alert.substatus, "resolution": alert.resolution}
    alert.stage, alert.substatus = to_stage, substatus
    if to_stage != Stage.SUPPRESSED and from_stage == Stage.NEW:
        alert.acknowledged_at = alert.acknowledged_at or now
    if to_stage == Stage.CONTAINED:
        alert.contained_at = alert.contained_at or now
    if to_stage == Stage.CLOSED:
        alert.resolution, alert.closed_at = resolution, now
        alert.duplicate_of = duplicate_of if resolution == Resolution.DUPLICATE else None
    if (from_stage, to_stage) in REOPENS:
        alert.resolution, alert.closed_at, alert.duplicate_of = "", None, None
        alert.accepted_until = None
    if (from_stage, to_stage) == (Stage.SUPPRESSED, Stage.NEW):
        alert.suppressed_by = None
    alert.save()
    action = "reopened" if (from_stage, to_stage) in REOPENS else "transition"
    _history(
        alert,
        actor=actor,
        action=action,
        from_stage=from_stage,
        to_stage=to_stage,
        reason=reason,
        substatus=substatus,
        resolution=alert.resolution,
        duplicate_of=duplicate_of.pk if duplicate_of and to_stage == Stage.CLOSED else None,
    )
    audit_log(
        actor=actor,
        actor_label="" if actor else "system:triage",
        verb="alert.reopen" if action == "reopened" else "alert.transition",
        obj=alert,
        before=before,
        after={
            "stage": to_stage,
            "substatus": substatus,
            "resolution": alert.resolution,
            "reason": reason,
        },
    )
    owner = alert.response_owner
    if substatus == Substatus.AWAITING_INFO and owner and (owner.email or owner.chat_webhook_url):
        owner_question_ask(alert=alert, question=reason, actor=actor)
    if (from_stage in Stage.open_stages()) != (to_stage in Stage.open_stages()):
        _refresh_risk(alert)
    return alert


def _accept_risk(alert: Alert, *, actor, reason: str, until, approver, now) -> Alert:
    if until is None or until <= now:
        raise WorkflowError("Risk acceptance needs an expiry in the future.")
    if until > now + MAX_ACCEPTANCE:
        raise WorkflowError("Risk can be accepted for at most a year.")
    approver = approver or actor
    if approver is None:
        raise WorkflowError("Risk acceptance needs an approver.")
    if not (approver.is_active and approver.has_perm("alerts_app.accept_risk")):
        raise WorkflowError(f"{approver.get_username()} cannot approve risk acceptance.")
    from_stage = alert.stage
    before = {"stage": from_stage, "substatus": alert.substatus, "resolution": alert.resolution}
    alert.accepted_until, alert.risk_approver = until, approver
    if actor is not None and approver != actor:
        # Separation of duties: the approver, not the requester, closes the alert.
        if alert.stage not in (Stage.NEW, Stage.IN_PROGRESS):
            raise WorkflowError("Only New or In progress alerts can be sent for approval.")
        alert.stage, alert.substatus = Stage.IN_PROGRESS, Substatus.PENDING_APPROVAL
        alert.acknowledged_at = alert.acknowledged_at or now
        alert.save()
        _history(
            alert,
            actor=actor,
            action="approval_requested",
            from_stage=from_stage,
            to_stage=alert.stage,
            reason=reason,
            approver=approver.get_username(),
            accepted_until=until.isoformat(),
        )
        audit_log(
            actor=actor,
            verb="alert.request_risk_acceptance",
            obj=alert,
            before=before,
            after={"approver": approver.get_username(), "until": until, "reason": reason},
        )
        notifications.notify(
            kind=NotificationKind.APPROVAL,
            alert=alert,
            users=[approver],
            subject=f"Approval requested: accept the risk of alert #{alert.pk}",
            body=f"{_label(actor)} asks you to accept the risk until {until:%Y-%m-%d}: {reason}",
        )
        return alert
    alert.stage, alert.substatus = Stage.CLOSED, ""
    alert.resolution, alert.closed_at = Resolution.RISK_ACCEPTED, now
    alert.acknowledged_at = alert.acknowledged_at or now
    alert.save()
    _history(
        alert,
        actor=actor,
        action="transition",
        from_stage=from_stage,
        to_stage=Stage.CLOSED,
        reason=reason,
        resolution=Resolution.RISK_ACCEPTED,
        approver=approver.get_username(),
        accepted_until=until.isoformat(),
    )
    audit_log(
        actor=actor,
        actor_label="" if actor else "system:triage",
        verb="alert.accept_risk",
        obj=alert,
        before=before,
        after={
            "stage": Stage.CLOSED,
            "resolution": Resolution.RISK_ACCEPTED,
            "until": until,
            "approver": approver.get_username(),
            "reason": reason,
        },
    )
    _refresh_risk(alert)
    return alert


# ---------------------------------------------------------------------------- escalation


@transaction.atomic
def alert_escalate(*, alert: Alert, level: int, to: str, reason: str, actor) -> Alert:
    """Escalate an open alert (an attribute, not a stage): level 1–3, to whom, why."""
    _require(actor, "alerts_app.triage_alert")
    alert = _locked(alert)
    if not alert.is_open:
        raise WorkflowError("Only open alerts can be escalated.")
    to, reason = (to or "").strip(), (reason or "").strip()
    if level not in (1, 2, 3):
        raise WorkflowError("Escalation level must be 1, 2 or 3.")
    if not to or not reason:
        raise WorkflowError("Say to whom and why you escalate.")
    before = {"level": alert.escalation_level, "to": alert.escalated_to}
    alert.escalation_level, alert.escalated_to, alert.escalation_reason = level, to[:200], reason
    alert.escalated_at = timezone.now()
    alert.save()
    _history(
        alert,
        actor=actor,
        action="escalated",
        from_stage=alert.stage,
        to_stage=alert.stage,
        reason=reason,
        level=level,
        to=alert.escalated_to,
    )
    audit_log(
        actor=actor,
        actor_label="" if actor else "system:triage",
        verb="alert.escalate",
        obj=alert,
        before=before,
        after={"level": level, "to": alert.escalated_to, "reason": reason},
    )
    target = get_user_model().objects.filter(username=to).first()
    if target is not None and target.has_perm("alerts_app.view_alert"):
        notifications.notify(
            kind=NotificationKind.ESCALATED,
            alert=alert,
            users=[target],
            subject=f"Alert #{alert.pk} escalated to you (level {level})",
            body=f"{_label(actor)}: {reason}",
        )
    return alert


# ---------------------------------------------------------------------------- comments


@transaction.atomic
def alert_comment(*, alert: Alert, text: str, actor) -> Comment:
    """Add a comment; ``@username`` mentions of users who can see alerts notify them."""
    _require(actor, "alerts_app.triage_alert")
    text = (text or "").strip()
    if not text:
        raise WorkflowError("A comment cannot be empty.")
    if len(text) > 10000:
        raise WorkflowError("A comment can be at most 10,000 characters.")
    names = set(MENTION.findall(text))
    mentioned = [
        u
        for u in get_user_model().objects.filter(username__in=names, is_active=True)
        if u.has_perm("alerts_app.view_alert")
    ]
    comment = Comment.objects.create(
        alert=alert, author=actor, author_label=_label(actor), text=text
    )
    comment.mentions.set(mentioned)
    _history(
        alert,
        actor=actor,
        action="commented",
        from_stage=alert.stage,
        to_stage=alert.stage,
        reason=text[:500],
        comment=comment.pk,
        mentions=sorted(u.get_username() for u in mentioned),
    )
    audit_log(
        actor=actor,
        verb="alert.comment",
        obj=alert,
        after={"comment": comment.pk, "mentions": sorted(u.get_username() for u in mentioned)},
    )
    notifications.notify(
        kind=NotificationKind.MENTION,
        alert=alert,
        users=[u for u in mentioned if u != actor],
        subject=f"{_label(actor)} mentioned you on alert #{alert.pk}",
        body=text[:2000],
    )
    return comment


# ---------------------------------------------------------------------------- bulk


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


BULK_ACTIONS = ("assign", "transition", "close")


@transaction.atomic
def alert_bulk_apply(
    *,
    alerts: QuerySet[Alert],
    action: str,
    actor,
    reason: str = "",
    assignee=None,
    to_stage: str = "",
    substatus: str = "",
    resolution: str = "",
) -> BulkResult:
    """Apply one action to many alerts (selected rows or every row matching a filter).

    Each alert goes through the single-alert service in its own savepoint, so an alert that
    cannot take the action is reported in ``skipped`` with the reason and the rest proceed.
    """
    _require(actor, "alerts_app.triage_alert")
    if action not in BULK_ACTIONS:
        raise WorkflowError(f"Unknown bulk action {action!r}.")
    if action in ("transition", "close") and not (reason or "").strip():
        raise WorkflowError("A reason is required.")
    if action == "close" and resolution not in Resolution.values:
        raise WorkflowError("Closing needs a resolution.")
    if action == "close" and resolution in (Resolution.DUPLICATE, Resolution.RISK_ACCEPTED):
        raise WorkflowError("Close duplicates and risk acceptances one alert at a time.")
    ids = list(alerts.order_by("id").values_list("id", flat=True)[: BULK_LIMIT + 1])
    if len(ids) > BULK_LIMIT:
        raise WorkflowError(f"More than {BULK_LIMIT} alerts match; narrow the filter and repeat.")
    result = BulkResult()
    for alert in Alert.objects.filter(pk__in=ids).order_by("id"):
        try:
            with transaction.atomic():
                if action == "assign":
                    alert_assign(alert=alert, assignee=assignee, actor=actor)
                else:
                    alert_transition(
                        alert=alert,
                        to_stage=Stage.CLOSED if action == "close" else to_stage,
                        actor=actor,
                        reason=reason,
                        substatus=substatus,
                        resolution=resolution if action == "close" else "",
                    )
        except WorkflowError as exc:
            result.skipped[alert.pk] = exc.message
        else:
            result.done.append(alert.pk)
    audit_log(
        actor=actor,
        verb="alert.bulk",
        object_type="alerts_app.alert",
        object_repr=f"{len(result.done)} alerts",
        after={
            "action": action,
            "done": result.done,
            "skipped": len(result.skipped),
            "reason": reason,
            "resolution": resolution,
            "to_stage": to_stage,
            "assignee": assignee.get_username() if assignee else None,
        },
    )
    return result


# ---------------------------------------------------------------------------- suppression


@transaction.atomic
def suppression_rule_create(
    *,
    alert: Alert,
    reason: str,
    expires_at: datetime,
    actor,
    identity: Identity | None = None,
    asn: int | None = None,
    country: str = "",
    ip: str | None = None,
) -> SuppressionRule:
    """A rule from an alert: its detector + the chosen conditions, until ``expires_at``.

    The alert it was made from and the open New / In progress alerts it matches are moved to
    Suppressed (recorded, not discarded); future matches are created as Suppressed.
    """
    _require(actor, "alerts_app.add_suppressionrule")
    reason = (reason or "").strip()
    now = timezone.now()
    if not reason:
        raise WorkflowError("A reason is required.")
    if expires_at is None or expires_at <= now:
        raise WorkflowError("The expiry must be in the future.")
    if expires_at > now + MAX_SUPPRESSION:
        raise WorkflowError("A suppression can last at most a year.")
    if identity is None and asn is None and not country and not ip:
        raise WorkflowError("Choose at least one condition (identity, ASN, country or IP).")
    rule = SuppressionRule.objects.create(
        detector_id=alert.detector_id,
        identity=identity,
        asn=asn,
        country=(country or "").upper(),
        ip=ip or None,
        reason=reason,
        expires_at=expires_at,
        created_by=actor,
        created_from=alert,
    )
    audit_log(
        actor=actor,
        verb="suppression.create",
        obj=rule,
        after={
            "detector": rule.detector_id,
            "conditions": rule.conditions_text,
            "expires_at": expires_at,
            "reason": reason,
        },
    )
    candidates = Alert.objects.filter(
        detector_id=rule.detector_id, stage__in=[Stage.NEW, Stage.IN_PROGRESS]
    )
    if identity is not None:
        candidates = candidates.filter(identity=identity)
    for candidate in candidates.order_by("id")[:BULK_LIMIT]:
        if rule.matches(
            detector_id=candidate.detector_id,
            identity_id=candidate.identity_id,
            evidence=candidate.evidence,
        ):
            _suppress(candidate, rule=rule, actor=actor)
    return rule


def _suppress(alert: Alert, *, rule: SuppressionRule, actor) -> None:
    reason = f"Matches suppression rule #{rule.pk} ({rule.conditions_text}): {rule.reason}"
    alert = alert_transition(alert=alert, to_stage=Stage.SUPPRESSED, actor=actor, reason=reason)
    Alert.objects.filter(pk=alert.pk).update(suppressed_by=rule)


@transaction.atomic
def suppression_rule_end(
    *, rule: SuppressionRule, actor, reason: str, expired: bool = False
) -> SuppressionRule:
    """End a rule (early, or because it expired): its suppressed alerts go back to New."""
    if not expired:
        _require(actor, "alerts_app.manage_suppressionrule")
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError("A reason is required.")
    now = timezone.now()
    if not SuppressionRule.objects.filter(pk=rule.pk, ended_at__isnull=True).update(ended_at=now):
        raise WorkflowError("This suppression rule has already ended.")
    rule.refresh_from_db()
    audit_log(
        actor=actor,
        actor_label="" if actor else "system:triage",
        verb="suppression.expire" if expired else "suppression.end",
        obj=rule,
        after={"ended_at": now, "reason": reason},
    )
    for alert in Alert.objects.filter(suppressed_by=rule, stage=Stage.SUPPRESSED).order_by("id"):
        alert_transition(
            alert=alert,
            to_stage=Stage.NEW,
            actor=None,  # the system re-opens: the suppression, not a person, ended
            reason=f"Suppression rule #{rule.pk} ended: {reason}",
        )
    return rule


def suppression_sweep(*, now: datetime | None = None) -> int:
    """End every expired rule (idempotent: a rule ends once)."""
    now = now or timezone.now()
    ended = 0
    for rule in SuppressionRule.objects.filter(ended_at__isnull=True, expires_at__lte=now):
        try:
            suppression_rule_end(rule=rule, actor=None, reason="Expired.", expired=True)
        except WorkflowError:
            continue  # ended concurrently
        ended += 1
    return ended


# ---------------------------------------------------------------------------- SLA


@transaction.atomic
def sla_policy_set(*, matrix: dict[tuple[str, str], tuple[int, int]], actor) -> list[SLAPolicy]:
    """Replace the SLA matrix cells given (minutes); applies to alerts raised from now on."""
    _require(actor, "alerts_app.change_slapolicy")
    before = selectors.sla_matrix()
    cells = []
    for (severity, identity_class), (ack, contain) in matrix.items():
        if severity not in Severity.values or identity_class not in IdentityClass.values:
            raise WorkflowError(f"Unknown SLA cell {severity} × {identity_class}.")
        if not (0 < ack <= contain):
            raise WorkflowError(
                f"{severity} × {identity_class}: acknowledge must be > 0 and ≤ contain."
            )
        cell, _ = SLAPolicy.objects.update_or_create(
            severity=severity,
            identity_class=identity_class,
            defaults={"ack_minutes": ack, "contain_minutes": contain, "updated_by": actor},
        )
        cells.append(cell)
    audit_log(
        actor=actor,
        verb="sla.configure",
        object_type="alerts_app.slapolicy",
        object_repr="SLA matrix",
        before={f"{s}|{c}": list(v) for (s, c), v in before.items()},
        after={f"{s}|{c}": list(v) for (s, c), v in matrix.items()},
    )
    return cells


def sla_sweep(*, now: datetime | None = None) -> dict:
    """Flag newly breached SLAs once each (conditional update), record them and notify.

    The assignee is told; an unassigned alert's breach goes to the managers (accept_risk).
    """
    now = now or timezone.now()
    flagged = {"ack": 0, "contain": 0}
    managers = None
    breaches = (
        ("ack", "ack_breach_at", {"acknowledged_at__isnull": True, "ack_due_at__lt": now}),
        ("contain", "contain_breach_at", {"contained_at__isnull": True, "contain_due_at__lt": now}),
    )
    for kind, flag, condition in breaches:
        candidates = Alert.objects.open().filter(**condition, **{f"{flag}__isnull": True})
        for alert in candidates.select_related("assignee").order_by("id")[:BULK_LIMIT]:
            with transaction.atomic():
                if not Alert.objects.filter(pk=alert.pk, **{f"{flag}__isnull": True}).update(
                    **{flag: now}
                ):
                    continue
                due = alert.ack_due_at if kind == "ack" else alert.contain_due_at
                what = "acknowledged" if kind == "ack" else "contained"
                reason = f"Not {what} by {due:%Y-%m-%d %H:%M} UTC (SLA)."
                _history(
                    alert,
                    actor=None,
                    action="sla_breach",
                    from_stage=alert.stage,
                    to_stage=alert.stage,
                    reason=reason,
                    clock=kind,
                )
                audit_log(
                    actor_label="system:sla",
                    verb="alert.sla_breach",
                    obj=alert,
                    after={"clock": kind, "due": due},
                )
                if alert.assignee_id:
                    users = [alert.assignee]
                else:
                    if managers is None:
                        managers = list(selectors.users_with_perm("alerts_app.accept_risk"))
                    users = managers
                notifications.notify(
                    kind=NotificationKind.SLA_BREACH,
                    alert=alert,
                    users=users,
                    subject=f"SLA breached on alert #{alert.pk}: {alert.title}",
                    body=reason,
                )
                flagged[kind] += 1
    return flagged


def risk_acceptance_sweep(*, now: datetime | None = None) -> int:
    """Re-open (as the system) every alert whose risk acceptance has expired."""
    now = now or timezone.now()
    reopened = 0
    expired = Alert.objects.filter(
        stage=Stage.CLOSED, resolution=Resolution.RISK_ACCEPTED, accepted_until__lte=now
    )
    for alert in expired.order_by("id")[:BULK_LIMIT]:
        try:
            alert_transition(
                alert=alert,
                to_stage=Stage.IN_PROGRESS,
                actor=None,
                reason=f"Risk acceptance expired on {alert.accepted_until:%Y-%m-%d %H:%M} UTC.",
            )
        except WorkflowError:
            continue  # re-opened concurrently
        reopened += 1
    return reopened


# ---------------------------------------------------------------------------- owners


@transaction.atomic
def owner_question_ask(*, alert: Alert, question: str, actor) -> OwnerQuestion:
    """Ask the alert's response owner "was this you?" by email and/or webhook, with a link."""
    _require(actor, "alerts_app.triage_alert")
    owner = alert.response_owner
    if owner is None:
        raise WorkflowError("This alert has no response owner to ask.")
    if not owner.email and not owner.chat_webhook_url:
        raise WorkflowError(f"{owner} has neither an email address nor a chat webhook.")
    question = (question or "").strip()
    if not question:
        raise WorkflowError("Write the question to ask.")
    asked = OwnerQuestion.objects.create(
        alert=alert, owner=owner, question=question, asked_by=actor
    )
    link = notifications.owner_question_link(asked)
    _history(
        alert,
        actor=actor,
        action="owner_asked",
        from_stage=alert.stage,
        to_stage=alert.stage,
        reason=question,
        owner=owner.name,
        question=asked.pk,
    )
    audit_log(
        actor=actor,
        actor_label="" if actor else "system:triage",
        verb="alert.ask_owner",
        obj=alert,
        after={"owner": owner.name, "question": question},
    )
    notifications.notify(
        kind=NotificationKind.OWNER_QUESTION,
        alert=alert,
        owner=owner,
        subject=f"Was this you? {alert.identity.display_name}: {alert.title}",
        body=f"{question}\n\n{alert.summary}\n\nAnswer here: {link}",
        link=link,
    )
    return asked


@transaction.atomic
def owner_question_answer(
    *, question: OwnerQuestion, answer: str, note: str, answered_by: str
) -> OwnerQuestion:
    """Record the owner's answer on the alert; an alert awaiting info goes back to investigating."""
    question = OwnerQuestion.objects.select_for_update().get(pk=question.pk)
    if question.answered_at is not None:
        raise WorkflowError("This question has already been answered.")
    if answer not in OwnerAnswer.values:
        raise WorkflowError("Choose an answer.")
    answered_by = (answered_by or "").strip()[:200]
    if not answered_by:
        raise WorkflowError("Give your name.")
    question.answer, question.answer_note = answer, (note or "").strip()
    question.answered_at, question.answered_by = timezone.now(), answered_by
    question.save()
    alert = _locked(question.alert)
    label = f"{OwnerAnswer(answer).label}" + (
        f" — {question.answer_note}" if question.answer_note else ""
    )
    AlertHistory.objects.create(
        alert=alert,
        at=timezone.now(),
        actor_label=f"owner:{answered_by}"[:200],
        action="owner_answered",
        from_stage=alert.stage,
        to_stage=alert.stage,
        reason=label,
        details={"answer": answer, "owner": question.owner.name},
    )
    audit_log(
        actor_label=f"owner:{answered_by}",
        verb="alert.owner_answer",
        obj=alert,
        after={"answer": answer, "note": question.answer_note, "owner": question.owner.name},
    )
    if alert.stage == Stage.IN_PROGRESS and alert.substatus == Substatus.AWAITING_INFO:
        alert_transition(
            alert=alert,
            to_stage=Stage.IN_PROGRESS,
            substatus=Substatus.INVESTIGATING,
            actor=None,
            reason=f"{question.owner} answered: {label}",
        )
    if alert.assignee_id:
        notifications.notify(
            kind=NotificationKind.OWNER_QUESTION,
            alert=alert,
            users=[alert.assignee],
            subject=f"{question.owner} answered on alert #{alert.pk}",
            body=label,
        )
    return question


# ---------------------------------------------------------------------------- personal


@transaction.atomic
def saved_view_create(*, user, name: str, query: str, actor) -> SavedView:
    name = (name or "").strip()
    if not name:
        raise WorkflowError("Name the view.")
    if SavedView.objects.filter(user=user, name=name).exists():
        raise WorkflowError(f"You already have a view called {name!r}.")
    view = SavedView.objects.create(user=user, name=name[:80], query=(query or "")[:1000])
    audit_log(actor=actor, verb="saved_view.create", obj=view, after={"query": view.query})
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView, actor) -> None:
    if actor is not None and view.user_id != actor.pk:
        raise WorkflowError("You can only delete your own views.")
    audit_log(actor=actor, verb="saved_view.delete", obj=view, before={"query": view.query})
    view.delete()


@transaction.atomic
def notification_preference_set(
    *, user, digest: bool, email: bool, webhook_url: str, actor
) -> NotificationPreference:
    if actor is not None and actor.pk != user.pk:
        raise WorkflowError("You can only change your own notification settings.")
    pref, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
    before = {"digest": pref.digest, "email": pref.email, "webhook": bool(pref.webhook_url)}
    pref.digest, pref.email, pref.webhook_url = digest, email, webhook_url
    pref.save()
    audit_log(
        actor=actor,
        verb="notification_preference.set",
        obj=pref,
        before=before,
        after={"digest": digest, "email": email, "webhook": bool(webhook_url)},
    )
    return pref
