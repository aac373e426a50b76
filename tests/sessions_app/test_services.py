"""Ingestion, quarantine and source services, through the real parsers and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from django.db import connection, connections

from govern.audit import verify_chain
from sessions_app.choices import EventType, SessionStatus, SourceKind
from sessions_app.models import (
    AuditEvent,
    EventDailyCount,
    Identity,
    IdentityLink,
    QuarantinedEvent,
    Session,
    Source,
    TelemetryEvent,
)
from sessions_app.services import (
    RejectedInput,
    ingest_batches,
    ingest_records,
    poll_backoff_seconds,
    quarantine_reprocess,
    source_create,
    source_poll_failed,
    source_poll_succeeded,
    source_set_secrets,
    source_update,
)
from sessions_app.signals import events_ingested

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

MAPPING = {
    "fields": {
        "provider_event_id": "id",
        "occurred_at": "time",
        "event_type": "type",
        "outcome": "outcome",
        "actor_id": "user",
        "actor_login": "login",
        "session_key": "session",
        "ip": "ip",
        "asn": "asn",
        "country": "country",
        "user_agent": "ua",
        "mfa": "mfa",
    }
}
T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def event(n: int, *, minutes: int = 0, type: str = "session_activity", **extra) -> dict:
    record = {
        "id": f"evt-{n}",
        "time": (T0 + timedelta(minutes=minutes)).isoformat(),
        "type": type,
        "outcome": "success",
        "user": "u-1",
        "login": "dana@example.com",
        "session": "sess-1",
        "ip": "198.51.100.23",
        "asn": 5089,
        "country": "GB",
        "ua": "Firefox",
    }
    record.update(extra)
    return record


@pytest.fixture
def source():
    return Source.objects.create(
        name="feed", kind=SourceKind.WEBHOOK, settings={"mapping": MAPPING}
    )


def test_ingest_creates_events_identity_session_rollup_and_health(source):
    records = [
        event(1, type="logon", mfa=True),
        event(2, minutes=5, ip="203.0.113.9", asn=16509, country="US", ua="curl"),
        event(3, minutes=7, session=""),
    ]
    result = ingest_records(source=source, records=records, cursor={"after": "evt-3"})

    assert (result.read, result.imported, result.duplicates, result.quarantined) == (3, 3, 0, 0)
    assert TelemetryEvent.objects.count() == 3
    identity = Identity.objects.get()
    assert identity.login == "dana@example.com"
    assert (identity.first_seen_at, identity.last_seen_at) == (T0, T0 + timedelta(minutes=7))
    assert IdentityLink.objects.get().provider_id == "u-1"
    session = Session.objects.get()
    assert session.event_count == 2
    assert (session.first_ip, session.first_asn, session.first_country) == (
        "198.51.100.23", 5089, "GB",
    )  # fmt: skip
    assert (session.last_ip, session.last_asn, session.last_user_agent) == (
        "203.0.113.9", 16509, "curl",
    )  # fmt: skip
    assert session.authenticated_at == T0 and session.mfa is True
    assert session.identity == identity
    no_session = TelemetryEvent.objects.get(provider_event_id="evt-3")
    assert no_session.session_id is None and no_session.identity_id == identity.pk
    assert TelemetryEvent.objects.get(provider_event_id="evt-2").session_id == session.pk
    assert result.session_ids == [session.pk] and result.identity_ids == [identity.pk]
    assert sorted(result.event_ids) == sorted(TelemetryEvent.objects.values_list("id", flat=True))
    counts = dict(EventDailyCount.objects.values_list("event_type", "count"))
    assert counts == {"logon": 1, "session_activity": 2}
    source.refresh_from_db()
    assert source.events_total == 3
    assert source.newest_event_at == T0 + timedelta(minutes=7)
    assert source.cursor == {"after": "evt-3"}
    stored = TelemetryEvent.objects.get(provider_event_id="evt-1")
    assert stored.raw["id"] == "evt-1" and stored.details["session_keys"]


def test_redelivery_adds_nothing_and_sends_nothing(source, django_capture_on_commit_callbacks):
    records = [event(1, type="logon"), event(2, minutes=1)]
    ingest_records(source=source, records=records)
    received = []
    events_ingested.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-redo")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            again = ingest_records(source=source, records=[*records, records[0]])
    finally:
        events_ingested.disconnect(dispatch_uid="t-redo")

    assert (again.read, again.imported, again.duplicates) == (3, 0, 3)
    assert received == []
    assert TelemetryEvent.objects.count() == 2
    assert Session.objects.get().event_count == 2
    assert EventDailyCount.objects.get(event_type="logon").count == 1
    source.refresh_from_db()
    assert source.events_total == 2


def test_same_event_twice_in_one_batch_counts_once(source):
    result = ingest_records(source=source, records=[event(1), event(1), event(2, minutes=1)])
    assert (result.imported, result.duplicates) == (2, 1)


def test_signal_carries_new_ids_after_commit(source, django_capture_on_commit_callbacks):
    received = []
    events_ingested.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-sig")
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            result = ingest_records(source=source, records=[event(1), event(2, minutes=1)])
            assert received == []  # nothing before commit
    finally:
        events_ingested.disconnect(dispatch_uid="t-sig")

    assert len(callbacks) == 1
    [kwargs] = received
    assert kwargs["sender"] is Source and kwargs["source_id"] == source.pk
    assert sorted(kwargs["event_ids"]) == sorted(result.event_ids)
    assert kwargs["session_ids"] == result.session_ids
    assert kwargs["identity_ids"] == result.identity_ids


def test_out_of_order_batches_keep_first_and_last_context(source):
    ingest_records(source=source, records=[event(5, minutes=50, ip="192.0.2.50")])
    ingest_records(source=source, records=[event(1, minutes=0, ip="192.0.2.1")])
    ingest_records(source=source, records=[event(3, minutes=30, ip="192.0.2.30")])

    session = Session.objects.get()
    assert session.first_seen_at == T0 and session.first_ip == "192.0.2.1"
    assert session.last_seen_at == T0 + timedelta(minutes=50)
    assert session.last_ip == "192.0.2.50"
    assert session.event_count == 3
    identity = Identity.objects.get()
    assert identity.first_seen_at == T0
    assert identity.last_seen_at == T0 + timedelta(minutes=50)


def test_one_bad_record_is_quarantined_and_the_rest_stored(source):
    bad = {"id": "evt-x", "type": "logon"}  # no time, no actor
    result = ingest_records(
        source=source,
        records=[event(1), bad, RejectedInput("{not json", "line 2 is not JSON"), event(2)],
    )

    assert (result.read, result.imported, result.quarantined) == (4, 2, 2)
    reasons = sorted(QuarantinedEvent.objects.values_list("reason", flat=True))
    assert reasons[0] == "line 2 is not JSON"
    assert "time" in reasons[1]
    stored = QuarantinedEvent.objects.get(reason__contains="time")
    assert '"evt-x"' in stored.payload and stored.format == "json"


def test_unstorable_values_are_coerced_or_quarantined(source):
    records = [
        event(1, ip="not-an-ip", country="Britain", asn=-4, ua="ok\x00ay"),
        event(2, login="x" * 400),
        event(3, user="\x00"),  # an actor id that is only a NUL
        {**event(4), "note": "has a \u0000 NUL"},
    ]
    result = ingest_records(source=source, records=records)

    # Only the event whose actor id is nothing but a NUL is unusable; a NUL elsewhere must
    # not let anyone keep an event out of detection.
    assert result.imported == 3 and result.quarantined == 1
    first = TelemetryEvent.objects.get(provider_event_id="evt-1")
    assert (first.ip, first.country, first.asn, first.user_agent) == (None, "", None, "okay")
    assert first.raw["ua"] == "ok\ufffday"
    assert TelemetryEvent.objects.get(provider_event_id="evt-4").raw["note"] == "has a \ufffd NUL"
    assert len(Identity.objects.get().login) <= 300


def test_lifecycle_events_end_revoke_expire_and_credential_change(source):
    ingest_records(
        source=source,
        records=[
            event(1, session="a", type="logon"),
            event(2, session="b", type="logon"),
            event(3, session="c", type="logon"),
            event(4, session="d", type="logon"),
        ],
    )
    ingest_records(
        source=source,
        records=[
            event(5, minutes=10, session="a", type="logoff"),
            event(6, minutes=10, session="b", type="session_revoked"),
            event(7, minutes=10, session="c", type="session_expired"),
            event(8, minutes=10, session="d", type="logoff", outcome="failure"),
            event(9, minutes=12, session="", type="credential_change"),
        ],
    )

    by_key = {s.session_key: s for s in Session.objects.all()}
    assert by_key["a"].status == SessionStatus.ENDED
    assert by_key["a"].ended_at == T0 + timedelta(minutes=10)
    assert by_key["b"].status == SessionStatus.REVOKED and by_key["b"].revoked_by == "idp"
    assert by_key["c"].status == SessionStatus.EXPIRED
    assert by_key["d"].status == SessionStatus.ACTIVE
    assert Identity.objects.get().credential_changed_at == T0 + timedelta(minutes=12)

    # Later activity on an ended session is stored but does not bring it back to life.
    ingest_records(source=source, records=[event(10, minutes=20, session="a")])
    by_key["a"].refresh_from_db()
    assert by_key["a"].status == SessionStatus.ENDED and by_key["a"].event_count == 3


def test_new_identities_take_their_kind_and_each_actor_gets_one(source):
    ingest_records(
        source=source,
        records=[event(1, user="svc-1", login="deploy-bot"), event(2, user="u-2", minutes=1)],
    )
    ingest_records(source=source, records=[event(3, user="svc-1", login="deploy-bot-2")])

    assert Identity.objects.count() == 2
    bot = IdentityLink.objects.get(provider_id="svc-1").identity
    assert bot.login == "deploy-bot-2"  # the newer event's login wins
    assert bot.provider_ids == {str(source.pk): "svc-1"}


def test_new_identity_rows_carry_the_model_defaults(source):
    ingest_records(source=source, records=[event(1, user="u-9", login="", minutes=3)])

    identity = Identity.objects.get()
    expected = Identity(kind="human", login="u-9", display_name="u-9")
    for name in ("kind", "privilege_tier", "status", "department", "risk_score", "risk_factors"):
        assert getattr(identity, name) == getattr(expected, name), name
    assert identity.owner_id is None and identity.credential_changed_at is None
    assert (identity.login, identity.display_name) == ("u-9", "u-9")
    assert identity.first_seen_at == identity.last_seen_at == T0 + timedelta(minutes=3)
    assert identity.created_at is not None and identity.updated_at >= identity.created_at
    link = IdentityLink.objects.get()
    assert (link.source_id, link.provider_id, link.identity_id) == (source.pk, "u-9", identity.pk)
    assert identity.provider_ids == {str(source.pk): "u-9"}


def test_identity_rows_are_rewritten_only_when_something_changes(source):
    if connection.vendor != "postgresql":
        pytest.skip("the ORM path (SQLite) rewrites every identity it saw")
    ingest_records(source=source, records=[event(1), event(2, minutes=10)])
    identity = Identity.objects.get()

    # Inside the known time span, same login: nothing to change, so no write.
    ingest_records(source=source, records=[event(3, minutes=5)])
    unchanged = Identity.objects.get()
    assert unchanged.updated_at == identity.updated_at
    assert (unchanged.first_seen_at, unchanged.last_seen_at) == (T0, T0 + timedelta(minutes=10))

    # Same last-seen time with a new login, then an earlier event: each is a change.
    ingest_records(source=source, records=[event(4, minutes=10, login="dana.lee@example.com")])
    renamed = Identity.objects.get()
    assert renamed.login == "dana.lee@example.com" and renamed.updated_at > identity.updated_at
    ingest_records(source=source, records=[event(5, minutes=-5)])
    earlier = Identity.objects.get()
    assert earlier.first_seen_at == T0 - timedelta(minutes=5)
    assert earlier.login == "dana.lee@example.com"  # an older event does not rename
    assert earlier.updated_at > renamed.updated_at


def test_events_across_months_land_in_their_partitions(source):
    records = [
        event(1, time="2026-10-31T23:59:59Z"),
        event(2, time="2026-11-01T00:00:00Z"),
        event(3, time="2027-01-15T12:00:00Z"),
    ]
    assert ingest_records(source=source, records=records).imported == 3
    months = sorted(t.month for t in TelemetryEvent.objects.values_list("occurred_at", flat=True))
    assert months == [1, 10, 11]


def test_quarantine_reprocess_after_mapping_fix(source, admin_user):
    broken = {**MAPPING, "fields": {**MAPPING["fields"], "occurred_at": "when"}}
    source.settings = {"mapping": broken}
    source.save()
    first = ingest_records(source=source, records=[event(1), event(2, minutes=1)])
    assert first.quarantined == 2
    ids = list(QuarantinedEvent.objects.values_list("pk", flat=True))

    still = quarantine_reprocess(quarantined_ids=ids, actor=admin_user)
    assert still.quarantined == 2
    assert set(QuarantinedEvent.objects.values_list("attempts", flat=True)) == {1}

    source.settings = {"mapping": MAPPING}
    source.save()
    fixed = quarantine_reprocess(quarantined_ids=ids, actor=admin_user)

    assert (fixed.imported, fixed.quarantined) == (2, 0)
    assert not QuarantinedEvent.objects.filter(resolved_at__isnull=True).exists()
    assert TelemetryEvent.objects.count() == 2
    row = AuditEvent.objects.filter(verb="quarantine.reprocess").first()
    assert row.actor == admin_user and row.after["imported"] == 2
    assert verify_chain() is None
    # Resolved items are not reprocessed again.
    assert quarantine_reprocess(quarantined_ids=ids, actor=admin_user).read == 0


def test_source_services_audit_without_secret_values(admin_user):
    source = source_create(
        name="okta-prod",
        kind=SourceKind.OKTA,
        settings={"base_url": "https://example.okta.com"},
        secrets={"api_token": "s3cr3t-token"},
        actor=admin_user,
    )
    assert source.get_secrets() == {"api_token": "s3cr3t-token"}
    assert source.next_poll_at is not None
    source_update(source=source, enabled=False, poll_interval_seconds=120, actor=admin_user)
    source_set_secrets(
        source=source, secrets={"api_token": "", "webhook_secret": "hook-key"}, actor=admin_user
    )

    source.refresh_from_db()
    assert source.get_secrets() == {"webhook_secret": "hook-key"}
    assert not source.enabled and source.poll_interval_seconds == 120
    rows = list(AuditEvent.objects.order_by("id"))
    assert [r.verb for r in rows] == ["source.create", "source.update", "source.set_secrets"]
    dumped = repr([(r.before, r.after) for r in rows])
    assert "s3cr3t-token" not in dumped and "hook-key" not in dumped
    assert rows[2].after == {"secret_names": ["webhook_secret"], "changed": sorted(
        ["api_token", "webhook_secret"]
    )}  # fmt: skip
    assert rows[1].before["enabled"] is True and rows[1].after["enabled"] is False


def test_poll_health_backoff_and_recovery():
    source = Source.objects.create(name="okta", kind=SourceKind.OKTA, poll_interval_seconds=60)
    now = datetime(2026, 11, 3, tzinfo=UTC)
    source_poll_failed(source_id=source.pk, error="timeout", now=now)
    source_poll_failed(source_id=source.pk, error="timeout", now=now)
    source_poll_failed(source_id=source.pk, error="rate limited", retry_after=900, now=now)
    source.refresh_from_db()
    assert source.consecutive_failures == 3
    assert source.next_poll_at == now + timedelta(seconds=900)
    assert source.last_error == "rate limited" and source.last_error_at == now

    source_poll_succeeded(source_id=source.pk, rate_limit={"remaining": 10}, more=False, now=now)
    source.refresh_from_db()
    assert source.consecutive_failures == 0 and source.last_error == ""
    assert source.next_poll_at == now + timedelta(seconds=60)
    assert source.rate_limit == {"remaining": 10}


def test_backoff_grows_and_is_capped():
    assert [poll_backoff_seconds(60, n, None) for n in (1, 2, 3)] == [60, 120, 240]
    assert poll_backoff_seconds(60, 30, None) == 3600
    assert poll_backoff_seconds(60, 1, 7200) == 7200


def test_okta_fixture_through_the_real_parser():
    okta = Source.objects.create(name="okta", kind=SourceKind.OKTA)
    record = orjson.loads((FIXTURES / "okta" / "session_start.json").read_bytes())
    result = ingest_records(source=okta, records=[record])
    assert result.imported == 1
    stored = TelemetryEvent.objects.get()
    assert stored.event_type == EventType.LOGON
    assert str(stored.ip) == "198.51.100.23"
    assert Session.objects.get().session_key


def test_stored_details_carry_what_the_detection_engine_reads(source):
    ingest_records(source=source, records=[event(1, type="logon", outcome="failure")])
    details = TelemetryEvent.objects.get().details
    assert details["actor_id"] == "u-1"
    assert details["actor_login"] == "dana@example.com"
    assert details["actor_display_name"] == ""
    assert details["token_kind"] == "browser_session"
    assert "status_detail" in details

    okta = Source.objects.create(name="okta", kind=SourceKind.OKTA)
    record = orjson.loads((FIXTURES / "okta" / "session_start.json").read_bytes())
    ingest_records(source=okta, records=[record])
    details = TelemetryEvent.objects.get(source=okta).details
    assert details["actor_id"] == record["actor"]["id"]
    assert details["actor_display_name"] == record["actor"]["displayName"]


def _graph_sign_in(**risk) -> dict:
    record = orjson.loads((FIXTURES / "entra" / "graph_interactive.json").read_bytes())
    record.update(risk)
    return record


def test_late_risk_verdict_updates_the_stored_event_and_hands_it_to_detection(
    django_capture_on_commit_callbacks,
):
    entra = Source.objects.create(name="graph", kind=SourceKind.ENTRA)
    first = ingest_records(source=entra, records=[_graph_sign_in()])
    stored = TelemetryEvent.objects.get()
    assert "state" not in stored.details["risk"]
    session = Session.objects.get()

    verdict = {
        "riskState": "atRisk",
        "riskLevelDuringSignIn": "high",
        "riskEventTypes_v2": ["unfamiliarFeatures"],
    }
    received = []
    events_ingested.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-late")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            late = ingest_records(source=entra, records=[_graph_sign_in(**verdict)])
        with django_capture_on_commit_callbacks(execute=True):
            again = ingest_records(source=entra, records=[_graph_sign_in(**verdict)])
    finally:
        events_ingested.disconnect(dispatch_uid="t-late")

    assert (late.read, late.imported, late.duplicates, late.updated) == (1, 0, 1, 1)
    assert late.summary().endswith("risk verdicts updated 1")
    stored.refresh_from_db()
    assert stored.details["risk"]["state"] == "atRisk"
    assert stored.details["risk"]["level"] == "high"
    assert stored.details["risk"]["reasons"] == ["unfamiliarFeatures"]
    assert stored.raw["riskState"] == "atRisk"
    assert stored.details["session_keys"]  # the rest of details is kept
    assert late.session_ids == [session.pk] and late.identity_ids == first.identity_ids
    assert late.updated_event_ids == [stored.pk] and late.event_ids == []
    assert len(received) == 1
    assert received[0]["session_ids"] == [session.pk]
    assert received[0]["updated_event_ids"] == [stored.pk]
    # The same verdict again changes nothing and sends nothing.
    assert (again.duplicates, again.updated) == (1, 0)
    # Everything else about re-delivery still adds nothing.
    assert TelemetryEvent.objects.count() == 1
    assert Session.objects.get().event_count == 1
    assert EventDailyCount.objects.get().count == 1
    entra.refresh_from_db()
    assert entra.events_total == 1


def test_redelivery_with_the_same_verdict_in_a_mixed_batch_updates_only_what_changed(source):
    ingest_records(source=source, records=[event(1), event(2, minutes=1)])
    mapping = {**MAPPING, "fields": {**MAPPING["fields"], "risk_level": "risk"}}
    source.settings = {"mapping": mapping}
    source.save()
    result = ingest_records(
        source=source, records=[event(1), event(2, minutes=1, risk="high"), event(3, minutes=2)]
    )
    assert (result.imported, result.duplicates, result.updated) == (1, 2, 1)
    assert TelemetryEvent.objects.get(provider_event_id="evt-2").details["risk"] == {
        "level": "high"
    }
    assert TelemetryEvent.objects.get(provider_event_id="evt-1").details["risk"] == {}


def test_ingest_batches_commits_each_batch_like_ingest_records(source):
    batches = [
        [event(1, type="logon"), event(2, minutes=1)],
        [event(3, minutes=2), {"id": "broken"}],
        [event(1, type="logon"), event(4, minutes=3, session="sess-2")],
    ]
    result = ingest_batches(source=source, batches=iter(batches))
    assert (result.read, result.imported, result.duplicates, result.quarantined) == (6, 4, 1, 1)
    assert TelemetryEvent.objects.count() == 4 and QuarantinedEvent.objects.count() == 1
    assert sorted(result.session_ids) == sorted(Session.objects.values_list("id", flat=True))
    assert Session.objects.get(session_key="sess-1").event_count == 3
    again = ingest_batches(source=source, batches=batches)
    assert (again.imported, again.duplicates, again.quarantined) == (0, 5, 1)


def stored_events(source: Source) -> list[tuple]:
    return list(
        TelemetryEvent.objects.filter(source=source)
        .order_by("provider_event_id")
        .values_list(
            "provider_event_id", "occurred_at", "event_type", "session_key", "ip", "asn",
            "country", "user_agent", "details", "raw", "identity__login", "session__event_count",
        )
    )  # fmt: skip


def test_ingest_batches_stores_the_same_parsed_in_processes_or_in_a_thread():
    batches = [
        [event(1, type="logon", mfa=True), event(2, minutes=1, ip="203.0.113.9")],
        # not JSON data: parsed in the writing process whatever the mode
        [event(3, minutes=2), RejectedInput("{oops", "line 9 is not JSON")],
        [event(4, minutes=3, session="sess-2", ua="curl\x00/8"), {"id": "broken"}],
    ]
    results, stored = [], []
    for workers in (1, 0):
        source = Source.objects.create(
            name=f"feed-{workers}", kind=SourceKind.WEBHOOK, settings={"mapping": MAPPING}
        )
        results.append(ingest_batches(source=source, batches=batches, workers=workers))
        stored.append(stored_events(source))
    counts = [(r.read, r.imported, r.duplicates, r.quarantined) for r in results]
    assert counts == [(6, 4, 0, 2), (6, 4, 0, 2)]
    assert stored[0] == stored[1] and len(stored[0]) == 4
    # NUL dropped from the column and replaced in the stored record, on both paths
    assert (stored[0][3][7], stored[0][3][9]["ua"]) == ("curl/8", "curl\ufffd/8")


def _ingest_in_daemonic_child(kind: str, source_id: int, queue) -> None:
    from sessions_app.services import bulk_parse_workers

    result = ingest_batches(
        source=Source.objects.get(pk=source_id),
        batches=[[event(1)], [event(2, minutes=1), event(3, minutes=2)]],
    )
    queue.put((kind, bulk_parse_workers(), result.imported))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["billiard", "multiprocessing"])
def test_ingest_batches_parses_in_process_where_it_may_not_start_processes(source, kind):
    """A Celery prefork child (billiard) is daemonic and may not have children."""
    if kind == "billiard":
        import billiard as processes
    else:
        import multiprocessing

        processes = multiprocessing.get_context("fork")
    connections.close_all()  # the child opens its own connection
    queue = processes.Queue()
    child = processes.Process(
        target=_ingest_in_daemonic_child, args=(kind, source.pk, queue), daemon=True
    )
    child.start()
    child.join(120)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == (kind, 0, 3)
    assert TelemetryEvent.objects.filter(source=source).count() == 3
