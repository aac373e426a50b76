"""The triage workflow around alerts: SLA matrix, suppression rules, comments, saved views,
notifications and the questions asked of response owners."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from sessions_app.models import Owner

from .alerts import Alert, Severity


class IdentityClass(models.TextChoices):
    """The SLA's second axis: people, or non-human identities (service accounts, keys, agents)."""

    HUMAN = "human", "Human"
    NON_HUMAN = "non_human", "Non-human / agent"


# Suggested defaults (product research §4.2): minutes to acknowledge and to contain.
DEFAULT_SLA_MINUTES: dict[tuple[str, str], tuple[int, int]] = {
    (Severity.CRITICAL, IdentityClass.HUMAN): (15, 60),
    (Severity.CRITICAL, IdentityClass.NON_HUMAN): (15, 120),
    (Severity.HIGH, IdentityClass.HUMAN): (60, 240),
    (Severity.HIGH, IdentityClass.NON_HUMAN): (60, 480),
    (Severity.MEDIUM, IdentityClass.HUMAN): (480, 3 * 1440),
    (Severity.MEDIUM, IdentityClass.NON_HUMAN): (480, 5 * 1440),
    (Severity.LOW, IdentityClass.HUMAN): (3 * 1440, 14 * 1440),
    (Severity.LOW, IdentityClass.NON_HUMAN): (3 * 1440, 30 * 1440),
}


class SLAPolicy(models.Model):
    """One cell of the SLA matrix: severity × identity class → time to acknowledge / contain.

    Missing cells fall back to ``DEFAULT_SLA_MINUTES``; admins edit the matrix in the UI.
    """

    severity = models.CharField(max_length=10, choices=Severity.choices)
    identity_class = models.CharField(max_length=12, choices=IdentityClass.choices)
    ack_minutes = models.PositiveIntegerField(help_text="Minutes to acknowledge.")
    contain_minutes = models.PositiveIntegerField(help_text="Minutes to contain.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(fields=["severity", "identity_class"], name="sla_cell_unique"),
            models.CheckConstraint(
                condition=Q(ack_minutes__gt=0) & Q(contain_minutes__gte=models.F("ack_minutes")),
                name="sla_minutes_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.severity} × {self.identity_class}"

    @property
    def ack(self) -> timedelta:
        return timedelta(minutes=self.ack_minutes)

    @property
    def contain(self) -> timedelta:
        return timedelta(minutes=self.contain_minutes)


class SuppressionRule(models.Model):
    """Alerts of one detector matching these conditions are recorded as Suppressed until expiry.

    Empty conditions match anything; at least one of identity, ASN, country or IP must be set
    so a rule never silences a whole detector by accident.
    """

    detector_id = models.CharField(max_length=60, db_index=True)
    identity = models.ForeignKey(
        "sessions_app.Identity", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    asn = models.PositiveIntegerField(null=True, blank=True, verbose_name="ASN")
    country = models.CharField(max_length=2, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name="IP")
    reason = models.TextField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_from = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the rule expired or was ended early."
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [("manage_suppressionrule", "Can end suppression rules early")]
        constraints = [
            models.CheckConstraint(
                condition=Q(identity__isnull=False)
                | Q(asn__isnull=False)
                | Q(ip__isnull=False)
                | ~Q(country=""),
                name="suppression_has_condition",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.detector_id}: {self.conditions_text}"

    @property
    def conditions_text(self) -> str:
        parts = []
        if self.identity_id:
            parts.append(f"identity #{self.identity_id}")
        if self.asn is not None:
            parts.append(f"AS{self.asn}")
        if self.country:
            parts.append(f"country {self.country}")
        if self.ip:
            parts.append(f"IP {self.ip}")
        return ", ".join(parts)

    def matches(self, *, detector_id: str, identity_id: int, evidence: dict) -> bool:
        """Whether an alert with this detector, identity and evidence falls under the rule."""
        if detector_id != self.detector_id:
            return False
        if self.identity_id and identity_id != self.identity_id:
            return False
        values = _evidence_values(evidence)
        if self.asn is not None and str(self.asn) not in values["asn"]:
            return False
        if self.country and self.country.upper() not in values["country"]:
            return False
        return not (self.ip and self.ip not in values["ip"])


def _evidence_values(evidence: dict) -> dict[str, set[str]]:
    """ASNs, countries and IPs anywhere in a finding's evidence (flat or per location)."""
    found: dict[str, set[str]] = {"asn": set(), "country": set(), "ip": set()}

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in found and item not in (None, "") and not isinstance(item, dict | list):
                    found[key].add(str(item).upper() if key == "country" else str(item))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(evidence or {})
    return found


class Comment(models.Model):
    """An analyst's note on an alert; @username mentions notify the mentioned users."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_label = models.CharField(max_length=200)
    text = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"#{self.alert_id} {self.author_label}: {self.text[:40]}"


class SavedView(models.Model):
    """A named queue filter a user saved (the query string of the alert list)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_alert_views"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="saved_view_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class NotificationPreference(models.Model):
    """How one user wants to be told: immediately or in a digest, and an optional chat webhook."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    digest = models.BooleanField(
        default=False, help_text="Collect notifications into one periodic digest."
    )
    email = models.BooleanField(default=True)
    webhook_url = models.URLField(blank=True, help_text="Slack-compatible incoming webhook.")

    def __str__(self) -> str:
        return f"{self.user}: {'digest' if self.digest else 'immediate'}"


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", "Assigned to you"
    MENTION = "mention", "Mentioned"
    SLA_BREACH = "sla_breach", "SLA breached"
    APPROVAL = "approval", "Approval requested"
    ESCALATED = "escalated", "Escalated"
    OWNER_QUESTION = "owner_question", "Owner asked"


class Notification(models.Model):
    """One message to a user or a response-owner team; its delivery state lives here.

    Rows are created in the same transaction as the change that caused them and delivered
    on commit (or later, in a digest), so a failed delivery is visible and retried.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_notifications",
    )
    owner = models.ForeignKey(
        Owner, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    subject = models.CharField(max_length=250)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    digest = models.BooleanField(default=False, help_text="Held for the next digest.")
    sent_at = models.DateTimeField(null=True, blank=True)
    channels = models.JSONField(default=list, blank=True, help_text="Where it was delivered.")
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["sent_at", "digest"], name="notification_pending")]
        constraints = [
            models.CheckConstraint(
                condition=Q(recipient__isnull=False) | Q(owner__isnull=False),
                name="notification_has_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient or self.owner}: {self.subject}"


class OwnerAnswer(models.TextChoices):
    CONFIRMED = "confirmed", "Yes, this was us / expected"
    DENIED = "denied", "No, this was not us"
    UNSURE = "unsure", "Not sure"


class OwnerQuestion(models.Model):
    """A "was this you?" question sent to an alert's response owner, and their answer."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="owner_questions")
    owner = models.ForeignKey(Owner, on_delete=models.CASCADE, related_name="questions")
    question = models.TextField()
    asked_at = models.DateTimeField(auto_now_add=True)
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answer = models.CharField(max_length=12, choices=OwnerAnswer.choices, blank=True)
    answer_note = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.CharField(max_length=200, blank=True, help_text="Name the owner gave.")

    class Meta:
        ordering = ["-asked_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.alert_id} → {self.owner}: {self.answer or 'unanswered'}"
