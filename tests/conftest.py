"""Shared fixtures. Tests run against real PostgreSQL and Redis (see Makefile `test`)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from govern.roles import ADMIN, ANALYST, MANAGER


def _user_with_role(username: str, role: str):
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def analyst(db):
    return _user_with_role("ana", ANALYST)


@pytest.fixture
def manager(db):
    return _user_with_role("max", MANAGER)


@pytest.fixture
def admin_user(db):
    return _user_with_role("ada", ADMIN)
