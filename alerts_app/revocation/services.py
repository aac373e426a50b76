"""Revocation writes: preview, request, approve, reject, execute, verify containment.

Every write audit-logs in its own transaction; provider calls run in a Celery task queued on
commit. Execution is idempotent: a lease (conditional update) lets one worker at a time run
a revocation, targets that already succeeded are never called again, and the same target in
flight twice is refused by a partial unique constraint, so one request reaches the provider
once however often it is submitted or redelivered.
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from govern.audit import audit_log
from sessions_app.choices import EventType, Outcome, PrivilegeTier, SessionStatus
from sessions_app.models import Identity, IdentityLink, Session, Source, TelemetryEvent

from ..models import (
    Alert,
    AlertHistory,
    AttemptOutcome,
    Containment,
    Revocation,
    RevocationAttempt,
    RevocationScope,
    RevocationStatus,
    RevocationTarget,
    Severity,
    Stage,
    TargetStatus,
)
from ..signals import revocation_succeeded
from .base import CallResult, Plan, ProviderError
from .providers import provider_for

log = logging.getLogger(__name__)

REQUEST_PERMISSION = "alerts_app.request_revocation"
APPROVE_PERMISSION = "alerts_app.approve_revocation"
DEFAULT_BULK_APPROVAL_OVER = 10
DEFAULT_VERIFY_HOURS = 24
MAX_ATTEMPTS = 6  # per target: the first call and five retries
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0
LEASE = timedelta(minutes=5)
APPLICATION_LIMIT = 50
# Events that record the end of a session, not use of it (as the use_after_revocation detector).
NOT_USE = (
    EventType.LOGOFF,
    EventType.SESSION_REVOKED,
    EventType.TOKEN_REVOKED,
    EventType.SESSION_EXPIRED,
    EventType.CREDENTIAL_CHANGE,
    EventType.RISK_SIGNAL,
)


def bulk_approval_over() -> int:
    """Revocations touching more sessions than this need a second person."""
    return int(
        getattr(settings, "GOVERN_BULK_REVOCATION_APPROVAL_OVER", DEFAULT_BULK_APPROVAL_OVER)
    )


def verify_window() -> timedelta:
    hours = getattr(settings, "GOVERN_CONTAINMENT_VERIFY_HOURS", DEFAULT_VERIFY_HOURS)
    return timedelta(hours=float(hours))


def _label(actor) -> str:
    return actor.get_username() if actor is not None else "system:policy"


# ---------------------------------------------------------------------------- preview


@dataclass
class PreviewTarget:
    """One source the revocation will call, or why it cannot."""

    source: Source
    plan: Plan | None
    error: str = ""
    sessions: list[Session] = field(default_factory=list)


@dataclass
class Preview:
    """The blast radius of a revocation, shown before anyone confirms it."""

    scope: str
    identity: Identity
    session: Session | None
    targets: list[PreviewTarget]
    applications: list[str]
    approval_reasons: list[str]

    @property
    def callable_targets(self) -> list[PreviewTarget]:
        return [t for t in self.targets if t.plan is not None]

    @property
    def sessions(self) -> list[Session]:
        seen: dict[int, Session] = {}
        for target in self.callable_targets:
            for session in target.sessions:
                seen.setdefault(session.pk, session)
        return list(seen.values())

    @property
    def revocable(self) -> bool:
        return bool(self.callable_targets)

    @property
    def needs_approval(self) -> bool:
        return bool(self.approval_reasons)

    @property
    def errors(self) -> list[str]:
        return [f"{t.source.name}: {t.error}" for t in self.targets if t.error]

    def as_dict(self) -> dict:
        return {
            "scope": self.scope,
            "sessions": [s.pk for s in self.sessions],
            "applications": self.applications,
            "approval_reasons": self.approval_reasons,
            "targets": [
                {
                    "source": t.source.name,
                    "action": t.plan.action if t.plan else "",
                    "call": f"{t.plan.method} {t.plan.path}" if t.plan else "",
                    "revokes": list(t.plan.revokes) if t.plan else [],
                    "survives": list(t.plan.survives) if t.plan else [],
                    "grace_seconds": t.plan.grace_seconds if t.plan else None,
                    "sessions": len(t.sessions),
                    "error": t.error,
                }
                for t in self.targets
            ],
        }


def _validate_target(*, scope: str, identity: Identity, session: Session | None) -> None:
    if scope not in RevocationScope.values:
        raise ValueError(f"Unknown revocation scope {scope!r}.")
    if scope in (RevocationScope.SESSION, RevocationScope.CREDENTIAL) and session is None:
        raise ValueError("Revoking a session or credential needs the session or token.")
    if session is not None and session.identity_id != identity.pk:
        raise ValueError("The session does not belong to this identity.")


def revocation_preview(
    *, scope: str, identity: Identity, session: Session | None = None
) -> Preview:
    """What revoking would call and affect: sessions, applications, what survives the call."""
    _validate_target(scope=scope, identity=identity, session=session)
    if scope == RevocationScope.IDENTITY_ALL:
        links = list(identity.links.select_related("source").order_by("source__name"))
        sources = [(link.source, link.provider_id) for link in links]
    else:
        link = IdentityLink.objects.filter(identity=identity, source=session.source).first()
        sources = [(session.source, link.provider_id if link else "")]
    targets: list[PreviewTarget] = []
    for source, provider_user_id in sources:
        if not provider_user_id:
            targets.append(
                PreviewTarget(source, None, "govern does not know this identity's id there.")
            )
            continue
        try:
            provider = provider_for(source)
            plan = provider.plan(
                scope=scope,
                provider_user_id=provider_user_id,
                session_key=session.session_key if session else "",
                token_kind=session.token_kind if session else "",
            )
        except ProviderError as exc:
            targets.append(PreviewTarget(source, None, str(exc)))
            continue
        if plan.user_wide:
            affected = list(
                Session.objects.filter(
                    identity=identity, source=source, status=SessionStatus.ACTIVE
                ).order_by("-last_seen_at")
            )
            if session is not None and all(s.pk != session.pk for s in affected):
                affected.insert(0, session)
        else:
            affected = [session]
        targets.append(PreviewTarget(source, plan, "", affected))
    preview = Preview(scope, identity, session, targets, [], [])
    ids = [s.pk for s in preview.sessions]
    if ids:
        preview.applications = sorted(
            set(
                TelemetryEvent.objects.filter(session_id__in=ids)
                .exclude(client_app="")
                .values_list("client_app", flat=True)
                .distinct()[:APPLICATION_LIMIT]
            )
        )
    if identity.privilege_tier in (PrivilegeTier.PRIVILEGED, PrivilegeTier.BREAK_GLASS):
        preview.approval_reasons.append(
            f"{identity.get_privilege_tier_display()} identity: a second person must approve."
        )
    if len(ids) > bulk_approval_over():
        preview.approval_reasons.append(
            f"Bulk revocation of {len(ids)} sessions (more than {bulk_approval_over()}): "
            "a second person must approve."
        )
    return preview


# ---------------------------------------------------------------------------- request


def _enqueue(revocation: Revocation) -> None:
    from .tasks import revocation_execute

    revocation_execute.delay_on_commit(revocation.pk)


def revocation_request(
    *,
    scope: str,
    identity: Identity,
    session: Session | None = None,
    alert: Alert | None = None,
    reason: str,
    actor,
    idempotency_key: str | None = None,
    client_ip: str | None = None,
) -> Revocation:
    """Ask for a revocation. ``actor=None`` is the system (policy enforcement).

    Raises ``PermissionDenied`` when the actor may not request revocations and ``ValueError``
    with a message for people when the reason is empty, the target is inconsistent or no
    source can be called. The same ``idempotency_key``, or a second request for a target
    whose revocation is still in flight, returns the existing revocation.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A reason is required.")
    if actor is not None and not actor.has_perm(REQUEST_PERMISSION):
        raise PermissionDenied("You may not request revocations.")
    if idempotency_key:
        existing = Revocation.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    if alert is not None and alert.identity_id != identity.pk:
        raise ValueError("The alert is about another identity.")
    preview = revocation_preview(scope=scope, identity=identity, session=session)
    if not preview.revocable:
        raise ValueError("Nothing can be revoked: " + "; ".join(preview.errors or ["no source"]))
    now = timezone.now()
    providers = sorted({t.source.kind for t in preview.callable_targets})
    try:
        with transaction.atomic():
            revocation = Revocation.objects.create(
                scope=scope,
                identity=identity,
                session=session,
                alert=alert,
                reason=reason,
                provider=",".join(providers),
                idempotency_key=idempotency_key or secrets.token_hex(16),
                status=RevocationStatus.REQUESTED,
                requested_by=actor,
                requested_by_label=_label(actor),
                requested_at=now,
                approval_required=preview.needs_approval,
                approval_reasons=preview.approval_reasons,
                preview=preview.as_dict(),
                session_ids=[s.pk for s in preview.sessions],
            )
            RevocationTarget.objects.bulk_create(
                [
                    RevocationTarget(
                        revocation=revocation,
                        source=t.source,
                        provider=t.source.kind,
                        action=t.plan.action,
                        provider_user_id=t.plan.provider_user_id,
                        provider_session_id=t.plan.provider_session_id,
                        session_ids=[s.pk for s in t.sessions],
                        grace_seconds=t.plan.grace_seconds,
                    )
                    for t in preview.callable_targets
                ]
            )
            if preview.needs_approval:
                revocation.status = RevocationStatus.PENDING_APPROVAL
            else:
                revocation.status = RevocationStatus.APPROVED
                revocation.approved_at = now
                revocation.approval_note = "No second approval required."
            revocation.save(update_fields=["status", "approved_at", "approval_note"])
            audit_log(
                actor=actor,
                actor_label=_label(actor),
                verb="revocation.request",
                obj=revocation,
                after={
                    "scope": scope,
                    "identity": identity.pk,
                    "session": session.pk if session else None,
                    "alert": alert.pk if alert else None,
                    "reason": reason,
                    "status": revocation.status,
                    "approval_reasons": preview.approval_reasons,
                    "sessions": revocation.session_ids,
                    "calls": [t["call"] for t in revocation.preview["targets"] if t["call"]],
                },
                client_ip=client_ip,
            )
            if revocation.status == RevocationStatus.APPROVED:
                _enqueue(revocation)
            else:
                _ask_approvers(revocation)
    except IntegrityError:
        existing = Revocation.objects.filter(
            Q(idempotency_key=idempotency_key or "-")
            | Q(
                identity=identity,
                scope=scope,
                session=session,
                status__in=RevocationStatus.in_flight(),
            )
        ).first()
        if existing is None:
            raise
        return existing
    return revocation


