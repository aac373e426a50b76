"""CSV, PDF and CISO Assistant exports of the compliance report, parsed back and checked."""

import csv
import io
import re

import pytest
import yaml
from pypdf import PdfReader

from govern.compliance import exports, pdf
from govern.compliance.report import build_report

from . import compliance_fixture as fx


@pytest.fixture
def report(db):
    fx.build()
    return build_report(fx.PERIOD, now=fx.END)


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_pdf_renders_the_summary_figures_and_attribution(report):
    data = pdf.render_pdf(report)
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    assert reader.metadata.title == "govern compliance report 2026-03-01 to 2026-03-07"
    assert len(reader.pages) >= 5  # summary, trends, one page per framework
    first = re.sub(r"\s+", " ", reader.pages[0].extract_text())
    assert "executive summary" in first
    assert "Period 2026-03-01 to 2026-03-07" in first
    assert "OWASP NHI Top 10: 3 covered, 3 partial, 0 gaps of 6 controls in scope" in first
    assert "Mean time to acknowledge (MTTA) 1.8 h" in first
    assert "Mean time to contain (MTTC) 2.0 h" in first
    assert "Mean time to resolve (MTTR) 4.5 h" in first
    assert "Acknowledge SLA met 67% (2 of 3 due)" in first
    assert "Contain SLA met 50% (1 of 2 due)" in first
    assert "4 requested; 2 succeeded" in first
    assert "Revocation success rate 67%" in first
    assert "What needs attention" in first
    # The executive summary is one page: the trends start the second.
    assert reader.pages[1].extract_text().lstrip().startswith("Trends")
    text = _pdf_text(data)
    assert "Long-Lived Secrets" in text
    assert "OWASP Non-Human Identities Top 10 (2025), OWASP Foundation, CC BY-SA 4.0" in text
    assert "National Institute of Standards and Technology" in text


def test_pdf_says_so_when_no_revocations_were_recorded(db):
    data = pdf.render_pdf(build_report(fx.PERIOD, now=fx.END))
    assert "No revocations recorded in the period." in _pdf_text(data)


def test_pdf_text_outside_latin1_is_transliterated():
    assert pdf.latin1("a — b → c ≥ d “e”") == 'a - b -> c >= d "e"'
    assert pdf.latin1("日本") == "??"


def test_csv_has_one_row_per_control_with_status_and_reason(report):
    rows = list(csv.reader(io.StringIO(exports.report_csv(report))))
    header, body = rows[0], rows[1:]
    assert header == exports.CSV_COLUMNS
    assert len(body) == 10 + 134 + 95
    by_id = {(r[0], r[1]): dict(zip(header, r, strict=True)) for r in body}
    nhi10 = by_id[("OWASP NHI Top 10", "NHI10:2025")]
    assert nhi10["status"] == "Covered"
    assert nhi10["detectors"] == "Person using a non-human identity"
    assert nhi10["alerts_in_period"] == "1"
    assert nhi10["period"] == "2026-03-01 to 2026-03-07"
    de_cm_01 = by_id[("NIST CSF 2.0", "DE.CM-01")]
    assert de_cm_01["open_alerts_past_due"] == "1"
    assert de_cm_01["open_alerts_over_7_days"] == "1"
    rs_mi_01 = by_id[("NIST CSF 2.0", "RS.MI-01")]
    assert rs_mi_01["workflow_steps"] == "Revoke; Verify containment"
    only_ai = list(
        csv.reader(io.StringIO(exports.report_csv(report, framework_slug="nist-ai-rmf-1.0")))
    )
    assert len(only_ai) == 1 + 95


def test_csv_cells_cannot_start_a_formula():
    assert exports._cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert exports._cell("-5") == "'-5"
    assert exports._cell("Covered") == "Covered"


def test_ciso_assistant_library_structure(report):
    fw = report.framework("nist-csf-2.0")
    doc = yaml.safe_load(exports.ciso_library_yaml(fw, generated_on="2026-03-08"))
    for key in ("urn", "locale", "ref_id", "name", "description", "copyright", "version"):
        assert key in doc, key
    assert doc["urn"] == "urn:govern:risk:library:govern-evidence-nist-csf-2.0"
    assert isinstance(doc["version"], int)
    assert doc["publication_date"] == "2026-03-08"
    assert "National Institute of Standards and Technology" in doc["copyright"]
    framework = doc["objects"]["framework"]
    assert framework["urn"] == "urn:govern:risk:framework:nist-csf-2.0"
    nodes = framework["requirement_nodes"]
    assert len(nodes) == 134
    assert sum(n["assessable"] for n in nodes) == 106
    assert {n["depth"] for n in nodes} == {1, 2, 3}
    urns = {n["urn"] for n in nodes}
    assert len(urns) == 134
    for node in nodes:
        assert node["urn"].startswith("urn:govern:risk:req_node:nist-csf-2.0:")
        assert node["urn"] == node["urn"].lower()
        if node["depth"] > 1:
            assert node["parent_urn"] in urns
        else:
            assert "parent_urn" not in node
    rs_mi_01 = next(n for n in nodes if n["ref_id"] == "RS.MI-01")
    assert rs_mi_01["urn"] == "urn:govern:risk:req_node:nist-csf-2.0:rs.mi-01"
    assert rs_mi_01["description"] == "Incidents are contained"
    assert "urn:govern:risk:function:workflow.revoke" in rs_mi_01["reference_controls"]
    assert rs_mi_01["typical_evidence"].startswith(
        "govern evidence, 2026-03-01 to 2026-03-07: Partially covered."
    )
    assert "Revoke:" in rs_mi_01["annotation"]
    controls = {c["urn"]: c for c in doc["objects"]["reference_controls"]}
    referenced = {u for n in nodes for u in n.get("reference_controls", [])}
    assert referenced == set(controls)
    revoke = controls["urn:govern:risk:function:workflow.revoke"]
    assert revoke["category"] == "technical" and revoke["csf_function"] == "respond"
    travel = controls["urn:govern:risk:function:detector.impossible_travel"]
    assert travel["name"] == "Impossible travel between sign-ins"


def test_ciso_assistant_owasp_library_keeps_the_ids_and_attribution(report):
    doc = yaml.safe_load(
        exports.ciso_library_yaml(report.framework("owasp-nhi-2025"), generated_on="2026-03-08")
    )
    assert doc["copyright"].startswith(
        "OWASP Non-Human Identities Top 10 (2025), OWASP Foundation, CC BY-SA 4.0."
    )
    nodes = doc["objects"]["framework"]["requirement_nodes"]
    assert [n["ref_id"] for n in nodes] == [f"NHI{i}:2025" for i in range(1, 11)]
    assert all(n["assessable"] and n["depth"] == 1 for n in nodes)
    assert nodes[6]["urn"] == "urn:govern:risk:req_node:owasp-nhi-2025:nhi7:2025"
    assert "reference_controls" not in nodes[3]  # NHI4: nothing mapped
