"""verify_audit_log reports the first broken link; tampering in the database is detected."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from govern.audit import audit_log
from sessions_app.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain():
    return [
        audit_log(actor_label="system:test", verb=f"test.step{n}", object_id=str(n), after={"n": n})
        for n in range(4)
    ]


def test_intact_chain_exits_zero(chain):
    out = io.StringIO()
    call_command("verify_audit_log", stdout=out)
    assert f"{AuditEvent.objects.count()} entries verified" in out.getvalue()


def test_an_edited_row_is_reported(chain):
    with connection.cursor() as cursor:  # an UPDATE behind the application's back
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET after = %s WHERE id = %s",
            ['{"n": 99}', chain[2].pk],
        )
    with pytest.raises(CommandError, match=rf"entry #{chain[2].pk} .*content does not match"):
        call_command("verify_audit_log")


def test_a_deleted_row_breaks_the_next_link(chain):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE id = %s", [chain[1].pk])
    with pytest.raises(CommandError, match=rf"entry #{chain[2].pk} .*link to the previous"):
        call_command("verify_audit_log")


def test_exit_status_is_non_zero_when_broken(chain):
    from django.core.management import ManagementUtility

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET verb = 'x' WHERE id = %s", [chain[0].pk]
        )
    # What ``python manage.py verify_audit_log`` runs: a CommandError exits with status 1.
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "verify_audit_log"]).execute()
    assert exited.value.code == 1


def test_csv_export_respects_filters(client, manager, chain):
    client.force_login(manager)
    response = client.get(reverse("audit_log"), {"verb": "test.step", "export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "at", "actor", "verb"]
    assert [r[3] for r in rows[1:]] == [f"test.step{n}" for n in range(4)]
    assert rows[1][-1] == chain[0].hash


def test_csv_cells_cannot_run_as_formulas(client, manager):
    audit_log(actor_label='=HYPERLINK("http://x")', verb="test.formula")
    client.force_login(manager)
    response = client.get(reverse("audit_log"), {"verb": "test.formula", "export": "csv"})
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in body


def test_analysts_cannot_export(client, analyst):
    client.force_login(analyst)
    assert client.get(reverse("audit_log"), {"export": "csv"}).status_code == 403
