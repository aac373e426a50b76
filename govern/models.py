"""Frameworks, their controls and govern's mappings to them (the basis of compliance reports).

The catalogues (OWASP NHI Top 10 2025, NIST CSF 2.0, NIST AI RMF 1.0) are loaded by migrations
from ``govern/frameworks/data/``; the default mappings too, each with the rationale a reviewer
can check. Admins edit mappings through ``govern.frameworks.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ControlLevel(models.TextChoices):
    FUNCTION = "function", "Function"
    CATEGORY = "category", "Category"
    SUBCATEGORY = "subcategory", "Subcategory"
    RISK = "risk", "Risk"

    @classmethod
    def assessable(cls) -> list[str]:
        """Levels a status is assessed on; functions and categories roll up from them."""
        return [cls.SUBCATEGORY, cls.RISK]


class MappingKind(models.TextChoices):
    DETECTOR = "detector", "Detector"
    POLICY = "policy", "Session-lifetime policies"
    WORKFLOW = "workflow", "Workflow step"
    CONNECTOR = "connector", "Connector"


class WorkflowStep(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    ESCALATE = "escalate", "Escalate"
    REVOKE = "revoke", "Revoke"
    VERIFY = "verify", "Verify containment"
    NOTIFY = "notify", "Notify"


class PolicySubject(models.TextChoices):
    """What a policy mapping points at: the session-lifetime policies as a control family."""

    SESSION_LIFETIME = "session_lifetime", "Session-lifetime policies"


class Framework(models.Model):
    """One catalogue of controls (a standard, at one version) with its licence and attribution."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    short_name = models.CharField(max_length=60)
    version = models.CharField(max_length=30)
    publisher = models.CharField(max_length=200)
    url = models.URLField(blank=True)
    licence = models.TextField()
    attribution = models.TextField()
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "slug"]
        permissions = [("view_reports", "Can view compliance reports")]

    def __str__(self) -> str:
        return self.short_name


class Control(models.Model):
    """A function, category, subcategory (NIST) or risk (OWASP) of a framework.

    Statuses are assessed on subcategories and risks (``ControlLevel.assessable``); functions
    and categories roll up from their descendants. ``annotations`` holds our analysis (e.g.
    OWASP relevance notes), kept apart from the publisher's ``text``.
    """

    framework = models.ForeignKey(Framework, on_delete=models.CASCADE, related_name="controls")
    ref_id = models.CharField(
        max_length=40, help_text="Identifier exactly as the source writes it."
    )
    level = models.CharField(max_length=20, choices=ControlLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    title = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    url = models.URLField(blank=True)
    order = models.PositiveIntegerField()
    annotations = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["framework", "order"]
        constraints = [
            models.UniqueConstraint(fields=["framework", "ref_id"], name="control_ref_unique"),
            models.CheckConstraint(
                condition=Q(level__in=ControlLevel.values), name="control_level_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref_id} {self.title}".strip()

    @property
    def assessable(self) -> bool:
        return self.level in ControlLevel.assessable()

    @property
    def label(self) -> str:
        """Title where the source has one, else the start of the statement."""
        return self.title or (self.text if len(self.text) <= 90 else self.text[:88] + "…")


class ControlMapping(models.Model):
    """A claim that something govern does (a detector, the session-lifetime policies, a
    workflow step or a connector) provides evidence for a control, and why.

    Defaults come from ``govern/frameworks/data/default_mappings.json``; admins add, edit and
    remove mappings (``is_default`` tells which ones they changed).
    """

    control = models.ForeignKey(Control, on_delete=models.CASCADE, related_name="mappings")
    kind = models.CharField(max_length=20, choices=MappingKind.choices)
    subject = models.CharField(
        max_length=60, help_text="Detector id, policy family, workflow step or connector kind."
    )
    rationale = models.TextField(help_text="Why this provides evidence for the control.")
    is_default = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["control__framework__order", "control__order", "kind", "subject"]
        constraints = [
            models.UniqueConstraint(
                fields=["control", "kind", "subject"], name="control_mapping_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=MappingKind.values), name="control_mapping_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["kind", "subject"], name="control_mapping_subject")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.subject} → {self.control.ref_id}"
