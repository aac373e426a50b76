"""Shared Signals (SSF) transmitter: signing keys, receivers, streams and outbound SETs.

govern transmits CAEP ``session-revoked`` Security Event Tokens to downstream applications
(receivers) so they drop trust in a session govern revoked at the IdP. An admin registers a
receiver, which gets a bearer token for the stream management API; the receiver then creates
its streams (push or poll). Every SET is stored as an ``SsfEvent`` row, which is also the
delivery log: status, attempts, last error.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class SsfSigningKey(models.Model):
    """An RSA key that signs SETs. The private key is Fernet-encrypted at rest.

    The newest key with ``retired_at`` unset signs; every unretired key is published in the
    JWKS, so receivers keep verifying SETs signed before a rotation until the old key retires.
    """

    kid = models.CharField(max_length=64, unique=True)
    private_key_encrypted = models.BinaryField(editable=False)
    public_jwk = models.JSONField(help_text="The public key as a JWK (kty, n, e, kid, use, alg).")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.kid


class SsfReceiver(models.Model):
    """A downstream application an admin registered; it manages its streams with a bearer token.

    Only the SHA-256 of the token is stored; the token itself is shown once when registered.
    """

    name = models.CharField(max_length=200, unique=True)
    audience = models.CharField(
        max_length=500, help_text="The receiver's identifier; every SET's aud for its streams."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_prefix = models.CharField(max_length=12, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SsfDeliveryMethod(models.TextChoices):
    PUSH = "urn:ietf:rfc:8935", "Push (RFC 8935)"
    POLL = "urn:ietf:rfc:8936", "Poll (RFC 8936)"


class SsfStreamStatus(models.TextChoices):
    ENABLED = "enabled", "Enabled"
    PAUSED = "paused", "Paused"
    DISABLED = "disabled", "Disabled"


class SsfStream(models.Model):
    """One SSF event stream from govern to a receiver (SSF 1.0 §8.1 stream configuration).

    Paused streams keep their events until re-enabled; disabled streams get none.
    """

    stream_id = models.CharField(max_length=32, unique=True, editable=False)
    receiver = models.ForeignKey(SsfReceiver, on_delete=models.CASCADE, related_name="streams")
    description = models.CharField(max_length=500, blank=True)
    delivery_method = models.CharField(max_length=40, choices=SsfDeliveryMethod.choices)
    endpoint_url = models.URLField(
        max_length=500, blank=True, help_text="Push: the receiver's URL (poll streams: empty)."
    )
    authorization_header_encrypted = models.BinaryField(default=b"", blank=True, editable=False)
    events_requested = models.JSONField(default=list, blank=True)
    events_delivered = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=10, choices=SsfStreamStatus.choices, default=SsfStreamStatus.ENABLED
    )
    status_reason = models.CharField(max_length=500, blank=True)
    last_verification_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["receiver__name", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(delivery_method__in=SsfDeliveryMethod.values),
                name="ssf_stream_method_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SsfStreamStatus.values), name="ssf_stream_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receiver} · {self.stream_id[:8]}"

    @property
    def is_push(self) -> bool:
        return self.delivery_method == SsfDeliveryMethod.PUSH

    def get_authorization_header(self) -> str:
        from govern.crypto import decrypt_json

        return decrypt_json(bytes(self.authorization_header_encrypted or b"")).get("value", "")

    def set_authorization_header(self, value: str) -> None:
        from govern.crypto import encrypt_json

        self.authorization_header_encrypted = encrypt_json({"value": value} if value else {})


class SsfEventStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DELIVERED = "delivered", "Delivered (push accepted)"
    ACKED = "acked", "Acknowledged (poll)"
    FAILED = "failed", "Failed"


class SsfEvent(models.Model):
    """One signed SET for one stream, and the log of delivering it.

    ``txn`` names the cause (``revocation-12``); (stream, txn, event_type) is unique, so the
    same revocation announced twice yields one SET per stream.
    """

    stream = models.ForeignKey(SsfStream, on_delete=models.CASCADE, related_name="events")
    jti = models.CharField(max_length=64, unique=True)
    txn = models.CharField(max_length=100)
    event_type = models.CharField(max_length=200)
    token = models.TextField(help_text="The signed SET (compact JWS).")
    status = models.CharField(
        max_length=10, choices=SsfEventStatus.choices, default=SsfEventStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["stream", "txn", "event_type"], name="ssf_event_once_per_cause"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SsfEventStatus.values), name="ssf_event_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["stream", "status", "id"], name="ssf_event_stream_queue")]

    def __str__(self) -> str:
        return f"{self.event_type.rsplit('/', 1)[-1]} {self.jti[:8]} → {self.stream}"
