"""Writes of the SSF transmitter: keys, receivers, streams, SETs, push and poll delivery.

Every change writes its audit row in the same transaction; pushes are enqueued on commit.
Requests a receiver gets wrong raise ``SsfError`` (status, SSF ``err`` code, description),
which the views turn into the JSON error body the SSF/RFC 8935/8936 specs describe.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import requests
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from govern.audit import audit_log
from govern.crypto import decrypt_json, encrypt_json

from ..models import (
    SsfDeliveryMethod,
    SsfEvent,
    SsfEventStatus,
    SsfReceiver,
    SsfSigningKey,
    SsfStream,
    SsfStreamStatus,
)
from . import tokens

_KEY_LOCK_ID = 0x55F0_4B31  # pg_advisory_xact_lock key: one first-use key, not two
MIN_VERIFICATION_INTERVAL = 30  # seconds between verification requests per stream
POLL_MAX_EVENTS = 100
LONG_POLL_SECONDS = 10.0  # how long a long poll (returnImmediately=false) waits for SETs
PUSH_TIMEOUT = (5.0, 10.0)
PUSH_MAX_ATTEMPTS = 8
PUSH_BACKOFF_BASE = 10.0  # seconds; doubles per attempt, capped, with full jitter
PUSH_BACKOFF_CAP = 3600.0
ERROR_SNIPPET = 300


class SsfError(Exception):
    """A receiver request the transmitter refuses (rendered as {"err", "description"})."""

    def __init__(self, description: str, *, status: int = 400, err: str = "invalid_request"):
        super().__init__(description)
        self.status = status
        self.err = err
        self.description = description


# --- signing keys --------------------------------------------------------------------------


def _store_key(now: datetime) -> SsfSigningKey:
    pair = tokens.generate_key(now)
    return SsfSigningKey.objects.create(
        kid=pair.kid,
        private_key_encrypted=encrypt_json({"pem": pair.private_pem}),
        public_jwk=pair.public_jwk,
    )


def ssf_signing_key_current() -> SsfSigningKey:
    """The key that signs now; the first call generates one (stored Fernet-encrypted)."""
    key = SsfSigningKey.objects.filter(retired_at__isnull=True).first()
    if key is not None:
        return key
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_KEY_LOCK_ID])
        key = SsfSigningKey.objects.filter(retired_at__isnull=True).first()
        if key is None:
            key = _store_key(timezone.now())
            audit_log(actor_label="system", verb="ssf.key_create", obj=key, after={"kid": key.kid})
    return key


@transaction.atomic
def ssf_signing_key_rotate(*, actor) -> SsfSigningKey:
    """Generate a new signing key; older keys stay in the JWKS until retired."""
    key = _store_key(timezone.now())
    audit_log(actor=actor, verb="ssf.key_rotate", obj=key, after={"kid": key.kid})
    return key


@transaction.atomic
def ssf_signing_key_retire(*, key: SsfSigningKey, actor) -> SsfSigningKey:
    """Stop publishing a key that no longer signs (the current key cannot be retired)."""
    key = SsfSigningKey.objects.select_for_update().get(pk=key.pk)
    if key.retired_at is not None:
        return key
    if key.pk == ssf_signing_key_current().pk:
        raise SsfError("The current signing key cannot be retired; rotate first.")
    key.retired_at = timezone.now()
    key.save(update_fields=["retired_at"])
    audit_log(actor=actor, verb="ssf.key_retire", obj=key, after={"kid": key.kid})
    return key


def jwks() -> dict:
    """The JSON Web Key Set: every key not retired (the signing key first)."""
    ssf_signing_key_current()
    keys = SsfSigningKey.objects.filter(retired_at__isnull=True)
    return {"keys": [dict(k.public_jwk) for k in keys]}


def _sign(claims: dict) -> str:
    key = ssf_signing_key_current()
    pem = decrypt_json(bytes(key.private_key_encrypted))["pem"]
    return tokens.sign(claims, private_pem=pem, kid=key.kid)


# --- receivers -----------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def ssf_receiver_register(*, name: str, audience: str, actor) -> tuple[SsfReceiver, str]:
    """Register a receiver; returns it and its bearer token (shown once, stored hashed)."""
    name, audience = name.strip(), audience.strip()
    if not name or not audience:
        raise SsfError("A receiver needs a name and an audience.")
    if SsfReceiver.objects.filter(name=name).exists():
        raise SsfError(f"A receiver named {name!r} already exists.", status=409)
    token = "ssf_" + secrets.token_urlsafe(32)
    receiver = SsfReceiver.objects.create(
        name=name,
        audience=audience,
        token_hash=_token_hash(token),
        token_prefix=token[:10],
        created_by=actor,
    )
    audit_log(
        actor=actor,
        verb="ssf.receiver_register",
        obj=receiver,
        after={"name": name, "audience": audience, "token_prefix": receiver.token_prefix},
    )
    return receiver, token


@transaction.atomic
def ssf_receiver_deactivate(*, receiver: SsfReceiver, actor) -> SsfReceiver:
    """Revoke a receiver's token and disable its streams."""
    receiver = SsfReceiver.objects.select_for_update().get(pk=receiver.pk)
    if not receiver.active:
        return receiver
    receiver.active = False
    receiver.save(update_fields=["active"])
    receiver.streams.update(
        status=SsfStreamStatus.DISABLED, status_reason="receiver deactivated by an admin"
    )
    audit_log(actor=actor, verb="ssf.receiver_deactivate", obj=receiver, after={"active": False})
    return receiver


