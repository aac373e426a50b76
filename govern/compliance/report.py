"""The whole compliance report for a period: evidence, every framework's statuses, trends and
the one-page executive summary. Views, exports and the weekly digest all build it here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone

from . import charts, metrics
from .metrics import OpenAlerts, Period, ResponseMetrics
from .selectors import (
    COVERED,
    GAP,
    PARTIALLY_COVERED,
    ControlStatus,
    Evidence,
    FrameworkReport,
    all_reports,
    gather_evidence,
)


@dataclass
class Trends:
    by_detector: dict[str, dict[date, int]]
    by_severity: dict[str, dict[date, int]]
    response: dict[date, ResponseMetrics]

    def figures(self, period: Period, revocations: metrics.RevocationMetrics) -> dict[str, dict]:
        return {
            "alerts_by_detector": charts.alerts_by_detector(period, self.by_detector),
            "alerts_by_severity": charts.alerts_by_severity(period, self.by_severity),
            "response_times": charts.response_times(self.response),
            "sla_compliance": charts.sla_compliance(self.response),
            "revocations": charts.revocations(period, revocations.daily),
        }


@dataclass
class ComplianceReport:
    """Everything a manager sees for one period."""

    period: Period
    generated_at: datetime
    evidence: Evidence
    frameworks: list[FrameworkReport]
    trends: Trends

    @property
    def response(self) -> ResponseMetrics:
        return self.evidence.response

    @property
    def revocations(self) -> metrics.RevocationMetrics:
        return self.evidence.revocations

    @property
    def open_alerts(self) -> OpenAlerts:
        return self.evidence.open_by_detector.get("*") or metrics.open_alerts(
            as_of=self.evidence.as_of
        )

    @property
    def severity_totals(self) -> dict[str, int]:
        return {
            severity: sum(self.trends.by_severity.get(severity, {}).values())
            for severity in charts.SEVERITY_ORDER
        }

    def framework(self, slug: str) -> FrameworkReport | None:
        return next((f for f in self.frameworks if f.framework.slug == slug), None)

    def top_issues(self, limit: int = 8) -> list[tuple[FrameworkReport, ControlStatus]]:
        """In-scope controls that are gaps, then partially covered, across frameworks."""
        issues = [
            (f, row)
            for f in self.frameworks
            for row in f.in_scope
            if row.status in (GAP, PARTIALLY_COVERED)
        ]
        issues.sort(key=lambda pair: (pair[1].status != GAP, pair[0].framework.order))
        return issues[:limit]

    def kpis(self) -> dict:
        """The headline figures, formatted for display."""
        r, rev = self.response, self.revocations
        return {
            "mtta": metrics.human_duration(r.mtta_s),
            "mttc": metrics.human_duration(r.mttc_s),
            "mttr": metrics.human_duration(r.mttr_s),
            "sla": metrics.percent(r.sla_rate),
            "ack_sla": metrics.percent(r.ack_sla_rate),
            "contain_sla": metrics.percent(r.contain_sla_rate),
            "revocations_recorded": rev.requested > 0,
            "revocation_success": metrics.percent(rev.success_rate),
            "verification": metrics.percent(rev.verification_rate),
        }

    def headline(self) -> str:
        """One sentence a manager can forward."""
        parts = []
        for f in self.frameworks:
            c = f.counts
            parts.append(
                f"{f.framework.short_name}: {c[COVERED]} covered, {c[PARTIALLY_COVERED]} partial, "
                f"{c[GAP]} {'gap' if c[GAP] == 1 else 'gaps'} "
                f"of {len(f.in_scope)} controls in scope"
            )
        return "; ".join(parts) + "."


def build_report(period: Period, *, now: datetime | None = None) -> ComplianceReport:
    """Assess every framework over ``period`` from live evidence."""
    now = now or timezone.now()
    evidence = gather_evidence(period, now=now)
    trends = Trends(
        by_detector=metrics.alerts_daily(period, by="detector_id"),
        by_severity=metrics.alerts_daily(period, by="severity"),
        response=metrics.response_trend(evidence.times, period=period, as_of=evidence.as_of),
    )
    return ComplianceReport(
        period=period,
        generated_at=now,
        evidence=evidence,
        frameworks=all_reports(evidence),
        trends=trends,
    )
