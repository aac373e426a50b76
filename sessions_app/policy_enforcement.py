"""The scheduled evaluation of session-lifetime policies: violations → alerts → revocations.

1. ``policy_violators`` finds, set-based, the active sessions still in use (seen within the
   idle limit) that are open longer than their effective policy allows since their last
   authentication (per enabled policy, prefiltered by its scope and limits in SQL, then
   checked exactly with the precedence rules).
2. ``policy_evaluate`` runs the detection engine on them, so the ``session_policy_violation``
   detector raises (or updates) its "lifetime" alert with the session's effective policy.
   Idle violations are raised by the same detector when such a session is used again.
3. ``policy_violations_enforce`` asks the revocation service — with its approval rules — to
   revoke each still-active session with an open policy-violation alert whose effective
   policy is in enforce mode with "alert and revoke". A ``PolicyEnforcement`` row per alert,
   inserted in the same transaction as the request, makes this happen once per alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from alerts_app.detectors.base import DEFAULT_POLICY
from govern.audit import audit_log

from .choices import EventType, Outcome, SessionStatus
from .models import (
    PolicyEnforcement,
    PolicyMode,
    Session,
    SessionLifetimePolicy,
    TelemetryEvent,
    ViolationAction,
)
from .policies import PolicyResolver

logger = logging.getLogger(__name__)

EVALUATION_BATCH = 500
DETECTOR_ID = "session_policy_violation"
ACTOR_LABEL = "system:policy"


@dataclass
class EvaluationResult:
    violating: list[int] = field(default_factory=list)
    alerts_created: int = 0
    revocations_requested: int = 0
    enforcement_refused: int = 0


def _active_sessions():
    return Session.objects.filter(
        status=SessionStatus.ACTIVE, revoked_at__isnull=True, ended_at__isnull=True
    )


def _with_clock(sessions):
    """Annotate ``clock``: the session's last authentication (sign-in or later logon/MFA)."""
    last_auth = (
        TelemetryEvent.objects.filter(
            session_id=OuterRef("pk"),
            event_type__in=[EventType.LOGON, EventType.MFA_CHALLENGE],
            outcome=Outcome.SUCCESS,
        )
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    start = Coalesce("authenticated_at", "first_seen_at")
    return sessions.annotate(
        clock=Greatest(
            start,
            Coalesce(Subquery(last_auth, output_field=DateTimeField()), start),
        )
    )


def _scope_filter(policy: SessionLifetimePolicy | None) -> Q:
    if policy is None:
        return Q()
    q = Q()
    if policy.identity_kind:
        q &= Q(identity__kind=policy.identity_kind)
    if policy.privilege_tier:
        q &= Q(identity__privilege_tier=policy.privilege_tier)
    if policy.department:
        q &= Q(identity__department=policy.department)
    if policy.source_id:
        q &= Q(source_id=policy.source_id)
    return q


def _tolerance() -> int:
    from alerts_app.detectors import REGISTRY
    from alerts_app.models import DetectorConfig

    config = DetectorConfig.objects.filter(detector_id=DETECTOR_ID).first()
    params = REGISTRY[DETECTOR_ID].validate_params(config.params if config else None)
    return int(params["tolerance_s"])


def policy_violators(*, now: datetime, limit: int = EVALUATION_BATCH) -> list[int]:
    """Ids of active sessions open longer than their effective policy's lifetime allows."""
    resolver = PolicyResolver.load()
    tolerance = timedelta(seconds=_tolerance())
    found: dict[int, datetime] = {}
    # Each enabled policy, and the default, selects the sessions it could govern that are
    # past its own limit; the resolver then keeps those it actually governs.
    for policy in [*resolver.policies, None]:
        lifetime = policy.max_lifetime_s if policy else DEFAULT_POLICY.max_lifetime_s
        idle = policy.idle_timeout_s if policy else DEFAULT_POLICY.idle_timeout_s
        # Like the detector, only sessions used within the idle limit are still open; the
        # IdP expired the quiet ones without telling us.
        alive = timedelta(seconds=idle or lifetime or 3600)
        candidates = (
            _with_clock(
                _active_sessions().filter(_scope_filter(policy), last_seen_at__gte=now - alive)
            )
            .filter(clock__lt=now - timedelta(seconds=lifetime) - tolerance)
            .select_related("identity", "source")
            .order_by("clock", "pk")[: limit * 2]
        )
        for session in candidates:
            if session.pk in found:
                continue
            effective = resolver.for_session(session)
            if effective.policy is not policy:
                continue
            found[session.pk] = session.clock
    return [pk for pk, _ in sorted(found.items(), key=lambda item: (item[1], item[0]))][:limit]


def policy_evaluate(*, now: datetime | None = None) -> EvaluationResult:
    """Raise lifetime alerts for the violators, then enforce where policies say so."""
    from alerts_app import engine

    now = now or timezone.now()
    result = EvaluationResult(violating=policy_violators(now=now))
    if result.violating:
        detection = engine.detect_sessions(result.violating, now=now)
        result.alerts_created = len(detection.created)
    requested, refused = policy_violations_enforce(now=now)
    result.revocations_requested, result.enforcement_refused = requested, refused
    return result


def _reason(policy: SessionLifetimePolicy, alert) -> str:
    return (
        f"Policy “{policy.name}” (version {policy.version}, enforce mode) revokes sessions "
        f"that violate it: {alert.summary}"
    )


def policy_violations_enforce(
    *, now: datetime | None = None, limit: int = EVALUATION_BATCH
) -> tuple[int, int]:
    """Request revocation for open policy-violation alerts under enforcing policies.

    Returns (revocations requested, requests the revocation service refused). Each alert is
    acted on once: its ``PolicyEnforcement`` row commits with the revocation request.
    """
    from alerts_app.models import Alert, Stage

    try:
        from alerts_app.revocation.services import revocation_request
    except ImportError:  # the revocation service is not installed in this build
        logger.warning("policy enforcement skipped: alerts_app.revocation.services missing")
        return 0, 0

    if not SessionLifetimePolicy.objects.filter(
        enabled=True, mode=PolicyMode.ENFORCE, violation_action=ViolationAction.ALERT_AND_REVOKE
    ).exists():
        return 0, 0
    alerts = (
        Alert.objects.filter(
            detector_id=DETECTOR_ID,
            stage__in=Stage.open_stages(),
            session__status=SessionStatus.ACTIVE,
            session__revoked_at__isnull=True,
        )
        .exclude(pk__in=PolicyEnforcement.objects.values("alert_id"))
        .select_related("session", "session__identity", "session__source", "identity")
        .order_by("first_seen_at", "pk")[:limit]
    )
    resolver = PolicyResolver.load()
    requested = refused = 0
    for alert in alerts:
        policy = resolver.for_session(alert.session).policy
        if (
            policy is None
            or policy.mode != PolicyMode.ENFORCE
            or policy.violation_action != ViolationAction.ALERT_AND_REVOKE
        ):
            continue
        try:
            with transaction.atomic():
                record = PolicyEnforcement.objects.create(
                    policy=policy,
                    policy_version=policy.version,
                    session=alert.session,
                    alert_id=alert.pk,
                    requested_at=now or timezone.now(),
                    outcome="requested",
                )
                try:
                    with transaction.atomic():
                        revocation = revocation_request(
                            scope="session",
                            identity=alert.session.identity,
                            session=alert.session,
                            alert=alert,
                            reason=_reason(policy, alert),
                            actor=None,
                            idempotency_key=f"policy-alert-{alert.pk}",
                        )
                except ValueError as exc:
                    # Refused (e.g. no source can revoke this session): say so, don't retry.
                    record.outcome = f"refused: {exc}"[:300]
                    refused += 1
                else:
                    record.outcome = f"revocation #{revocation.pk}: {revocation.status}"[:300]
                    requested += 1
                record.save(update_fields=["outcome"])
                audit_log(
                    actor_label=ACTOR_LABEL,
                    verb="policy.enforce",
                    obj=policy,
                    after={
                        "version": policy.version,
                        "alert": alert.pk,
                        "session": alert.session_id,
                        "outcome": record.outcome,
                    },
                )
        except IntegrityError:
            continue  # another evaluation acted on this alert first
    return requested, refused
