"""The engine end to end: real parser, real ingestion into PostgreSQL, detectors, alerts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from alerts_app import engine
from alerts_app.models import Alert, AlertHistory, Stage
from sessions_app.models import Session, Source
from sessions_app.services import ingest_records

from .okta_events import okta_event, replay_sequence

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NOW = START + timedelta(hours=2)


@pytest.fixture
def okta(db):
    return Source.objects.create(name="okta-test", kind="okta")


def test_replay_becomes_one_explained_alert(okta):
    ingest_records(source=okta, records=replay_sequence(START))
    session = Session.objects.get(session_key="102sessAAA")
    result = engine.detect_sessions([session.pk], now=NOW)
    alerts = Alert.objects.filter(detector_id="session_context_change")
    assert len(result.created) >= 1 and alerts.count() == 1
    alert = alerts.get()
    assert alert.severity in {"high", "critical"}
    assert "185.181.60.7" in alert.summary and "AS9009" in alert.summary
    assert alert.owasp_nhi[0] == "NHI7:2025"
    assert alert.session == session and alert.identity == session.identity
    assert {f["label"] for f in alert.factors}
    session.refresh_from_db()
    assert session.risk_score == max(a.score for a in Alert.objects.filter(session=session))
    assert AlertHistory.objects.filter(alert=alert, action="created").exists()


def test_detection_twice_adds_nothing(okta):
    ingest_records(source=okta, records=replay_sequence(START))
    session = Session.objects.get(session_key="102sessAAA")
    engine.detect_sessions([session.pk], now=NOW)
    before = list(Alert.objects.values_list("pk", "occurrences", "last_seen_at"))
    again = engine.detect_sessions([session.pk], now=NOW)
    assert again.created == [] and again.updated == []
    assert list(Alert.objects.values_list("pk", "occurrences", "last_seen_at")) == before


def test_new_replay_attaches_then_reopens_after_containment(okta):
    ingest_records(source=okta, records=replay_sequence(START))
    session = Session.objects.get(session_key="102sessAAA")
    engine.detect_sessions([session.pk], now=NOW)
    alert = Alert.objects.get(detector_id="session_context_change")
    Alert.objects.filter(pk=alert.pk).update(stage=Stage.CONTAINED)
    # The attacker comes back through another hosting network with another tool.
    frankfurt = {
        "ip": "164.90.160.9",
        "asn": 14061,
        "org": "DigitalOcean, LLC",
        "city": "Frankfurt am Main",
        "country": "DE",
        "lat": 50.11,
        "lon": 8.68,
    }
    later = okta_event(
        at=START + timedelta(minutes=90),
        session="102sessAAA",
        where=frankfurt,
        ua="python-requests/2.32.3",
        dt_hash="dt-attacker-2",
    )
    ingest_records(source=okta, records=[later])
    result = engine.detect_sessions([session.pk], now=NOW)
    alert.refresh_from_db()
    assert alert.pk in result.reopened
    assert alert.stage == Stage.IN_PROGRESS and alert.occurrences >= 2
    assert AlertHistory.objects.filter(alert=alert, action="reopened").exists()


def test_benign_session_raises_nothing(okta):
    events = [
        okta_event(at=START, event_type="user.session.start", session="102benign"),
        okta_event(at=START + timedelta(minutes=30), session="102benign"),
        okta_event(at=START + timedelta(minutes=50), session="102benign"),
    ]
    ingest_records(source=okta, records=events)
    session = Session.objects.get(session_key="102benign")
    result = engine.detect_sessions([session.pk], now=NOW)
    assert result.created == [] and not Alert.objects.exists()


def test_detect_and_export_commands(okta, capsys, tmp_path):
    ingest_records(source=okta, records=replay_sequence(START))
    call_command("detect")
    first = Alert.objects.count()
    call_command("detect", "--since", "2026-11-01")
    assert Alert.objects.count() == first >= 1
    out = tmp_path / "alerts.jsonl"
    call_command("export_alerts", "--output", str(out))
    import json

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == first
    assert lines[0]["controls"]["owasp_nhi"] and lines[0]["session_key"] == "102sessAAA"


def test_detect_rejects_a_bad_since(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("detect", "--since", "yesterday-ish")
