"""Replay inside one session: new network plus new device or client."""

from dataclasses import replace

from alerts_app.detectors import DEFAULT_POLICY, get

from .factories import (
    AWS_FRANKFURT,
    BERLIN,
    BERLIN_CELLULAR,
    BERLIN_VPN_RECONNECT,
    BUCHAREST,
    CHROME_130_WIN,
    CURL,
    FIREFOX_MAC,
    MICROSOFT,
    NEW_YORK,
    OKTA_AWS,
    OKTA_INTEGRATIONS,
    SAFARI_IOS,
    at,
    ev,
    login,
    session,
)

detector = get("session_context_change")


def run(state, new):
    return detector.detect(state, new)


# ------------------------------------------------------------------ must alert


def test_cookie_replayed_with_curl_from_another_country():
    prior = (login(0), ev(10))
    replay = ev(42, BUCHAREST, user_agent=CURL, device_id="")
    [finding] = run(session(*prior, authenticated_at=at(0)), [replay])
    assert finding.severity == "critical"
    assert finding.dedup_subject == "session:102abcdefghijklmnopa7"
    labels = [f.label for f in finding.factors]
    assert "Scripted client on a browser session" in labels
    assert "New country RO" in labels
    for text in ("185.220.101.4", "AS9009", "Bucharest", "curl/8.1", "81.2.69.160", "AS3320"):
        assert text in finding.summary
    assert "32 min after activity" in finding.summary
    assert finding.evidence["after"]["ip"] == "185.220.101.4"
    assert finding.evidence["before"]["client"] == "Chrome 131 on Windows"


def test_summary_counts_from_the_mfa_when_that_is_the_last_good_event():
    replay = ev(42, BUCHAREST, user_agent=CURL)
    [finding] = run(session(login(0), authenticated_at=at(0)), [replay])
    assert "42 min after MFA from 81.2.69.160" in finding.summary


def test_same_browser_but_another_device_token_from_a_new_network():
    new = [ev(30, AWS_FRANKFURT, device_id="dt-unknown")]
    [finding] = run(session(login(0), authenticated_at=at(0)), new)
    assert finding.severity == "medium"
    assert [f.label for f in finding.factors][1] == "Device token changed"


def test_other_browser_other_device_new_network_is_high():
    new = [ev(30, NEW_YORK, device_id="dt-other", user_agent=FIREFOX_MAC)]
    [finding] = run(session(login(0), authenticated_at=at(0)), new)
    assert finding.score >= 65
    assert "Firefox 121 on macOS" in finding.summary


def test_policy_evaluation_long_after_login_still_counts():
    replay = ev(
        180,
        BUCHAREST,
        provider_event_type="policy.evaluate_sign_on",
        device_id="dt-x",
        user_agent=FIREFOX_MAC,
    )
    assert run(session(login(0), authenticated_at=at(0)), [replay])


def test_break_glass_identity_raises_severity():
    replay = ev(42, AWS_FRANKFURT, device_id="dt-unknown")
    [standard] = run(session(login(0), authenticated_at=at(0)), [replay])
    state = session(login(0), authenticated_at=at(0), privilege_tier="break_glass")
    [finding] = run(state, [replay])
    assert (standard.severity, finding.severity) == ("medium", "high")
    assert finding.score == standard.score + 20


# ------------------------------------------------------------------ must not alert


def test_login_flow_with_several_device_hashes_is_not_replay():
    # Okta Verify on the phone answers the push over cellular during the sign-in; the
    # login transaction's events carry the phone's device hash and UA.
    txn = {"transaction": {"id": "txn-login-1"}}
    new = [
        ev(0.2, provider_event_type="policy.evaluate_sign_on", device_id="dt-a", raw=txn),
        ev(
            0.6,
            BERLIN_CELLULAR,
            provider_event_type="user.authentication.auth_via_mfa",
            event_type="mfa_challenge",
            device_id="dt-phone",
            user_agent=SAFARI_IOS,
            raw=txn,
        ),
        login(1, device_id="dt-b", raw=txn),
        ev(
            1.5,
            BERLIN_CELLULAR,
            provider_event_type="policy.evaluate_sign_on",
            device_id="dt-phone",
            user_agent=SAFARI_IOS,
        ),
        ev(2, device_id="dt-b"),
        ev(30, device_id="dt-b"),
    ]
    assert run(session(), new) == []


def test_browser_auto_update_on_a_new_network_is_not_replay():
    prior = (login(0, device_id="", user_agent=CHROME_130_WIN),)
    new = [ev(120, BERLIN_CELLULAR, device_id="")]  # Chrome 131 now
    assert run(session(*prior, authenticated_at=at(0)), new) == []


def test_vpn_reconnect_same_network_new_ip_is_not_replay():
    new = [ev(20, BERLIN_VPN_RECONNECT, device_id="dt-new", user_agent=FIREFOX_MAC)]
    assert run(session(login(0), authenticated_at=at(0)), new) == []


def test_wifi_to_cellular_with_same_device_and_browser_is_not_replay():
    new = [ev(15, BERLIN_CELLULAR), ev(16, BERLIN_CELLULAR)]
    assert run(session(login(0), authenticated_at=at(0)), new) == []


def test_identity_provider_internals_are_ignored():
    new = [
        ev(5, OKTA_AWS, user_agent=OKTA_INTEGRATIONS, device_id="dt-okta"),
        ev(6, OKTA_AWS, user_agent="", device_id="", client_app="Okta"),
        ev(7, MICROSOFT, provider="entra", user_agent=CURL, device_id="dev-ms"),
    ]
    assert run(session(login(0), authenticated_at=at(0)), new) == []


def test_legitimate_second_device_has_its_own_session():
    phone = [
        login(5, BERLIN_CELLULAR, session_key="idxPHONE", device_id="dt-p", user_agent=SAFARI_IOS),
        ev(9, BERLIN_CELLULAR, session_key="idxPHONE", device_id="dt-p", user_agent=SAFARI_IOS),
    ]
    assert run(session(session_key="idxPHONE"), phone) == []


def test_refused_attempts_do_not_count():
    new = [ev(20, BUCHAREST, user_agent=CURL, outcome="failure")]
    assert run(session(login(0), authenticated_at=at(0)), new) == []


def test_prior_events_alone_never_alert_again():
    prior = (login(0), ev(42, BUCHAREST, user_agent=CURL))
    assert run(session(*prior, authenticated_at=at(0)), [ev(50, BUCHAREST, user_agent=CURL)]) == []


def test_missing_network_data_is_not_a_change():
    new = [ev(20, {**BUCHAREST, "asn": None}, user_agent=CURL)]
    assert run(session(login(0), authenticated_at=at(0)), new) == []


def test_login_phase_events_still_seed_the_known_context():
    # A network seen during the sign-in is not "new" for a later event.
    prior = (
        ev(0.5, BERLIN_CELLULAR, provider_event_type="policy.evaluate_sign_on", device_id="dt-p"),
        login(1),
    )
    new = [ev(30, BERLIN_CELLULAR, device_id="dt-p", user_agent=SAFARI_IOS)]
    assert run(session(*prior, authenticated_at=at(1)), new) == []
    assert BERLIN["asn"] != BERLIN_CELLULAR["asn"]


def test_device_binding_policy_weighs_a_device_change_more():
    replay = ev(30, AWS_FRANKFURT, device_id="dt-unknown")
    bound = replace(DEFAULT_POLICY, device_binding=True, name="Bound")
    state = session(login(0), authenticated_at=at(0))
    [plain] = detector.detect(state, [replay])
    [strict] = detector.detect(state, [replay], None, bound)
    assert strict.score == plain.score + 10