def receiver_for_token(token: str) -> SsfReceiver | None:
    """The active receiver holding this bearer token, or None."""
    if not token:
        return None
    return SsfReceiver.objects.filter(token_hash=_token_hash(token), active=True).first()


# --- streams -------------------------------------------------------------------------------


def poll_endpoint_url(stream: SsfStream) -> str:
    return issuer_url(reverse("ssf:poll", args=[stream.stream_id]))


def issuer_url(path: str) -> str:
    """Absolute URL of a path from ``reverse()`` (which already carries any script prefix)."""
    parts = urlsplit(tokens.issuer())
    return f"{parts.scheme}://{parts.netloc}{path}"


def stream_config(stream: SsfStream) -> dict:
    """The stream configuration as SSF 1.0 §8.1.1 returns it."""
    delivery = {"method": stream.delivery_method}
    delivery["endpoint_url"] = stream.endpoint_url if stream.is_push else poll_endpoint_url(stream)
    config = {
        "stream_id": stream.stream_id,
        "iss": tokens.issuer(),
        "aud": stream.receiver.audience,
        "delivery": delivery,
        "events_supported": list(tokens.EVENTS_SUPPORTED),
        "events_requested": list(stream.events_requested),
        "events_delivered": list(stream.events_delivered),
        "min_verification_interval": MIN_VERIFICATION_INTERVAL,
    }
    if stream.description:
        config["description"] = stream.description
    return config


def _push_url_ok(url: str) -> bool:
    """https anywhere; plain http only to a receiver on this host (a sidecar), never across
    a network, since the SETs and the receiver's authorization header would travel in clear."""
    parts = urlsplit(url)
    if len(url) > 500 or not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")


def _clean_config(body: object, *, current: SsfStream | None) -> dict:
    """Validate a receiver's stream configuration; transmitter-supplied fields are ignored."""
    if not isinstance(body, dict):
        raise SsfError("The stream configuration must be a JSON object.")
    clean: dict = {}
    if "delivery" in body or current is None:
        delivery = body.get("delivery") or {"method": SsfDeliveryMethod.POLL}
        if not isinstance(delivery, dict):
            raise SsfError("delivery must be an object.")
        method = delivery.get("method", SsfDeliveryMethod.POLL)
        if method not in SsfDeliveryMethod.values:
            raise SsfError(f"Unsupported delivery method {method!r}.")
        clean["delivery_method"] = method
        if method == SsfDeliveryMethod.PUSH:
            url = delivery.get("endpoint_url")
            if not isinstance(url, str) or not url:
                raise SsfError("Push delivery needs delivery.endpoint_url.")
            if not _push_url_ok(url):
                raise SsfError(
                    "delivery.endpoint_url must be an https URL (http only on this host), "
                    "500 characters at most."
                )
            clean["endpoint_url"] = url
            header = delivery.get("authorization_header", "")
            if not isinstance(header, str) or len(header) > 2000:
                raise SsfError("delivery.authorization_header must be a string.")
            clean["authorization_header"] = header
        else:
            clean["endpoint_url"] = ""
            clean["authorization_header"] = ""
    if "events_requested" in body or current is None:
        requested = body.get("events_requested", [])
        if not isinstance(requested, list) or not all(isinstance(e, str) for e in requested):
            raise SsfError("events_requested must be a list of event-type URIs.")
        clean["events_requested"] = list(dict.fromkeys(requested))
        clean["events_delivered"] = [
            e for e in clean["events_requested"] if e in tokens.EVENTS_SUPPORTED
        ]
    if "description" in body:
        description = body["description"]
        if not isinstance(description, str) or len(description) > 500:
            raise SsfError("description must be a string of 500 characters at most.")
        clean["description"] = description
    return clean


