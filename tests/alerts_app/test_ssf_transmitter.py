"""The Shared Signals transmitter through its real interfaces: metadata, JWKS, stream
management, CAEP session-revoked SETs verified with an independent JOSE library (joserfc),
push to a local HTTP receiver (RFC 8935) and poll with acknowledgement (RFC 8936).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from joserfc import jws, jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet

from alerts_app.models import SsfEvent, SsfEventStatus, SsfSigningKey, SsfStream
from alerts_app.ssf import services, tokens
from alerts_app.ssf.tasks import ssf_push
from sessions_app.models import AuditEvent, Identity, Session, Source
from tests.fakes.server import FakeServer, Received, Reply


class FakeReceiver(FakeServer):
    """An RFC 8935 push receiver: 202 with no body for every SET."""

    def handle(self, request: Received) -> Reply:
        return Reply(202, b"")


@pytest.fixture
def receiver_server():
    with FakeReceiver() as server:
        yield server


@pytest.fixture
def receiver(admin_user):
    receiver, token = services.ssf_receiver_register(
        name="crm", audience="https://crm.example.net/caep", actor=admin_user
    )
    return receiver, token


@pytest.fixture
def revoked(db):
    source = Source.objects.create(
        name="okta-prod", kind="okta", settings={"base_url": "https://acme.okta.com"}
    )
    identity = Identity.objects.create(
        display_name="Dana", login="dana@example.com", provider_ids={}
    )
    now = timezone.now()
    session = Session.objects.create(
        source=source,
        session_key="102sess7f3c2a",
        identity=identity,
        first_seen_at=now,
        last_seen_at=now,
    )
    return identity, session


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def create_stream(client, token: str, body: dict) -> dict:
    response = client.post(
        reverse("ssf:streams"), json.dumps(body), content_type="application/json", **auth(token)
    )
    assert response.status_code == 201, response.content
    return response.json()


def poll(client, token: str, stream_id: str, body: dict):
    return client.post(
        reverse("ssf:poll", args=[stream_id]),
        json.dumps(body),
        content_type="application/json",
        **auth(token),
    )


def emit(identity, session, txn="revocation-1", reason="Session token replay (alert #7)"):
    return services.ssf_session_revoked_emit(
        identity=identity,
        session=session,
        revoked_at=datetime(2026, 1, 1, tzinfo=UTC),
        reason_admin=reason,
        txn=txn,
    )


def verify(client, token: str):
    """Verify a SET with joserfc against the JWKS govern publishes (not the PyJWT we sign with)."""
    key_set = KeySet.import_key_set(client.get(reverse("ssf:jwks")).json())
    return jwt.decode(token, key_set, algorithms=["RS256"])


def test_configuration_metadata_is_public_and_points_at_real_endpoints(client, db):
    response = client.get("/.well-known/ssf-configuration")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    meta = response.json()
    assert meta["spec_version"] == "1_0"
    assert meta["issuer"] == tokens.issuer()
    assert set(meta["delivery_methods_supported"]) == {"urn:ietf:rfc:8935", "urn:ietf:rfc:8936"}
    for name in ("jwks_uri", "configuration_endpoint", "status_endpoint", "verification_endpoint"):
        path = meta[name].removeprefix(tokens.issuer())
        assert client.get(path).status_code in (200, 401), name
    jwks = client.get(meta["jwks_uri"].removeprefix(tokens.issuer())).json()
    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and "d" not in key


def test_session_revoked_set_verifies_with_an_independent_jose_library(client, receiver, revoked):
    _, token = receiver
    identity, session = revoked
    stream = create_stream(client, token, {"events_requested": [tokens.SESSION_REVOKED]})
    assert stream["delivery"]["method"] == "urn:ietf:rfc:8936"  # no delivery → poll
    assert stream["events_delivered"] == [tokens.SESSION_REVOKED]
    [event] = emit(identity, session)

    sets = poll(client, token, stream["stream_id"], {"returnImmediately": True}).json()["sets"]
    assert list(sets) == [event.jti]
    decoded = verify(client, sets[event.jti])

    key = SsfSigningKey.objects.get()
    assert decoded.header == {"typ": "secevent+jwt", "alg": "RS256", "kid": key.kid}
    claims = decoded.claims
    assert claims["iss"] == tokens.issuer()
    assert claims["aud"] == "https://crm.example.net/caep"
    assert claims["jti"] == event.jti and claims["txn"] == "revocation-1"
    assert isinstance(claims["iat"], int)
    assert "sub" not in claims and "exp" not in claims  # SSF profile of RFC 8417
    assert claims["sub_id"] == {
        "format": "complex",
        "user": {"format": "email", "email": "dana@example.com"},
        "session": {"format": "opaque", "id": "102sess7f3c2a"},
    }
    [(event_type, body)] = claims["events"].items()
    assert event_type == "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
    assert body["event_timestamp"] == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    assert body["reason_admin"]["en"].startswith("Session token replay")
    # and the key really is 2048-bit RSA, as the CAEP interoperability profile requires
    assert len(key.public_jwk["n"]) >= 342


def test_service_account_without_email_gets_an_iss_sub_subject(revoked):
    identity, session = revoked
    identity.login = "svc-backup"
    identity.provider_ids = {str(session.source_id): "00u1dnq5S0CfjlkpABCD"}
    subject = tokens.session_revoked_subject(identity, session)
    assert subject["user"] == {
        "format": "iss_sub",
        "iss": "https://acme.okta.com",
        "sub": "00u1dnq5S0CfjlkpABCD",
    }
    # all sessions of the identity: no session member, so it applies to every session
    assert "session" not in tokens.session_revoked_subject(identity, None, session.source)


def test_push_delivers_with_the_rfc8935_request_and_records_it(
    client, receiver, revoked, receiver_server
):
    _, token = receiver
    identity, session = revoked
    create_stream(
        client,
        token,
        {
            "delivery": {
                "method": "urn:ietf:rfc:8935",
                "endpoint_url": receiver_server.url + "/caep",
                "authorization_header": "Bearer crm-secret",
            },
            "events_requested": [tokens.SESSION_REVOKED],
        },
    )
    [event] = emit(identity, session)
    assert ssf_push.apply(args=[event.pk]).get() == "delivered"

    [request] = receiver_server.requests
    assert request.method == "POST" and request.path == "/caep"
    assert request.header("Content-Type") == "application/secevent+jwt"
    assert request.header("Authorization") == "Bearer crm-secret"
    assert verify(client, request.body.decode()).claims["jti"] == event.jti
    event.refresh_from_db()
    assert event.status == SsfEventStatus.DELIVERED and event.attempts == 1
    assert event.last_status_code == 202 and event.delivered_at is not None
    assert AuditEvent.objects.filter(verb="ssf.push_delivered", object_id=str(event.pk)).exists()
    # a redelivered task does not push the same SET again
    assert ssf_push.apply(args=[event.pk]).get() == "skipped"
    assert len(receiver_server.requests) == 1


def push_stream(client, token, url):
    return create_stream(
        client,
        token,
        {
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": url},
            "events_requested": [tokens.SESSION_REVOKED],
        },
    )


def test_push_retries_server_errors_with_backoff_then_delivers(
    client, receiver, revoked, receiver_server
):
    _, token = receiver
    push_stream(client, token, receiver_server.url + "/caep")
    receiver_server.fail_next(503, times=2)
    [event] = emit(*revoked)
    assert ssf_push.apply(args=[event.pk]).get() == "delivered"
    event.refresh_from_db()
    assert event.attempts == 3 and event.status == SsfEventStatus.DELIVERED
    assert len(receiver_server.requests) == 3


def test_push_400_is_not_retried_and_keeps_the_receivers_error(
    client, receiver, revoked, receiver_server
):
    _, token = receiver
    push_stream(client, token, receiver_server.url + "/caep")
    receiver_server.fail_next(
        400, body={"err": "invalid_audience", "description": "aud is not crm"}
    )
    [event] = emit(*revoked)
    assert ssf_push.apply(args=[event.pk]).get() == "failed"
    event.refresh_from_db()
    assert event.status == SsfEventStatus.FAILED and event.attempts == 1
    assert event.last_error == "HTTP 400: invalid_audience: aud is not crm"
    assert len(receiver_server.requests) == 1


def test_push_gives_up_after_the_attempt_limit(client, receiver, revoked, receiver_server):
    _, token = receiver
    push_stream(client, token, receiver_server.url + "/caep")
    receiver_server.fail_next(500, body=b"boom", times=services.PUSH_MAX_ATTEMPTS)
    [event] = emit(*revoked)
    assert ssf_push.apply(args=[event.pk]).get() == "failed"
    event.refresh_from_db()
    assert event.attempts == services.PUSH_MAX_ATTEMPTS and event.status == "failed"
    assert event.last_error == "HTTP 500: boom"


def test_backoff_grows_with_jitter_and_honours_retry_after():
    first = [services.backoff_seconds(1) for _ in range(50)]
    fifth = [services.backoff_seconds(5) for _ in range(50)]
    assert all(5 <= d <= 10 for d in first) and len(set(first)) > 1
    assert all(80 <= d <= 160 for d in fifth)
    assert services.backoff_seconds(1, retry_after=120) == 120
    assert services.backoff_seconds(30) <= services.PUSH_BACKOFF_CAP


def test_poll_returns_unacknowledged_sets_until_acked(client, receiver, revoked):
    _, token = receiver
    identity, session = revoked
    stream_id = create_stream(client, token, {"events_requested": [tokens.SESSION_REVOKED]})[
        "stream_id"
    ]
    [first] = emit(identity, session, txn="revocation-1")
    [second] = emit(identity, None, txn="revocation-2")

    page = poll(client, token, stream_id, {"maxEvents": 1, "returnImmediately": True}).json()
    assert list(page["sets"]) == [first.jti] and page["moreAvailable"] is True
    # not acknowledged: handed out again
    page = poll(client, token, stream_id, {"maxEvents": 1, "returnImmediately": True}).json()
    assert list(page["sets"]) == [first.jti]

    page = poll(client, token, stream_id, {"ack": [first.jti], "returnImmediately": True}).json()
    assert page == {"sets": {second.jti: second.token}, "moreAvailable": False}
    first.refresh_from_db()
    assert first.status == SsfEventStatus.ACKED and first.attempts == 2

    errs = {second.jti: {"err": "invalid_key", "description": "kid not found"}}
    page = poll(client, token, stream_id, {"maxEvents": 0, "setErrs": errs}).json()
    assert page == {"sets": {}, "moreAvailable": False}
    second.refresh_from_db()
    assert second.status == SsfEventStatus.FAILED
    assert second.last_error == "receiver: invalid_key: kid not found"


def test_poll_rejects_malformed_requests_with_rfc_errors(client, receiver, revoked):
    _, token = receiver
    stream_id = create_stream(client, token, {})["stream_id"]
    for body in ({"maxEvents": -1}, {"ack": "x"}, {"returnImmediately": "yes"}, []):
        response = poll(client, token, stream_id, body)
        assert response.status_code == 400
        assert response.json()["err"] == "invalid_request", body
    response = client.post(
        reverse("ssf:poll", args=[stream_id]), "{", content_type="application/json", **auth(token)
    )
    assert response.status_code == 400 and "not valid JSON" in response.json()["description"]


def test_the_same_revocation_announced_twice_yields_one_set_per_stream(client, receiver, revoked):
    _, token = receiver
    create_stream(client, token, {"events_requested": [tokens.SESSION_REVOKED]})
    create_stream(client, token, {"events_requested": [tokens.SESSION_REVOKED]})
    create_stream(client, token, {"events_requested": ["urn:example:other"]})  # not subscribed
    assert len(emit(*revoked)) == 2
    assert emit(*revoked) == []
    assert SsfEvent.objects.count() == 2


def test_stream_management_crud_status_and_isolation(client, admin_user, receiver):
    _, token = receiver
    _, other_token = services.ssf_receiver_register(
        name="hr", audience="https://hr.example.net", actor=admin_user
    )
    stream = create_stream(client, token, {"description": "crm kill-switch"})
    stream_id, url = stream["stream_id"], reverse("ssf:streams")
    assert stream["iss"] == tokens.issuer() and stream["aud"] == "https://crm.example.net/caep"
    assert stream["delivery"]["endpoint_url"].endswith(reverse("ssf:poll", args=[stream_id]))

    assert client.get(url, {"stream_id": stream_id}, **auth(token)).json() == stream
    assert [s["stream_id"] for s in client.get(url, **auth(token)).json()] == [stream_id]
    assert client.get(url, {"stream_id": stream_id}, **auth(other_token)).status_code == 404
    assert client.get(url).status_code == 401
    assert client.get(url, **auth("ssf_wrong")).json()["err"] == "authentication_failed"

    patched = client.patch(
        url,
        json.dumps({"stream_id": stream_id, "description": "renamed"}),
        content_type="application/json",
        **auth(token),
    ).json()
    assert patched["description"] == "renamed" and patched["delivery"] == stream["delivery"]
    replaced = client.put(
        url,
        json.dumps({"stream_id": stream_id, "events_requested": [tokens.SESSION_REVOKED]}),
        content_type="application/json",
        **auth(token),
    ).json()
    assert "description" not in replaced and replaced["events_delivered"] == [
        tokens.SESSION_REVOKED
    ]
    bad = client.patch(
        url,
        json.dumps({"stream_id": stream_id, "delivery": {"method": "urn:example:carrier-pigeon"}}),
        content_type="application/json",
        **auth(token),
    )
    assert bad.status_code == 400 and "Unsupported delivery method" in bad.json()["description"]

    status_url = reverse("ssf:status")
    assert client.get(status_url, {"stream_id": stream_id}, **auth(token)).json() == {
        "stream_id": stream_id,
        "status": "enabled",
    }
    paused = client.post(
        status_url,
        json.dumps({"stream_id": stream_id, "status": "paused", "reason": "maintenance"}),
        content_type="application/json",
        **auth(token),
    ).json()
    assert paused == {"stream_id": stream_id, "status": "paused", "reason": "maintenance"}
    wrong = client.post(
        status_url,
        json.dumps({"stream_id": stream_id, "status": "sleeping"}),
        content_type="application/json",
        **auth(token),
    )
    assert wrong.status_code == 400

    assert client.delete(f"{url}?stream_id={stream_id}", **auth(token)).status_code == 204
    assert not SsfStream.objects.exists()
    assert AuditEvent.objects.filter(verb="ssf.stream_delete").exists()


def test_push_endpoint_must_be_a_url(client, receiver):
    _, token = receiver
    response = client.post(
        reverse("ssf:streams"),
        json.dumps({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "ftp://x"}}),
        content_type="application/json",
        **auth(token),
    )
    assert response.status_code == 400 and response.json()["err"] == "invalid_request"
    assert not SsfStream.objects.exists()


def test_verification_event_echoes_state_and_is_rate_limited(client, receiver):
    _, token = receiver
    stream_id = create_stream(client, token, {})["stream_id"]
    body = json.dumps({"stream_id": stream_id, "state": "VGhpcyBpcyBhbiBleGFtcGxl"})
    verify_url = reverse("ssf:verify")
    response = client.post(verify_url, body, content_type="application/json", **auth(token))
    assert response.status_code == 204
    again = client.post(verify_url, body, content_type="application/json", **auth(token))
    assert again.status_code == 429

    sets = poll(client, token, stream_id, {"returnImmediately": True}).json()["sets"]
    [set_token] = sets.values()
    claims = verify(client, set_token).claims
    assert claims["sub_id"] == {"format": "opaque", "id": stream_id}
    assert claims["events"] == {tokens.VERIFICATION: {"state": "VGhpcyBpcyBhbiBleGFtcGxl"}}


def test_key_rotation_publishes_both_keys_until_the_old_one_retires(
    client, admin_user, receiver, revoked
):
    _, token = receiver
    stream_id = create_stream(client, token, {"events_requested": [tokens.SESSION_REVOKED]})[
        "stream_id"
    ]
    [old_set] = emit(*revoked, txn="revocation-1")
    old_key = SsfSigningKey.objects.get()
    new_key = services.ssf_signing_key_rotate(actor=admin_user)
    [new_set] = emit(*revoked, txn="revocation-2")

    assert {k["kid"] for k in client.get(reverse("ssf:jwks")).json()["keys"]} == {
        old_key.kid,
        new_key.kid,
    }
    assert jws.extract_compact(new_set.token.encode()).protected["kid"] == new_key.kid
    sets = poll(client, token, stream_id, {"returnImmediately": True}).json()["sets"]
    for set_token in sets.values():  # both verify against the published set
        verify(client, set_token)

    with pytest.raises(services.SsfError):
        services.ssf_signing_key_retire(key=new_key, actor=admin_user)
    services.ssf_signing_key_retire(key=old_key, actor=admin_user)
    assert [k["kid"] for k in client.get(reverse("ssf:jwks")).json()["keys"]] == [new_key.kid]
    with pytest.raises(InvalidKeyIdError):
        verify(client, old_set.token)
    # the private key is stored encrypted, never as PEM text
    assert b"PRIVATE KEY" not in bytes(new_key.private_key_encrypted)


def test_paused_push_stream_holds_sets_and_resumes_on_enable(
    client, admin_user, receiver, revoked, receiver_server, django_capture_on_commit_callbacks
):
    _, token = receiver
    stream_id = push_stream(client, token, receiver_server.url + "/caep")["stream_id"]
    stream = SsfStream.objects.get(stream_id=stream_id)
    services.ssf_stream_set_status(
        stream=stream, status="paused", actor_label="test", by_transmitter=False
    )
    [event] = emit(*revoked)
    assert ssf_push.apply(args=[event.pk]).get() == "held"
    assert receiver_server.requests == []

    with django_capture_on_commit_callbacks() as callbacks:
        services.ssf_stream_set_status(
            stream=stream, status="enabled", actor=admin_user, by_transmitter=True
        )
    # the held SET and the stream-updated SET are both queued for push on commit
    assert len(callbacks) == 2
    for pending in SsfEvent.objects.filter(status="queued").order_by("id"):
        assert ssf_push.apply(args=[pending.pk]).get() == "delivered"
    bodies = [verify(client, r.body.decode()).claims for r in receiver_server.requests]
    assert [next(iter(c["events"])) for c in bodies] == [
        tokens.SESSION_REVOKED,
        tokens.STREAM_UPDATED,
    ]


def test_disabled_stream_still_hears_that_it_was_disabled(client, admin_user, receiver, revoked):
    _, token = receiver
    stream_id = create_stream(client, token, {"events_requested": [tokens.SESSION_REVOKED]})[
        "stream_id"
    ]
    emit(*revoked)
    services.ssf_stream_set_status(
        stream=SsfStream.objects.get(stream_id=stream_id),
        status="disabled",
        reason="contract ended",
        actor=admin_user,
        by_transmitter=True,
    )
    sets = poll(client, token, stream_id, {"returnImmediately": True}).json()["sets"]
    [claims] = [verify(client, t).claims for t in sets.values()]
    assert claims["events"] == {
        tokens.STREAM_UPDATED: {"status": "disabled", "reason": "contract ended"}
    }
    assert emit(*revoked, txn="revocation-2") == []  # disabled streams get nothing new


def test_long_poll_waits_for_a_set_then_answers_empty(client, receiver, monkeypatch):
    _, token = receiver
    stream_id = create_stream(client, token, {})["stream_id"]
    monkeypatch.setattr(services, "LONG_POLL_SECONDS", 1.0)
    started = time.monotonic()
    assert poll(client, token, stream_id, {}).json() == {"sets": {}, "moreAvailable": False}
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    poll(client, token, stream_id, {"returnImmediately": True})
    assert time.monotonic() - started < 1.0
