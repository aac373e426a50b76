"""Rebuild the telemetry event table as a monthly range-partitioned table on PostgreSQL.

Django's migration state is untouched (the model already declares what the table holds);
only the physical table changes, and only on PostgreSQL:

* ``PARTITION BY RANGE (occurred_at)`` with primary key ``(id, occurred_at)`` — a unique
  key on a partitioned table must contain the partition key;
* every index and unique constraint of the plain table is recreated under the same name
  (read from the catalogue, so the names Django generated stay valid for later migrations);
* ``raw`` is compressed with lz4 when the server supports it (about 40% cheaper to write
  than pglz for ~2 KB events; see docs/performance.md);
* existing rows are copied into monthly partitions.

On SQLite nothing happens. Never imports app code: partition names follow
``sessions_app.partitions.partition_name`` by convention.
"""

from django.db import migrations

TABLE = "sessions_app_telemetryevent"
STAGING = f"{TABLE}__rebuild"


def _partition_name(year: int, month: int) -> str:
    return f"{TABLE}_p{year:04d}_{month:02d}"


def _lz4_available(cursor) -> bool:
    cursor.execute("SHOW server_version_num")
    if int(cursor.fetchone()[0]) < 140000:
        return False
    cursor.execute("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    row = cursor.fetchone()
    return bool(row) and "lz4" in (row[0] or [])


def _table_definitions(cursor) -> tuple[list[str], list[tuple[str, str]]]:
    """Index definitions and (name, definition) of unique constraints, primary key excluded."""
    cursor.execute(
        """
        SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
        WHERE i.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY i.indexrelid::regclass::text
        """,
        [TABLE],
    )
    indexes = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        """
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = %s::regclass AND contype = 'u' ORDER BY conname
        """,
        [TABLE],
    )
    return indexes, list(cursor.fetchall())


def _rebuild(schema_editor, *, partitioned: bool) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        if cursor.fetchone()[0] == ("p" if partitioned else "r"):
            return
        indexes, uniques = _table_definitions(cursor)
        partition_clause = " PARTITION BY RANGE (occurred_at)" if partitioned else ""
        cursor.execute(
            f'CREATE TABLE "{STAGING}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING IDENTITY '
            f"INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION){partition_clause}"
        )
        if partitioned:
            if _lz4_available(cursor):
                cursor.execute(f'ALTER TABLE "{STAGING}" ALTER COLUMN raw SET COMPRESSION lz4')
            cursor.execute(
                f"""SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')
                    FROM "{TABLE}" """
            )
            for (month,) in cursor.fetchall():
                upper = (month.year + (month.month == 12), month.month % 12 + 1)
                cursor.execute(
                    f'CREATE TABLE "{_partition_name(month.year, month.month)}" '
                    f'PARTITION OF "{STAGING}" FOR VALUES FROM (%s) TO (%s)',
                    [
                        f"{month.year:04d}-{month.month:02d}-01 00:00:00+00",
                        f"{upper[0]:04d}-{upper[1]:02d}-01 00:00:00+00",
                    ],
                )
        cursor.execute(f'INSERT INTO "{STAGING}" OVERRIDING SYSTEM VALUE SELECT * FROM "{TABLE}"')
        cursor.execute(f'DROP TABLE "{TABLE}"')
        cursor.execute(f'ALTER TABLE "{STAGING}" RENAME TO "{TABLE}"')
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {TABLE}_id_seq")
        cursor.execute(
            f"SELECT setval('{TABLE}_id_seq', COALESCE((SELECT max(id) FROM \"{TABLE}\"), 0) + 1,"
            " false)"
        )
        key = "id, occurred_at" if partitioned else "id"
        cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{TABLE}_pkey" PRIMARY KEY ({key})')
        for name, definition in uniques:
            cursor.execute(f'ALTER TABLE "{TABLE}" ADD CONSTRAINT "{name}" {definition}')
        for definition in indexes:
            # A partitioned parent only accepts plain CREATE INDEX (not ONLY/CONCURRENTLY).
            cursor.execute(definition.replace(" ON ONLY ", " ON "))


def partition(apps, schema_editor) -> None:
    _rebuild(schema_editor, partitioned=True)


def unpartition(apps, schema_editor) -> None:
    _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [("sessions_app", "0001_initial")]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
