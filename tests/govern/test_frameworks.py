"""Framework catalogues loaded by migrations, default mappings, and the mapping services."""

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from alerts_app.detectors import REGISTRY
from govern.frameworks import services
from govern.frameworks.subjects import subject_choices
from govern.models import Control, ControlMapping, Framework, MappingKind, WorkflowStep
from sessions_app.choices import SourceKind
from sessions_app.models import AuditEvent

DATA = Path(__file__).resolve().parents[2] / "govern" / "frameworks" / "data"


def _counts(slug):
    controls = Control.objects.filter(framework__slug=slug)
    return {
        level: controls.filter(level=level).count()
        for level in controls.values_list("level", flat=True).distinct()
    }


@pytest.mark.django_db
def test_catalogue_counts():
    assert _counts("owasp-nhi-2025") == {"risk": 10}
    assert _counts("nist-csf-2.0") == {"function": 6, "category": 22, "subcategory": 106}
    assert _counts("nist-ai-rmf-1.0") == {"function": 4, "category": 19, "subcategory": 72}


@pytest.mark.django_db
def test_hierarchy_and_texts():
    csf = Framework.objects.get(slug="nist-csf-2.0")
    pr_aa_03 = Control.objects.get(framework=csf, ref_id="PR.AA-03")
    assert pr_aa_03.parent.ref_id == "PR.AA"
    assert pr_aa_03.parent.parent.ref_id == "PR"
    assert pr_aa_03.text == "Users, services, and hardware are authenticated"
    # The NIST wording of GV.OC-04 (CISO Assistant's transcription drops "external").
    assert "external stakeholders" in Control.objects.get(framework=csf, ref_id="GV.OC-04").text
    # Withdrawn CSF 1.1 identifiers are not loaded.
    assert not Control.objects.filter(framework=csf, ref_id__in=["PR.AC-01", "ID.BE-01"]).exists()
    ai = Control.objects.get(framework__slug="nist-ai-rmf-1.0", ref_id="MANAGE 2.4")
    assert ai.parent.ref_id == "MANAGE 2" and ai.parent.parent.ref_id == "MANAGE"
    nhi7 = Control.objects.get(framework__slug="owasp-nhi-2025", ref_id="NHI7:2025")
    assert nhi7.title == "Long-Lived Secrets" and nhi7.parent is None
    assert nhi7.annotations["session_token_theft_relevance"] == "primary"


@pytest.mark.django_db
def test_frameworks_carry_licence_and_attribution():
    owasp = Framework.objects.get(slug="owasp-nhi-2025")
    assert owasp.attribution == (
        "OWASP Non-Human Identities Top 10 (2025), OWASP Foundation, CC BY-SA 4.0"
    )
    assert "CC BY-SA 4.0" in owasp.licence
    for slug in ("nist-csf-2.0", "nist-ai-rmf-1.0"):
        nist = Framework.objects.get(slug=slug)
        assert "public domain" in nist.licence.lower() and "NIST" in nist.attribution


@pytest.mark.django_db
def test_every_default_mapping_is_loaded_with_a_rationale_and_a_valid_subject():
    rows = json.loads((DATA / "default_mappings.json").read_text())["mappings"]
    assert ControlMapping.objects.filter(is_default=True).count() == len(rows)
    for m in ControlMapping.objects.select_related("control"):
        assert len(m.rationale) >= 40, m
        assert m.subject in dict(subject_choices(m.kind)), m
        assert m.control.assessable, m


@pytest.mark.django_db
def test_default_detector_mappings_mirror_the_detector_specs():
    """The detectors' own control tuples and the editable defaults must not drift apart."""
    for detector_id, detector in REGISTRY.items():
        mapped = ControlMapping.objects.filter(kind=MappingKind.DETECTOR, subject=detector_id)
        by_framework = {
            slug: set(
                mapped.filter(control__framework__slug=slug).values_list(
                    "control__ref_id", flat=True
                )
            )
            for slug in ("owasp-nhi-2025", "nist-csf-2.0")
        }
        assert by_framework["owasp-nhi-2025"] == set(detector.spec.owasp_nhi), detector_id
        assert by_framework["nist-csf-2.0"] == set(detector.spec.nist_csf), detector_id


