"""Compliance status per framework and control, derived from live evidence.

For every control the mappings say what in govern provides evidence for it. Each kind of
mapping is checked against what actually happened in the reporting period:

* **detectors** — enabled, with telemetry to watch; how often they fired;
* **session-lifetime policies** — any enabled policy in enforce mode (monitor mode only flags);
* **workflow steps** — acknowledge (SLA), escalate, revoke (success rate), verify
  (containment-verification rate), notify (alerts routed to a reachable owner);
* **connectors** — a source of a mapped kind delivering in the period.

Each check gives a ``Finding``: ``ok`` (effective), ``partial`` (in place but unproven or weak) or
``missing``. A control is **covered** when every finding is ok and none of its open alerts is
past its containment due time, a **gap** when nothing maps to it or every finding is missing,
and **partially covered** otherwise. The reason lists the findings in words.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from alerts_app.detectors import REGISTRY
from alerts_app.models import Alert, DetectorConfig
from sessions_app.choices import SourceKind
from sessions_app.models import PolicyMode, SessionLifetimePolicy, Source, TelemetryEvent

from ..frameworks.subjects import subject_label
from ..models import Control, ControlLevel, ControlMapping, Framework, MappingKind, WorkflowStep
from . import metrics
from .metrics import TARGET_RATE, OpenAlerts, Period, human_duration, percent

OK, PARTIAL, MISSING = "ok", "partial", "missing"
COVERED, PARTIALLY_COVERED, GAP = "covered", "partial", "gap"
STATUS_LABELS = {COVERED: "Covered", PARTIALLY_COVERED: "Partially covered", GAP: "Gap"}


@dataclass(frozen=True)
class Finding:
    """One line of evidence for a control."""

    kind: str
    state: str
    text: str


@dataclass(frozen=True)
class DetectorEvidence:
    title: str
    enabled: bool
    alerts: int


@dataclass(frozen=True)
class ConnectorEvidence:
    label: str
    sources: tuple[str, ...]
    healthy: tuple[str, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class PolicyEvidence:
    enforce: tuple[str, ...]
    monitor: tuple[str, ...]


@dataclass
class Evidence:
    """Everything the statuses are computed from, gathered once per report."""

    period: Period
    as_of: datetime
    detectors: dict[str, DetectorEvidence]
    telemetry_events: int
    connectors: dict[str, ConnectorEvidence]
    policies: PolicyEvidence
    response: metrics.ResponseMetrics
    revocations: metrics.RevocationMetrics
    escalations: int
    alerts_routable: int
    open_by_detector: dict[str, OpenAlerts]
    times: list[metrics.AlertTimes]
    workflow: dict[str, Finding] = field(default_factory=dict)


def _policies() -> PolicyEvidence:
    enforce, monitor = [], []
    rows = SessionLifetimePolicy.objects.filter(enabled=True).order_by("name")
    for name, mode in rows.values_list("name", "mode"):
        (enforce if mode == PolicyMode.ENFORCE else monitor).append(name)
    return PolicyEvidence(enforce=tuple(enforce), monitor=tuple(monitor))


def _connectors(period: Period) -> dict[str, ConnectorEvidence]:
    by_kind: dict[str, list[Source]] = defaultdict(list)
    for source in Source.objects.order_by("name"):
        by_kind[source.kind].append(source)
    out = {}
    for kind, label in SourceKind.choices:
        healthy, problems = [], []
        for s in by_kind.get(kind, []):
            delivered = s.newest_event_at is not None and s.newest_event_at >= period.start
            polled = (
                kind in SourceKind.pulled()
                and s.last_success_at is not None
                and s.last_success_at >= period.start
            )
            if not s.enabled:
                problems.append(f"{s.name} is disabled")
            elif delivered or polled:
                healthy.append(s.name)
            elif s.last_error:
                problems.append(f"{s.name} is failing ({s.last_error[:80]})")
            else:
                problems.append(f"{s.name} delivered nothing in the period")
        out[kind] = ConnectorEvidence(
            label=label,
            sources=tuple(s.name for s in by_kind.get(kind, [])),
            healthy=tuple(healthy),
            problems=tuple(problems),
        )
    return out


def gather_evidence(period: Period, *, now: datetime | None = None) -> Evidence:
    """Collect the evidence for ``period`` (a fixed number of queries, whatever the volume)."""
    now = now or timezone.now()
    as_of = min(now, period.end)
    configs = dict(DetectorConfig.objects.values_list("detector_id", "enabled"))
    fired = dict(
        Alert.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .values_list("detector_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    detectors = {
        detector_id: DetectorEvidence(
            title=d.spec.title,
            enabled=configs.get(detector_id, True),
            alerts=fired.get(detector_id, 0),
        )
        for detector_id, d in REGISTRY.items()
    }
    times = metrics.alert_times(created_from=period.start, created_to=period.end)
    routable = (
        Alert.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .filter(response_owner__isnull=False)
        .filter(Q(response_owner__email__gt="") | Q(response_owner__chat_webhook_url__gt=""))
        .count()
    )
    evidence = Evidence(
        period=period,
        as_of=as_of,
        detectors=detectors,
        telemetry_events=TelemetryEvent.objects.filter(
            occurred_at__gte=period.start, occurred_at__lt=period.end
        ).count(),
        connectors=_connectors(period),
        policies=_policies(),
        response=metrics.response_metrics(times, as_of=as_of),
        revocations=metrics.revocation_metrics(period),
        escalations=metrics.escalations(period),
        alerts_routable=routable,
        open_by_detector=metrics.open_alerts_by_detector(as_of=as_of),
        times=times,
    )
    evidence.workflow = _workflow_findings(evidence)
    return evidence


# --------------------------------------------------------------------------- findings


def plural(count: int, singular: str, many: str | None = None) -> str:
    """'1 alert', '2 alerts'."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def _not_exercised(step: str, why: str) -> Finding:
    return Finding(MappingKind.WORKFLOW, PARTIAL, f"{step}: not exercised — {why}")


