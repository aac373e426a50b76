"""``POST /hooks/<source_id>/``: signatures, Okta verification, limits, sync and queued ingest."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from django.test import Client, override_settings
from django.urls import include, path

from sessions_app import webhooks
from sessions_app.choices import SourceKind
from sessions_app.models import PendingBatch, Source, TelemetryEvent

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SECRET = "whsec-test-0123456789"

# The hook URLs on their own, exactly as govern/urls.py includes them.
urlpatterns = [path("", include("sessions_app.urls_webhooks"))]


@pytest.fixture(autouse=True)
def _fresh_replay_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def source():
    source = Source(name="okta-hook", kind=SourceKind.WEBHOOK, settings={"format": "okta"})
    source.set_secrets({"webhook_secret": SECRET, "okta_authorization": "Bearer okta-static"})
    source.save()
    return source


def okta_event(n: int) -> dict:
    event = orjson.loads((FIXTURES / "okta" / "session_start.json").read_bytes())
    event["uuid"] = f"10000000-0000-4000-8000-{n:012d}"
    return event


def post(source, body: bytes, **headers):
    return Client().post(
        f"/hooks/{source.pk}/", body, content_type="application/json", headers=headers
    )


def test_signed_single_event_is_ingested_and_counted(source):
    body = orjson.dumps(okta_event(1))
    response = post(source, body, **{"X-Govern-Signature": webhooks.sign(SECRET, body)})
    assert response.status_code == 202
    data = response.json()
    assert (data["read"], data["imported"], data["quarantined"]) == (1, 1, 0)
    assert data["event_ids"] == list(TelemetryEvent.objects.values_list("id", flat=True))


def test_batch_in_an_okta_hook_envelope(source):
    body = orjson.dumps({"data": {"events": [okta_event(1), okta_event(2)]}})
    response = post(source, body, Authorization="Bearer okta-static")
    assert response.status_code == 202 and response.json()["imported"] == 2


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("t=1,v1=00", "tolerance"),
        (lambda body: webhooks.sign("wrong-secret", body), "does not match"),
        (lambda body: webhooks.sign(SECRET, body, int(time.time()) - 301), "tolerance"),
    ],
)
def test_bad_signatures_are_refused_with_json(source, header, reason):
    body = orjson.dumps(okta_event(1))
    headers = {}
    if header is not None:
        headers["X-Govern-Signature"] = header(body) if callable(header) else header
    response = post(source, body, **headers)
    assert response.status_code == 401
    assert reason in response.json()["error"]
    assert not TelemetryEvent.objects.exists()


def test_a_replayed_request_is_refused(source):
    body = orjson.dumps(okta_event(1))
    signature = webhooks.sign(SECRET, body)
    assert post(source, body, **{"X-Govern-Signature": signature}).status_code == 202
    replay = post(source, body, **{"X-Govern-Signature": signature})
    assert replay.status_code == 401 and "replayed" in replay.json()["error"]


def test_okta_verification_challenge(source):
    url = f"/hooks/{source.pk}/"
    ok = Client().get(
        url,
        headers={"X-Okta-Verification-Challenge": "abc123", "Authorization": "Bearer okta-static"},
    )
    assert ok.status_code == 200 and ok.json() == {"verification": "abc123"}
    refused = Client().get(url, headers={"X-Okta-Verification-Challenge": "abc123"})
    assert refused.status_code == 401


def test_disabled_unknown_and_too_large(source):
    body = orjson.dumps(okta_event(1))
    with override_settings(GOVERN_WEBHOOK_MAX_BYTES=100):
        too_big = post(source, body, **{"X-Govern-Signature": webhooks.sign(SECRET, body)})
    assert too_big.status_code == 413 and "larger" in too_big.json()["error"]
    assert post_to(999999, body).status_code == 404
    source.enabled = False
    source.save()
    disabled = post(source, body, **{"X-Govern-Signature": webhooks.sign(SECRET, body)})
    assert disabled.status_code == 403 and disabled.json() == {"error": "source is disabled"}


def post_to(source_id: int, body: bytes):
    return Client().post(f"/hooks/{source_id}/", body, content_type="application/json")


def test_garbage_body_is_400_and_kept_in_quarantine(source):
    body = b"definitely not json"
    response = post(source, body, **{"X-Govern-Signature": webhooks.sign(SECRET, body)})
    assert response.status_code == 400
    assert source.quarantined.get().payload == "definitely not json"


def test_large_batches_are_stored_then_handed_to_the_queue(source, monkeypatch):
    from govern.celery import app
    from sessions_app.tasks import ingest_pending

    monkeypatch.setattr(webhooks, "SYNC_LIMIT", 2)
    monkeypatch.setattr(webhooks, "TASK_BATCH", 2)
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(app.conf.task_default_queue)
        queue.clear()
        events = [okta_event(n) for n in range(3)]
        body = orjson.dumps(events)
        response = post(source, body, **{"X-Govern-Signature": webhooks.sign(SECRET, body)})
        assert response.status_code == 202
        data = response.json()
        assert data["queued"] == 3 and len(data["task_ids"]) == 2
        # Durable before the answer: the batches are rows, the messages only name them.
        pending = list(PendingBatch.objects.order_by("pk"))
        assert [p.pk for p in pending] == data["batches"]
        assert [p.record_count for p in pending] == [2, 1]
        assert [p.records for p in pending] == [events[:2], events[2:]]
        assert not TelemetryEvent.objects.exists()  # nothing stored before a worker runs
        # Play the worker: take the two messages off the real broker and run them.
        for batch in pending:
            message = queue.get(timeout=5)
            assert message.headers["task"] == "sessions_app.ingest_pending"
            args, kwargs, _embed = message.decode()
            assert args == [batch.pk]
            ingest_pending(*args, **kwargs)
            message.ack()
        queue.close()
    assert TelemetryEvent.objects.count() == 3
    assert not PendingBatch.objects.exists()


def test_a_broker_that_is_down_loses_nothing_accepted(source, monkeypatch):
    from sessions_app.tasks import ingest_pending, requeue_pending

    monkeypatch.setattr(webhooks, "SYNC_LIMIT", 1)

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(ingest_pending, "delay", broker_down)
    events = [okta_event(n) for n in range(3)]
    body = orjson.dumps(events)
    response = post(source, body, **{"X-Govern-Signature": webhooks.sign(SECRET, body)})
    assert response.status_code == 202
    assert response.json()["task_ids"] == []
    batch = PendingBatch.objects.get()
    assert batch.record_count == 3
    # The requeue sweep hands it to the queue once it has waited long enough.
    queued: list[int] = []
    monkeypatch.setattr(ingest_pending, "delay", queued.append)
    with override_settings(GOVERN_PENDING_REQUEUE_SECONDS=3600):
        assert requeue_pending() == 0  # not waiting long enough yet
    with override_settings(GOVERN_PENDING_REQUEUE_SECONDS=0):
        assert requeue_pending() == 1
    assert queued == [batch.pk]
    batch.refresh_from_db()
    assert batch.requeued == 1
    ingest_pending(batch.pk)
    assert TelemetryEvent.objects.count() == 3
    assert not PendingBatch.objects.exists()
