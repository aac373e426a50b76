"""Bulk imports on PostgreSQL: parse processes plan each batch's writes (``ingest.plan``) and
the writer only runs the statements. What lands must be exactly what the writer's own path
(parse and aggregate in the writing process) stores."""

from __future__ import annotations

import gc
import pickle
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from sessions_app import services
from sessions_app.ingest.plan import EncodedArray, encode_array
from sessions_app.ingest.prepare import JsonLine, gc_paused, pack_lines, unpack_lines
from sessions_app.models import EventDailyCount, Identity, Session, Source, TelemetryEvent
from sessions_app.services import _binding_cursor, ingest_batches, ingest_records

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
MAPPING = {
    "fields": {
        name: name
        for name in (
            "provider_event_id", "occurred_at", "provider_event_type", "event_type", "outcome",
            "actor_id", "actor_login", "actor_display_name", "actor_kind", "session_key",
            "token_kind", "ip", "asn", "as_org", "country", "city", "lat", "lon", "anonymizer",
            "user_agent", "device_id", "client_app", "mfa", "auth_methods", "status_detail",
            "high_value_action", "risk_level",
        )
    }
}  # fmt: skip


def record(n: int, minutes: int, **fields) -> dict:
    values = {
        "provider_event_id": f"evt-{n}",
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "event_type": "session_activity",
        "outcome": "success",
        "actor_id": "u-1",
        "actor_login": "dana@example.com",
        "session_key": "sess-1",
        "ip": "198.51.100.23",
        "asn": 5089,
        "as_org": "Virgin Media",
        "country": "GB",
        "city": "London",
        "lat": 51.5164,
        "lon": -0.093,
        "user_agent": "Firefox/125",
        "device_id": "dev-1",
    }
    values.update(fields)
    return values


BATCHES = [
    [
        record(1, 0, event_type="logon", mfa=True, auth_methods=["password", "totp"]),
        record(2, 1, ip="2001:db8::7", lat=-33.8688, lon=151.2093, city="Zoë's café"),
        record(3, 2, session_key="", actor_id="svc-1", actor_kind="service_account", asn=None),
        record(4, 3, session_key="sess-2", actor_id="u-2", actor_display_name="Ann", mfa=False),
        record(5, 4, event_type="logoff"),
        record(6, 5, session_key="sess-3", event_type="session_revoked", lat=None, lon=None),
        record(7, 6, session_key="sess-4", event_type="logon", outcome="failure", ip=None),
        record(2, 1, ip="2001:db8::7"),  # the same event twice in one delivery
        record(8, 7, event_type="credential_change", high_value_action="mfa_reset"),
        record(9, 8, user_agent="curl\x00/8", session_key="sess-2", actor_id="u-2"),
        {"provider_event_id": "broken"},  # quarantined; the rest of the batch goes on
    ],
    [
        # sess-1 was ended by the logoff above: a later use does not reopen it
        record(10, 30, anonymizer=True, risk_level="high"),
        record(11, -30, session_key="sess-2", actor_id="u-2", ip="203.0.113.9"),  # older
        record(12, 40, session_key="sess-5", actor_id="u-3", event_type="session_expired"),
    ],
    # every event here is new but one: that batch is stored the ordinary way
    [record(13, 50, session_key="sess-6"), record(4, 3, session_key="sess-2", actor_id="u-2")],
]


def snapshot(source: Source) -> dict:
    events = TelemetryEvent.objects.filter(source=source).order_by("provider_event_id")
    sessions = Session.objects.filter(source=source).order_by("session_key")
    skip = {"id", "source", "identity", "received_at", "session"}
    event_fields = [f.name for f in TelemetryEvent._meta.concrete_fields if f.name not in skip]
    session_fields = [f.name for f in Session._meta.concrete_fields if f.name not in skip]
    identity_fields = [
        "login", "display_name", "kind", "first_seen_at", "last_seen_at",
        "credential_changed_at", "privilege_tier", "status", "risk_score", "risk_factors",
    ]  # fmt: skip
    return {
        "events": list(
            events.values_list(*event_fields, "identity__login", "session__session_key")
        ),
        "sessions": list(sessions.values_list(*session_fields, "identity__login")),
        "identities": sorted(
            Identity.objects.filter(links__source=source).values_list(*identity_fields)
        ),
        "daily": sorted(
            EventDailyCount.objects.filter(source=source).values_list("day", "event_type", "count")
        ),
        "source": Source.objects.filter(pk=source.pk).values_list(
            "events_total", "newest_event_at"
        )[0],
        "quarantined": list(source.quarantined.values_list("reason", flat=True)),
    }