def _ask_approvers(revocation: Revocation) -> None:
    """Tell every active user who may approve (except the requester) that one is waiting."""
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from ..models import NotificationKind
    from ..notifications import absolute, notify

    app_label, codename = APPROVE_PERMISSION.split(".")
    granted = Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    ) | Q(user_permissions__codename=codename, user_permissions__content_type__app_label=app_label)
    approvers = (
        get_user_model()
        .objects.filter(granted | Q(is_superuser=True), is_active=True)
        .exclude(pk=revocation.requested_by_id)
        .distinct()
    )
    notify(
        kind=NotificationKind.APPROVAL,
        alert=revocation.alert,
        subject=f"Approve revocation #{revocation.pk} of {revocation.identity.display_name}",
        body=f"{revocation.requested_by_label} asks to revoke "
        f"{revocation.get_scope_display().lower()}: {revocation.reason}\n"
        + " ".join(revocation.approval_reasons),
        users=list(approvers),
        link=absolute(reverse("revocations:detail", args=[revocation.pk])),
    )


def _check_approver(revocation: Revocation, actor) -> None:
    if actor is None or not actor.has_perm(APPROVE_PERMISSION):
        raise PermissionDenied("Only a manager or admin may approve or reject revocations.")
    if revocation.requested_by_id is not None and revocation.requested_by_id == actor.pk:
        raise PermissionDenied("The requester cannot approve or reject their own revocation.")