def _workflow_findings(ev: Evidence) -> dict[str, Finding]:
    r, rev = ev.response, ev.revocations
    W = MappingKind.WORKFLOW
    found: dict[str, Finding] = {}

    # acknowledge
    if r.alerts == 0:
        found[WorkflowStep.ACKNOWLEDGE] = _not_exercised(
            "Acknowledge", "no alerts were raised in the period."
        )
    elif r.acknowledged == 0:
        found[WorkflowStep.ACKNOWLEDGE] = Finding(
            W, MISSING, f"Acknowledge: none of the {r.alerts} alerts raised was acknowledged."
        )
    else:
        base = (
            f"Acknowledge: {r.acknowledged} of {r.alerts} alerts acknowledged, "
            f"mean time to acknowledge {human_duration(r.mtta_s)}"
        )
        rate = r.ack_sla_rate
        if rate is None:
            found[WorkflowStep.ACKNOWLEDGE] = Finding(W, OK, base + "; none was due yet.")
        elif rate >= TARGET_RATE:
            found[WorkflowStep.ACKNOWLEDGE] = Finding(
                W, OK, base + f"; {percent(rate)} within the acknowledge SLA."
            )
        else:
            found[WorkflowStep.ACKNOWLEDGE] = Finding(
                W,
                PARTIAL,
                base + f"; only {percent(rate)} within the acknowledge SLA "
                f"(target {percent(TARGET_RATE)}).",
            )

    # escalate
    if ev.escalations:
        found[WorkflowStep.ESCALATE] = Finding(
            W, OK, f"Escalate: {plural(ev.escalations, 'alert')} escalated in the period."
        )
    elif r.breaches:
        found[WorkflowStep.ESCALATE] = Finding(
            W,
            MISSING,
            f"Escalate: {plural(r.breaches, 'SLA breach', 'SLA breaches')} in the period and "
            "no escalation recorded.",
        )
    elif r.alerts:
        found[WorkflowStep.ESCALATE] = Finding(
            W, OK, "Escalate: no SLA was breached in the period, so nothing needed escalating."
        )
    else:
        found[WorkflowStep.ESCALATE] = _not_exercised(
            "Escalate", "no alerts were raised in the period."
        )

    # revoke
    if rev.requested == 0:
        found[WorkflowStep.REVOKE] = _not_exercised(
            "Revoke", "no revocations recorded in the period."
        )
    elif rev.completed == 0:
        found[WorkflowStep.REVOKE] = _not_exercised(
            "Revoke", f"{plural(rev.requested, 'revocation')} requested, none completed yet."
        )
    else:
        text = (
            f"Revoke: {rev.succeeded} of {rev.completed} completed revocations succeeded "
            f"({percent(rev.success_rate)})"
        )
        if rev.partially_succeeded:
            text += f", {rev.partially_succeeded} partially"
        if rev.failed:
            text += f", {rev.failed} failed"
        if rev.succeeded == 0:
            state = MISSING
        elif rev.success_rate >= TARGET_RATE:
            state = OK
        else:
            state = PARTIAL
        found[WorkflowStep.REVOKE] = Finding(W, state, text + ".")

    # verify
    decided = rev.verified + rev.containment_failed
    if rev.requested == 0:
        found[WorkflowStep.VERIFY] = _not_exercised(
            "Verify containment", "no revocations recorded in the period."
        )
    elif decided == 0:
        found[WorkflowStep.VERIFY] = _not_exercised(
            "Verify containment", "no containment has been decided yet."
        )
    else:
        text = (
            f"Verify containment: {rev.verified} of {decided} verified "
            f"({percent(rev.verification_rate)})"
        )
        if rev.containment_failed:
            text += f"; {rev.containment_failed} failed (the session was used again)"
        if rev.verified == 0:
            state = MISSING
        elif rev.verification_rate >= TARGET_RATE:
            state = OK
        else:
            state = PARTIAL
        found[WorkflowStep.VERIFY] = Finding(W, state, text + ".")

    # notify
    if r.alerts == 0:
        found[WorkflowStep.NOTIFY] = _not_exercised(
            "Notify", "no alerts were raised in the period."
        )
    else:
        share = ev.alerts_routable / r.alerts
        text = (
            f"Notify: {ev.alerts_routable} of {r.alerts} alerts had a response owner "
            f"reachable by email or webhook ({percent(share)})."
        )
        if ev.alerts_routable == 0:
            state = MISSING
        elif share >= TARGET_RATE:
            state = OK
        else:
            state = PARTIAL
        found[WorkflowStep.NOTIFY] = Finding(W, state, text)
    return found


