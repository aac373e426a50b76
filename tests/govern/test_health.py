"""The health endpoint reports the real database and broker."""

from django.test import override_settings
from django.urls import reverse


def test_healthz_reports_database_and_broker(client, db):
    body = client.get(reverse("healthz")).json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "vendor": "postgresql"}
    assert body["broker"] == {"ok": True, "transport": "redis"}


def test_healthz_degrades_when_broker_is_unreachable(client, db):
    # A port nothing listens on: the real client fails to connect.
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