@transaction.atomic
def revocation_approve(
    *, revocation: Revocation, actor, note: str = "", client_ip: str | None = None
) -> Revocation:
    """Second-person approval; queues execution on commit. Raises PermissionDenied/ValueError."""
    locked = Revocation.objects.select_for_update().get(pk=revocation.pk)
    _check_approver(locked, actor)
    if locked.status != RevocationStatus.PENDING_APPROVAL:
        raise ValueError(f"This revocation is {locked.get_status_display().lower()}, not pending.")
    locked.status = RevocationStatus.APPROVED
    locked.approved_by, locked.approved_at = actor, timezone.now()
    locked.approval_note = (note or "").strip()
    locked.save(update_fields=["status", "approved_by", "approved_at", "approval_note"])
    audit_log(
        actor=actor,
        verb="revocation.approve",
        obj=locked,
        before={"status": RevocationStatus.PENDING_APPROVAL},
        after={"status": locked.status, "note": locked.approval_note},
        client_ip=client_ip,
    )
    _enqueue(locked)
    return locked


@transaction.atomic
def revocation_reject(
    *, revocation: Revocation, actor, reason: str, client_ip: str | None = None
) -> Revocation:
    """Second-person rejection with a reason; nothing is called at the provider."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A reason is required to reject.")
    locked = Revocation.objects.select_for_update().get(pk=revocation.pk)
    _check_approver(locked, actor)
    if locked.status != RevocationStatus.PENDING_APPROVAL:
        raise ValueError(f"This revocation is {locked.get_status_display().lower()}, not pending.")
    now = timezone.now()
    locked.status = RevocationStatus.REJECTED
    locked.rejected_by, locked.rejected_at, locked.rejection_reason = actor, now, reason
    locked.completed_at = now
    locked.save(
        update_fields=["status", "rejected_by", "rejected_at", "rejection_reason", "completed_at"]
    )
    audit_log(
        actor=actor,
        verb="revocation.reject",
        obj=locked,
        before={"status": RevocationStatus.PENDING_APPROVAL},
        after={"status": locked.status, "reason": reason},
        client_ip=client_ip,
    )
    return locked


# ---------------------------------------------------------------------------- execution


@dataclass
class RunResult:
    """What one execution pass did: the status now, and when to run again (None: done)."""

    status: str
    retry_in: float | None = None
    claimed: bool = True


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter after ``attempt`` calls, never sooner than Retry-After.

    "Equal jitter": half the exponential step plus a random share of the other half, so
    retries from many workers spread out but never collapse to zero.
    """
    step = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    delay = step / 2 + random.uniform(0, step / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, BACKOFF_CAP_SECONDS * 4))
    return round(delay, 3)


