"""Pushed batches stored before they are queued (``PendingBatch``): ingested once and
deleted, failures kept on the row and shown on the source page, and queued again when left
waiting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from django.urls import reverse
from django.utils import timezone

from sessions_app import services
from sessions_app.choices import SourceKind
from sessions_app.models import PendingBatch, Source, TelemetryEvent
from sessions_app.services import (
    pending_batch_ingest,
    pending_batches_accept,
    pending_batches_due,
)

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def source():
    return Source.objects.create(name="hook", kind=SourceKind.WEBHOOK, settings={"format": "okta"})


def events(count: int, first: int = 0) -> list[dict]:
    template = orjson.loads((FIXTURES / "okta" / "session_start.json").read_bytes())
    made = []
    for n in range(first, first + count):
        event = orjson.loads(orjson.dumps(template))
        event["uuid"] = f"30000000-0000-4000-8000-{n:012d}"
        made.append(event)
    return made


def test_accepted_batches_are_ingested_once_and_deleted(source):
    batches = pending_batches_accept(source=source, records=events(5), fmt="okta", per_batch=2)
    assert [b.record_count for b in batches] == [2, 2, 1]
    result = pending_batch_ingest(batches[0].pk)
    assert (result.read, result.imported) == (2, 2)
    assert not PendingBatch.objects.filter(pk=batches[0].pk).exists()
    # A second delivery of the same task finds nothing to do.
    assert pending_batch_ingest(batches[0].pk) is None
    for batch in batches[1:]:
        pending_batch_ingest(batch.pk)
    assert TelemetryEvent.objects.count() == 5
    assert not PendingBatch.objects.exists()


def test_a_batch_left_behind_after_its_events_committed_adds_nothing_again(source):
    records = events(3)
    services.ingest_records(source=source, records=records, fmt="okta")  # the worker died here
    batch = pending_batches_accept(source=source, records=records, fmt="okta", per_batch=10)[0]
    result = pending_batch_ingest(batch.pk)
    assert (result.imported, result.duplicates) == (0, 3)
    assert TelemetryEvent.objects.count() == 3


def test_a_failure_stays_on_the_row_and_on_the_source_page(source, admin_user, client, monkeypatch):
    batch = pending_batches_accept(source=source, records=events(2), fmt="okta", per_batch=10)[0]

    def database_down(**kwargs):
        raise services.DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr(services, "ingest_records", database_down)
    with pytest.raises(services.DatabaseError):
        pending_batch_ingest(batch.pk)
    batch.refresh_from_db()
    assert batch.last_error == "DatabaseError: could not extend file: No space left on device"
    client.force_login(admin_user)
    page = client.get(reverse("sessions_app:source_detail", args=[source.pk])).content.decode()
    assert '<div class="value">2</div><div class="sub">records in 1 batch, oldest' in page
    assert "No space left on device" in page


def test_only_batches_waiting_long_enough_are_due_and_each_once(source):
    old, new = pending_batches_accept(source=source, records=events(2), fmt="okta", per_batch=1)
    PendingBatch.objects.filter(pk=old.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    assert pending_batches_due(older_than_seconds=600) == [old.pk]
    old.refresh_from_db()
    assert old.requeued == 1 and old.queued_at > timezone.now() - timedelta(minutes=1)
    assert pending_batches_due(older_than_seconds=600) == []  # queued again just now
    assert new.pk not in pending_batches_due(older_than_seconds=600)
