"""The Shared Signals admin page and the hook from successful revocations to SETs."""

from __future__ import annotations

import json

import jwt
from django.urls import reverse
from django.utils import timezone

from alerts_app.models import Revocation, SsfEvent, SsfReceiver, SsfStream
from alerts_app.signals import revocation_succeeded
from alerts_app.ssf import services, tokens
from alerts_app.ssf.tasks import ssf_announce_revocation
from sessions_app.models import AuditEvent, Identity, Session, Source


def _stream(admin_user, method="urn:ietf:rfc:8936", url=""):
    receiver, token = services.ssf_receiver_register(
        name="crm", audience="https://crm.example.net", actor=admin_user
    )
    delivery = {"method": method, "endpoint_url": url} if url else {"method": method}
    stream = services.ssf_stream_create(
        receiver=receiver,
        config={"delivery": delivery, "events_requested": [tokens.SESSION_REVOKED]},
        actor_label="test",
    )
    return stream, token


def _revocation(status="succeeded"):
    source = Source.objects.create(name="okta", kind="okta")
    identity = Identity.objects.create(display_name="Dana", login="dana@example.com")
    now = timezone.now()
    session = Session.objects.create(
        source=source, session_key="s-1", identity=identity, first_seen_at=now, last_seen_at=now
    )
    return Revocation.objects.create(
        scope="session",
        identity=identity,
        session=session,
        reason="Replay from a new ASN",
        provider="okta",
        idempotency_key="k" * 32,
        status=status,
        requested_by_label="ana",
        requested_at=now,
        completed_at=now,
    )


def test_successful_revocation_is_announced_once_per_stream(
    admin_user, django_capture_on_commit_callbacks
):
    stream, _ = _stream(admin_user)
    revocation = _revocation()
    with django_capture_on_commit_callbacks() as callbacks:
        revocation_succeeded.send(sender=Revocation, revocation_id=revocation.pk)
    assert len(callbacks) == 1  # the announce task is queued on commit

    assert ssf_announce_revocation(revocation.pk) == 1
    assert ssf_announce_revocation(revocation.pk) == 0  # redelivered task: nothing new
    event = SsfEvent.objects.get()
    assert event.stream == stream and event.txn == f"revocation-{revocation.pk}"
    assert AuditEvent.objects.filter(verb="ssf.session_revoked_emit").count() == 1


def test_failed_revocation_is_not_announced(admin_user):
    _stream(admin_user)
    revocation = _revocation(status="failed")
    assert ssf_announce_revocation(revocation.pk) == 0
    assert not SsfEvent.objects.exists()


def test_admin_registers_a_receiver_and_sees_its_token_once(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("ssf:receiver_register"), {"name": "crm", "audience": "https://crm.example.net"}
    )
    assert response.status_code == 200
    token = response.context["new_token"]
    assert token.startswith("ssf_") and token in response.content.decode()
    receiver = SsfReceiver.objects.get()
    assert token not in receiver.token_hash  # stored hashed only
    assert token not in client.get(reverse("ssf:admin")).content.decode()
    # the token works against the stream management API
    created = client.post(
        reverse("ssf:streams"),
        json.dumps({}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert created.status_code == 201

    duplicate = client.post(
        reverse("ssf:receiver_register"), {"name": "crm", "audience": "https://x.example"}
    )
    assert "already exists" in duplicate.content.decode()
    assert SsfReceiver.objects.count() == 1


def test_admin_pausing_a_stream_tells_the_receiver(client, admin_user):
    stream, _ = _stream(admin_user)
    client.force_login(admin_user)
    response = client.post(
        reverse("ssf:stream_status", args=[stream.pk]), {"status": "paused", "reason": "audit"}
    )
    assert response.status_code == 302
    stream.refresh_from_db()
    assert stream.status == "paused" and stream.status_reason == "audit"
    event = SsfEvent.objects.get(event_type=tokens.STREAM_UPDATED)
    claims = jwt.decode(event.token, options={"verify_signature": False})
    assert claims["events"] == {tokens.STREAM_UPDATED: {"status": "paused", "reason": "audit"}}
    assert claims["sub_id"] == {"format": "opaque", "id": stream.stream_id}


def test_deactivating_a_receiver_disables_its_streams_and_token(client, admin_user):
    stream, token = _stream(admin_user)
    client.force_login(admin_user)
    client.post(reverse("ssf:receiver_deactivate", args=[stream.receiver.pk]))
    stream.refresh_from_db()
    assert stream.status == "disabled"
    response = client.get(reverse("ssf:streams"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401


def test_managers_see_deliveries_but_cannot_change_anything(client, admin_user, manager):
    stream, _ = _stream(admin_user)
    services.ssf_session_revoked_emit(
        identity=Identity.objects.create(display_name="E", login="e@example.com"),
        revoked_at=timezone.now(),
        reason_admin="test",
        txn="revocation-9",
    )
    client.force_login(manager)
    html = client.get(reverse("ssf:admin")).content.decode()
    assert "revocation-9" in html and "Rotate signing key" not in html
    assert client.post(reverse("ssf:key_rotate")).status_code == 403
    assert (
        client.post(reverse("ssf:stream_status", args=[stream.pk]), {"status": "disabled"})
    ).status_code == 403
    assert SsfStream.objects.get().status == "enabled"


def test_delivery_filter_narrows_and_reports_bad_input(client, admin_user):
    _stream(admin_user)
    services.ssf_session_revoked_emit(
        identity=Identity.objects.create(display_name="E", login="e@example.com"),
        revoked_at=timezone.now(),
        reason_admin="test",
        txn="revocation-9",
    )
    client.force_login(admin_user)
    assert (
        "revocation-9"
        not in client.get(reverse("ssf:admin"), {"status": "failed"}).content.decode()
    )
    partial = client.get(reverse("ssf:admin"), {"status": "queued"}, HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert "revocation-9" in html and "<h1>" not in html
    bad = client.get(reverse("ssf:admin"), {"status": "nonsense"}).content.decode()
    assert "Some filters are invalid" in bad


def test_delivery_log_query_count_does_not_grow_with_rows(
    client, admin_user, django_assert_max_num_queries
):
    _stream(admin_user)
    identity = Identity.objects.create(display_name="E", login="e@example.com")

    def announce(n):
        services.ssf_session_revoked_emit(
            identity=identity, revoked_at=timezone.now(), reason_admin="t", txn=f"revocation-{n}"
        )

    announce(0)
    client.force_login(admin_user)
    client.get(reverse("ssf:admin"))  # warm the session and the signing key
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("ssf:admin"))
    for n in range(1, 11):
        announce(n)
    with django_assert_max_num_queries(len(few)):
        assert client.get(reverse("ssf:admin")).content.decode().count("revocation-") >= 11
