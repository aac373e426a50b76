"""API tokens from ``manage.py create_api_token`` and the per-token rate limit."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from sessions_app.models import AuditEvent


def issue(*args: str) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue().strip()


def get_alerts(key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/alerts/")


def test_command_issues_rotates_and_revokes_a_token(analyst):
    key = issue("ana")
    assert len(key) == 40 and get_alerts(key).status_code == 200
    with pytest.raises(CommandError, match="already has an API token"):
        issue("ana")
    rotated = issue("ana", "--rotate")
    assert rotated != key
    assert get_alerts(key).status_code == 401 and get_alerts(rotated).status_code == 200
    issue("ana", "--revoke")
    assert get_alerts(rotated).status_code == 401
    verbs = list(AuditEvent.objects.order_by("id").values_list("verb", flat=True))
    assert verbs[-3:] == ["api_token.issue", "api_token.rotate", "api_token.revoke"]
    assert key not in str(list(AuditEvent.objects.values_list("after", flat=True)))


def test_command_refuses_unknown_and_inactive_users(analyst):
    with pytest.raises(CommandError, match="No user named"):
        issue("ghost")
    analyst.is_active = False
    analyst.save()
    with pytest.raises(CommandError, match="inactive"):
        issue("ana")


def test_each_token_is_rate_limited_on_its_own(analyst, manager, settings):
    settings.GOVERN_API_RATE = "3/min"
    ana, max_ = issue("ana"), issue("max")
    assert [get_alerts(ana).status_code for _ in range(3)] == [200, 200, 200]
    limited = get_alerts(ana)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "throttled"
    assert "Request was throttled" in limited.json()["error"]["message"]
    assert int(limited["Retry-After"]) > 0
    assert get_alerts(max_).status_code == 200  # another token has its own budget


def test_an_unexpected_error_still_answers_json_and_is_logged(caplog):
    from govern.api.exceptions import exception_handler

    response = exception_handler(RuntimeError("boom"), {"view": None})
    assert response.status_code == 500
    assert response.data["error"]["code"] == "server_error"
    assert "boom" not in str(response.data)  # internals are logged, not shown
    assert "boom" in caplog.text
