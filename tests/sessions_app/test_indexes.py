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


def foreign_keys(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        return [name for (name,) in cursor.fetchall()]


def test_ingested_rows_carry_no_database_foreign_keys_yet_orm_deletes_keep_their_rules():
    """Sessions and identity links are written with their identities in one transaction;
    the deferred check of each new row cost every batch at commit. Django still applies
    PROTECT and CASCADE on ORM deletes."""
    from django.db.models import ProtectedError
    from django.utils import timezone

    from sessions_app.models import Identity, IdentityLink, Session, Source

    if connection.vendor == "postgresql":
        assert foreign_keys("sessions_app_session") == []
        assert foreign_keys("sessions_app_identitylink") == []
        assert foreign_keys("sessions_app_identity") != []  # the owner key stays
    source = Source.objects.create(name="idp", kind="okta")
    identity = Identity.objects.create(login="dana@example.com", display_name="Dana")
    IdentityLink.objects.create(source=source, provider_id="00u1", identity=identity)
    now = timezone.now()
    Session.objects.create(
        source=source, session_key="s-1", identity=identity, first_seen_at=now, last_seen_at=now
    )
    with pytest.raises(ProtectedError):
        source.delete()
    identity.delete()
    assert not Session.objects.exists() and not IdentityLink.objects.exists()
    source.delete()
