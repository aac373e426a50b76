"""Indexes on the tables every ingested event writes to: none that another one duplicates."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def index_columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass",
            [table],
        )
        return sorted(d.split("USING btree ")[1] for (d,) in cursor.fetchall())


def test_session_ids_are_indexed_only_as_the_first_column_of_a_composite_index():
    if connection.vendor != "postgresql":
        pytest.skip("index definitions read from the PostgreSQL catalogue")
    # The upsert rewrites a session for about every second event; each index is a write.
    # (last_asn, …): the alert page's "same network" panel, partial.
    assert index_columns("sessions_app_session") == [
        "(id)",
        "(identity_id, last_seen_at DESC)",
        "(last_asn, last_seen_at DESC) WHERE (last_asn IS NOT NULL)",
        "(source_id, session_key)",
        "(status, last_seen_at DESC)",
    ]
