"""Report figures and statuses checked against the hand-computed values of compliance_fixture."""

from datetime import date

import pytest

from alerts_app.models import Alert
from govern.compliance import metrics
from govern.compliance.report import build_report
from govern.compliance.selectors import (
    COVERED,
    GAP,
    PARTIALLY_COVERED,
    control_detail,
    framework_report,
    gather_evidence,
)
from govern.models import Control, Framework
from sessions_app.models import SessionLifetimePolicy

from . import compliance_fixture as fx


@pytest.fixture
def org(db):
    return fx.build()


@pytest.fixture
def report(org):
    return build_report(fx.PERIOD, now=fx.END)


def _row(report, slug, ref_id):
    fw = report.framework(slug)
    return next(r for r in fw.rows if r.control.ref_id == ref_id)


def test_response_times_and_sla(report):
    r = report.response
    assert (r.alerts, r.acknowledged, r.contained, r.resolved) == (4, 3, 2, 2)
    assert r.mtta_s == 6300
    assert r.mttc_s == 7200
    assert r.mttr_s == 16200
    assert (r.ack_met, r.ack_breached) == (2, 1)
    assert (r.contain_met, r.contain_breached) == (1, 1)
    assert r.sla_rate == pytest.approx(0.6)
    assert report.kpis()["mtta"] == "1.8 h" and report.kpis()["mttr"] == "4.5 h"


def test_open_alerts_by_age(report):
    open_alerts = report.open_alerts
    assert open_alerts.by_age == {"< 1 day": 0, "1–7 days": 2, "7–30 days": 1, "> 30 days": 0}
    assert open_alerts.overdue == 1


def test_revocation_and_containment_rates(report):
    rev = report.revocations
    assert (rev.requested, rev.succeeded, rev.failed, rev.rejected) == (4, 2, 1, 1)
    assert rev.success_rate == pytest.approx(2 / 3)
    assert (rev.verified, rev.containment_failed) == (1, 1)
    assert rev.verification_rate == 0.5
    assert report.kpis()["revocation_success"] == "67%"


def test_statuses_of_owasp_risks(report):
    fw = report.framework("owasp-nhi-2025")
    statuses = {r.control.ref_id: r.status for r in fw.rows}
    assert statuses == {
        "NHI1:2025": PARTIALLY_COVERED,  # revocation success 67% < 90%
        "NHI2:2025": PARTIALLY_COVERED,  # idp_risk_verdict is disabled
        "NHI3:2025": COVERED,
        "NHI4:2025": GAP,  # nothing maps to it
        "NHI5:2025": COVERED,
        "NHI6:2025": GAP,
        "NHI7:2025": PARTIALLY_COVERED,
        "NHI8:2025": GAP,
        "NHI9:2025": GAP,
        "NHI10:2025": COVERED,
    }
    assert fw.counts == {COVERED: 3, PARTIALLY_COVERED: 3, GAP: 0}
    assert fw.out_of_scope == 4
    nhi10 = _row(report, "owasp-nhi-2025", "NHI10:2025")
    assert nhi10.reason == (
        "Detectors: 1 of 1 mapped detector enabled, 1 alert raised in the period."
    )
    assert nhi10.alerts_in_period == 1


def test_reasons_say_why_in_words(report):
    nhi2 = _row(report, "owasp-nhi-2025", "NHI2:2025")
    assert "disabled: Identity provider flagged a risk" in nhi2.reason
    rs_mi_01 = _row(report, "nist-csf-2.0", "RS.MI-01")
    assert rs_mi_01.status == PARTIALLY_COVERED
    assert "Revoke: 2 of 3 completed revocations succeeded (67%), 1 failed." in rs_mi_01.reason
    assert "Verify containment: 1 of 2 verified (50%)" in rs_mi_01.reason
    # Weak evidence comes first.
    assert rs_mi_01.reason.index("Revoke") < rs_mi_01.reason.index("Detectors")
    de_cm_01 = _row(report, "nist-csf-2.0", "DE.CM-01")  # impossible_travel has a5 overdue
    assert de_cm_01.status == PARTIALLY_COVERED
    assert de_cm_01.reason.startswith(
        "1 open alert behind this control is past its containment due time."
    )
    de_cm_06 = _row(report, "nist-csf-2.0", "DE.CM-06")
    assert de_cm_06.status == PARTIALLY_COVERED
    assert "all mapped detectors are disabled" in de_cm_06.reason
    assert "telemetry arrived in the period from okta-prod" in de_cm_06.reason
    assert _row(report, "nist-csf-2.0", "RS.MA-04").status == COVERED  # one escalation
    rs_co_02 = _row(report, "nist-csf-2.0", "RS.CO-02")
    assert rs_co_02.status == PARTIALLY_COVERED
    assert "2 of 4 alerts had a response owner reachable" in rs_co_02.reason
    assert _row(report, "nist-csf-2.0", "PR.PS-04").status == COVERED
    acknowledge = _row(report, "nist-csf-2.0", "RS.MA-02")
    assert "only 67% within the acknowledge SLA" in acknowledge.reason
    unmapped = _row(report, "nist-csf-2.0", "GV.OC-01")
    assert (unmapped.status, unmapped.in_scope) == (GAP, False)
    assert unmapped.reason == "Nothing in govern is mapped to this control."


