"""Same input, same output: arrival order and redelivery never change findings."""

import random
from dataclasses import replace

import pytest

from alerts_app.detectors import Baseline, IdentityState, SessionState, get, update_baseline

from .factories import (
    AWS_FRANKFURT,
    BERLIN_CELLULAR,
    BUCHAREST,
    CURL,
    NEW_YORK,
    PYTHON_REQUESTS,
    SYDNEY,
    at,
    ev,
    identity,
    login,
    session,
)

DAY = 24 * 60


def _nhi_baseline():
    history = [
        ev(d * DAY, AWS_FRANKFURT, user_agent=PYTHON_REQUESTS, device_id="") for d in range(20)
    ]
    return update_baseline(Baseline(), history, 14 * 86400)


# Each scenario: detector id, prior/recent events, new events, state fields, now.
SCENARIOS = {
    "session_context_change": (
        [login(0), ev(10)],
        [ev(42, BUCHAREST, user_agent=CURL), ev(43, BUCHAREST, user_agent=CURL), ev(44)],
        {"authenticated_at": at(0)},
        None,
    ),
    "concurrent_session_reuse": (
        [ev(0)],
        [ev(2, BUCHAREST, device_id="x"), ev(3), ev(4, BUCHAREST, device_id="x"), ev(5)],
        {},
        None,
    ),
    "use_after_revocation": (
        [login(0)],
        [ev(90), ev(120, BUCHAREST, user_agent=CURL), ev(95, outcome="failure")],
        {"authenticated_at": at(0), "revoked_at": at(60)},
        None,
    ),
    "session_policy_violation": (
        [login(0)],
        [ev(26 * 60), ev(26 * 60 + 5, BERLIN_CELLULAR), ev(30 * 60)],
        {"authenticated_at": at(0)},
        at(31 * 60),
    ),
    "high_value_without_reauth": (
        [login(0)],
        [
            ev(120, high_value_action="data_export"),
            ev(121, BUCHAREST, user_agent=CURL, high_value_action="privilege_grant"),
        ],
        {"authenticated_at": at(0)},
        None,
    ),
    "impossible_travel": (
        [ev(0)],
        [ev(60, NEW_YORK), ev(61, NEW_YORK), ev(120, SYDNEY), ev(125)],
        {},
        None,
    ),
    "nhi_new_context": (
        [],
        [
            ev(21 * DAY + n, BUCHAREST if n % 2 else NEW_YORK, user_agent=CURL, device_id="")
            for n in range(6)
        ],
        {"identity_kind": "api_key", "baseline": _nhi_baseline()},
        None,
    ),
    "human_use_of_nhi": (
        [],
        [ev(0, interactive=True, event_type="logon", mfa=True), ev(5), ev(10, mfa=True)],
        {"identity_kind": "service_account"},
        None,
    ),
    "idp_risk_verdict": (
        [],
        [
            ev(0, provider_event_type="user.risk.detect", risk={"level": "HIGH"}),
            ev(1, provider_event_type="app.oauth2.token.detect_reuse"),
            ev(1, provider_event_type="security.session.detect_client_roaming"),
        ],
        {},
        None,
    ),
}


def _state(detector, prior, fields):
    if detector.spec.scope == "session":
        return session(*prior, **fields)
    return identity(*prior, **fields)


def _shuffled_state(state, rng):
    if isinstance(state, SessionState):
        events = list(state.prior_events)
        rng.shuffle(events)
        return replace(state, prior_events=tuple(events))
    assert isinstance(state, IdentityState)
    events = list(state.recent_events)
    rng.shuffle(events)
    return replace(state, recent_events=tuple(events))


@pytest.mark.parametrize("detector_id", sorted(SCENARIOS))
def test_shuffled_input_gives_identical_findings(detector_id):
    detector = get(detector_id)
    prior, new, fields, now = SCENARIOS[detector_id]
    state = _state(detector, prior, fields)
    expected = detector.detect(state, new, now=now)
    assert expected, "each scenario must produce findings for the comparison to mean anything"
    rng = random.Random(detector_id)
    for _ in range(10):
        shuffled = new[:]
        rng.shuffle(shuffled)
        assert detector.detect(_shuffled_state(state, rng), shuffled, now=now) == expected


@pytest.mark.parametrize("detector_id", sorted(SCENARIOS))
def test_redelivered_events_change_nothing(detector_id):
    detector = get(detector_id)
    prior, new, fields, now = SCENARIOS[detector_id]
    state = _state(detector, prior, fields)
    assert detector.detect(state, new + new[:2], now=now) == detector.detect(state, new, now=now)
