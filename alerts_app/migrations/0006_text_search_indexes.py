"""Trigram indexes for the queue's free-text filter (PostgreSQL only).

Django's ``icontains`` is ``UPPER(col) LIKE UPPER('%x%')`` on PostgreSQL, which no b-tree can
serve; a GIN trigram index on the same expression can. SQLite keeps scanning (demo sizes).
"""

from django.db import migrations

INDEXES = [
    ("alert_summary_trgm", "summary"),
    ("alert_title_trgm", "title"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON alerts_app_alert "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("alerts_app", "0005_alert_score_index")]

    operations = [migrations.RunPython(create, drop)]