def _claim(revocation_id: int, now: datetime) -> Revocation | None:
    with transaction.atomic():
        revocation = (
            Revocation.objects.select_for_update(skip_locked=True)
            .filter(
                pk=revocation_id, status__in=[RevocationStatus.APPROVED, RevocationStatus.EXECUTING]
            )
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .first()
        )
        if revocation is None:
            return None
        first = revocation.status == RevocationStatus.APPROVED
        revocation.status = RevocationStatus.EXECUTING
        revocation.lease_until = now + LEASE
        revocation.started_at = revocation.started_at or now
        revocation.save(update_fields=["status", "lease_until", "started_at"])
        if first:
            audit_log(
                actor_label="system:revocation",
                verb="revocation.execute",
                obj=revocation,
                before={"status": RevocationStatus.APPROVED},
                after={"status": RevocationStatus.EXECUTING},
            )
    return revocation


@transaction.atomic
def _record_attempt(
    *, revocation: Revocation, target: RevocationTarget, result: CallResult, started: datetime
) -> float | None:
    """Store one call and move the target on; returns the retry delay when it will be retried."""
    target = RevocationTarget.objects.select_for_update().get(pk=target.pk)
    target.attempts += 1
    retry_in = None
    outcome = result.outcome
    if outcome == AttemptOutcome.RETRYABLE:
        if target.attempts >= MAX_ATTEMPTS:
            target.status = TargetStatus.FAILED
            target.last_error = f"Gave up after {target.attempts} attempts: {result.error}"
            target.completed_at = timezone.now()
        else:
            retry_in = backoff_seconds(target.attempts, result.retry_after)
            target.last_error = result.error
    elif outcome == AttemptOutcome.SUCCESS:
        target.status, target.completed_at, target.last_error = (
            TargetStatus.SUCCEEDED,
            timezone.now(),
            "",
        )
    else:
        target.status, target.completed_at = TargetStatus.FAILED, timezone.now()
        target.last_error = result.error
    target.save(update_fields=["attempts", "status", "last_error", "completed_at"])
    RevocationAttempt.objects.create(
        revocation=revocation,
        target=target,
        number=target.attempts,
        started_at=started,
        finished_at=timezone.now(),
        method=result.method,
        url=result.url[:1000],
        status_code=result.status_code,
        outcome=outcome,
        response_body=result.body,
        response_headers=result.headers,
        error=result.error,
        retry_in_seconds=retry_in,
    )
    return retry_in


