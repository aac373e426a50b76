"""CSV export of the statuses, and the controls, mappings and evidence as a CISO Assistant
library (YAML), so organisations can carry the evidence into their GRC tool.

The CISO Assistant library format (top-level ``urn``/``ref_id``/``objects``; a ``framework``
with a flat ``requirement_nodes`` tree; ``reference_controls``) is emulated from its public
documentation; no CISO Assistant code or content is used. Our objects live under the
``urn:govern:`` namespace so importing never collides with CISO Assistant's own NIST libraries.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import yaml

from alerts_app.detectors import REGISTRY

from ..frameworks.subjects import subject_label
from ..models import ControlMapping, MappingKind, WorkflowStep
from .report import ComplianceReport
from .selectors import FrameworkReport

CSV_COLUMNS = [
    "framework",
    "control",
    "level",
    "title",
    "status",
    "in_scope",
    "reason",
    "detectors",
    "policies",
    "workflow_steps",
    "connectors",
    "alerts_in_period",
    "open_alerts",
    "open_alerts_over_7_days",
    "open_alerts_past_due",
    "period",
]


def _cell(value) -> str:
    """Text safe to open in a spreadsheet: formulas are neutralised with a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_rows(report: ComplianceReport, *, framework_slug: str | None = None) -> Iterator[list]:
    yield CSV_COLUMNS
    for fw in report.frameworks:
        if framework_slug and fw.framework.slug != framework_slug:
            continue
        for row in fw.rows:
            labels = row.mapping_labels
            open_alerts = row.open_alerts
            over_7 = (
                open_alerts.by_age.get("7–30 days", 0) + open_alerts.by_age.get("> 30 days", 0)
                if open_alerts
                else ""
            )
            yield [
                _cell(v)
                for v in (
                    fw.framework.short_name,
                    row.control.ref_id,
                    row.control.level,
                    row.control.label,
                    row.status_label,
                    "yes" if row.in_scope else "no",
                    row.reason,
                    "; ".join(labels.get(MappingKind.DETECTOR, [])),
                    "; ".join(labels.get(MappingKind.POLICY, [])),
                    "; ".join(labels.get(MappingKind.WORKFLOW, [])),
                    "; ".join(labels.get(MappingKind.CONNECTOR, [])),
                    row.alerts_in_period,
                    open_alerts.total if open_alerts else "",
                    over_7,
                    open_alerts.overdue if open_alerts else "",
                    report.period.label,
                )
            ]


def report_csv(report: ComplianceReport, *, framework_slug: str | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv_rows(report, framework_slug=framework_slug):
        writer.writerow(row)
    return out.getvalue()


# --------------------------------------------------------------------------- CISO Assistant

URN = "urn:govern:risk"

# (CISO Assistant reference-control category, CSF function) per mapping kind / workflow step.
_CONTROL_CLASS = {
    MappingKind.DETECTOR: ("technical", "detect"),
    MappingKind.POLICY: ("policy", "protect"),
    MappingKind.CONNECTOR: ("technical", "detect"),
    WorkflowStep.ACKNOWLEDGE: ("process", "respond"),
    WorkflowStep.ESCALATE: ("process", "respond"),
    WorkflowStep.REVOKE: ("technical", "respond"),
    WorkflowStep.VERIFY: ("process", "respond"),
    WorkflowStep.NOTIFY: ("process", "respond"),
}


def _node_urn(slug: str, ref_id: str) -> str:
    return f"{URN}:req_node:{slug}:{ref_id.lower().replace(' ', '-')}"


def _control_urn(kind: str, subject: str) -> str:
    return f"{URN}:function:{kind}.{subject}"


def _reference_control(kind: str, subject: str) -> dict:
    category, function = _CONTROL_CLASS.get(subject if kind == MappingKind.WORKFLOW else kind)
    if kind == MappingKind.DETECTOR and subject in REGISTRY:
        description = REGISTRY[subject].spec.description
    else:
        description = f"govern {MappingKind(kind).label.lower()}: {subject_label(kind, subject)}."
    return {
        "urn": _control_urn(kind, subject),
        "ref_id": f"{kind}:{subject}",
        "name": subject_label(kind, subject),
        "category": category,
        "csf_function": function,
        "description": description,
    }


def ciso_library(fw: FrameworkReport, *, generated_on: str) -> dict:
    """One framework's controls, govern's mappings to them and the period's evidence as a CISO
    Assistant library document (a plain dict, ready for YAML)."""
    framework = fw.framework
    slug = framework.slug
    depth: dict[int, int] = {}
    used: dict[tuple[str, str], dict] = {}
    nodes = []
    ref_by_pk = {row.control.pk: row.control.ref_id for row in fw.rows}
    for row in fw.rows:
        control = row.control
        depth[control.pk] = depth.get(control.parent_id, 0) + 1 if control.parent_id else 1
        node = {
            "urn": _node_urn(slug, control.ref_id),
            "assessable": control.assessable,
            "depth": depth[control.pk],
            "ref_id": control.ref_id,
        }
        if control.parent_id:
            node["parent_urn"] = _node_urn(slug, ref_by_pk[control.parent_id])
        if control.title:
            node["name"] = control.title
        node["description"] = control.text
        if control.assessable:
            mappings: list[ControlMapping] = row.mappings
            for m in mappings:
                used.setdefault((m.kind, m.subject), _reference_control(m.kind, m.subject))
            if mappings:
                node["reference_controls"] = sorted(
                    {_control_urn(m.kind, m.subject) for m in mappings}
                )
                node["annotation"] = "\n".join(
                    f"{subject_label(m.kind, m.subject)}: {m.rationale}" for m in mappings
                )
            node["typical_evidence"] = (
                f"govern evidence, {fw.period.label}: {row.status_label}. {row.reason}"
            )
        nodes.append(node)
    ref = slug.upper()
    return {
        "urn": f"{URN}:library:govern-evidence-{slug}",
        "locale": "en",
        "ref_id": f"GOVERN-EVIDENCE-{ref}",
        "name": f"{framework.name}: govern controls, mappings and evidence",
        "description": (
            f"{framework.name} controls with the govern capabilities mapped to them (and why), "
            f"and each control's status from govern's live evidence for {fw.period.label}."
        ),
        "copyright": f"{framework.attribution.rstrip('.')}. Licence: {framework.licence} "
        "Mappings and evidence: govern (Apache-2.0).",
        "version": 1,
        "publication_date": generated_on,
        "provider": "govern",
        "packager": "govern",
        "objects": {
            "reference_controls": [used[key] for key in sorted(used)],
            "framework": {
                "urn": f"{URN}:framework:{slug}",
                "ref_id": ref,
                "name": framework.name,
                "description": f"{framework.name} ({framework.publisher}).",
                "requirement_nodes": nodes,
            },
        },
    }


def ciso_library_yaml(fw: FrameworkReport, *, generated_on: str) -> str:
    return yaml.safe_dump(
        ciso_library(fw, generated_on=generated_on),
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
