"""The audit log is append-only and hash-chained; tampering in the database is detected."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from govern.audit import audit_log, verify_chain
from sessions_app.models import AuditEvent


def test_rows_chain_and_verify(db):
    first = audit_log(actor_label="system:test", verb="thing.create", after={"a": 1})
    second = audit_log(
        actor_label="system:test", verb="thing.update", before={"a": 1}, after={"a": 2}
    )
    assert first.prev_hash == "" and second.prev_hash == first.hash
    assert verify_chain() is None


def test_tampering_in_the_database_is_detected(db):
    audit_log(actor_label="system:test", verb="one")
    victim = audit_log(actor_label="system:test", verb="two", after={"role": "Analyst"})
    audit_log(actor_label="system:test", verb="three")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sessions_app_auditevent SET after = %s WHERE id = %s",
            ['{"role": "Admin"}', victim.pk],
        )
    broken = verify_chain()
    assert broken is not None and broken.pk == victim.pk


def test_deleting_a_row_breaks_the_chain(db):
    audit_log(actor_label="system:test", verb="one")
    middle = audit_log(actor_label="system:test", verb="two")
    last = audit_log(actor_label="system:test", verb="three")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM sessions_app_auditevent WHERE id = %s", [middle.pk])
    assert verify_chain().pk == last.pk


def test_the_app_offers_no_edit_or_delete(db):
    row = audit_log(actor_label="system:test", verb="one")
    row.verb = "changed"
    with pytest.raises(ValidationError):
        row.save()
    with pytest.raises(ValidationError):
        row.delete()


def test_logins_and_failed_logins_are_audited(client, analyst):
    client.post(reverse("login"), {"username": "ana", "password": "wrong"})
    client.post(reverse("login"), {"username": "ana", "password": "pw-ana"})
    verbs = list(AuditEvent.objects.order_by("id").values_list("verb", flat=True))
    assert verbs[-2:] == ["auth.login_failed", "auth.login"]


def test_audit_page_filters_by_verb(client, manager):
    audit_log(actor_label="system:test", verb="source.update")
    audit_log(actor_label="system:test", verb="user.create")
    client.force_login(manager)
    html = client.get(reverse("audit_log"), {"verb": "source."}).content.decode()
    assert "source.update" in html and "user.create" not in html
