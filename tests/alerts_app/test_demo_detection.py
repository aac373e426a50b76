"""The demo organisation's embedded attacks are all found, and nothing else in it is high.

Seeds the demo through the real ingestion pipeline at a small scale (the attack scenarios are
embedded at every scale), runs the detection engine over everything, then checks each
scenario's expected detectors fired on its identity, and that every high or critical alert
belongs to a scenario.
"""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from alerts_app import engine
from alerts_app.models import Alert, Severity
from sessions_app.demo import build_plan
from sessions_app.models import Identity, Session

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SEED, SCALE = 11, 0.05


@pytest.mark.django_db(transaction=True)
def test_demo_attacks_are_found_and_nothing_else_is_high(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--seed", str(SEED), "--scale", str(SCALE), "--now", NOW.isoformat())
    engine.detect_sessions(Session.objects.values_list("pk", flat=True), now=NOW)
    engine.detect_identities(Identity.objects.values_list("pk", flat=True), now=NOW)
    alerts = list(Alert.objects.select_related("identity", "session"))
    plan = build_plan(SEED, NOW, 30, SCALE)
    problems = _missing(plan, alerts) + _stray_high(plan, alerts)
    assert not problems, "\n".join(problems)


def _scenario_alerts(scenario, alerts):
    keys = set(scenario.session_keys)
    return [
        a
        for a in alerts
        if a.identity.login == scenario.identity_login
        or (a.session is not None and a.session.session_key in keys)
    ]


def _missing(plan, alerts) -> list[str]:
    missing = []
    for scenario in plan.scenarios:
        fired = {a.detector_id for a in _scenario_alerts(scenario, alerts)}
        for detector_id in scenario.detectors:
            if detector_id not in fired:
                missing.append(f"missed {scenario.key}: {detector_id} (fired: {sorted(fired)})")
    return missing


def _stray_high(plan, alerts) -> list[str]:
    scenario_logins = {s.identity_login for s in plan.scenarios}
    scenario_keys = {k for s in plan.scenarios for k in s.session_keys}
    return [
        f"stray #{a.pk} {a.severity} {a.detector_id} {a.identity.login}: {a.summary}"
        for a in alerts
        if Severity.rank(a.severity) >= Severity.rank(Severity.HIGH)
        and a.identity.login not in scenario_logins
        and (a.session is None or a.session.session_key not in scenario_keys)
    ]
