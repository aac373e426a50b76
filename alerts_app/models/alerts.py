"""Alerts and the detector configuration/state behind them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from sessions_app.models import Identity, Owner, Session, Source


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"

    @classmethod
    def rank(cls, value: str) -> int:
        return [cls.LOW, cls.MEDIUM, cls.HIGH, cls.CRITICAL].index(value)


class Stage(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    CONTAINED = "contained", "Contained"
    CLOSED = "closed", "Closed"
    SUPPRESSED = "suppressed", "Suppressed"

    @classmethod
    def open_stages(cls) -> list[str]:
        return [cls.NEW, cls.IN_PROGRESS, cls.CONTAINED]


class Substatus(models.TextChoices):
    """Statuses inside the In progress stage (the stage drives SLAs; the status says why)."""

    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    INVESTIGATING = "investigating", "Investigating"
    AWAITING_INFO = "awaiting_info", "Awaiting info"
    PENDING_APPROVAL = "pending_approval", "Pending approval"


class Resolution(models.TextChoices):
    TRUE_POSITIVE = "true_positive", "True positive, remediated"
    AUTO_REMEDIATED = "auto_remediated", "Auto-remediated"
    BENIGN = "benign", "Benign"
    FALSE_POSITIVE = "false_positive", "False positive"
    DUPLICATE = "duplicate", "Duplicate"
    RISK_ACCEPTED = "risk_accepted", "Risk accepted"


class DetectorConfig(models.Model):
    """Admin settings of one detector: enabled and its validated thresholds."""

    detector_id = models.CharField(max_length=60, unique=True)
    enabled = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True, help_text="Overrides of the defaults.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["detector_id"]

    def __str__(self) -> str:
        return self.detector_id


class DetectorState(models.Model):
    """Persistent detector state per subject (e.g. an NHI's learned baseline).

    Rebuildable from event history (``manage.py detect --rebuild``).
    """

    detector_id = models.CharField(max_length=60)
    subject = models.CharField(max_length=120, help_text="identity:<id> or session:<id>")
    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["detector_id", "subject"], name="detector_state_unique")
        ]

    def __str__(self) -> str:
        return f"{self.detector_id} {self.subject}"


class AlertQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view") -> AlertQuerySet:
        """The alerts ``user`` may see ("view") or work on ("triage"); the single place deciding.

        Permissions are role-wide (no per-row scopes yet), so this never adds per-row
        subqueries: it returns everything or nothing, and "triage" is limited to alerts that
        are not closed or suppressed unless the user may also re-open them.
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if action == "view":
            return self if user.has_perm("alerts_app.view_alert") else self.none()
        if action == "triage":
            if user.has_perm("alerts_app.triage_alert"):
                return self
            if user.has_perm("alerts_app.reopen_alert") or user.has_perm("alerts_app.accept_risk"):
                # Managers: approvals of pending risk acceptances and re-opening only.
                return self.filter(
                    Q(stage__in=[Stage.CLOSED, Stage.SUPPRESSED])
                    | Q(substatus=Substatus.PENDING_APPROVAL)
                )
            return self.none()
        raise ValueError(f"Unknown action {action!r}: expected 'view' or 'triage'.")

    def open(self) -> AlertQuerySet:
        return self.filter(stage__in=Stage.open_stages())

    def sla_breaching(self, now) -> AlertQuerySet:
        """Open alerts past their acknowledge or contain due time."""
        return self.open().filter(
            Q(acknowledged_at__isnull=True, ack_due_at__lt=now)
            | Q(contained_at__isnull=True, contain_due_at__lt=now)
        )


def running_due_at(*, stage, acknowledged_at, ack_due_at, contained_at, contain_due_at):
    """The SLA due time that is running for an alert in ``stage``: acknowledge first, then
    contain; none once contained or closed."""
    if stage not in Stage.open_stages():
        return None
    if acknowledged_at is None:
        return ack_due_at
    if contained_at is None:
        return contain_due_at
    return None


class Alert(models.Model):
    """One deduplicated finding: a detector firing on a session or identity within a window."""

    detector_id = models.CharField(max_length=60, db_index=True)
    detector_version = models.PositiveSmallIntegerField(default=1)
    dedup_key = models.CharField(
        max_length=250, help_text="detector + subject + window; one open alert per key."
    )
    title = models.CharField(max_length=200)
    summary = models.TextField(help_text="The plain-words explanation.")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    score = models.PositiveSmallIntegerField(help_text="Risk score 0–100.")
    factors = models.JSONField(default=list, help_text="[{label, points}] behind the score.")
    evidence = models.JSONField(default=dict)
    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="alerts")
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=1)
    owasp_nhi = models.JSONField(default=list)
    nist_csf = models.JSONField(default=list)
    mitre_attack = models.JSONField(default=list)
    controls = models.CharField(
        max_length=600, blank=True, help_text="' id id … ' of every mapped control, for filtering."
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NEW)
    substatus = models.CharField(max_length=30, blank=True)
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_alerts",
    )
    response_owner = models.ForeignKey(
        Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    recurrence_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="recurrences"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Triage workflow. Timestamps are set by the system, never typed in (no backdating SLAs).
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    ack_due_at = models.DateTimeField(null=True, blank=True, help_text="Acknowledge by (SLA).")
    contain_due_at = models.DateTimeField(null=True, blank=True, help_text="Contain by (SLA).")
    ack_breach_at = models.DateTimeField(
        null=True, blank=True, help_text="When the acknowledge SLA breach was flagged."
    )
    contain_breach_at = models.DateTimeField(
        null=True, blank=True, help_text="When the contain SLA breach was flagged."
    )
    escalation_level = models.PositiveSmallIntegerField(default=0)
    escalated_to = models.CharField(max_length=200, blank=True)
    escalation_reason = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    accepted_until = models.DateTimeField(
        null=True, blank=True, help_text="Risk acceptance expiry: the alert re-opens then."
    )
    risk_approver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="approved_alerts",
    )
    suppressed_by = models.ForeignKey(
        "alerts_app.SuppressionRule",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        permissions = [
            ("triage_alert", "Can triage alerts (assign, transition, comment, escalate)"),
            ("reopen_alert", "Can re-open closed or suppressed alerts"),
            ("accept_risk", "Can approve risk acceptance of alerts"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["dedup_key"], name="alert_dedup_key_unique"),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="alert_severity_valid"
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="alert_stage_valid"),
            models.CheckConstraint(condition=Q(score__lte=100), name="alert_score_range"),
        ]
        indexes = [
            models.Index(fields=["stage", "-last_seen_at"], name="alert_stage_recent"),
            models.Index(fields=["identity", "-last_seen_at"], name="alert_identity_recent"),
            models.Index(fields=["session", "detector_id"], name="alert_session_detector"),
            models.Index(
                fields=["assignee", "stage", "-last_seen_at"], name="alert_assignee_queue"
            ),
            models.Index(fields=["-last_seen_at", "-id"], name="alert_recent"),
            models.Index(fields=["-score", "-id"], name="alert_score"),
            # The queue's default (open alerts, newest first) and its counters read only the
            # open few percent of the table: partial indexes keep both off the closed rows.
            models.Index(
                fields=["-last_seen_at", "-id"],
                name="alert_open_recent",
                condition=Q(stage__in=["new", "in_progress", "contained"]),
            ),
            models.Index(
                fields=[
                    "stage",
                    "assignee",
                    "acknowledged_at",
                    "ack_due_at",
                    "contained_at",
                    "contain_due_at",
                ],
                name="alert_open_counters",
                condition=Q(stage__in=["new", "in_progress", "contained"]),
            ),
            models.Index(fields=["response_owner", "stage"], name="alert_owner_stage"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def save(self, *args, **kwargs):
        ids = [*self.owasp_nhi, *self.nist_csf, *self.mitre_attack]
        self.controls = f" {' '.join(ids)} " if ids else ""
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.stage in Stage.open_stages()

    def sla_state(self, now) -> str:
        """SLA flag of the running clock: "breached", "due" (within the hour) or ""."""
        due = self.current_due_at
        if due is None or not self.is_open:
            return ""
        if now > due:
            return "breached"
        return "due" if (due - now).total_seconds() < 3600 else ""

    @property
    def current_due_at(self):
        """The SLA due time that is running: acknowledge first, then contain."""
        return running_due_at(
            stage=self.stage,
            acknowledged_at=self.acknowledged_at,
            ack_due_at=self.ack_due_at,
            contained_at=self.contained_at,
            contain_due_at=self.contain_due_at,
        )


class AlertHistory(models.Model):
    """Every change of an alert: who, when, from, to, why (also mirrored in the audit log)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=40)
    from_stage = models.CharField(max_length=20, blank=True)
    to_stage = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "alert history"

    def __str__(self) -> str:
        return f"#{self.alert_id} {self.action} {self.from_stage}→{self.to_stage}"