@pytest.mark.django_db
def test_every_workflow_step_and_connector_is_mapped_by_default():
    steps = set(
        ControlMapping.objects.filter(kind=MappingKind.WORKFLOW).values_list("subject", flat=True)
    )
    assert steps == set(WorkflowStep.values)
    connectors = set(
        ControlMapping.objects.filter(kind=MappingKind.CONNECTOR).values_list("subject", flat=True)
    )
    assert connectors == set(SourceKind.values)
    assert ControlMapping.objects.filter(
        kind=MappingKind.POLICY, control__ref_id="NHI7:2025"
    ).exists()


@pytest.mark.django_db
def test_mapping_create_update_delete_are_audited(admin_user):
    control = Control.objects.get(framework__slug="owasp-nhi-2025", ref_id="NHI4:2025")
    mapping = services.control_mapping_create(
        control=control,
        kind=MappingKind.POLICY,
        subject="session_lifetime",
        rationale="Re-authentication windows limit what an intercepted token can do.",
        actor=admin_user,
    )
    assert not mapping.is_default and mapping.updated_by == admin_user
    created = AuditEvent.objects.get(verb="control_mapping.create")
    assert created.after["control"] == "NHI4:2025" and created.actor_label == "ada"

    default = ControlMapping.objects.filter(is_default=True).first()
    services.control_mapping_update(
        mapping=default, rationale="A clearer reason that a reviewer accepted.", actor=admin_user
    )
    default.refresh_from_db()
    assert default.rationale == "A clearer reason that a reviewer accepted."
    assert not default.is_default
    update = AuditEvent.objects.get(verb="control_mapping.update")
    assert update.before["rationale"] != update.after["rationale"]

    services.control_mapping_delete(mapping=mapping, actor=admin_user)
    assert not ControlMapping.objects.filter(pk=mapping.pk).exists()
    deleted = AuditEvent.objects.get(verb="control_mapping.delete")
    assert deleted.before["subject"] == "session_lifetime"


@pytest.mark.django_db
def test_mapping_create_refuses_bad_input_and_keeps_nothing(admin_user):
    control = Control.objects.get(framework__slug="nist-csf-2.0", ref_id="RS.MI-01")
    before = ControlMapping.objects.count()
    with pytest.raises(ValidationError) as bad_subject:
        services.control_mapping_create(
            control=control,
            kind=MappingKind.DETECTOR,
            subject="no_such_detector",
            rationale="Some sufficiently long rationale text.",
            actor=admin_user,
        )
    assert "subject" in bad_subject.value.message_dict
    with pytest.raises(ValidationError) as short:
        services.control_mapping_create(
            control=control,
            kind=MappingKind.CONNECTOR,
            subject="okta",
            rationale="because",
            actor=admin_user,
        )
    assert "rationale" in short.value.message_dict
    with pytest.raises(ValidationError) as duplicate:
        services.control_mapping_create(
            control=control,
            kind=MappingKind.WORKFLOW,
            subject="revoke",  # shipped default
            rationale="Revoking contains the incident, again.",
            actor=admin_user,
        )
    assert "already mapped" in str(duplicate.value)
    assert ControlMapping.objects.count() == before
    assert not AuditEvent.objects.filter(verb__startswith="control_mapping").exists()


@pytest.mark.django_db
def test_admins_hold_the_mapping_permission_and_managers_the_report_permission(
    analyst, manager, admin_user
):
    assert admin_user.has_perm("govern.change_controlmapping")
    assert admin_user.has_perm("govern.view_reports")
    assert manager.has_perm("govern.view_reports")
    assert not manager.has_perm("govern.change_controlmapping")
    assert not analyst.has_perm("govern.view_reports")
