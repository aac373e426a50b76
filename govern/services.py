"""Writes for people and roles: every change audit-logged in the same transaction."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from .audit import audit_log
from .roles import ROLES, role_of

User = get_user_model()


def _snapshot(user) -> dict:
    return {
        "username": user.username,
        "email": user.email,
        "name": user.get_full_name(),
        "role": role_of(user),
        "is_active": user.is_active,
    }


def _set_role(user, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get(name=role))
    # Admins manage users, sources and policies; Django's admin site is theirs too.
    user.is_staff = role == "Admin"
    user.save(update_fields=["is_staff"])


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    actor=None,
    client_ip: str | None = None,
):
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    _set_role(user, role)
    audit_log(
        actor=actor,
        actor_label="" if actor else "system:create_admin",
        verb="user.create",
        obj=user,
        after=_snapshot(user),
        client_ip=client_ip,
    )
    return user


@transaction.atomic
def user_update(
    *,
    user,
    role: str,
    email: str,
    first_name: str,
    last_name: str,
    is_active: bool,
    actor,
    client_ip: str | None = None,
):
    if actor is not None and user.pk == actor.pk and (not is_active or role != role_of(actor)):
        raise ValueError("You cannot deactivate yourself or change your own role.")
    before = _snapshot(user)
    user.email, user.first_name, user.last_name, user.is_active = (
        email,
        first_name,
        last_name,
        is_active,
    )
    user.save(update_fields=["email", "first_name", "last_name", "is_active"])
    _set_role(user, role)
    audit_log(
        actor=actor,
        verb="user.update",
        obj=user,
        before=before,
        after=_snapshot(user),
        client_ip=client_ip,
    )
    return user
