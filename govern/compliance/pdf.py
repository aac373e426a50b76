"""The compliance report as a PDF a manager can send as is (fpdf2, pure Python).

Page 1 is the executive summary; then the daily trends (drawn bars and a table); then, per
framework, every control govern maps to with its status and reason. Charts are drawn with
simple rectangles — no browser or image renderer is needed.
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.fonts import FontFace

from .metrics import human_duration, percent
from .report import ComplianceReport
from .selectors import COVERED, GAP, PARTIALLY_COVERED, STATUS_LABELS

# The PDF core fonts are Latin-1; these are the characters outside it that our texts use.
_LATIN1 = str.maketrans(
    {
        "—": "-",
        "–": "-",
        "→": "->",
        "…": "...",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "≥": ">=",
        "≤": "<=",
        "×": "x",
        "•": "-",
    }
)

STATUS_FILL = {
    COVERED: (214, 238, 224),
    PARTIALLY_COVERED: (253, 240, 200),
    GAP: (250, 214, 214),
}
INK = (28, 34, 48)
MUTED = (100, 110, 125)
ACCENT = (36, 87, 197)


def latin1(text: object) -> str:
    """``text`` in the core fonts' character set (unknown characters become '?')."""
    return str(text).translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


class _ReportPDF(FPDF):
    def __init__(self, footer_text: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.footer_text = footer_text
        self.set_auto_page_break(auto=True, margin=16)
        self.set_margins(14, 14, 14)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.set_text_color(*MUTED)
        self.cell(0, 5, latin1(f"{self.footer_text}  -  page {self.page_no()}"), align="C")
        self.set_text_color(*INK)


def _heading(pdf: FPDF, text: str, size: int = 13) -> None:
    pdf.set_font("Helvetica", style="B", size=size)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 7, latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _para(pdf: FPDF, text: str, size: int = 9, colour=INK) -> None:
    pdf.set_font("Helvetica", size=size)
    pdf.set_text_color(*colour)
    pdf.multi_cell(0, 4.6, latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)


def _table(pdf: FPDF, rows: list[list[str]], widths: tuple, *, fills: list | None = None) -> None:
    pdf.set_font("Helvetica", size=8)
    head = FontFace(emphasis="BOLD", fill_color=(234, 238, 246))
    with pdf.table(
        col_widths=widths,
        headings_style=head,
        line_height=4.2,
        text_align="LEFT",
        borders_layout="HORIZONTAL_LINES",
        padding=1,
    ) as table:
        for i, values in enumerate(rows):
            row = table.row()
            fill = fills[i] if fills and i < len(fills) else None
            for j, value in enumerate(values):
                style = FontFace(fill_color=fill) if fill is not None and j == 2 else None
                row.cell(latin1(value), style=style)
    pdf.ln(3)


def _bars(pdf: FPDF, title: str, points: list[tuple[str, int]], height: float = 30) -> None:
    """A simple bar chart of (label, value) drawn with rectangles."""
    _para(pdf, title, size=9)
    left, width = pdf.l_margin, pdf.w - pdf.l_margin - pdf.r_margin
    top = pdf.get_y() + 1
    if pdf.will_page_break(height + 10):
        pdf.add_page()
        top = pdf.get_y() + 1
    peak = max((v for _, v in points), default=0)
    n = max(len(points), 1)
    slot = width / n
    pdf.set_draw_color(200, 205, 215)
    pdf.line(left, top + height, left + width, top + height)
    pdf.set_fill_color(*ACCENT)
    pdf.set_font("Helvetica", size=6)
    for i, (label, value) in enumerate(points):
        bar = 0 if peak == 0 else height * value / peak
        x = left + i * slot + slot * 0.15
        if bar:
            pdf.rect(x, top + height - bar, slot * 0.7, bar, style="F")
        if n <= 16 or i % max(1, n // 12) == 0:
            pdf.set_xy(left + i * slot, top + height + 0.5)
            pdf.cell(slot, 3, latin1(label), align="C")
    pdf.set_font("Helvetica", size=7)
    pdf.set_xy(left, top - 1)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 3, latin1(f"max {peak}"), align="R")
    pdf.set_text_color(*INK)
    pdf.set_fill_color(255, 255, 255)  # tables drawn next must not inherit the bar colour
    pdf.set_y(top + height + 6)


def render_pdf(report: ComplianceReport) -> bytes:
    """The report as PDF bytes."""
    attributions = "; ".join(f.framework.attribution for f in report.frameworks)
    pdf = _ReportPDF(footer_text=f"govern compliance report, {report.period.label}")
    pdf.set_title(latin1(f"govern compliance report {report.period.label}"))
    pdf.set_author("govern")
    pdf.add_page()

    # ---------------------------------------------------------------- executive summary
    _heading(pdf, "Session-risk compliance report: executive summary", size=15)
    _para(
        pdf,
        f"Period {report.period.label} - generated {report.generated_at:%Y-%m-%d %H:%M} UTC",
        colour=MUTED,
    )
    pdf.ln(2)
    _para(pdf, report.headline(), size=10)
    pdf.ln(2)
    rows = [
        ["Framework", "Controls in scope", "Covered", "Partially covered", "Gaps", "Not mapped"]
    ]
    for fw in report.frameworks:
        c = fw.counts
        rows.append(
            [
                fw.framework.name,
                str(len(fw.in_scope)),
                str(c[COVERED]),
                str(c[PARTIALLY_COVERED]),
                str(c[GAP]),
                str(fw.out_of_scope),
            ]
        )
    _table(pdf, rows, (60, 24, 20, 26, 16, 20))

    r, rev, open_alerts = report.response, report.revocations, report.open_alerts
    _heading(pdf, "Detection and response", size=11)
    severity = ", ".join(f"{n} {s}" for s, n in report.severity_totals.items())
    metrics_rows = [
        ["Measure", "Value"],
        ["Alerts raised", f"{r.alerts} ({severity})"],
        ["Acknowledged / contained / resolved", f"{r.acknowledged} / {r.contained} / {r.resolved}"],
        ["Mean time to acknowledge (MTTA)", human_duration(r.mtta_s)],
        ["Mean time to contain (MTTC)", human_duration(r.mttc_s)],
        ["Mean time to resolve (MTTR)", human_duration(r.mttr_s)],
        [
            "Acknowledge SLA met",
            f"{percent(r.ack_sla_rate)} ({r.ack_met} of {r.ack_met + r.ack_breached} due)",
        ],
        [
            "Contain SLA met",
            f"{percent(r.contain_sla_rate)} "
            f"({r.contain_met} of {r.contain_met + r.contain_breached} due)",
        ],
        [
            "Open alerts now",
            f"{open_alerts.total} ("
            + ", ".join(f"{n} {age}" for age, n in open_alerts.by_age.items())
            + f"); {open_alerts.overdue} past their containment due time",
        ],
    ]
    if rev.requested == 0:
        metrics_rows.append(["Revocations", "No revocations recorded in the period."])
    else:
        metrics_rows += [
            [
                "Revocations",
                f"{rev.requested} requested; {rev.succeeded} succeeded, "
                f"{rev.partially_succeeded} partially, {rev.failed} failed, "
                f"{rev.rejected} rejected, {rev.in_flight} in progress",
            ],
            ["Revocation success rate", percent(rev.success_rate)],
            [
                "Containment verified",
                f"{percent(rev.verification_rate)} ({rev.verified} verified, "
                f"{rev.containment_failed} failed, {rev.verification_pending} pending)",
            ],
        ]
    _table(pdf, metrics_rows, (70, 112))

    issues = report.top_issues(limit=5)  # keeps the executive summary on one page
    _heading(pdf, "What needs attention", size=11)
    if issues:
        rows = [["Control", "Title", "Status", "Why"]]
        fills = [None]
        for fw, row in issues:
            rows.append(
                [
                    f"{fw.framework.short_name} {row.control.ref_id}",
                    row.control.label,
                    row.status_label,
                    row.reason,
                ]
            )
            fills.append(STATUS_FILL[row.status])
        _table(pdf, rows, (34, 40, 22, 86), fills=fills)
    else:
        _para(pdf, "Every control govern maps to is covered by live evidence in this period.")

    # ---------------------------------------------------------------- trends
    pdf.add_page()
    _heading(pdf, "Trends")
    daily_alerts = {
        day: sum(series.get(day, 0) for series in report.trends.by_severity.values())
        for day in report.period.days()
    }
    _bars(pdf, "Alerts raised per day", [(f"{d:%m-%d}", n) for d, n in daily_alerts.items()])
    if rev.daily:
        per_day = {
            day: sum(series.get(day, 0) for series in rev.daily.values())
            for day in report.period.days()
        }
        _bars(pdf, "Revocations requested per day", [(f"{d:%m-%d}", n) for d, n in per_day.items()])
    rows = [["Day", "Alerts", "MTTA", "MTTC", "MTTR", "Ack SLA", "Contain SLA"]]
    for day, m in report.trends.response.items():
        rows.append(
            [
                f"{day:%Y-%m-%d}",
                str(m.alerts),
                human_duration(m.mtta_s),
                human_duration(m.mttc_s),
                human_duration(m.mttr_s),
                percent(m.ack_sla_rate),
                percent(m.contain_sla_rate),
            ]
        )
    _table(pdf, rows, (28, 18, 24, 24, 24, 30, 34))
    by_detector = sorted(
        ((k, sum(v.values())) for k, v in report.trends.by_detector.items()),
        key=lambda kv: -kv[1],
    )
    if by_detector:
        titles = {d: e.title for d, e in report.evidence.detectors.items()}
        rows = [["Detector", "Alerts in the period"]]
        rows += [[titles.get(k, k), str(n)] for k, n in by_detector]
        _table(pdf, rows, (130, 52))

    # ---------------------------------------------------------------- per framework
    for fw in report.frameworks:
        pdf.add_page()
        _heading(pdf, f"{fw.framework.name}")
        c = fw.counts
        _para(
            pdf,
            f"{len(fw.in_scope)} controls that govern maps to: {c[COVERED]} covered, "
            f"{c[PARTIALLY_COVERED]} partially covered, {c[GAP]} gaps. {fw.out_of_scope} "
            "further controls have nothing in govern mapped to them and are not assessed here.",
        )
        pdf.ln(2)
        rows = [["Control", "Title", "Status", "Reason"]]
        fills = [None]
        for row in fw.in_scope:
            rows.append(
                [row.control.ref_id, row.control.label, STATUS_LABELS[row.status], row.reason]
            )
            fills.append(STATUS_FILL[row.status])
        if len(rows) > 1:
            _table(pdf, rows, (22, 42, 22, 96), fills=fills)
        _para(pdf, f"Source: {fw.framework.attribution}", size=7, colour=MUTED)

    pdf.ln(3)
    _para(
        pdf,
        f"Framework texts: {attributions}. Mappings and statuses are govern's analysis.",
        size=7,
        colour=MUTED,
    )
    return bytes(pdf.output())
