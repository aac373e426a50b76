"""People management: admins add users with a role; every change is audited."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from govern.roles import role_of
from sessions_app.models import AuditEvent


def test_admin_creates_a_manager(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("user_create"),
        {
            "username": "mia",
            "role": "Manager",
            "password": "correct-horse-battery-1",
            "email": "mia@example.com",
        },
    )
    assert response.status_code == 302
    mia = get_user_model().objects.get(username="mia")
    assert role_of(mia) == "Manager" and not mia.is_staff
    row = AuditEvent.objects.get(verb="user.create")
    assert row.actor_label == "ada" and row.after["role"] == "Manager"
    assert "password" not in str(row.after)


def test_weak_password_is_refused_with_a_message(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("user_create"), {"username": "tim", "role": "Analyst", "password": "short"}
    )
    assert response.status_code == 200
    assert "too short" in response.content.decode()
    assert not get_user_model().objects.filter(username="tim").exists()


def test_admin_cannot_demote_themselves(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("user_edit", args=[admin_user.pk]), {"role": "Analyst", "is_active": "on"}
    )
    assert "cannot deactivate yourself" in response.content.decode()
    assert role_of(admin_user) == "Admin"


def test_create_admin_from_environment(db, monkeypatch):
    monkeypatch.setitem(os.environ, "GOVERN_ADMIN_USERNAME", "root")
    monkeypatch.setitem(os.environ, "GOVERN_ADMIN_PASSWORD", "a-very-long-passphrase-7")
    call_command("create_admin", "--no-input")
    root = get_user_model().objects.get(username="root")
    assert role_of(root) == "Admin" and root.is_staff
    call_command("create_admin", "--no-input", "--if-missing")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_admin", "--no-input")


def test_create_admin_without_environment_says_what_to_set(db, monkeypatch):
    monkeypatch.delenv("GOVERN_ADMIN_USERNAME", raising=False)
    with pytest.raises(CommandError, match="GOVERN_ADMIN_USERNAME"):
        call_command("create_admin", "--no-input")
