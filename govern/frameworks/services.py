"""Writes of control mappings (admins); each audit-logged in the same transaction."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from govern.audit import audit_log

from ..models import Control, ControlMapping
from .subjects import subject_choices


def _snapshot(mapping: ControlMapping) -> dict:
    return {
        "framework": mapping.control.framework.slug,
        "control": mapping.control.ref_id,
        "kind": mapping.kind,
        "subject": mapping.subject,
        "rationale": mapping.rationale,
    }


def _clean_rationale(rationale: str) -> str:
    rationale = (rationale or "").strip()
    if len(rationale) < 20:
        raise ValidationError(
            {"rationale": "Say why this provides evidence for the control (20+ characters)."}
        )
    return rationale


def _validate(*, kind: str, subject: str, rationale: str) -> str:
    errors = {}
    try:
        valid = dict(subject_choices(kind))
    except ValueError as exc:
        errors["kind"] = str(exc)
    else:
        if subject not in valid:
            errors["subject"] = f"{subject!r} is not a known {kind}; choose one of: " + ", ".join(
                sorted(valid)
            )
    rationale = (rationale or "").strip()
    if len(rationale) < 20:
        errors["rationale"] = "Say why this provides evidence for the control (20+ characters)."
    if errors:
        raise ValidationError(errors)
    return rationale


@transaction.atomic
def control_mapping_create(
    *,
    control: Control,
    kind: str,
    subject: str,
    rationale: str,
    actor,
    client_ip: str | None = None,
) -> ControlMapping:
    """Map ``subject`` of ``kind`` to ``control``. ``ValidationError`` per field on bad input,
    including a mapping that already exists."""
    rationale = _validate(kind=kind, subject=subject, rationale=rationale)
    try:
        with transaction.atomic():
            mapping = ControlMapping.objects.create(
                control=control,
                kind=kind,
                subject=subject,
                rationale=rationale,
                is_default=False,
                updated_by=actor,
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"subject": f"{subject} is already mapped to {control.ref_id}."}
        ) from exc
    audit_log(
        actor=actor,
        verb="control_mapping.create",
        obj=mapping,
        after=_snapshot(mapping),
        client_ip=client_ip,
    )
    return mapping


@transaction.atomic
def control_mapping_update(
    *, mapping: ControlMapping, rationale: str, actor, client_ip: str | None = None
) -> ControlMapping:
    """Change the rationale of a mapping; it is no longer a shipped default afterwards."""
    mapping = (
        ControlMapping.objects.select_for_update()
        .select_related("control__framework")
        .get(pk=mapping.pk)
    )
    rationale = _clean_rationale(rationale)
    before = _snapshot(mapping)
    mapping.rationale, mapping.is_default, mapping.updated_by = rationale, False, actor
    mapping.save()
    audit_log(
        actor=actor,
        verb="control_mapping.update",
        obj=mapping,
        before=before,
        after=_snapshot(mapping),
        client_ip=client_ip,
    )
    return mapping


@transaction.atomic
def control_mapping_delete(*, mapping: ControlMapping, actor, client_ip: str | None = None) -> None:
    """Remove a mapping (the audit row keeps what it was)."""
    mapping = (
        ControlMapping.objects.select_for_update()
        .select_related("control__framework")
        .get(pk=mapping.pk)
    )
    before = _snapshot(mapping)
    audit_log(
        actor=actor,
        verb="control_mapping.delete",
        obj=mapping,
        before=before,
        client_ip=client_ip,
    )
    mapping.delete()
