"""Admins add, edit, test and disable sources in the browser; secrets are write-only."""

import pytest
from django.urls import reverse

from sessions_app.models import AuditEvent, Source
from tests.fakes.okta import FakeOkta


@pytest.fixture
def fake_okta():
    with FakeOkta() as fake:
        yield fake


def okta_form(base_url: str, token: str = "okta-api-token", **extra) -> dict:
    return {
        "kind": "okta",
        "name": "okta-prod",
        "enabled": "on",
        "poll_interval_seconds": 60,
        "base_url": base_url,
        "auth_method": "api_token",
        "page_limit": 1000,
        "initial_lookback_minutes": 60,
        "budget_share": 0.5,
        "api_token": token,
        **extra,
    }


def test_kind_picker_then_form(client, admin_user):
    client.force_login(admin_user)
    assert (
        "Microsoft Entra ID" in client.get(reverse("sessions_app:source_create")).content.decode()
    )
    html = client.get(reverse("sessions_app:source_create"), {"kind": "okta"}).content.decode()
    assert "Okta org URL" in html and "API token" in html


def test_create_okta_source_keeps_the_token_secret(client, admin_user, fake_okta):
    client.force_login(admin_user)
    response = client.post(reverse("sessions_app:source_create"), okta_form(fake_okta.url))
    assert response.status_code == 302, response.content.decode()[:2000]
    source = Source.objects.get(name="okta-prod")
    assert source.get_secrets() == {"api_token": "okta-api-token"}
    assert b"okta-api-token" not in bytes(source.secrets_encrypted)
    audit = AuditEvent.objects.get(verb="source.create")
    assert "okta-api-token" not in str(audit.after) and "okta-api-token" not in str(audit.before)
    page = client.get(reverse("sessions_app:source_detail", args=[source.pk])).content.decode()
    assert "okta-api-token" not in page and "api_token · set" in page
    edit = client.get(reverse("sessions_app:source_edit", args=[source.pk])).content.decode()
    assert "okta-api-token" not in edit


def test_edit_with_empty_secret_keeps_it(client, admin_user, fake_okta):
    client.force_login(admin_user)
    client.post(reverse("sessions_app:source_create"), okta_form(fake_okta.url))
    source = Source.objects.get(name="okta-prod")
    data = okta_form(fake_okta.url, token="", page_limit=500)
    response = client.post(reverse("sessions_app:source_edit", args=[source.pk]), data)
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.settings["page_limit"] == 500
    assert source.get_secrets() == {"api_token": "okta-api-token"}


def test_missing_required_setting_shows_error_and_saves_nothing(client, admin_user):
    client.force_login(admin_user)
    data = okta_form("")
    response = client.post(reverse("sessions_app:source_create"), data)
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not Source.objects.exists()


def test_connection_test_reports_success_and_auth_failure(client, admin_user, fake_okta):
    client.force_login(admin_user)
    client.post(reverse("sessions_app:source_create"), okta_form(fake_okta.url))
    source = Source.objects.get(name="okta-prod")
    response = client.post(reverse("sessions_app:source_test", args=[source.pk]), follow=True)
    assert "Connection test passed" in response.content.decode()
    fake_okta.api_tokens.clear()
    response = client.post(reverse("sessions_app:source_test", args=[source.pk]), follow=True)
    assert "Connection test failed (auth)" in response.content.decode()


def test_disable_and_enable(client, admin_user, fake_okta):
    client.force_login(admin_user)
    client.post(reverse("sessions_app:source_create"), okta_form(fake_okta.url))
    source = Source.objects.get(name="okta-prod")
    client.post(reverse("sessions_app:source_toggle", args=[source.pk]))
    source.refresh_from_db()
    assert not source.enabled
    client.post(reverse("sessions_app:source_toggle", args=[source.pk]))
    source.refresh_from_db()
    assert source.enabled


def test_generic_webhook_source_needs_a_valid_mapping(client, admin_user):
    client.force_login(admin_user)
    data = {
        "kind": "webhook",
        "name": "saas-hook",
        "enabled": "on",
        "format": "json",
        "webhook_secret": "s3cret",
        "mapping": "{not json",
    }
    response = client.post(reverse("sessions_app:source_create"), data)
    assert "Not valid JSON" in response.content.decode()
    data["mapping"] = (
        '{"fields": {"provider_event_id": "id", "occurred_at": "ts", "actor_id": "user"}}'
    )
    response = client.post(reverse("sessions_app:source_create"), data)
    assert response.status_code == 302
    source = Source.objects.get(name="saas-hook")
    assert source.settings["mapping"]["fields"]["actor_id"] == "user"
    assert source.get_secrets() == {"webhook_secret": "s3cret"}
    page = client.get(reverse("sessions_app:source_detail", args=[source.pk])).content.decode()
    assert f"/hooks/{source.pk}/" in page


def test_analyst_and_manager_cannot_change_sources(client, analyst, manager):
    for user in (analyst, manager):
        client.force_login(user)
        assert client.get(reverse("sessions_app:source_create")).status_code == 403


def test_admin_uploads_an_okta_export_twice_and_nothing_is_duplicated(client, admin_user):
    import gzip
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    from sessions_app.models import TelemetryEvent
    from tests.alerts_app.okta_events import replay_sequence

    source = Source.objects.create(name="okta-files", kind="file", settings={"format": "okta"})
    from datetime import UTC, datetime

    events = replay_sequence(datetime(2026, 11, 20, 9, tzinfo=UTC))
    body = "\n".join(json.dumps(e) for e in events) + "\nnot json at all\n"
    client.force_login(admin_user)
    url = reverse("sessions_app:source_import", args=[source.pk])
    for _ in range(2):
        upload = SimpleUploadedFile("export.jsonl.gz", gzip.compress(body.encode()))
        response = client.post(url, {"file": upload, "format": "okta"}, follow=True)
    page = response.content.decode()
    assert "read 4, imported 0, duplicates 3, quarantined 1" in page
    assert TelemetryEvent.objects.filter(source=source).count() == 3
    assert AuditEvent.objects.filter(verb="source.import").count() == 2


def test_upload_of_garbage_says_so_and_imports_nothing(client, admin_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    source = Source.objects.create(name="okta-files", kind="file", settings={"format": "okta"})
    client.force_login(admin_user)
    upload = SimpleUploadedFile("export.csv", b"user,time\nalice,now\n")
    response = client.post(
        reverse("sessions_app:source_import", args=[source.pk]),
        {"file": upload, "format": "okta"},
        follow=True,
    )
    assert "Nothing imported" in response.content.decode()
    assert not AuditEvent.objects.filter(verb="source.import").exists()