def _call(revocation: Revocation, target: RevocationTarget) -> CallResult:
    session = revocation.session
    try:
        provider = provider_for(target.source)
        plan = provider.plan(
            scope=revocation.scope,
            provider_user_id=target.provider_user_id,
            session_key=session.session_key if session else "",
            token_kind=session.token_kind if session else "",
        )
    except ProviderError as exc:
        return CallResult("failed", "", "", error=f"Provider not usable: {exc}")
    if plan.action != target.action:
        return CallResult(
            "failed",
            plan.method,
            plan.path,
            error="The source's settings changed since the "
            f"request (planned {target.action}, now {plan.action}); request it again.",
        )
    return provider.call(plan, idempotency_key=f"{revocation.idempotency_key}-{target.pk}")


def revocation_run(*, revocation_id: int) -> RunResult:
    """One execution pass: call every target not yet done, record each attempt, then either
    ask to run again (transient failures) or finish the revocation.

    Safe to call repeatedly and concurrently: only the lease holder calls providers.
    """
    now = timezone.now()
    revocation = _claim(revocation_id, now)
    if revocation is None:
        current = Revocation.objects.filter(pk=revocation_id).values_list("status", flat=True)
        return RunResult(status=current.first() or "", claimed=False)
    delays: list[float] = []
    pending = revocation.targets.filter(status=TargetStatus.PENDING).select_related("source")
    for target in pending:
        started = timezone.now()
        result = _call(revocation, target)
        retry_in = _record_attempt(
            revocation=revocation, target=target, result=result, started=started
        )
        if retry_in is not None:
            delays.append(retry_in)
    if delays:
        Revocation.objects.filter(pk=revocation.pk).update(lease_until=None)
        return RunResult(status=RevocationStatus.EXECUTING, retry_in=max(delays))
    return RunResult(status=_finish(revocation.pk).status)