def _apply(stream: SsfStream, clean: dict) -> None:
    header = clean.pop("authorization_header", None)
    for name, value in clean.items():
        setattr(stream, name, value)
    if header is not None:
        stream.set_authorization_header(header)


def _public(stream: SsfStream) -> dict:
    config = stream_config(stream)
    return {k: config[k] for k in ("delivery", "events_delivered", "aud")} | {
        "status": stream.status
    }


@transaction.atomic
def ssf_stream_create(*, receiver: SsfReceiver, config: object, actor_label: str) -> SsfStream:
    """Create a stream for a receiver from its requested configuration (poll if no delivery)."""
    clean = _clean_config(config, current=None)
    stream = SsfStream(receiver=receiver, stream_id=secrets.token_hex(16))
    _apply(stream, clean)
    stream.save()
    audit_log(actor_label=actor_label, verb="ssf.stream_create", obj=stream, after=_public(stream))
    return stream


@transaction.atomic
def ssf_stream_update(
    *, stream: SsfStream, config: object, replace: bool, actor_label: str
) -> SsfStream:
    """PATCH (only given fields) or PUT (the whole receiver-supplied configuration)."""
    stream = SsfStream.objects.select_for_update().select_related("receiver").get(pk=stream.pk)
    before = _public(stream)
    if replace:
        body = dict(config) if isinstance(config, dict) else config
        if isinstance(body, dict):
            body.setdefault("description", "")
        clean = _clean_config(body, current=None)
    else:
        clean = _clean_config(config, current=stream)
    _apply(stream, clean)
    stream.save()
    audit_log(
        actor_label=actor_label,
        verb="ssf.stream_update",
        obj=stream,
        before=before,
        after=_public(stream),
    )
    _enqueue_pushes(stream)
    return stream


@transaction.atomic
def ssf_stream_delete(*, stream: SsfStream, actor_label: str) -> None:
    """Delete a stream and the SETs queued for it."""
    audit_log(actor_label=actor_label, verb="ssf.stream_delete", obj=stream, before=_public(stream))
    stream.delete()


@transaction.atomic
def ssf_stream_set_status(
    *,
    stream: SsfStream,
    status: str,
    reason: str = "",
    actor=None,
    actor_label: str = "",
    by_transmitter: bool,
) -> SsfStream:
    """Enable, pause or disable a stream.

    When govern (an admin) changes the status rather than the receiver, the receiver is told
    with a stream-updated SET, as SSF 1.0 §8.1.2.2 requires. Re-enabling pushes held SETs.
    """
    if status not in SsfStreamStatus.values:
        raise SsfError(f"status must be one of {', '.join(SsfStreamStatus.values)}.")
    if not isinstance(reason, str) or len(reason) > 500:
        raise SsfError("reason must be a string of 500 characters at most.")
    stream = SsfStream.objects.select_for_update().select_related("receiver").get(pk=stream.pk)
    before = {"status": stream.status, "reason": stream.status_reason}
    stream.status, stream.status_reason = status, reason
    stream.save(update_fields=["status", "status_reason", "updated_at"])
    audit_log(
        actor=actor,
        actor_label=actor_label,
        verb="ssf.stream_status",
        obj=stream,
        before=before,
        after={"status": status, "reason": reason},
    )
    _enqueue_pushes(stream)  # re-enabled: the held SETs go out (before the news, below)
    if by_transmitter and before["status"] != status:
        body = {"status": status}
        if reason:
            body["reason"] = reason
        # Sent even to a disabled stream: it is the receiver's only notice of the change.
        _emit_control(stream, tokens.STREAM_UPDATED, body, force=True)
    return stream


