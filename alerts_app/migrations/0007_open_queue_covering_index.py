"""A covering index for the open queue's filtered views (PostgreSQL only).

Open alerts are a small share of the table, scattered over its pages: counting the ones that
match a filter (severity, detector, identity, assignee, control, SLA…) visited every heap page
holding an open alert. This partial index carries every column those filters and orderings
read, so the counts and the page's id look-up are index-only scans. SQLite (demo sizes) has no
covering indexes and keeps the model's indexes.
"""

from django.db import migrations

NAME = "alert_open_queue"
INCLUDE = (
    "stage",
    "substatus",
    "severity",
    "score",
    "detector_id",
    "identity_id",
    "session_id",
    "source_id",
    "assignee_id",
    "response_owner_id",
    "escalation_level",
    "acknowledged_at",
    "ack_due_at",
    "contained_at",
    "contain_due_at",
    "first_seen_at",
    "created_at",
    "controls",
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {NAME} ON alerts_app_alert (last_seen_at DESC, id DESC) "
        f"INCLUDE ({', '.join(INCLUDE)}) "
        "WHERE stage IN ('new', 'in_progress', 'contained')"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("alerts_app", "0006_text_search_indexes")]

    operations = [migrations.RunPython(create, drop)]