def _detector_finding(ev: Evidence, subjects: list[str]) -> Finding:
    known = [s for s in subjects if s in ev.detectors]
    unknown = [s for s in subjects if s not in ev.detectors]
    D = MappingKind.DETECTOR
    enabled = [s for s in known if ev.detectors[s].enabled]
    disabled = [ev.detectors[s].title for s in known if not ev.detectors[s].enabled]
    fired = sum(ev.detectors[s].alerts for s in enabled)
    suffix = f" (unknown detector ids ignored: {', '.join(unknown)})" if unknown else ""
    if not enabled:
        what = ", ".join(disabled) or "none of the mapped detectors exists"
        return Finding(
            D, MISSING, f"Detectors: all mapped detectors are disabled ({what}).{suffix}"
        )
    if ev.telemetry_events == 0:
        return Finding(
            D,
            PARTIAL,
            f"Detectors: {len(enabled)} of {plural(len(known), 'mapped detector')} enabled, but no "
            f"telemetry arrived in the period, so they had nothing to watch.{suffix}",
        )
    text = f"Detectors: {len(enabled)} of {plural(len(known), 'mapped detector')} enabled, "
    text += f"{plural(fired, 'alert')} raised in the period"
    if disabled:
        return Finding(D, PARTIAL, text + f"; disabled: {', '.join(disabled)}.{suffix}")
    return Finding(D, OK, text + f".{suffix}")


def _policies_phrase(count: int) -> str:
    return plural(count, "session-lifetime policy", "session-lifetime policies")


def _policy_finding(ev: Evidence) -> Finding:
    P, pol = MappingKind.POLICY, ev.policies
    if pol.enforce:
        text = f"Policies: {_policies_phrase(len(pol.enforce))} in enforce mode"
        if pol.monitor:
            text += f", {len(pol.monitor)} in monitor mode"
        return Finding(P, OK, text + ".")
    if pol.monitor:
        return Finding(
            P,
            PARTIAL,
            f"Policies: {_policies_phrase(len(pol.monitor))}, all in monitor mode — "
            "violations are flagged but not acted on.",
        )
    return Finding(P, MISSING, "Policies: no session-lifetime policies are enabled.")


def _connector_finding(ev: Evidence, kinds: list[str]) -> Finding:
    C = MappingKind.CONNECTOR
    rows = [ev.connectors[k] for k in kinds if k in ev.connectors]
    healthy = [name for c in rows for name in c.healthy]
    problems = [p for c in rows for p in c.problems]
    if healthy:
        text = f"Connectors: telemetry arrived in the period from {', '.join(healthy)}"
        if problems:
            text += f"; but {'; '.join(problems)}"
        return Finding(C, OK, text + ".")
    if problems:
        return Finding(C, PARTIAL, f"Connectors: {'; '.join(problems)}.")
    labels = ", ".join(c.label for c in rows)
    return Finding(C, MISSING, f"Connectors: no {labels} source is configured.")