@transaction.atomic
def ssf_stream_verify(*, stream: SsfStream, state: str | None, actor_label: str) -> SsfEvent:
    """Queue a verification SET echoing ``state`` (429 when asked too often)."""
    if state is not None and (not isinstance(state, str) or len(state) > 500):
        raise SsfError("state must be a string of 500 characters at most.")
    stream = SsfStream.objects.select_for_update().select_related("receiver").get(pk=stream.pk)
    now = timezone.now()
    last = stream.last_verification_at
    if last is not None and (now - last).total_seconds() < MIN_VERIFICATION_INTERVAL:
        raise SsfError(
            f"Verification was requested less than {MIN_VERIFICATION_INTERVAL} s ago.",
            status=429,
            err="too_many_requests",
        )
    if stream.status == SsfStreamStatus.DISABLED:
        raise SsfError("The stream is disabled.", err="invalid_state")
    stream.last_verification_at = now
    stream.save(update_fields=["last_verification_at"])
    body = {"state": state} if state else {}
    event = _emit_control(stream, tokens.VERIFICATION, body, force=False)
    audit_log(
        actor_label=actor_label, verb="ssf.stream_verify", obj=stream, after={"jti": event.jti}
    )
    return event


# --- events --------------------------------------------------------------------------------


def _emit_control(stream: SsfStream, event_type: str, body: dict, *, force: bool) -> SsfEvent:
    now = timezone.now()
    jti = tokens.new_jti()
    txn = f"{event_type.rsplit('/', 1)[-1]}-{jti}"
    claims = tokens.control_claims(
        aud=stream.receiver.audience,
        stream_id=stream.stream_id,
        event_type=event_type,
        body=body,
        txn=txn,
        jti=jti,
        now=now,
    )
    event = SsfEvent.objects.create(
        stream=stream, jti=jti, txn=txn, event_type=event_type, token=_sign(claims)
    )
    if stream.is_push and (force or stream.status == SsfStreamStatus.ENABLED):
        _push_on_commit(event.pk)
    return event


def _push_on_commit(event_id: int) -> None:
    from .tasks import ssf_push

    ssf_push.delay_on_commit(event_id)


def _enqueue_pushes(stream: SsfStream) -> None:
    if stream.is_push and stream.status == SsfStreamStatus.ENABLED:
        for event_id in stream.events.filter(status=SsfEventStatus.QUEUED).values_list(
            "pk", flat=True
        ):
            _push_on_commit(event_id)


@transaction.atomic
def ssf_session_revoked_emit(
    *,
    identity,
    session=None,
    source=None,
    revoked_at: datetime,
    reason_admin: str,
    txn: str,
    actor_label: str = "system",
) -> list[SsfEvent]:
    """One signed session-revoked SET per enabled or paused stream that asked for it.

    Idempotent per ``txn``: announcing the same cause again creates nothing new. Pushes to
    enabled push streams are enqueued on commit; paused streams hold their SETs.
    """
    # Streams are few; events_delivered is checked in Python (SQLite has no JSON containment).
    streams = SsfStream.objects.select_related("receiver").filter(
        status__in=[SsfStreamStatus.ENABLED, SsfStreamStatus.PAUSED], receiver__active=True
    )
    subject = tokens.session_revoked_subject(identity, session, source)
    now = timezone.now()
    created: list[SsfEvent] = []
    for stream in streams:
        if tokens.SESSION_REVOKED not in stream.events_delivered:
            continue
        if SsfEvent.objects.filter(
            stream=stream, txn=txn, event_type=tokens.SESSION_REVOKED
        ).exists():
            continue
        jti = tokens.new_jti()
        claims = tokens.session_revoked_claims(
            aud=stream.receiver.audience,
            subject=subject,
            revoked_at=revoked_at,
            reason_admin=reason_admin,
            txn=txn,
            jti=jti,
            now=now,
        )
        try:
            with transaction.atomic():
                event = SsfEvent.objects.create(
                    stream=stream,
                    jti=jti,
                    txn=txn,
                    event_type=tokens.SESSION_REVOKED,
                    token=_sign(claims),
                )
        except IntegrityError:  # a concurrent announcement of the same cause won
            continue
        created.append(event)
        if stream.is_push and stream.status == SsfStreamStatus.ENABLED:
            _push_on_commit(event.pk)
    if created:
        audit_log(
            actor_label=actor_label,
            verb="ssf.session_revoked_emit",
            object_type="alerts_app.ssfevent",
            object_id=txn,
            object_repr=f"session-revoked for {identity}",
            after={
                "txn": txn,
                "subject": subject,
                "sets": {e.jti: e.stream.stream_id for e in created},
            },
        )
    return created


SUCCEEDED_REVOCATION_STATUSES = ("succeeded", "partially_succeeded")