@transaction.atomic
def _finish(revocation_id: int) -> Revocation:
    revocation = Revocation.objects.select_for_update().get(pk=revocation_id)
    targets = list(revocation.targets.all())
    done = [t for t in targets if t.status == TargetStatus.SUCCEEDED]
    now = timezone.now()
    if len(done) == len(targets):
        status = RevocationStatus.SUCCEEDED
    elif done:
        status = RevocationStatus.PARTIALLY_SUCCEEDED
    else:
        status = RevocationStatus.FAILED
    revocation.status, revocation.completed_at, revocation.lease_until = status, now, None
    revoked_ids: list[int] = []
    if done:
        revoked_ids = sorted({pk for t in done for pk in t.session_ids})
        Session.objects.filter(pk__in=revoked_ids).exclude(status=SessionStatus.REVOKED).update(
            status=SessionStatus.REVOKED,
            revoked_at=now,
            revoked_by=f"govern revocation #{revocation.pk} ({revocation.requested_by_label})",
        )
        revocation.containment = Containment.PENDING
        revocation.effective_at = max(
            t.completed_at + timedelta(seconds=t.grace_seconds) for t in done
        )
        revocation.verify_until = revocation.effective_at + verify_window()
    else:
        revocation.containment = Containment.NOT_APPLICABLE
    revocation.save()
    audit_log(
        actor_label="system:revocation",
        verb="revocation.complete",
        obj=revocation,
        before={"status": RevocationStatus.EXECUTING},
        after={
            "status": status,
            "revoked_sessions": revoked_ids,
            "targets": {t.action: t.status for t in targets},
            "errors": [t.last_error for t in targets if t.last_error],
        },
    )
    if done and revocation.alert_id:
        _alert_contain(revocation)
    if done:
        transaction.on_commit(
            lambda: revocation_succeeded.send(sender=Revocation, revocation_id=revocation_id)
        )
    return revocation


def _alert_history(alert: Alert, *, action: str, before: str, reason: str) -> None:
    AlertHistory.objects.create(
        alert=alert,
        at=timezone.now(),
        actor_label="system:revocation",
        action=action,
        from_stage=before,
        to_stage=alert.stage,
        reason=reason,
    )


def _alert_contain(revocation: Revocation) -> None:
    """Move the revocation's alert to Contained through the triage workflow (open alerts only)."""
    from ..services import alert_transition

    alert = Alert.objects.get(pk=revocation.alert_id)
    if alert.stage not in (Stage.NEW, Stage.IN_PROGRESS):
        return
    alert_transition(
        alert=alert,
        to_stage=Stage.CONTAINED,
        actor=None,
        reason=f"Revocation #{revocation.pk} succeeded at the identity provider.",
    )


# ---------------------------------------------------------------------------- containment


def _use_after(revocation: Revocation) -> TelemetryEvent | None:
    """The first use of a revoked session after its provider's propagation grace."""
    first: TelemetryEvent | None = None
    for target in revocation.targets.filter(status=TargetStatus.SUCCEEDED):
        if not target.session_ids or target.completed_at is None:
            continue
        cutoff = target.completed_at + timedelta(seconds=target.grace_seconds)
        event = (
            TelemetryEvent.objects.filter(
                session_id__in=target.session_ids,
                occurred_at__gt=cutoff,
                outcome__in=[Outcome.SUCCESS, Outcome.UNKNOWN],
            )
            .exclude(event_type__in=NOT_USE)
            .order_by("occurred_at", "id")
            .first()
        )
        if event is not None and (first is None or event.occurred_at < first.occurred_at):
            first = event
    return first


