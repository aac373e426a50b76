"""Load the framework catalogues and govern's default mappings from govern/frameworks/data/.

Self-contained on purpose: it imports no app code (so it survives squashing and later model
changes) and reads only the JSON files shipped with the project, so every install has the
catalogues without network access. Re-running it updates texts in place and never touches a
mapping an admin changed (``is_default`` false).
"""

import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "frameworks" / "data"

FRAMEWORKS = [
    {
        "slug": "owasp-nhi-2025",
        "file": "owasp_nhi_top10_2025.json",
        "name": "OWASP Non-Human Identities Top 10 (2025)",
        "short_name": "OWASP NHI Top 10",
        "version": "2025",
        "publisher": "OWASP Foundation",
        "url": "https://owasp.org/www-project-non-human-identities-top-10/",
        "order": 1,
    },
    {
        "slug": "nist-csf-2.0",
        "file": "nist_csf_2_0.json",
        "name": "NIST Cybersecurity Framework 2.0",
        "short_name": "NIST CSF 2.0",
        "version": "2.0",
        "publisher": "National Institute of Standards and Technology (NIST)",
        "url": "https://doi.org/10.6028/NIST.CSWP.29",
        "order": 2,
    },
    {
        "slug": "nist-ai-rmf-1.0",
        "file": "nist_ai_rmf_1_0.json",
        "name": "NIST AI Risk Management Framework 1.0",
        "short_name": "NIST AI RMF 1.0",
        "version": "1.0",
        "publisher": "National Institute of Standards and Technology (NIST)",
        "url": "https://doi.org/10.6028/NIST.AI.100-1",
        "order": 3,
    },
]

OWASP_ATTRIBUTION = "OWASP Non-Human Identities Top 10 (2025), OWASP Foundation, CC BY-SA 4.0"


def _read(name):
    with open(DATA / name, encoding="utf-8") as handle:
        return json.load(handle)


def _rows(spec, doc):
    """(ref_id, level, parent ref_id, title, text, url, order, annotations) per item."""
    if spec["slug"] == "owasp-nhi-2025":
        for item in doc["items"]:
            notes = {
                key: item[key]
                for key in ("session_token_theft_relevance", "relevance_note", "related_csf_2_0")
                if key in item
            }
            notes["owasp_risk_factors"] = item.get("owasp_risk_factors", {})
            yield (
                item["id"],
                "risk",
                None,
                item["title"],
                item["summary"],
                item.get("url", ""),
                item["rank"],
                notes,
            )
        return
    for item in doc["items"]:
        notes = {"examples": item["examples"]} if item.get("examples") else {}
        yield (
            item["id"],
            item["type"],
            item.get("parent"),
            item.get("title") or "",
            item["text"],
            "",
            item["order"],
            notes,
        )


def load(apps, schema_editor):
    Framework = apps.get_model("govern", "Framework")
    Control = apps.get_model("govern", "Control")
    ControlMapping = apps.get_model("govern", "ControlMapping")
    controls = {}
    for spec in FRAMEWORKS:
        doc = _read(spec["file"])
        meta = doc["metadata"]
        attribution = OWASP_ATTRIBUTION if spec["slug"] == "owasp-nhi-2025" else meta["attribution"]
        framework, _ = Framework.objects.update_or_create(
            slug=spec["slug"],
            defaults={
                "name": spec["name"],
                "short_name": spec["short_name"],
                "version": spec["version"],
                "publisher": spec["publisher"],
                "url": spec["url"],
                "licence": meta["licence"],
                "attribution": attribution,
                "order": spec["order"],
            },
        )
        by_ref = {}
        # Items come in document order, so a parent is always created before its children.
        for ref_id, level, parent, title, text, url, order, notes in _rows(spec, doc):
            control, _ = Control.objects.update_or_create(
                framework=framework,
                ref_id=ref_id,
                defaults={
                    "level": level,
                    "parent": by_ref[parent] if parent else None,
                    "title": title,
                    "text": text,
                    "url": url,
                    "order": order,
                    "annotations": notes,
                },
            )
            by_ref[ref_id] = control
        controls[spec["slug"]] = by_ref
    for row in _read("default_mappings.json")["mappings"]:
        control = controls[row["framework"]][row["control"]]
        mapping, created = ControlMapping.objects.get_or_create(
            control=control,
            kind=row["kind"],
            subject=row["subject"],
            defaults={"rationale": row["rationale"], "is_default": True},
        )
        if not created and mapping.is_default and mapping.rationale != row["rationale"]:
            mapping.rationale = row["rationale"]
            mapping.save(update_fields=["rationale"])


class Migration(migrations.Migration):
    dependencies = [("govern", "0001_frameworks")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