def ssf_revocation_announce(*, revocation_id: int) -> list[SsfEvent]:
    """Announce a successful revocation to every receiver (txn ``revocation-<id>``)."""
    revocation_model = apps.get_model("alerts_app", "Revocation")
    revocation = revocation_model.objects.select_related(
        "identity", "session", "session__source"
    ).get(pk=revocation_id)
    if revocation.status not in SUCCEEDED_REVOCATION_STATUSES:
        return []
    reason = f"Revoked by govern (revocation #{revocation.pk})"
    if getattr(revocation, "alert_id", None):
        reason += f" after alert #{revocation.alert_id}"
    if getattr(revocation, "reason", ""):
        reason += f": {revocation.reason}"
    return ssf_session_revoked_emit(
        identity=revocation.identity,
        session=revocation.session,
        revoked_at=revocation.completed_at or timezone.now(),
        reason_admin=reason,
        txn=f"revocation-{revocation.pk}",
    )


# --- push delivery (RFC 8935) ------------------------------------------------------------


@dataclass(frozen=True)
class PushOutcome:
    """What one push attempt did; ``retry_in`` is set when the task should try again."""

    status: str
    retry_in: float | None = None


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; a receiver's Retry-After is honoured as a floor."""
    ceiling = min(PUSH_BACKOFF_CAP, PUSH_BACKOFF_BASE * 2 ** max(attempt - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return min(float(value), PUSH_BACKOFF_CAP) if value else None
    except ValueError:
        return None


def _error_text(response: requests.Response) -> str:
    """The receiver's RFC 8935 error ("err: description"), else a body snippet."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "err" in body:
        description = str(body.get("description", ""))[:ERROR_SNIPPET]
        return f"{body['err']}: {description}" if description else str(body["err"])
    return response.text[:ERROR_SNIPPET] or response.reason or ""


def ssf_event_push(*, event_id: int, final_attempt: bool = False) -> PushOutcome:
    """POST one SET to its push stream's endpoint and record the attempt.

    202 (any 2xx) → delivered. 400 and other 4xx → failed, not retried (the receiver refused
    this SET; sending it again gets the same answer). 429, 5xx, timeouts, connection errors →
    retried with backoff, until ``final_attempt`` or PUSH_MAX_ATTEMPTS marks it failed.
    The row is locked while sending, so two workers never push the same SET concurrently.
    """
    with transaction.atomic():
        event = (
            SsfEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("stream", "stream__receiver")
            .filter(pk=event_id, status=SsfEventStatus.QUEUED)
            .first()
        )
        if event is None:
            return PushOutcome("skipped")
        stream = event.stream
        # A paused or disabled stream holds its SETs, except the stream-updated SET that
        # tells the receiver about that very change.
        announces_status = event.event_type == tokens.STREAM_UPDATED
        if not stream.is_push or not stream.receiver.active:
            return PushOutcome("held")
        if stream.status != SsfStreamStatus.ENABLED and not announces_status:
            return PushOutcome("held")
        headers = {"Content-Type": tokens.SET_MEDIA_TYPE, "Accept": "application/json"}
        authorization = stream.get_authorization_header()
        if authorization:
            headers["Authorization"] = authorization
        event.attempts += 1
        event.last_attempt_at = timezone.now()
        retry_after: float | None = None
        retryable = False
        try:
            response = requests.post(
                stream.endpoint_url,
                data=event.token.encode(),
                headers=headers,
                timeout=PUSH_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            event.last_status_code = None
            event.last_error = f"{exc.__class__.__name__}: {str(exc)[:ERROR_SNIPPET]}"
            retryable = True
        else:
            event.last_status_code = response.status_code
            if 200 <= response.status_code < 300:
                event.status = SsfEventStatus.DELIVERED
                event.delivered_at = timezone.now()
                event.last_error = ""
            else:
                event.last_error = f"HTTP {response.status_code}: {_error_text(response)}"
                retryable = response.status_code == 429 or response.status_code >= 500
                retry_after = _retry_after(response)
        give_up = retryable and (final_attempt or event.attempts >= PUSH_MAX_ATTEMPTS)
        if (not retryable and event.status != SsfEventStatus.DELIVERED) or give_up:
            event.status = SsfEventStatus.FAILED
        event.save(
            update_fields=[
                "attempts",
                "last_attempt_at",
                "last_status_code",
                "last_error",
                "status",
                "delivered_at",
            ]
        )
        if event.status != SsfEventStatus.QUEUED:
            audit_log(
                actor_label="system",
                verb=f"ssf.push_{event.status}",
                obj=event,
                after={
                    "jti": event.jti,
                    "attempts": event.attempts,
                    "status_code": event.last_status_code,
                    "error": event.last_error,
                },
            )
    if event.status == SsfEventStatus.QUEUED:
        return PushOutcome("retry", retry_in=backoff_seconds(event.attempts, retry_after))
    return PushOutcome(event.status)


# --- poll delivery (RFC 8936) ------------------------------------------------------------


@dataclass(frozen=True)
class PollRequest:
    """A validated RFC 8936 poll request body."""

    max_events: int
    return_immediately: bool
    ack: list[str]
    set_errs: dict[str, dict]

    @classmethod
    def parse(cls, body: object) -> PollRequest:
        if not isinstance(body, dict):
            raise SsfError("The poll request must be a JSON object.")
        max_events = body.get("maxEvents", POLL_MAX_EVENTS)
        if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 0:
            raise SsfError("maxEvents must be a non-negative integer.")
        return_immediately = body.get("returnImmediately", False)
        if not isinstance(return_immediately, bool):
            raise SsfError("returnImmediately must be true or false.")
        ack = body.get("ack", [])
        if not isinstance(ack, list) or not all(isinstance(j, str) for j in ack):
            raise SsfError("ack must be a list of jti strings.")
        set_errs = body.get("setErrs", {})
        if not isinstance(set_errs, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("err", ""), str) for v in set_errs.values()
        ):
            raise SsfError('setErrs must map jti to {"err": …, "description": …}.')
        return cls(min(max_events, POLL_MAX_EVENTS), return_immediately, ack, set_errs)


def _poll_ack(stream: SsfStream, request: PollRequest, actor_label: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        acked = list(
            SsfEvent.objects.filter(
                stream=stream, jti__in=request.ack, status=SsfEventStatus.QUEUED
            ).values_list("jti", flat=True)
        )
        if acked:
            SsfEvent.objects.filter(stream=stream, jti__in=acked).update(
                status=SsfEventStatus.ACKED, delivered_at=now
            )
        errored = []
        for jti, problem in request.set_errs.items():
            text = f"{problem.get('err', '')}: {problem.get('description', '')}"[:ERROR_SNIPPET]
            errored += [jti] * SsfEvent.objects.filter(
                stream=stream, jti=jti, status=SsfEventStatus.QUEUED
            ).update(status=SsfEventStatus.FAILED, last_error=f"receiver: {text}")
        if acked or errored:
            audit_log(
                actor_label=actor_label,
                verb="ssf.poll_ack",
                obj=stream,
                after={"acked": sorted(acked), "errors": sorted(errored)},
            )


def _poll_take(stream: SsfStream, max_events: int) -> tuple[dict[str, str], bool]:
    queued = SsfEvent.objects.filter(stream=stream, status=SsfEventStatus.QUEUED)
    if stream.status != SsfStreamStatus.ENABLED:  # held, except the news of the status change
        queued = queued.filter(event_type=tokens.STREAM_UPDATED)
    with transaction.atomic():
        rows = list(queued.order_by("id").values_list("pk", "jti", "token")[: max_events + 1])
        taken = rows[:max_events]
        if taken:
            now = timezone.now()
            # attempts counts how often the SET was handed out without an acknowledgement
            SsfEvent.objects.filter(pk__in=[pk for pk, _, _ in taken]).update(
                attempts=F("attempts") + 1, last_attempt_at=now
            )
    return {jti: token for _, jti, token in taken}, len(rows) > max_events


def ssf_poll(*, stream: SsfStream, request: PollRequest, actor_label: str) -> dict:
    """Serve one poll: apply acks and errors, then return up to maxEvents unacknowledged SETs.

    SETs stay queued until acknowledged (they are returned again on later polls). A long poll
    waits up to LONG_POLL_SECONDS for a SET to arrive. Paused and disabled streams hold their
    SETs; only the stream-updated SET announcing that is handed out.
    """
    if stream.is_push:
        raise SsfError("This stream delivers by push, not poll.")
    _poll_ack(stream, request, actor_label)
    if request.max_events == 0:
        return {"sets": {}, "moreAvailable": False}
    deadline = time.monotonic() + (0 if request.return_immediately else LONG_POLL_SECONDS)
    while True:
        sets, more = _poll_take(stream, request.max_events)
        if sets or time.monotonic() >= deadline:
            return {"sets": sets, "moreAvailable": more}
        time.sleep(0.5)
