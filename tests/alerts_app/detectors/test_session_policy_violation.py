"""Sessions outliving the policy's overall or inactivity limits."""

from alerts_app.detectors import DEFAULT_POLICY, SessionPolicy, get

from .factories import BERLIN_CELLULAR, BUCHAREST, CURL, at, ev, login, session

detector = get("session_policy_violation")
H = 60  # minutes per hour, for readable timelines


def run(state, new, policy=DEFAULT_POLICY, now=None):
    return detector.detect(state, new, None, policy, now=now)


def test_default_policy_is_nist_aal2():
    assert (DEFAULT_POLICY.max_lifetime_s, DEFAULT_POLICY.idle_timeout_s) == (86400, 3600)
    assert DEFAULT_POLICY.reauth_window_s == 3600


# ------------------------------------------------------------------ must alert


def test_used_25_hours_after_sign_in():
    events = [ev(n * 50) for n in range(1, 31)]  # every 50 min, never idle, up to 25 h
    [finding] = run(session(login(0), authenticated_at=at(0)), events)
    assert finding.variant == "lifetime"
    assert "24 h 10 min after its authentication" in finding.summary
    assert "NIST SP 800-63B-4 AAL2 allows 24 h" in finding.summary
    assert finding.evidence["trigger_event_ids"] == [
        events[28].provider_event_id,
        events[29].provider_event_id,
    ]


def test_resumed_after_three_hours_idle_from_elsewhere():
    [finding] = run(
        session(login(0), ev(10), authenticated_at=at(0)),
        [ev(200, BUCHAREST, device_id="dt-thief")],
    )
    assert finding.variant == "idle"
    assert "after 3 h 10 min idle" in finding.summary
    assert "Resumed from another network (AS9009)" in [f.label for f in finding.factors]


def test_sweep_finds_open_session_past_its_lifetime():
    # Still in use 29 h 30 min after sign-in, half an hour before the sweep.
    state = session(login(0), ev(29 * H + 30), authenticated_at=at(0), status="active")
    [finding] = run(state, [], now=at(30 * H))
    assert finding.variant == "lifetime"
    assert "still open 30 h" in finding.summary
    assert finding.last_event_at == at(30 * H)


def test_both_kinds_give_two_findings():
    state = session(login(0), authenticated_at=at(0))
    findings = run(state, [ev(26 * H, BUCHAREST, device_id="dt-thief")])
    assert sorted(f.variant for f in findings) == ["idle", "lifetime"]
    assert {f.dedup_subject for f in findings} == {"session:102abcdefghijklmnopa7"}


def test_stricter_policy():
    strict = SessionPolicy(43200, 1800, 900, False, "NIST SP 800-63B rev 3 AAL2")
    [finding] = run(
        session(login(0), authenticated_at=at(0)),
        [ev(40, BUCHAREST, user_agent=CURL)],
        policy=strict,
    )
    assert finding.variant == "idle"
    assert "rev 3 AAL2 allows 30 min" in finding.summary


def test_use_from_a_country_the_policy_does_not_allow():
    policy = SessionPolicy(86400, 3600, 3600, False, "policy “EU only”", ("DE", "FR"))
    state = session(login(0, BERLIN_CELLULAR), authenticated_at=at(0))
    events = [ev(5, BERLIN_CELLULAR), ev(10, BUCHAREST), ev(12, BUCHAREST)]
    [finding] = run(state, events, policy=policy)
    assert finding.variant == "country"
    assert finding.evidence["countries"] == ["RO"]
    assert finding.evidence["allowed_countries"] == ["DE", "FR"]
    assert finding.evidence["trigger_event_ids"] == [
        events[1].provider_event_id,
        events[2].provider_event_id,
    ]
    assert "allows only DE, FR" in finding.summary
    assert finding.score == 35


def test_country_through_an_anonymiser_scores_higher():
    policy = SessionPolicy(86400, 3600, 3600, False, "policy “DE”", ("DE",))
    [finding] = run(
        session(login(0, BERLIN_CELLULAR), authenticated_at=at(0)),
        [ev(10, BUCHAREST, anonymizer=True)],
        policy=policy,
    )
    assert finding.variant == "country"
    assert finding.score == 50


# ------------------------------------------------------------------ must not alert


def test_allowed_countries_and_unknown_country_pass():
    policy = SessionPolicy(86400, 3600, 3600, False, "policy “DE”", ("DE",))
    state = session(login(0, BERLIN_CELLULAR), authenticated_at=at(0))
    unknown = dict(BUCHAREST, country="")
    assert run(state, [ev(5, BERLIN_CELLULAR), ev(10, unknown)], policy=policy) == []


def test_no_country_list_means_anywhere():
    state = session(login(0, BERLIN_CELLULAR), authenticated_at=at(0))
    assert run(state, [ev(10, BUCHAREST)]) == []


def test_only_new_events_are_judged_for_country():
    policy = SessionPolicy(86400, 3600, 3600, False, "policy “DE”", ("DE",))
    state = session(login(0, BERLIN_CELLULAR), ev(5, BUCHAREST), authenticated_at=at(0))
    assert run(state, [ev(10, BERLIN_CELLULAR)], policy=policy) == []


def test_reauthentication_resets_both_clocks():
    state = session(login(0), authenticated_at=at(0))
    events = [ev(n * 50) for n in range(1, 31)] + [login(20 * H + 5)]
    assert run(state, events) == []


def test_gap_ended_by_a_fresh_sign_in():
    assert run(session(login(0), authenticated_at=at(0)), [login(5 * H)]) == []


def test_non_human_sessions_are_out_of_scope():
    state = session(login(0), authenticated_at=at(0), identity_kind="service_account")
    assert run(state, [ev(26 * H)]) == []


def test_sweep_ignores_revoked_sessions():
    state = session(login(0), authenticated_at=at(0), status="revoked", revoked_at=at(60))
    assert run(state, [], now=at(30 * H)) == []


def test_sweep_ignores_a_session_that_went_quiet():
    # The IdP expires quiet sessions without telling us: no activity for 28 h is not "open".
    state = session(login(0), ev(2 * H), authenticated_at=at(0), status="active")
    assert run(state, [], now=at(30 * H)) == []


def test_resuming_in_the_same_context_after_a_quiet_stretch():
    # IdPs log a session only now and then (app launches), so a gap alone proves nothing.
    assert run(session(login(0), ev(10), authenticated_at=at(0)), [ev(200)]) == []


def test_phone_back_on_another_network_after_a_quiet_stretch():
    # Same device and client, new network: the phone moved from Wi-Fi to cellular.
    assert run(session(login(0), ev(10), authenticated_at=at(0)), [ev(200, BERLIN_CELLULAR)]) == []


def test_idle_gap_without_the_previous_context_does_not_alert():
    state = session(authenticated_at=at(0), last_seen_at=at(10))
    assert run(state, [ev(150, BUCHAREST)]) == []


def test_within_clock_skew_tolerance():
    assert run(session(login(0), authenticated_at=at(0)), [ev(60.5)]) == []


def test_no_idle_limit_in_policy():
    no_idle = SessionPolicy(2592000, None, 3600, False, "NIST SP 800-63B-4 AAL1")
    assert run(session(login(0), authenticated_at=at(0)), [ev(5 * H)], policy=no_idle) == []