@transaction.atomic
def revocation_check_containment(*, revocation: Revocation, now: datetime | None = None) -> str:
    """Decide containment: failed on use after the grace, verified once the window held.

    Returns the containment value afterwards. Failure raises the alert's severity one step,
    re-opens it and notifies its assignee (or, unassigned, its response owner) on commit.
    """
    now = now or timezone.now()
    locked = Revocation.objects.select_for_update().get(pk=revocation.pk)
    if locked.containment != Containment.PENDING:
        return locked.containment
    event = _use_after(locked)
    if event is not None:
        locked.containment = Containment.FAILED
        locked.containment_decided_at = now
        locked.containment_evidence = {
            "event_id": event.pk,
            "provider_event_id": event.provider_event_id,
            "occurred_at": event.occurred_at.isoformat(),
            "session": event.session_id,
            "event_type": event.event_type,
            "ip": event.ip,
            "country": event.country,
            "user_agent": event.user_agent[:300],
        }
        locked.save(update_fields=["containment", "containment_decided_at", "containment_evidence"])
        audit_log(
            actor_label="system:containment",
            verb="revocation.containment_failed",
            obj=locked,
            before={"containment": Containment.PENDING},
            after={"containment": Containment.FAILED, **locked.containment_evidence},
        )
        if locked.alert_id:
            _alert_reopen(locked, event)
    elif locked.verify_until is not None and now >= locked.verify_until:
        locked.containment = Containment.VERIFIED
        locked.containment_decided_at = now
        locked.save(update_fields=["containment", "containment_decided_at"])
        audit_log(
            actor_label="system:containment",
            verb="revocation.containment_verified",
            obj=locked,
            before={"containment": Containment.PENDING},
            after={"containment": Containment.VERIFIED, "verify_until": locked.verify_until},
        )
    return locked.containment


def _alert_reopen(revocation: Revocation, event: TelemetryEvent) -> None:
    """Raise the alert's severity one step and re-open it through the triage workflow."""
    from ..services import alert_transition

    alert = Alert.objects.select_for_update().get(pk=revocation.alert_id)
    before = {"stage": alert.stage, "severity": alert.severity}
    order = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    alert.severity = order[min(len(order) - 1, Severity.rank(alert.severity) + 1)]
    alert.save(update_fields=["severity", "updated_at"])
    reason = (
        "Containment failed: the revoked session was used at "
        f"{event.occurred_at:%Y-%m-%d %H:%M:%S} UTC from {event.ip or 'an unknown address'}, "
        f"after revocation #{revocation.pk}."
    )
    _alert_history(alert, action="containment_failed", before=before["stage"], reason=reason)
    audit_log(
        actor_label="system:containment",
        verb="alert.severity_raise",
        obj=alert,
        before=before,
        after={"severity": alert.severity, "reason": reason},
    )
    if alert.stage in (Stage.CONTAINED, Stage.CLOSED):
        alert = alert_transition(alert=alert, to_stage=Stage.IN_PROGRESS, actor=None, reason=reason)
    from ..models import NotificationKind
    from ..notifications import notify

    notify(
        kind=NotificationKind.ESCALATED,
        alert=alert,
        subject=f"Containment failed on alert #{alert.pk}: {alert.title}",
        body=reason + " The alert is open again with its severity raised to "
        f"{alert.get_severity_display().lower()}.",
        users=[alert.assignee] if alert.assignee else [],
        owner=None if alert.assignee else alert.response_owner,
    )


def containment_check_sessions(session_ids: list[int]) -> list[int]:
    """Check every pending containment whose revoked sessions include one of these.

    Returns the ids of revocations whose containment failed.
    """
    wanted = set(session_ids)
    failed = []
    pending = Revocation.objects.filter(containment=Containment.PENDING).only("pk", "session_ids")
    for revocation in pending:
        if (
            wanted.intersection(revocation.session_ids)
            and revocation_check_containment(revocation=revocation) == Containment.FAILED
        ):
            failed.append(revocation.pk)
    return failed


def containment_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Decide every pending containment (failures and windows that have passed)."""
    counts = {Containment.PENDING: 0, Containment.VERIFIED: 0, Containment.FAILED: 0}
    for revocation in Revocation.objects.filter(containment=Containment.PENDING).only("pk"):
        counts[revocation_check_containment(revocation=revocation, now=now)] += 1
    return {str(k): v for k, v in counts.items()}


def pending_containment_exists() -> bool:
    """Cheap guard so ingestion queues containment checks only while some are pending."""
    return Revocation.objects.filter(containment=Containment.PENDING).exists()
