"""Activity on a session after revocation, end or credential reset."""

from alerts_app.detectors import get

from .factories import BUCHAREST, CURL, at, ev, login, session

detector = get("use_after_revocation")


def run(state, new, **params):
    return detector.detect(state, new, params or None)


# ------------------------------------------------------------------ must alert


def test_use_an_hour_after_revocation():
    state = session(login(0), authenticated_at=at(0), status="revoked", revoked_at=at(60))
    [finding] = run(state, [ev(120, BUCHAREST, user_agent=CURL)])
    assert finding.severity == "critical"
    assert "1 h after it was revoked (2026-03-02 10:00 UTC)" in finding.summary
    assert "185.220.101.4" in finding.summary and "curl/8.1" in finding.summary
    assert finding.evidence["cutoff"] == {
        "kind": "revoked",
        "at": at(60).isoformat(),
        "grace_s": 300,
    }


def test_use_after_password_reset_by_session_authenticated_before_it():
    state = session(login(0), authenticated_at=at(0), credential_changed_at=at(60))
    [finding] = run(state, [ev(90)])
    assert "after the session was credential reset" in finding.factors[0].label
    assert finding.severity == "high"


def test_refused_attempt_after_revocation_is_low():
    state = session(login(0), authenticated_at=at(0), revoked_at=at(60))
    [finding] = run(state, [ev(90, outcome="failure")])
    assert finding.severity == "low"
    assert finding.summary.startswith("Session 102abc…opa7 attempted")


def test_use_after_logout():
    state = session(login(0), authenticated_at=at(0), status="ended", ended_at=at(30))
    assert run(state, [ev(45)])


def test_shorter_grace_catches_earlier_use():
    state = session(login(0), authenticated_at=at(0), revoked_at=at(60))
    assert run(state, [ev(63)]) == []
    assert run(state, [ev(63)], grace_s=60)


# ------------------------------------------------------------------ must not alert


def test_within_propagation_grace():
    state = session(login(0), authenticated_at=at(0), revoked_at=at(60))
    assert run(state, [ev(64)]) == []


def test_session_started_after_the_reset():
    state = session(login(70), authenticated_at=at(70), credential_changed_at=at(60))
    assert run(state, [ev(90)]) == []


def test_password_changed_from_inside_this_session():
    change = ev(
        60, event_type="credential_change", provider_event_type="user.account.update_password"
    )
    state = session(login(0), change, authenticated_at=at(0), credential_changed_at=at(60))
    assert run(state, [ev(90)]) == []


def test_re_authenticated_after_the_reset():
    state = session(login(0), authenticated_at=at(0), credential_changed_at=at(60))
    step_up = ev(
        70, event_type="mfa_challenge", provider_event_type="user.authentication.auth_via_mfa"
    )
    assert run(state, [step_up, ev(90)]) == []


def test_the_revocation_record_itself_is_not_use():
    state = session(login(0), authenticated_at=at(0), revoked_at=at(60))
    assert (
        run(state, [ev(70, event_type="session_revoked", provider_event_type="user.session.clear")])
        == []
    )


def test_active_session_without_cut_offs():
    assert run(session(login(0), authenticated_at=at(0)), [ev(600)]) == []