def test_planned_batches_store_what_the_writer_itself_stores(monkeypatch):
    assert connection.vendor == "postgresql"
    planned_outcomes = []
    store_planned = services._store_planned

    def spy(**kwargs):
        outcome = store_planned(**kwargs)
        planned_outcomes.append((kwargs["check_stored"], outcome is not None))
        return outcome

    monkeypatch.setattr(services, "_store_planned", spy)
    snapshots, results = [], []
    for workers in (1, 0):  # 1: planned in a parse process; 0: the writer's own path
        source = Source.objects.create(
            name=f"feed-{workers}", kind="webhook", settings={"mapping": MAPPING}
        )
        result = ingest_batches(source=source, batches=BATCHES, workers=workers)
        results.append((result.read, result.imported, result.duplicates, result.quarantined))
        snapshots.append(snapshot(source))
    assert results[0] == results[1] == (16, 13, 2, 1)
    # planned, planned, then stored the ordinary way: one of its events was stored already,
    # which the COPY's unique key told (the batches before were not checked first)
    assert planned_outcomes == [(False, True), (False, True), (False, False)]
    planned_outcomes.clear()
    again = ingest_batches(source=Source.objects.get(name="feed-1"), batches=BATCHES, workers=1)
    assert (again.read, again.imported, again.duplicates, again.quarantined) == (16, 0, 15, 1)
    # the key tells on the first batch; the next ones are checked first, with one query
    assert planned_outcomes == [(False, False), (True, False), (True, False)]
    assert snapshot(Source.objects.get(name="feed-1"))["events"] == snapshots[0]["events"]
    planned, ordinary = snapshots
    for part in planned:
        assert planned[part] == ordinary[part], part
    sessions = {row[0]: row for row in planned["sessions"]}
    assert len(planned["events"]) == 13 and set(sessions) == {f"sess-{n}" for n in range(1, 7)}
    status = [f.name for f in Session._meta.concrete_fields if f.name not in {
        "id", "source", "identity", "received_at", "session"}].index("status")  # fmt: skip
    assert {key: row[status] for key, row in sessions.items()} == {
        "sess-1": "ended", "sess-2": "active", "sess-3": "revoked", "sess-4": "active",
        "sess-5": "expired", "sess-6": "active",
    }  # fmt: skip


def test_a_planned_batch_and_a_delivery_agree_on_the_same_events():
    """The same records through ``ingest_records`` (a poll or webhook delivery) and through a
    planned bulk import of another source store the same rows."""
    flat = [r for batch in BATCHES for r in batch]
    a = Source.objects.create(name="bulk", kind="webhook", settings={"mapping": MAPPING})
    b = Source.objects.create(name="delivery", kind="webhook", settings={"mapping": MAPPING})
    ingest_batches(source=a, batches=[flat], workers=1)
    ingest_records(source=b, records=flat)
    assert snapshot(a) == snapshot(b)


@pytest.mark.parametrize(
    ("values", "sql_type"),
    [
        (["a", "Zoë", "", None, "x" * 500], "text"),
        ([T0, None, T0 + timedelta(microseconds=7)], "timestamptz"),
        ([1, None, 2**40], "bigint"),
        ([0.1, -33.8688, None], "float8"),
        ([True, None, False], "boolean"),
        (["198.51.100.23", "2001:db8::7", None], "inet"),
        ([None, None], "text"),
        ([], "integer"),
    ],
)
def test_encoded_arrays_bind_as_the_lists_do(values, sql_type):
    encoded = encode_array(values)
    if values and any(v is not None for v in values):
        assert isinstance(encoded, EncodedArray)
    else:  # nothing to tell the element type by: left to psycopg
        assert encoded is values
    with _binding_cursor() as cursor:
        cursor.execute(f"SELECT %b::{sql_type}[], %b::{sql_type}[]", [values, encoded])
        as_list, as_encoded = cursor.fetchone()
    assert as_encoded == as_list


def test_gc_paused_restores_the_collector_as_it_was():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_bulk_import_waits_for_the_disk_once_at_the_end_even_when_it_fails():
    from sessions_app.signals import events_ingested

    source = Source.objects.create(name="bulk", kind="webhook", settings={"mapping": MAPPING})
    seen: list[str] = []

    def receiver(**kwargs):
        seen.append(_synchronous_commit())

    events_ingested.connect(receiver, weak=False, dispatch_uid="t-sync-commit")
    flushed = []
    real_flush = services._flush_commits

    def flush():
        flushed.append(True)
        real_flush()

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(services, "_flush_commits", flush)
            ingest_batches(source=source, batches=BATCHES[:2], workers=0)
            assert seen == ["off", "off"] and flushed == [True]
            assert _synchronous_commit() == "on"

            def failing():
                yield BATCHES[0]
                raise OSError("the file went away")

            with pytest.raises(OSError):
                ingest_batches(source=source, batches=failing(), workers=0)
            assert flushed == [True, True] and _synchronous_commit() == "on"
    finally:
        events_ingested.disconnect(dispatch_uid="t-sync-commit")
    assert TelemetryEvent.objects.filter(source=source).count() == 12


def test_inside_a_transaction_the_callers_commit_decides(monkeypatch):
    source = Source.objects.create(name="bulk", kind="webhook", settings={"mapping": MAPPING})
    seen = []
    store = services._store

    def spy(**kwargs):
        seen.append(_synchronous_commit())
        return store(**kwargs)

    monkeypatch.setattr(services, "_store", spy)
    monkeypatch.setattr(services, "_flush_commits", lambda: pytest.fail("flushed"))
    ingest_batches(source=source, batches=BATCHES[:1], workers=0)
    assert seen == ["on"] and _synchronous_commit() == "on"


def test_packed_lines_come_back_as_sent():
    lines = [
        JsonLine(1, b'{"a": 1}\n'),
        JsonLine(2, b""),
        JsonLine(7, '{"name": "Zoë"}\r\n'.encode()),
        JsonLine(8, b"not json"),
    ]
    packed = pickle.loads(pickle.dumps(pack_lines(lines)))  # noqa: S301 — our own bytes
    assert unpack_lines(packed) == lines
    assert unpack_lines(pack_lines([])) == []
