"""Admins tune detectors through the page; bad thresholds show their error and save nothing."""

from django.urls import reverse

from alerts_app.models import DetectorConfig
from sessions_app.models import AuditEvent


def test_admin_tunes_a_threshold_and_it_is_audited(client, admin_user):
    client.force_login(admin_user)
    url = reverse("alerts_app:detector_edit", args=["impossible_travel"])
    form = client.get(url).context["form"]
    data = {name: form.fields[name].initial for name in form.fields if name != "enabled"}
    data["min_distance_km"] = 800
    data["enabled"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302
    config = DetectorConfig.objects.get(detector_id="impossible_travel")
    assert config.params == {"min_distance_km": 800} and config.enabled
    row = AuditEvent.objects.get(verb="detector.configure")
    assert row.after["params"] == {"min_distance_km": 800}
    html = client.get(reverse("alerts_app:detector_list")).content.decode()
    assert "tuned" in html


def test_out_of_range_threshold_is_refused_with_its_message(client, admin_user):
    client.force_login(admin_user)
    url = reverse("alerts_app:detector_edit", args=["impossible_travel"])
    form = client.get(url).context["form"]
    data = {name: form.fields[name].initial for name in form.fields if name != "enabled"}
    data["min_distance_km"] = -5
    response = client.post(url, data)
    assert response.status_code == 200
    assert "greater than or equal to" in response.content.decode()
    assert not DetectorConfig.objects.exists()


def test_disabled_detector_stops_alerting(client, admin_user, db):
    from alerts_app.services import detector_configure

    detector_configure(
        detector_id="session_context_change", enabled=False, params={}, actor=admin_user
    )
    from datetime import UTC, datetime

    from alerts_app import engine
    from sessions_app.models import Session, Source
    from sessions_app.services import ingest_records

    from .okta_events import replay_sequence

    okta = Source.objects.create(name="okta-t", kind="okta")
    ingest_records(source=okta, records=replay_sequence(datetime(2026, 11, 20, 9, tzinfo=UTC)))
    engine.detect_sessions(Session.objects.values_list("pk", flat=True))
    from alerts_app.models import Alert

    assert not Alert.objects.filter(detector_id="session_context_change").exists()
