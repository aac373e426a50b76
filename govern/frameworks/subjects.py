"""What a control mapping may point at, per kind, with a human label for each subject."""

from __future__ import annotations

from alerts_app.detectors import REGISTRY
from sessions_app.choices import SourceKind

from ..models import MappingKind, PolicySubject, WorkflowStep


def subject_choices(kind: str) -> list[tuple[str, str]]:
    """(value, label) of every valid subject of ``kind``; ``ValueError`` for an unknown kind."""
    if kind == MappingKind.DETECTOR:
        return sorted((d.id, d.spec.title) for d in REGISTRY.values())
    if kind == MappingKind.POLICY:
        return list(PolicySubject.choices)
    if kind == MappingKind.WORKFLOW:
        return list(WorkflowStep.choices)
    if kind == MappingKind.CONNECTOR:
        return list(SourceKind.choices)
    raise ValueError(f"unknown mapping kind {kind!r} (expected one of {MappingKind.values})")


def subject_label(kind: str, subject: str) -> str:
    """The label of ``subject``, or the raw value if it is no longer known (e.g. a removed
    detector), so old mappings still display."""
    try:
        return dict(subject_choices(kind)).get(subject, subject)
    except ValueError:
        return subject
