"""Verified containment: telemetry after a revocation fails it; a quiet window verifies it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts_app.models import AlertHistory, Containment, Revocation, RevocationTarget, Stage
from alerts_app.revocation import selectors, services
from sessions_app.connectors.base import TOKEN_CACHE
from sessions_app.models import AuditEvent, Session
from sessions_app.services import ingest_records
from tests.fakes.okta import fake_okta  # noqa: F401 - fixture

from .okta_events import BUCHAREST, CURL, okta_event
from .revocation_helpers import alert_on, okta_source, run_to_end

pytestmark = pytest.mark.django_db
ACTOR = "00u1dana"
KEY = "102sessAAA"


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()


@pytest.fixture
def contained(fake_okta, analyst):  # noqa: F811 - the imported fixture
    """A session seen through real ingestion, revoked at Okta ten minutes ago, alert contained."""
    fake_okta.users.add(ACTOR)
    fake_okta.sessions[KEY] = ACTOR
    source = okta_source(fake_okta)
    start = timezone.now() - timedelta(hours=1)
    ingest_records(
        source=source,
        records=[
            okta_event(at=start, event_type="user.session.start", session=KEY),
            okta_event(at=start + timedelta(minutes=5), session=KEY),
        ],
    )
    session = Session.objects.get(session_key=KEY)
    alert = alert_on(session)
    alert.assignee = analyst
    alert.save()
    revocation = services.revocation_request(
        scope="session",
        identity=session.identity,
        session=session,
        alert=alert,
        reason="replay",
        actor=analyst,
    )
    run_to_end(revocation)
    assert revocation.containment == Containment.PENDING
    # Pretend the provider acknowledged ten minutes ago (the fakes live in real time).
    ten_ago = timezone.now() - timedelta(minutes=10)
    RevocationTarget.objects.filter(revocation=revocation).update(completed_at=ten_ago)
    Revocation.objects.filter(pk=revocation.pk).update(
        completed_at=ten_ago,
        effective_at=ten_ago + timedelta(seconds=60),
        verify_until=ten_ago + timedelta(seconds=60) + services.verify_window(),
    )
    revocation.refresh_from_db()
    alert.refresh_from_db()
    assert alert.stage == Stage.CONTAINED
    return source, session, alert, revocation, ten_ago


def test_use_after_the_grace_fails_containment_and_reopens_the_alert(contained, analyst):
    source, session, alert, revocation, revoked_at = contained
    replay_at = revoked_at + timedelta(minutes=3)  # Okta's grace is 60 s
    ingest_records(
        source=source,
        records=[okta_event(at=replay_at, session=KEY, where=BUCHAREST, ua=CURL, dt_hash="x")],
    )
    assert services.containment_check_sessions([session.pk]) == [revocation.pk]

    revocation.refresh_from_db()
    alert.refresh_from_db()
    assert revocation.containment == Containment.FAILED
    assert revocation.containment_evidence["ip"] == BUCHAREST["ip"]
    assert alert.stage == Stage.IN_PROGRESS
    assert alert.severity == "critical"  # raised from high
    history = AlertHistory.objects.get(alert=alert, action="containment_failed")
    assert BUCHAREST["ip"] in history.reason
    assert AlertHistory.objects.filter(alert=alert).order_by("id").last().to_stage == "in_progress"
    assert AuditEvent.objects.filter(verb="revocation.containment_failed").count() == 1
    from alerts_app.models import Notification

    note = Notification.objects.get(alert=alert)
    assert note.recipient == analyst and "Containment failed" in note.subject
    # Decided once: a later check changes nothing.
    assert services.containment_check_sessions([session.pk]) == []


def test_use_inside_the_propagation_grace_is_tolerated(contained):
    source, session, _alert, revocation, revoked_at = contained
    ingest_records(
        source=source, records=[okta_event(at=revoked_at + timedelta(seconds=30), session=KEY)]
    )
    assert services.containment_check_sessions([session.pk]) == []
    revocation.refresh_from_db()
    assert revocation.containment == Containment.PENDING


def test_refused_attempts_mean_the_revocation_holds(contained):
    source, session, _alert, _revocation, revoked_at = contained
    ingest_records(
        source=source,
        records=[okta_event(at=revoked_at + timedelta(minutes=5), session=KEY, result="FAILURE")],
    )
    assert services.containment_check_sessions([session.pk]) == []


def test_a_quiet_window_verifies_containment_and_rates_are_reported(contained):
    _source, _session, _alert, revocation, _revoked_at = contained
    assert services.containment_sweep() == {"pending": 1, "verified": 0, "failed": 0}
    later = revocation.verify_until + timedelta(seconds=1)
    assert services.containment_sweep(now=later) == {"pending": 0, "verified": 1, "failed": 0}
    revocation.refresh_from_db()
    assert revocation.containment == Containment.VERIFIED
    assert AuditEvent.objects.filter(verb="revocation.containment_verified").count() == 1
    rates = selectors.containment_rates()
    assert (rates.verified, rates.failed, rates.verified_rate, rates.failed_rate) == (
        1,
        0,
        1.0,
        0.0,
    )
