"""High-value actions in sessions whose authentication is too old."""

from alerts_app.detectors import get

from .factories import BUCHAREST, CURL, at, ev, login, session

detector = get("high_value_without_reauth")
H = 60


def action(minutes, kind="privilege_grant", place=None, **fields):
    fields.setdefault("provider_event_type", "user.account.privilege.grant")
    fields.setdefault("event_type", "privileged_action")
    return ev(minutes, place, high_value_action=kind, **fields)


def run(state, new, **params):
    return detector.detect(state, new, params or None)


# ------------------------------------------------------------------ must alert


def test_privilege_grant_three_hours_after_sign_in():
    grant = action(3 * H, target={"displayName": "Super Administrator"})
    [finding] = run(session(login(0), authenticated_at=at(0)), [grant])
    assert finding.severity == "medium"
    assert finding.summary.startswith(
        "Privilege grant (Super Administrator) in session 102abc…opa7"
    )
    assert "3 h after sign-in" in finding.summary
    assert finding.evidence["actions"] == ["privilege_grant"]


def test_unknown_sign_in_time_uses_first_sighting():
    state = session(first_seen_at=at(0))
    [finding] = run(state, [action(5 * H, "data_export")])
    assert finding.evidence["last_authentication_by"] == "first sighting (sign-in time unknown)"


def test_scripted_export_from_another_network_is_high():
    export = action(2 * H, "data_export", BUCHAREST, user_agent=CURL)
    [finding] = run(session(login(0), authenticated_at=at(0)), [export])
    assert finding.severity == "high"
    labels = [f.label for f in finding.factors]
    assert "From AS9009, not the authentication's AS3320" in labels


def test_mfa_before_the_session_window_does_not_help():
    prior = (login(0), ev(10, event_type="mfa_challenge"))
    assert run(session(*prior, authenticated_at=at(0)), [action(2 * H, "policy_change")])


# ------------------------------------------------------------------ must not alert


def test_action_within_the_window():
    assert run(session(login(0), authenticated_at=at(0)), [action(50)]) == []


def test_step_up_right_before_the_action():
    step_up = ev(3 * H - 5, event_type="mfa_challenge", mfa=True)
    assert run(session(login(0), authenticated_at=at(0)), [step_up, action(3 * H)]) == []


def test_refused_action():
    assert run(session(login(0), authenticated_at=at(0)), [action(3 * H, outcome="failure")]) == []


def test_ordinary_activity():
    assert run(session(login(0), authenticated_at=at(0)), [ev(3 * H)]) == []


def test_failed_step_up_does_not_reset_but_nothing_high_value_follows():
    failed = ev(3 * H, event_type="mfa_challenge", outcome="failure")
    assert run(session(login(0), authenticated_at=at(0)), [failed]) == []