# --------------------------------------------------------------------------- statuses


@dataclass
class ControlStatus:
    """A control's assessed status (or, for functions and categories, its roll-up)."""

    control: Control
    status: str
    reason: str
    in_scope: bool
    findings: list[Finding]
    mappings: list[ControlMapping]
    detector_ids: list[str]
    alerts_in_period: int = 0
    open_alerts: OpenAlerts | None = None
    rollup: dict[str, int] | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def mapping_labels(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for m in self.mappings:
            out[m.kind].append(subject_label(m.kind, m.subject))
        return dict(out)


def _sum_open(parts: list[OpenAlerts]) -> OpenAlerts:
    by_age = {label: 0 for label, _ in metrics.AGE_BUCKETS}
    overdue = 0
    for p in parts:
        for label, n in p.by_age.items():
            by_age[label] += n
        overdue += p.overdue
    return OpenAlerts(by_age=by_age, overdue=overdue)


def assess_control(control: Control, mappings: list[ControlMapping], ev: Evidence) -> ControlStatus:
    """Status and reason of one assessable control from its mappings and the evidence."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for m in mappings:
        by_kind[m.kind].append(m.subject)
    detector_ids = sorted(set(by_kind.get(MappingKind.DETECTOR, [])))
    findings: list[Finding] = []
    if detector_ids:
        findings.append(_detector_finding(ev, detector_ids))
    if by_kind.get(MappingKind.POLICY):
        findings.append(_policy_finding(ev))
    for step in sorted(set(by_kind.get(MappingKind.WORKFLOW, []))):
        if step in ev.workflow:
            findings.append(ev.workflow[step])
    if by_kind.get(MappingKind.CONNECTOR):
        mapped = set(by_kind[MappingKind.CONNECTOR])
        findings.append(_connector_finding(ev, [k for k in SourceKind.values if k in mapped]))
    open_alerts = _sum_open(
        [ev.open_by_detector[d] for d in detector_ids if d in ev.open_by_detector]
    )
    alerts = sum(ev.detectors[d].alerts for d in detector_ids if d in ev.detectors)
    states = [f.state for f in findings]
    if not findings:
        status = GAP
        reason = "Nothing in govern is mapped to this control."
    elif all(s == MISSING for s in states):
        status = GAP
        reason = " ".join(f.text for f in findings)
    else:
        status = COVERED if all(s == OK for s in states) else PARTIALLY_COVERED
        # Weak evidence first: it is what a reader needs to act on.
        ordered = sorted(findings, key=lambda f: {MISSING: 0, PARTIAL: 1, OK: 2}[f.state])
        reason = " ".join(f.text for f in ordered)
        if open_alerts.overdue:
            status = PARTIALLY_COVERED
            reason = (
                "1 open alert behind this control is past its containment due time. "
                if open_alerts.overdue == 1
                else f"{open_alerts.overdue} open alerts behind this control are past their "
                "containment due time. "
            ) + reason
    return ControlStatus(
        control=control,
        status=status,
        reason=reason,
        in_scope=bool(findings),
        findings=findings,
        mappings=mappings,
        detector_ids=detector_ids,
        alerts_in_period=alerts,
        open_alerts=open_alerts,
    )


@dataclass
class FrameworkReport:
    """One framework's statuses over a period: every control in document order."""

    framework: Framework
    period: Period
    rows: list[ControlStatus]

    @property
    def assessed(self) -> list[ControlStatus]:
        return [r for r in self.rows if r.control.assessable]

    @property
    def in_scope(self) -> list[ControlStatus]:
        return [r for r in self.assessed if r.in_scope]

    @property
    def counts(self) -> dict[str, int]:
        """Statuses of the in-scope assessable controls."""
        counts = {COVERED: 0, PARTIALLY_COVERED: 0, GAP: 0}
        for r in self.in_scope:
            counts[r.status] += 1
        return counts

    @property
    def out_of_scope(self) -> int:
        return len(self.assessed) - len(self.in_scope)

    @property
    def coverage_rate(self) -> float | None:
        """Covered share of the in-scope controls (partially covered counts half)."""
        counts, total = self.counts, len(self.in_scope)
        if not total:
            return None
        return (counts[COVERED] + counts[PARTIALLY_COVERED] / 2) / total


def _rollup(control: Control, below: list[ControlStatus]) -> ControlStatus:
    counts = {COVERED: 0, PARTIALLY_COVERED: 0, GAP: 0}
    in_scope = [r for r in below if r.in_scope]
    for r in in_scope:
        counts[r.status] += 1
    if not in_scope or counts[GAP] == len(in_scope):
        status = GAP
    elif counts[COVERED] == len(in_scope):
        status = COVERED
    else:
        status = PARTIALLY_COVERED
    reason = (
        f"{counts[COVERED]} covered, {counts[PARTIALLY_COVERED]} partially covered, "
        f"{counts[GAP]} gaps among the {len(in_scope)} of {len(below)} subcategories "
        "that govern maps to."
    )
    return ControlStatus(
        control=control,
        status=status,
        reason=reason,
        in_scope=bool(in_scope),
        findings=[],
        mappings=[],
        detector_ids=sorted({d for r in below for d in r.detector_ids}),
        alerts_in_period=sum(r.alerts_in_period for r in below),
        rollup=counts,
    )


def framework_report(framework: Framework, evidence: Evidence) -> FrameworkReport:
    """Assess every control of ``framework`` (2 queries on top of the evidence)."""
    controls = list(framework.controls.order_by("order"))
    mappings: dict[int, list[ControlMapping]] = defaultdict(list)
    for m in ControlMapping.objects.filter(control__framework=framework).order_by(
        "kind", "subject"
    ):
        mappings[m.control_id].append(m)
    assessed = {
        c.pk: assess_control(c, mappings.get(c.pk, []), evidence) for c in controls if c.assessable
    }
    children: dict[int, list[int]] = defaultdict(list)
    for c in controls:
        if c.parent_id:
            children[c.parent_id].append(c.pk)

    def leaves(pk: int) -> list[ControlStatus]:
        out = []
        for child in children.get(pk, []):
            out += [assessed[child]] if child in assessed else leaves(child)
        return out

    rows = [assessed[c.pk] if c.pk in assessed else _rollup(c, leaves(c.pk)) for c in controls]
    return FrameworkReport(framework=framework, period=evidence.period, rows=rows)


def all_reports(evidence: Evidence) -> list[FrameworkReport]:
    return [framework_report(f, evidence) for f in Framework.objects.order_by("order")]


# --------------------------------------------------------------------------- drill-down


@dataclass
class ControlDetail:
    status: ControlStatus
    alerts: list[Alert]
    alerts_total: int
    policies: list
    detectors: list[tuple[str, DetectorEvidence]]
    connectors: list[ConnectorEvidence]


def control_detail(control: Control, evidence: Evidence, *, alert_limit: int = 50) -> ControlDetail:
    """A control's status with the alerts, policies, detectors and sources behind it."""
    mappings = list(control.mappings.order_by("kind", "subject"))
    if control.assessable:
        status = assess_control(control, mappings, evidence)
    else:
        report = framework_report(control.framework, evidence)
        status = next(r for r in report.rows if r.control.pk == control.pk)
        status.mappings = mappings
    alerts_qs = (
        Alert.objects.filter(
            detector_id__in=status.detector_ids,
            created_at__gte=evidence.period.start,
            created_at__lt=evidence.period.end,
        )
        .select_related("identity")
        .order_by("-created_at", "-id")
    )
    policies = []
    if any(m.kind == MappingKind.POLICY for m in mappings):
        policies = list(SessionLifetimePolicy.objects.order_by("name"))
    mapped = {m.subject for m in mappings if m.kind == MappingKind.CONNECTOR}
    kinds = [k for k in SourceKind.values if k in mapped]
    return ControlDetail(
        status=status,
        alerts=list(alerts_qs[:alert_limit]),
        alerts_total=alerts_qs.count(),
        policies=policies,
        detectors=[
            (d, evidence.detectors[d]) for d in status.detector_ids if d in evidence.detectors
        ],
        connectors=[evidence.connectors[k] for k in kinds if k in evidence.connectors],
    )


def controls_for_picker() -> list[Control]:
    """Assessable controls of every framework, for the mapping editor."""
    return list(
        Control.objects.filter(level__in=ControlLevel.assessable())
        .select_related("framework")
        .order_by("framework__order", "order")
    )