def test_policies_decide_policy_controls(org):
    def status():
        fw = framework_report(
            Framework.objects.get(slug="nist-csf-2.0"), gather_evidence(fx.PERIOD, now=fx.END)
        )
        row = next(r for r in fw.rows if r.control.ref_id == "GV.PO-02")
        return row.status, row.reason

    assert status() == (GAP, "Policies: no session-lifetime policies are enabled.")
    limits = {"max_lifetime_s": 43200, "idle_timeout_s": 900, "reauth_window_s": 900}
    SessionLifetimePolicy.objects.create(name="AAL2 default", mode="monitor", **limits)
    assert status()[0] == PARTIALLY_COVERED
    assert "all in monitor mode" in status()[1]
    SessionLifetimePolicy.objects.create(name="Privileged", mode="enforce", **limits)
    assert status() == (
        COVERED,
        "Policies: 1 session-lifetime policy in enforce mode, 1 in monitor mode.",
    )


def test_categories_and_functions_roll_up(report):
    rs_mi = _row(report, "nist-csf-2.0", "RS.MI")
    assert rs_mi.status == PARTIALLY_COVERED
    assert rs_mi.rollup == {COVERED: 0, PARTIALLY_COVERED: 1, GAP: 0}
    assert rs_mi.reason == (
        "0 covered, 1 partially covered, 0 gaps among the 1 of 2 subcategories that govern maps to."
    )
    assert _row(report, "nist-csf-2.0", "GV.OC").status == GAP  # nothing mapped below it


def test_trends(report):
    days = fx.PERIOD.days()
    assert days[0] == date(2026, 3, 1) and days[-1] == date(2026, 3, 7)
    assert report.trends.by_severity == {
        "high": {date(2026, 3, 2): 1},
        "critical": {date(2026, 3, 3): 1},
        "medium": {date(2026, 3, 5): 1},
        "low": {date(2026, 3, 6): 1},
    }
    response = report.trends.response
    assert response[date(2026, 3, 2)].mtta_s == 1800
    assert response[date(2026, 3, 3)].ack_sla_rate == 0
    assert response[date(2026, 3, 1)].alerts == 0 and response[date(2026, 3, 1)].mtta_s is None
    figures = report.trends.figures(report.period, report.revocations)
    assert set(figures) == {
        "alerts_by_detector",
        "alerts_by_severity",
        "response_times",
        "sla_compliance",
        "revocations",
    }
    sev = {trace["name"]: trace["y"] for trace in figures["alerts_by_severity"]["data"]}
    assert sev["critical"] == [0, 0, 1, 0, 0, 0, 0]
    revocations = {t["name"]: sum(t["y"]) for t in figures["revocations"]["data"]}
    assert revocations == {"succeeded": 2, "failed": 1, "rejected": 1}


def test_drill_down_lists_the_alerts_detectors_and_sources_behind_a_control(org):
    evidence = gather_evidence(fx.PERIOD, now=fx.END)
    de_cm_06 = Control.objects.get(framework__slug="nist-csf-2.0", ref_id="DE.CM-06")
    detail = control_detail(de_cm_06, evidence)
    assert [d for d, _ in detail.detectors] == ["idp_risk_verdict"]
    assert [c.label for c in detail.connectors] == [
        "Okta",
        "Microsoft Entra ID",
        "Google Workspace",
    ]
    assert detail.connectors[0].healthy == ("okta-prod",)

    de_cm_01 = Control.objects.get(framework__slug="nist-csf-2.0", ref_id="DE.CM-01")
    detail = control_detail(de_cm_01, evidence)
    # a1, a2 (and a4: nhi_new_context) were raised in the period; a5 before it.
    assert {a.dedup_key for a in detail.alerts} == {
        "impossible_travel|a1",
        "concurrent_session_reuse|a2",
        "nhi_new_context|a4",
    }
    assert detail.alerts_total == 3


def test_headline(report):
    assert report.headline().startswith(
        "OWASP NHI Top 10: 3 covered, 3 partial, 0 gaps of 6 controls in scope; NIST CSF 2.0:"
    )


def test_sla_uses_the_alerts_own_due_times_when_triage_set_them(org):
    a2 = org["alerts"][1]
    # Triage gave a2 a generous hour to acknowledge: its 45 minutes now meet the SLA.
    Alert.objects.filter(pk=a2.pk).update(ack_due_at=fx.at(3, 10))
    times = metrics.alert_times(created_from=fx.START, created_to=fx.END)
    r = metrics.response_metrics(times, as_of=fx.END)
    assert (r.ack_met, r.ack_breached) == (3, 0)
