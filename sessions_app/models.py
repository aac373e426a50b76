"""Identities, sessions/tokens, sources and telemetry: the first-class records of govern."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .choices import (
    EventType,
    IdentityKind,
    IdentityStatus,
    Outcome,
    PrivilegeTier,
    SessionStatus,
    SourceKind,
    TokenKind,
)


class Owner(models.Model):
    """A team or person accountable for responding for an identity ("response owner")."""

    name = models.CharField(max_length=200, unique=True)
    email = models.EmailField(blank=True)
    chat_webhook_url = models.URLField(
        blank=True, help_text="Slack-compatible incoming webhook for this owner."
    )
    escalation_contact = models.CharField(
        max_length=200, blank=True, help_text="Who to escalate to (name, email or rota)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Source(models.Model):
    """One connected IdP tenant or feed. Secrets are encrypted at rest and never shown back."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    settings = models.JSONField(
        default=dict, blank=True, help_text="Non-secret settings: base URL, tenant id, mapping…"
    )
    secrets_encrypted = models.BinaryField(
        default=b"", blank=True, editable=False, help_text="Fernet-encrypted JSON of secrets."
    )
    enabled = models.BooleanField(default=True)
    poll_interval_seconds = models.PositiveIntegerField(default=60)
    cursor = models.JSONField(
        default=dict, blank=True, help_text="Where the next poll resumes (next link, watermark)."
    )
    # health
    last_poll_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    newest_event_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    rate_limit = models.JSONField(
        default=dict, blank=True, help_text="Last rate-limit headers (limit, remaining, reset)."
    )
    events_total = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=SourceKind.values), name="source_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_pulled(self) -> bool:
        return self.kind in SourceKind.pulled()

    def get_secrets(self) -> dict:
        from govern.crypto import decrypt_json

        return decrypt_json(bytes(self.secrets_encrypted or b""))

    def set_secrets(self, values: dict) -> None:
        from govern.crypto import encrypt_json

        self.secrets_encrypted = encrypt_json(values)

    @property
    def secret_names(self) -> list[str]:
        """Names of the secrets that are set (values are never shown back)."""
        return sorted(self.get_secrets())


class Identity(models.Model):
    """A human or non-human identity seen at one or more sources."""

    kind = models.CharField(max_length=20, choices=IdentityKind.choices, default=IdentityKind.HUMAN)
    display_name = models.CharField(max_length=300)
    login = models.CharField(max_length=300, db_index=True, help_text="Login / alternate id.")
    provider_ids = models.JSONField(
        default=dict, blank=True, help_text="Provider id per source: {source_id: provider_id}."
    )
    privilege_tier = models.CharField(
        max_length=20, choices=PrivilegeTier.choices, default=PrivilegeTier.STANDARD
    )
    owner = models.ForeignKey(
        Owner, null=True, blank=True, on_delete=models.PROTECT, related_name="identities"
    )
    status = models.CharField(
        max_length=20, choices=IdentityStatus.choices, default=IdentityStatus.ACTIVE
    )
    department = models.CharField(max_length=200, blank=True)
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    credential_changed_at = models.DateTimeField(
        null=True, blank=True, help_text="Last password or MFA reset seen for this identity."
    )
    risk_score = models.PositiveSmallIntegerField(default=0)
    risk_factors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "identities"
        ordering = ["display_name"]
        # No index on last_seen_at: ingestion moves it for nearly every actor of every batch,
        # and an indexed column changed makes each such update a new row version in every
        # index (~27 µs per identity instead of ~8 as a heap-only update; docs/performance.md).
        # No query needs it: the identity list aggregates sessions over all identities.
        indexes = [
            models.Index(fields=["kind", "privilege_tier"], name="identity_kind_tier"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=IdentityKind.values), name="identity_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(privilege_tier__in=PrivilegeTier.values), name="identity_tier_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=IdentityStatus.values), name="identity_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.login})"

    @property
    def is_non_human(self) -> bool:
        return self.kind != IdentityKind.HUMAN

    def clean(self) -> None:
        if self.is_non_human and self.owner_id is None:
            raise ValidationError({"owner": "Every non-human identity needs an owner."})


