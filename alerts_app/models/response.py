"""Response: revocations of sessions and tokens at the identity provider, and their proof.

A ``Revocation`` is one request ("revoke this session", "all sessions of this identity",
"this non-human credential") with its reason, approval trail, execution state and verified
containment. It fans out into one ``RevocationTarget`` per source (IdP tenant or webhook)
that has to be called; every HTTP call to a provider is a ``RevocationAttempt`` with the
provider's response, so the audit trail shows exactly what the IdP was asked and answered.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from sessions_app.models import Identity, Session, Source

from .alerts import Alert


class RevocationScope(models.TextChoices):
    SESSION = "session", "This session"
    IDENTITY_ALL = "identity_all", "All sessions of the identity"
    CREDENTIAL = "credential", "This credential / token"


class RevocationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    EXECUTING = "executing", "Executing"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"

    @classmethod
    def in_flight(cls) -> list[str]:
        return [cls.REQUESTED, cls.PENDING_APPROVAL, cls.APPROVED, cls.EXECUTING]

    @classmethod
    def terminal(cls) -> list[str]:
        return [cls.SUCCEEDED, cls.PARTIALLY_SUCCEEDED, cls.FAILED, cls.REJECTED]


class Containment(models.TextChoices):
    PENDING = "pending", "Pending verification"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Failed"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class Revocation(models.Model):
    """One revocation request, from request through approval and execution to containment.

    ``actor=None`` requests (``requested_by`` empty) come from the system, e.g. session
    policies in enforce mode; ``requested_by_label`` keeps who asked either way. At most one
    revocation of the same target (identity, scope, session) is in flight at a time, enforced
    by a partial unique constraint, so a double submit cannot call the provider twice.
    """

    scope = models.CharField(max_length=20, choices=RevocationScope.choices)
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="revocations")
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.PROTECT, related_name="revocations"
    )
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="revocations"
    )
    reason = models.TextField()
    provider = models.CharField(
        max_length=100, help_text="Provider(s) called: okta, entra, google, webhook (comma list)."
    )
    idempotency_key = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=20, choices=RevocationStatus.choices, default=RevocationStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_label = models.CharField(max_length=200)
    requested_at = models.DateTimeField()
    approval_required = models.BooleanField(default=False)
    approval_reasons = models.JSONField(default=list, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_note = models.TextField(blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="A worker executing it holds it until then."
    )
    preview = models.JSONField(default=dict, help_text="The blast radius shown when requested.")
    session_ids = models.JSONField(
        default=list, help_text="Local sessions the provider calls revoke (the blast radius)."
    )
    # verified containment
    containment = models.CharField(
        max_length=20, choices=Containment.choices, default=Containment.NOT_APPLICABLE
    )
    effective_at = models.DateTimeField(
        null=True, blank=True, help_text="Completion plus the provider's propagation grace."
    )
    verify_until = models.DateTimeField(null=True, blank=True)
    containment_decided_at = models.DateTimeField(null=True, blank=True)
    containment_evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=RevocationScope.values), name="revocation_scope_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RevocationStatus.values), name="revocation_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(containment__in=Containment.values),
                name="revocation_containment_valid",
            ),
            models.UniqueConstraint(
                fields=["identity", "scope", "session"],
                condition=Q(status__in=RevocationStatus.in_flight()),
                nulls_distinct=False,
                name="revocation_one_in_flight",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-requested_at"], name="revocation_status_recent"),
            models.Index(fields=["containment", "verify_until"], name="revocation_containment"),
        ]
        permissions = [
            ("request_revocation", "Can request a revocation"),
            ("approve_revocation", "Can approve or reject a revocation"),
        ]

    def __str__(self) -> str:
        return f"Revocation #{self.pk} ({self.get_scope_display()})"

    @property
    def is_terminal(self) -> bool:
        return self.status in RevocationStatus.terminal()


class TargetStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RevocationTarget(models.Model):
    """One provider call a revocation needs: which source, which action, for which user/session."""

    revocation = models.ForeignKey(Revocation, on_delete=models.CASCADE, related_name="targets")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(max_length=20)
    action = models.CharField(max_length=60, help_text="e.g. okta.revoke_user_sessions")
    provider_user_id = models.CharField(max_length=300)
    provider_session_id = models.CharField(max_length=300, blank=True)
    session_ids = models.JSONField(default=list, help_text="Local sessions this call revokes.")
    grace_seconds = models.PositiveIntegerField(
        help_text="The provider's documented propagation delay for this action."
    )
    status = models.CharField(
        max_length=20, choices=TargetStatus.choices, default=TargetStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["revocation", "source"], name="revocation_target_once")
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.provider_user_id}"


class AttemptOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    RETRYABLE = "retryable", "Transient failure (retried)"
    FAILED = "failed", "Failed (not retried)"


class RevocationAttempt(models.Model):
    """One HTTP call to a provider and what it answered (never the credentials we sent)."""

    revocation = models.ForeignKey(Revocation, on_delete=models.CASCADE, related_name="attempts")
    target = models.ForeignKey(RevocationTarget, on_delete=models.CASCADE, related_name="calls")
    number = models.PositiveSmallIntegerField(help_text="1 for the first call of this target.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    method = models.CharField(max_length=10)
    url = models.CharField(max_length=1000)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    response_body = models.TextField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    retry_in_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["target", "number"], name="revocation_attempt_number")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.status_code or self.error[:40]}"
