"""Monthly partitions of the event table (PostgreSQL) and the migration's physical layout."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection

from sessions_app import partitions
from sessions_app.partitions import (
    drop_partitions_before,
    ensure_partitions,
    existing_partitions,
    months_between,
)

pytestmark = pytest.mark.django_db


def test_months_between_spans_year_end():
    months = months_between(datetime(2026, 11, 30, 23, tzinfo=UTC), date(2027, 2, 1))
    assert months == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("partitions exist on PostgreSQL only")


def test_table_is_partitioned_with_composite_key_and_lz4(postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind, pg_get_constraintdef(k.oid) FROM pg_class c "
            "JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p' "
            "WHERE c.relname = 'sessions_app_telemetryevent'"
        )
        assert cursor.fetchone() == ("p", "PRIMARY KEY (id, occurred_at)")
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attname = 'raw' "
            "AND attrelid = 'sessions_app_telemetryevent'::regclass"
        )
        assert cursor.fetchone()[0] in ("l", "")  # lz4 where the server was built with it


def test_event_ids_are_indexed_only_as_the_first_column_of_a_composite_index(postgres):
    # Single-column indexes on source/identity/session ids would repeat the composites'
    # leading column and cost every ingested event three more index writes.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = 'sessions_app_telemetryevent'::regclass"
        )
        columns = sorted(d.split("USING btree ")[1] for (d,) in cursor.fetchall())
    assert columns == [
        "(id, occurred_at)",
        "(identity_id, occurred_at)",
        "(occurred_at)",
        "(session_id, occurred_at)",
        "(source_id, provider_event_id, occurred_at)",
    ]


def test_ensure_creates_missing_months_once_and_drop_removes_old_ones(postgres):
    created = ensure_partitions(date(2031, 1, 1), date(2031, 3, 15))
    assert created == [
        "sessions_app_telemetryevent_p2031_01",
        "sessions_app_telemetryevent_p2031_02",
        "sessions_app_telemetryevent_p2031_03",
    ]
    assert ensure_partitions(date(2031, 2, 1), date(2031, 2, 1)) == []
    assert {date(2031, 1, 1), date(2031, 3, 1)} <= set(existing_partitions())
    # Inside the test's transaction nothing may be cached: it could still roll back.
    assert date(2031, 1, 1) not in partitions._known_months.get("default", set())

    dropped = drop_partitions_before(date(2031, 3, 1))
    assert dropped == [
        "sessions_app_telemetryevent_p2031_01",
        "sessions_app_telemetryevent_p2031_02",
    ]
    assert set(existing_partitions()) >= {date(2031, 3, 1)}
    assert date(2031, 1, 1) not in existing_partitions()


def test_no_op_on_other_databases():
    if connection.vendor == "postgresql":
        pytest.skip("covers the SQLite default")
    assert ensure_partitions(date(2031, 1, 1), date(2031, 3, 1)) == []
    assert drop_partitions_before(date(2031, 1, 1)) == []