class IdentityLink(models.Model):
    """How a source names an identity: (source, provider id) is unique, pointing to one identity."""

    # Like the session's ids below, no database foreign key (see there).
    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, db_constraint=False, related_name="identity_links"
    )
    provider_id = models.CharField(max_length=300)
    identity = models.ForeignKey(
        Identity, on_delete=models.CASCADE, db_constraint=False, related_name="links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "provider_id"], name="identity_link_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.provider_id}"


class Session(models.Model):
    """A session or token as a first-class record, unique per (source, provider session key)."""

    # Neither id gets an index of its own: the unique (source, session_key) and
    # session_identity_recent lead with them, and each index costs every upsert a write.
    # Nor a database foreign key: ingestion writes sessions (and identity links) together
    # with the identities they name, in one transaction, and the deferred check of every new
    # row at commit cost ~5 µs per ingested event (docs/performance.md). Deleting through the
    # ORM still protects and cascades as declared: Django enforces on_delete itself.
    source = models.ForeignKey(
        Source,
        on_delete=models.PROTECT,
        db_index=False,
        db_constraint=False,
        related_name="sessions",
    )
    session_key = models.CharField(max_length=300, help_text="The provider's session/token key.")
    identity = models.ForeignKey(
        Identity,
        on_delete=models.CASCADE,
        db_index=False,
        db_constraint=False,
        related_name="sessions",
    )
    token_kind = models.CharField(
        max_length=20, choices=TokenKind.choices, default=TokenKind.BROWSER_SESSION
    )
    authenticated_at = models.DateTimeField(null=True, blank=True)
    auth_methods = models.JSONField(default=list, blank=True)
    mfa = models.BooleanField(null=True)
    # context first seen in
    first_seen_at = models.DateTimeField()
    first_ip = models.GenericIPAddressField(null=True, blank=True)
    first_asn = models.PositiveIntegerField(null=True, blank=True)
    first_as_org = models.CharField(max_length=200, blank=True)
    first_country = models.CharField(max_length=2, blank=True)
    first_city = models.CharField(max_length=100, blank=True)
    first_lat = models.FloatField(null=True, blank=True)
    first_lon = models.FloatField(null=True, blank=True)
    first_user_agent = models.TextField(blank=True)
    first_device_id = models.CharField(max_length=200, blank=True)
    # context last seen in
    last_seen_at = models.DateTimeField()
    last_ip = models.GenericIPAddressField(null=True, blank=True)
    last_asn = models.PositiveIntegerField(null=True, blank=True)
    last_as_org = models.CharField(max_length=200, blank=True)
    last_country = models.CharField(max_length=2, blank=True)
    last_city = models.CharField(max_length=100, blank=True)
    last_lat = models.FloatField(null=True, blank=True)
    last_lon = models.FloatField(null=True, blank=True)
    last_user_agent = models.TextField(blank=True)
    last_device_id = models.CharField(max_length=200, blank=True)
    event_count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=SessionStatus.choices, default=SessionStatus.ACTIVE
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(
        max_length=200, blank=True, help_text="Who revoked it: a govern user, 'idp' or 'system'."
    )
    risk_score = models.PositiveSmallIntegerField(default=0)
    risk_factors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "session_key"], name="session_source_key"),
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values), name="session_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(last_seen_at__gte=models.F("first_seen_at")),
                name="session_seen_order",
            ),
        ]
        indexes = [
            models.Index(fields=["identity", "-last_seen_at"], name="session_identity_recent"),
            models.Index(fields=["status", "-last_seen_at"], name="session_status_recent"),
            # The alert page's "same network" panel: sessions last seen on an AS, newest first.
            models.Index(
                fields=["last_asn", "-last_seen_at"],
                name="session_asn_recent",
                condition=Q(last_asn__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.short_key} ({self.identity_id})"

    @property
    def short_key(self) -> str:
        key = self.session_key
        return key if len(key) <= 12 else f"{key[:6]}…{key[-4:]}"


class TelemetryEvent(models.Model):
    """One normalised telemetry event, unique per (source, provider event id, occurred at).

    On PostgreSQL the table is range-partitioned by month on ``occurred_at`` (see migration
    0002 and ``sessions_app.partitions``); its primary key is ``(id, occurred_at)`` there, so
    nothing may hold a database foreign key to it — references are plain ids. On SQLite it is
    an ordinary table. Providers' event ids are stable with their timestamps, so the unique key
    includes ``occurred_at`` (partition key) and re-delivery inserts nothing.
    """

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes on the three ids: each leads a composite index below (the
    # unique key, event_session_time, event_identity_time), which serves the same look-ups,
    # and every index costs each ingested event a write.
    source = models.ForeignKey(
        Source, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    provider_event_id = models.CharField(max_length=300)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    provider_event_type = models.CharField(max_length=200)
    event_type = models.CharField(max_length=30, choices=EventType.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    identity = models.ForeignKey(
        Identity,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    session = models.ForeignKey(
        Session,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    session_key = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True)
    asn = models.PositiveIntegerField(null=True)
    as_org = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=2, blank=True)
    city = models.CharField(max_length=100, blank=True)
    lat = models.FloatField(null=True)
    lon = models.FloatField(null=True)
    anonymizer = models.BooleanField(default=False)
    user_agent = models.TextField(blank=True)
    device_id = models.CharField(max_length=200, blank=True)
    client_app = models.CharField(max_length=200, blank=True)
    high_value_action = models.CharField(max_length=30, blank=True)
    mfa = models.BooleanField(null=True)
    details = models.JSONField(
        default=dict, help_text="Session keys, auth methods, vendor risk, target, interactive."
    )
    raw = models.JSONField()

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "provider_event_id", "occurred_at"], name="event_source_id"
            ),
        ]
        indexes = [
            models.Index(fields=["session", "occurred_at"], name="event_session_time"),
            models.Index(fields=["identity", "occurred_at"], name="event_identity_time"),
            models.Index(fields=["occurred_at"], name="event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_event_type} @ {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class QuarantinedEvent(models.Model):
    """Input that could not be normalised: kept with its raw payload and reason, re-processable."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="quarantined")
    received_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField()
    payload = models.TextField(help_text="The raw input exactly as received (JSON or text).")
    format = models.CharField(max_length=20, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["source", "resolved_at"], name="quarantine_open")]

    def __str__(self) -> str:
        return f"{self.source}: {self.reason[:60]}"


class PendingBatch(models.Model):
    """A pushed batch accepted but not ingested yet: the durable copy of what a queued
    ``sessions_app.ingest_pending`` task names.

    The broker alone can lose a message: Redis keeps none on disk by default, and kombu's
    Redis transport pops a message before it records it as unacknowledged, so a worker killed
    in between loses it (celery/kombu#305). The webhook therefore answers 202 only once the
    batch is stored here; the task deletes the row after ingesting it, and
    ``sessions_app.requeue_pending`` queues again any row left longer than
    ``GOVERN_PENDING_REQUEUE_SECONDS``. Ingestion is idempotent, so a batch ingested twice
    adds nothing.
    """

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="pending_batches")
    fmt = models.CharField(max_length=20)
    records = models.JSONField()
    record_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now, help_text="Last handed to the queue.")
    requeued = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["queued_at"], name="pending_batch_queued"),
            models.Index(fields=["source", "created_at"], name="pending_batch_source"),
        ]

    def __str__(self) -> str:
        return f"{self.source}: {self.record_count} records since {self.created_at:%Y-%m-%d %H:%M}"


class EventDailyCount(models.Model):
    """Daily rollup of events per source and type, kept current by ingestion (cheap charts)."""

    day = models.DateField()
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=30)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "source", "event_type"], name="event_daily_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.source_id} {self.event_type}: {self.count}"


class AuditEvent(models.Model):
    """An append-only record of a change made by a user or by the system.

    Rows are only ever inserted (``govern.audit.audit_log``); ``save`` refuses updates and
    ``delete`` is refused, and the admin exposes them read-only.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=200, help_text="Username at the time, or 'system:<component>'."
    )
    verb = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.verb} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValidationError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit events are append-only.")


# ------------------------------------------------------------------ session-lifetime policies


class PolicyMode(models.TextChoices):
    MONITOR = "monitor", "Monitor (alert only)"
    ENFORCE = "enforce", "Enforce"


class ViolationAction(models.TextChoices):
    ALERT = "alert", "Alert"
    ALERT_AND_REVOKE = "alert_and_revoke", "Alert and revoke the session"


class AssuranceLevel(models.TextChoices):
    AAL1 = "AAL1", "AAL1"
    AAL2 = "AAL2", "AAL2"
    AAL3 = "AAL3", "AAL3"


class SessionLifetimePolicy(models.Model):
    """How long trust in a session may last, for the sessions in its scope.

    Scope fields left blank match anything; a session or identity is governed by the enabled
    policy whose scope matches it most specifically, then the lowest ``priority`` number, then
    the oldest (``sessions_app.policies.effective_policy``). Limits are validated against
    NIST SP 800-63B-4 for the policy's ``assurance_level`` (``sessions_app.policy_rules``):
    values that contradict a SHALL are refused, values beyond a SHOULD need a justification.
    Changes go through ``sessions_app.policy_services`` and each one adds a ``PolicyVersion``.
    """

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    template = models.CharField(
        max_length=20, blank=True, help_text="The template the policy started from."
    )
    assurance_level = models.CharField(
        max_length=4, choices=AssuranceLevel.choices, default=AssuranceLevel.AAL2
    )
    # scope (blank = any)
    identity_kind = models.CharField(max_length=20, choices=IdentityKind.choices, blank=True)
    privilege_tier = models.CharField(max_length=20, choices=PrivilegeTier.choices, blank=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.PROTECT, related_name="policies"
    )
    client_app = models.CharField(
        max_length=200, blank=True, help_text="Application: sessions that used this client app."
    )
    department = models.CharField(
        max_length=200, blank=True, help_text="Group or department of the identity."
    )
    # limits
    max_lifetime_s = models.PositiveIntegerField(
        help_text="Overall timeout: seconds after the last (re-)authentication."
    )
    idle_timeout_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="Inactivity timeout in seconds; empty = none."
    )
    reauth_window_s = models.PositiveIntegerField(
        help_text="High-value actions need an authentication at most this many seconds old."
    )
    device_binding = models.BooleanField(default=False)
    allowed_countries = models.JSONField(
        default=list, blank=True, help_text="ISO 3166 alpha-2 codes; empty = anywhere."
    )
    violation_action = models.CharField(
        max_length=20, choices=ViolationAction.choices, default=ViolationAction.ALERT
    )
    mode = models.CharField(max_length=10, choices=PolicyMode.choices, default=PolicyMode.MONITOR)
    priority = models.PositiveIntegerField(
        default=100, help_text="Among equally specific policies, the lowest number wins."
    )
    justification = models.TextField(
        blank=True, help_text="Why values beyond a NIST SHOULD are acceptable here."
    )
    enabled = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SCOPE_FIELDS = ("identity_kind", "privilege_tier", "source", "client_app", "department")

    class Meta:
        ordering = ["priority", "name"]
        verbose_name = "session-lifetime policy"
        verbose_name_plural = "session-lifetime policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=PolicyMode.values), name="policy_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(violation_action__in=ViolationAction.values),
                name="policy_action_valid",
            ),
            models.CheckConstraint(
                condition=Q(assurance_level__in=AssuranceLevel.values), name="policy_aal_valid"
            ),
            models.CheckConstraint(
                condition=Q(max_lifetime_s__gt=0), name="policy_lifetime_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def specificity(self) -> int:
        """How many scope fields are set: the more, the more specific the policy."""
        return sum(
            1 for f in self.SCOPE_FIELDS if getattr(self, f if f != "source" else "source_id")
        )


class PolicyVersion(models.Model):
    """One saved state of a policy: who changed it, when, the full snapshot and the diff."""

    policy = models.ForeignKey(
        SessionLifetimePolicy, on_delete=models.CASCADE, related_name="versions"
    )
    version = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=20, help_text="created, updated, enabled, disabled")
    snapshot = models.JSONField()
    diff = models.JSONField(default=dict, blank=True, help_text="{field: [before, after]}")
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["policy", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="policy_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.version}"


class PolicyEnforcement(models.Model):
    """One revocation a policy in enforce mode asked for, for one policy-violation alert.

    The unique alert id makes enforcement idempotent: the scheduled evaluation inserts the row
    and calls the revocation service in one transaction, so an alert is acted on once however
    often the evaluation runs. ``alert_id`` is a plain id because alerts live in alerts_app,
    which depends on this app.
    """

    policy = models.ForeignKey(
        SessionLifetimePolicy, on_delete=models.CASCADE, related_name="enforcements"
    )
    policy_version = models.PositiveIntegerField()
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="+")
    alert_id = models.BigIntegerField(unique=True)
    requested_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=300, help_text="What the revocation service answered.")

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"policy {self.policy_id} → session {self.session_id}: {self.outcome}"
