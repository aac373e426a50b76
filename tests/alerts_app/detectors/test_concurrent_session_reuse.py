"""One session key used from two networks at once (A, B, A)."""

from alerts_app.detectors import get

from .factories import (
    BERLIN,
    BERLIN_CELLULAR,
    BERLIN_VPN_RECONNECT,
    BUCHAREST,
    CURL,
    MICROSOFT,
    ev,
    session,
)

detector = get("concurrent_session_reuse")


def run(state, new, **params):
    return detector.detect(state, new, params or None)


# ------------------------------------------------------------------ must alert


def test_owner_returns_minutes_after_the_thief_on_another_device():
    # The owner was idle for 40 min while the thief worked; she is back 2 min after the
    # thief's last request. The absence from A is long, but the hand-back is not.
    new = [
        ev(40, BUCHAREST, user_agent=CURL, device_id="dt-thief"),
        ev(45, BUCHAREST, user_agent=CURL, device_id="dt-thief"),
        ev(47),
    ]
    [finding] = run(session(ev(0)), new)
    assert "within 2 min" in finding.factors[0].label
    assert "Different device on the other network" in [f.label for f in finding.factors]


def test_owner_and_thief_alternate():
    new = [ev(3, BUCHAREST, user_agent=CURL, device_id=""), ev(6)]
    [finding] = run(session(ev(0)), new)
    assert (finding.severity, finding.score) == ("critical", 85)
    assert "Alternating between AS3320 and AS9009 within 6 min" in finding.factors[0].label
    assert "185.220.101.4" in finding.summary and "81.2.69.160" in finding.summary
    assert finding.evidence["trigger_event_ids"] == [new[0].provider_event_id]


def test_other_device_in_the_middle_of_a_session():
    new = [
        ev(0),
        ev(2, BUCHAREST, device_id="dt-thief"),
        ev(4),
        ev(5, BUCHAREST, device_id="dt-thief"),
    ]
    [finding] = run(session(), new)
    assert finding.evidence["interleavings"] == 2
    assert "Different device on the other network" in [f.label for f in finding.factors]


def test_flapping_connection_is_reported_low():
    new = [ev(0), ev(2, BERLIN_CELLULAR), ev(4)]
    [finding] = run(session(), new)
    assert finding.severity == "low"
    assert finding.score == 20


def test_wider_window_catches_slower_interleaving():
    new = [ev(0), ev(20, BUCHAREST, user_agent=CURL), ev(40)]
    assert run(session(), new) == []
    assert run(session(), new, window_s=3600)


# ------------------------------------------------------------------ must not alert


def test_tethering_stretch_with_quick_hand_back_on_the_same_laptop():
    # Wi-Fi, 50 min on the phone's cellular network, back to Wi-Fi one minute later: one
    # device and browser moving, not two parties.
    new = [ev(10, BERLIN_CELLULAR), ev(60, BERLIN_CELLULAR), ev(61)]
    assert run(session(ev(0)), new) == []


def test_wifi_to_cellular_once():
    assert run(session(ev(0)), [ev(2, BERLIN_CELLULAR), ev(9, BERLIN_CELLULAR)]) == []


def test_vpn_reconnect_same_network():
    assert run(session(ev(0)), [ev(2, BERLIN_VPN_RECONNECT), ev(4, BERLIN)]) == []


def test_back_and_forth_over_hours():
    assert run(session(ev(0)), [ev(60, BERLIN_CELLULAR), ev(180)]) == []


def test_identity_provider_internal_calls_in_between():
    assert run(session(ev(0)), [ev(1, MICROSOFT, provider="entra"), ev(2)]) == []


def test_refused_attempt_in_between():
    assert run(session(ev(0)), [ev(1, BUCHAREST, outcome="failure"), ev(2)]) == []


def test_old_interleaving_is_not_reported_again():
    prior = (ev(0), ev(1, BUCHAREST), ev(2))
    assert run(session(*prior), [ev(30)]) == []
