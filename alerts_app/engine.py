"""The detection engine: load state from the database, run the pure detectors, persist alerts.

Detection is deterministic and idempotent: a session (or identity) is always evaluated over
its stored event history in event-time order, whatever order the events arrived in, and each
finding is merged into the alert with the same dedup key. Running it twice, or over events
that were already evaluated, changes nothing. Late events are simply part of the next
evaluation of their session.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from govern.audit import audit_log
from sessions_app.ingest.schema import NormalizedEvent
from sessions_app.models import Identity, Session, Source, TelemetryEvent
from sessions_app.policies import PolicyResolver

from .detectors import REGISTRY
from .detectors.base import Finding, IdentityState, SessionState
from .models import Alert, AlertHistory, DetectorConfig, Severity, Stage
from .selectors import matching_suppression, sla_due_times

log = logging.getLogger(__name__)

# A finding whose events start within this long after the open alert's last event is the
# same incident; later ones become a new alert linked to the earlier one as a recurrence.
DEDUP_WINDOW = timedelta(hours=24)
SESSION_EVENT_LIMIT = 5000
IDENTITY_LOOKBACK = timedelta(days=31)
IDENTITY_EVENT_LIMIT = 20000
# Closed as remediated, then replayed again: the system re-opens the alert.
REOPEN_ON_REPLAY = {"true_positive", "auto_remediated"}

PROVIDER_OF_SOURCE_KIND = {"okta": "okta", "entra": "entra", "google": "google"}


@dataclass
class DetectionResult:
    sessions: int = 0
    identities: int = 0
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)

    def merge(self, other: DetectionResult) -> None:
        self.sessions += other.sessions
        self.identities += other.identities
        self.created += other.created
        self.updated += other.updated
        self.reopened += other.reopened


# ---------------------------------------------------------------------------- loading


_EVENT_FIELDS = (
    "session_id",
    "identity_id",
    "source_id",
    "provider_event_id",
    "occurred_at",
    "provider_event_type",
    "event_type",
    "outcome",
    "session_key",
    "ip",
    "asn",
    "as_org",
    "country",
    "city",
    "lat",
    "lon",
    "anonymizer",
    "user_agent",
    "device_id",
    "client_app",
    "mfa",
    "high_value_action",
    "details",
)


def event_from_values(
    row: dict, *, provider: str, actor_kind: str, raw: dict | None = None
) -> NormalizedEvent:
    """Rebuild the NormalizedEvent a detector reads from a stored event's column values.

    ``raw`` is the vendor event when the caller loaded it (session timelines: a few detector
    checks, such as the IdP's own admin-console client, read vendor fields not normalised).
    """
    details = row["details"] or {}
    return NormalizedEvent(
        provider=provider,
        provider_event_id=row["provider_event_id"],
        occurred_at=row["occurred_at"],
        provider_event_type=row["provider_event_type"],
        event_type=row["event_type"],
        outcome=row["outcome"],
        actor_id=str(details.get("actor_id") or row["identity_id"] or ""),
        actor_login=details.get("actor_login", ""),
        actor_display_name=details.get("actor_display_name", ""),
        actor_kind=actor_kind,
        session_key=row["session_key"],
        session_keys=details.get("session_keys") or {},
        token_kind=details.get("token_kind") or "browser_session",
        ip=row["ip"],
        asn=row["asn"],
        as_org=row["as_org"],
        country=row["country"],
        city=row["city"],
        lat=row["lat"],
        lon=row["lon"],
        anonymizer=row["anonymizer"],
        user_agent=row["user_agent"],
        device_id=row["device_id"],
        client_app=row["client_app"],
        interactive=details.get("interactive"),
        auth_methods=tuple(details.get("auth_methods") or ()),
        mfa=row["mfa"],
        high_value_action=row["high_value_action"],
        risk=details.get("risk") or {},
        target=details.get("target") or {},
        status_detail=details.get("status_detail", ""),
        raw=raw or {},
    )


def _configs() -> dict[str, DetectorConfig]:
    return {c.detector_id: c for c in DetectorConfig.objects.all()}


def _enabled_detectors(scope: str, identity_kind: str, configs: dict[str, DetectorConfig]):
    for detector in REGISTRY.values():
        config = configs.get(detector.id)
        if config is not None and not config.enabled:
            continue
        if detector.spec.scope != scope or not detector.applies(identity_kind):
            continue
        params = detector.validate_params(config.params if config else None)
        yield detector, params


def _session_timelines(sessions: Sequence[Session]) -> dict[int, list[NormalizedEvent]]:
    """Every session's stored events in event-time order, loaded in one query per batch.

    Column values, not model instances: the ORM's per-row cost dominated detection otherwise.
    Sessions longer than ``SESSION_EVENT_LIMIT`` events keep their newest ones.
    """
    by_id = {s.pk: s for s in sessions}
    timelines: dict[int, list[NormalizedEvent]] = defaultdict(list)
    rows = (
        TelemetryEvent.objects.filter(session_id__in=list(by_id))
        .order_by("session_id", "occurred_at", "id")
        .values(*_EVENT_FIELDS, "raw")
    )
    for row in rows.iterator(chunk_size=5000):
        session = by_id[row["session_id"]]
        timelines[session.pk].append(
            event_from_values(
                row,
                provider=PROVIDER_OF_SOURCE_KIND.get(session.source.kind, "generic"),
                actor_kind=session.identity.kind,
                raw=row["raw"],
            )
        )
    return {pk: events[-SESSION_EVENT_LIMIT:] for pk, events in timelines.items()}


def _session_state(session: Session) -> SessionState:
    return SessionState(
        session_key=session.session_key,
        token_kind=session.token_kind,
        identity_kind=session.identity.kind,
        privilege_tier=session.identity.privilege_tier,
        status=session.status,
        revoked_at=session.revoked_at,
        ended_at=session.ended_at,
        authenticated_at=session.authenticated_at,
        first_seen_at=session.first_seen_at,
        last_seen_at=session.last_seen_at,
        credential_changed_at=session.identity.credential_changed_at,
        prior_events=(),
    )


def _identity_timelines(
    identities: Sequence[Identity], now: datetime
) -> dict[int, list[NormalizedEvent]]:
    """Each identity's events of the last ``IDENTITY_LOOKBACK``, oldest first, in one query."""
    by_id = {i.pk: i for i in identities}
    source_kinds = dict(Source.objects.values_list("pk", "kind"))
    timelines: dict[int, list[NormalizedEvent]] = defaultdict(list)
    rows = (
        TelemetryEvent.objects.filter(
            identity_id__in=list(by_id), occurred_at__gte=now - IDENTITY_LOOKBACK
        )
        .order_by("identity_id", "occurred_at", "id")
        .values(*_EVENT_FIELDS)
    )
    for row in rows.iterator(chunk_size=5000):
        timelines[row["identity_id"]].append(
            event_from_values(
                row,
                provider=PROVIDER_OF_SOURCE_KIND.get(source_kinds.get(row["source_id"]), "generic"),
                actor_kind=by_id[row["identity_id"]].kind,
            )
        )
    return {pk: events[-IDENTITY_EVENT_LIMIT:] for pk, events in timelines.items()}


# ---------------------------------------------------------------------------- running


def detect_sessions(session_ids: Iterable[int], *, now: datetime | None = None) -> DetectionResult:
    """Run every enabled session-scope detector over each session's stored timeline."""
    now = now or timezone.now()
    configs = _configs()
    result = DetectionResult()
    sessions = Session.objects.filter(pk__in=list(session_ids)).select_related(
        "identity", "identity__owner", "source"
    )
    policies = PolicyResolver.load()
    sessions = list(sessions)
    timelines = _session_timelines(sessions)
    for session in sessions:
        events = timelines.get(session.pk, [])
        state = _session_state(session)
        # The session's effective session-lifetime policy (the AAL2 default when none applies).
        apps = {e.client_app for e in events if e.client_app}
        policy = policies.for_session(session, apps=apps).detector_policy
        findings: list[Finding] = []
        for detector, params in _enabled_detectors("session", session.identity.kind, configs):
            findings += detector.detect(state, events, params, policy, now=now)
        result.merge(_persist(findings, identity=session.identity, session=session))
        result.sessions += 1
    return result


def detect_identities(
    identity_ids: Iterable[int], *, now: datetime | None = None
) -> DetectionResult:
    """Run every enabled identity-scope detector over each identity's recent history."""
    now = now or timezone.now()
    configs = _configs()
    result = DetectionResult()
    policies = PolicyResolver.load()
    identities = list(Identity.objects.filter(pk__in=list(identity_ids)).select_related("owner"))
    timelines = _identity_timelines(identities, now)
    for identity in identities:
        events = timelines.get(identity.pk, [])
        if not events:
            continue
        state = IdentityState(
            identity_key=f"{identity.login} (#{identity.pk})",
            identity_kind=identity.kind,
            privilege_tier=identity.privilege_tier,
            credential_changed_at=identity.credential_changed_at,
        )
        policy = policies.for_identity(identity).detector_policy
        findings: list[Finding] = []
        for detector, params in _enabled_detectors("identity", identity.kind, configs):
            findings += detector.detect(state, events, params, policy, now=now)
        sessions = _sessions_by_key(identity, findings)
        result.merge(_persist(findings, identity=identity, sessions=sessions))
        result.identities += 1
    return result


def _sessions_by_key(identity: Identity, findings: Sequence[Finding]) -> dict[str, Session]:
    keys = {f.evidence.get("session_key") for f in findings if f.evidence.get("session_key")}
    if not keys:
        return {}
    return {
        s.session_key: s
        for s in Session.objects.filter(identity=identity, session_key__in=keys).select_related(
            "source"
        )
    }


# ---------------------------------------------------------------------------- persisting


def _event_ids(finding: Finding) -> list[str]:
    ids = finding.evidence.get("event_ids") or finding.evidence.get("trigger_event_ids") or []
    return sorted({str(i) for i in ids})


def _subject(finding: Finding) -> str:
    return (
        f"{finding.dedup_subject}#{finding.variant}" if finding.variant else finding.dedup_subject
    )


def _persist(
    findings: Sequence[Finding],
    *,
    identity: Identity,
    session: Session | None = None,
    sessions: dict[str, Session] | None = None,
) -> DetectionResult:
    result = DetectionResult()
    for finding in sorted(findings, key=lambda f: (f.detector_id, _subject(f), f.first_event_at)):
        target_session = session or (sessions or {}).get(finding.evidence.get("session_key", ""))
        outcome, alert = alert_upsert_from_finding(
            finding=finding, identity=identity, session=target_session
        )
        if outcome != "unchanged":
            getattr(result, outcome).append(alert.pk)
    return result


@transaction.atomic
def alert_upsert_from_finding(
    *, finding: Finding, identity: Identity, session: Session | None
) -> tuple[str, Alert]:
    """Create the alert for a finding, or merge it into the alert with the same dedup key.

    Returns ("created" | "updated" | "reopened" | "unchanged", alert).
    """
    detector = REGISTRY[finding.detector_id]
    prefix = f"{finding.detector_id}|{_subject(finding)}|"
    first = finding.first_event_at or timezone.now()
    last = finding.last_event_at or first
    event_ids = _event_ids(finding)
    _lock_subject(prefix)
    latest = (
        Alert.objects.select_for_update()
        .filter(dedup_key__startswith=prefix)
        .order_by("-first_seen_at", "-id")
        .first()
    )
    if latest is not None and first <= latest.last_seen_at + DEDUP_WINDOW:
        return _merge(latest, finding, event_ids, first, last)
    now = timezone.now()
    evidence = {**finding.evidence, "event_ids": event_ids}
    ack_due, contain_due = sla_due_times(
        severity=finding.severity, identity_kind=identity.kind, start=now
    )
    # Matching suppression rules record the alert as Suppressed; nothing is discarded.
    rule = matching_suppression(
        detector_id=finding.detector_id, identity_id=identity.pk, evidence=evidence, now=now
    )
    alert = Alert.objects.create(
        detector_id=finding.detector_id,
        detector_version=finding.detector_version,
        dedup_key=f"{prefix}{first.strftime('%Y%m%dT%H%M%S.%f')}",
        title=detector.spec.title,
        summary=finding.summary,
        severity=finding.severity,
        score=finding.score,
        factors=[{"label": f.label, "points": f.points} for f in finding.factors],
        evidence=evidence,
        identity=identity,
        session=session,
        source=session.source if session else None,
        first_seen_at=first,
        last_seen_at=last,
        occurrences=max(1, len(event_ids)),
        owasp_nhi=list(detector.spec.owasp_nhi),
        nist_csf=list(detector.spec.nist_csf),
        mitre_attack=list(detector.spec.mitre_attack),
        # The response owner is the identity's owner team: for non-human identities the
        # team accountable for the account; for people, whoever the directory names.
        response_owner=identity.owner,
        recurrence_of=latest,
        ack_due_at=ack_due,
        contain_due_at=contain_due,
        stage=Stage.SUPPRESSED if rule else Stage.NEW,
        suppressed_by=rule,
    )
    AlertHistory.objects.create(
        alert=alert,
        at=now,
        actor_label="system:detection",
        action="created",
        to_stage=Stage.NEW,
        reason=finding.summary[:500],
    )
    if rule is not None:
        AlertHistory.objects.create(
            alert=alert,
            at=now,
            actor_label="system:detection",
            action="suppressed",
            from_stage=Stage.NEW,
            to_stage=Stage.SUPPRESSED,
            reason=f"Matches suppression rule #{rule.pk} ({rule.conditions_text}): {rule.reason}",
            details={"rule": rule.pk},
        )
    audit_log(
        actor_label="system:detection",
        verb="alert.create",
        obj=alert,
        after={
            "severity": alert.severity,
            "score": alert.score,
            "detector": alert.detector_id,
            "stage": alert.stage,
            "suppressed_by": rule.pk if rule else None,
        },
    )
    refresh_risk(identity=identity, session=session)
    return "created", alert


def _lock_subject(prefix: str) -> None:
    """Serialise upserts of one detector and subject until this transaction ends.

    ``select_for_update`` below locks the latest alert, but when there is none yet it locks
    nothing: two workers detecting on the same session at once (two batches touching it)
    both created the alert, and the second failed on the unique dedup key, rolling back
    its task's other alerts with it. Waiting on an advisory lock of the prefix instead, the
    second one sees the first one's alert once it has committed, and merges into it.
    (SQLite lets one writer in at a time anyway.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [prefix])


def _merge(
    alert: Alert, finding: Finding, event_ids: list[str], first: datetime, last: datetime
) -> tuple[str, Alert]:
    known = set(alert.evidence.get("event_ids") or [])
    new_ids = [i for i in event_ids if i not in known]
    if not new_ids and last <= alert.last_seen_at:
        return "unchanged", alert
    stronger = finding.score > alert.score
    alert.occurrences += len(new_ids)
    alert.first_seen_at = min(alert.first_seen_at, first)
    alert.last_seen_at = max(alert.last_seen_at, last)
    alert.evidence = {
        **(finding.evidence if stronger else alert.evidence),
        "event_ids": sorted(known | set(event_ids)),
    }
    if stronger:
        alert.score, alert.summary = finding.score, finding.summary
        alert.factors = [{"label": f.label, "points": f.points} for f in finding.factors]
    if Severity.rank(finding.severity) > Severity.rank(alert.severity):
        alert.severity = finding.severity
    outcome = "updated"
    if new_ids and (
        alert.stage == Stage.CONTAINED
        or (alert.stage == Stage.CLOSED and alert.resolution in REOPEN_ON_REPLAY)
    ):
        previous = alert.stage
        alert.stage, alert.resolution, alert.closed_at = Stage.IN_PROGRESS, "", None
        reason = "New activity matching this alert after it was contained or remediated."
        AlertHistory.objects.create(
            alert=alert,
            at=timezone.now(),
            actor_label="system:detection",
            action="reopened",
            from_stage=previous,
            to_stage=alert.stage,
            reason=reason,
        )
        audit_log(
            actor_label="system:detection",
            verb="alert.reopen",
            obj=alert,
            before={"stage": previous},
            after={"stage": alert.stage, "reason": reason},
        )
        outcome = "reopened"
    alert.save()
    refresh_risk(identity=alert.identity, session=alert.session)
    return outcome, alert


def refresh_risk(*, identity: Identity, session: Session | None) -> None:
    """Keep session and identity risk = their strongest open alert, with its factors."""
    open_alerts = Alert.objects.filter(stage__in=Stage.open_stages())
    for obj, alerts in (
        (session, open_alerts.filter(session=session) if session else None),
        (identity, open_alerts.filter(identity=identity)),
    ):
        if obj is None:
            continue
        top = alerts.order_by("-score", "-last_seen_at").first()
        obj.risk_score = top.score if top else 0
        obj.risk_factors = (
            [*top.factors, {"label": f"from alert #{top.pk}: {top.title}", "points": 0}]
            if top
            else []
        )
        obj.save(update_fields=["risk_score", "risk_factors"])
