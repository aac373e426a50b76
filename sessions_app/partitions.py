"""Monthly range partitions of the telemetry event table (PostgreSQL only).

Migration 0002 turns ``sessions_app_telemetryevent`` into a table partitioned by range on
``occurred_at``. Partitions are created on demand: ingestion calls ``ensure_partitions`` for
the months a batch spans *before* it opens its own transaction, so creating a partition (which
briefly locks the parent) never happens while a batch holds locks on the table. Retention is
``drop_partitions_before``: dropping a month is a catalogue operation, not a mass DELETE.

On SQLite (the embedded default) the table is an ordinary table and every function here is a
no-op.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from django.db import connections, transaction

logger = logging.getLogger(__name__)

PARENT_TABLE = "sessions_app_telemetryevent"
# pg_advisory_xact_lock key serialising partition DDL between concurrent ingest workers.
_PARTITION_LOCK_ID = 0x60BE_9A27

# Months whose partition is known to exist, per database alias. Filled only when the check
# ran in its own committed transaction, so a rolled-back CREATE never leaves a stale entry.
_known_months: dict[str, set[date]] = {}


def month_start(value: datetime | date) -> date:
    """The first day of the month containing ``value`` (datetimes are taken in UTC)."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value
    return date(value.year, value.month, 1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def months_between(start: datetime | date, end: datetime | date) -> list[date]:
    """Every month from the one containing ``start`` to the one containing ``end``."""
    first, last = month_start(start), month_start(end)
    months = []
    while first <= last:
        months.append(first)
        first = next_month(first)
    return months


def partition_name(month: date) -> str:
    return f"{PARENT_TABLE}_p{month:%Y_%m}"


def _is_partitioned(using: str) -> bool:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [PARENT_TABLE])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def existing_partitions(using: str = "default") -> dict[date, str]:
    """The monthly partitions that exist now: {first day of month: table name}."""
    if not _is_partitioned(using):
        return {}
    with connections[using].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass(%s)
            """,
            [PARENT_TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    prefix = f"{PARENT_TABLE}_p"
    found = {}
    for name in names:
        suffix = name.removeprefix(prefix)
        try:
            found[datetime.strptime(suffix, "%Y_%m").date()] = name
        except ValueError:
            continue  # a partition someone attached by hand under another name
    return found


def ensure_partitions(
    start: datetime | date, end: datetime | date, *, using: str = "default"
) -> list[str]:
    """Create any missing monthly partitions covering ``start``..``end``; return the new names.

    Cheap when the months are already known to this process (no query at all). Concurrent
    callers are serialised by an advisory lock and use ``CREATE TABLE IF NOT EXISTS``. Call
    it outside a transaction (as ingestion does) so the partition commits on its own.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    known = _known_months.setdefault(using, set())
    wanted = [m for m in months_between(start, end) if m not in known]
    if not wanted:
        return []
    if not _is_partitioned(using):
        return []
    # Only a transaction of our own is known to commit: inside a caller's atomic block the
    # partition could still roll back with it, so nothing is cached then.
    committed_here = not connection.in_atomic_block
    missing = [m for m in wanted if m not in existing_partitions(using)]
    created: list[str] = []
    if missing:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PARTITION_LOCK_ID])
            for month in missing:
                name = partition_name(month)
                cursor.execute(
                    f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{PARENT_TABLE}" '
                    "FOR VALUES FROM (%s) TO (%s)",
                    [
                        datetime(month.year, month.month, 1, tzinfo=UTC),
                        datetime.combine(next_month(month), datetime.min.time(), UTC),
                    ],
                )
                created.append(name)
        logger.info("created event partitions %s", ", ".join(created))
    if committed_here:
        known.update(wanted)
    return created


def drop_partitions_before(month: date, *, using: str = "default") -> list[str]:
    """Drop every monthly partition whose whole range lies before ``month``; return the names.

    Events are the bulk of the database; dropping a month is instant and leaves no dead
    tuples, unlike ``DELETE``. Sessions, identities and daily counts are kept.
    """
    cutoff = month_start(month)
    dropped = []
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for first_day, name in sorted(existing_partitions(using).items()):
            if next_month(first_day) <= cutoff:
                cursor.execute(f'ALTER TABLE "{PARENT_TABLE}" DETACH PARTITION "{name}"')
                cursor.execute(f'DROP TABLE "{name}"')
                dropped.append(name)
                _known_months.get(using, set()).discard(first_day)
    if dropped:
        logger.info("dropped event partitions %s", ", ".join(dropped))
    return dropped
