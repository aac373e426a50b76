"""People using service accounts, API keys and agents (OWASP NHI10:2025)."""

from alerts_app.detectors import get

from .factories import (
    AWS_FRANKFURT,
    GO_HTTP,
    HEADLESS,
    PYTHON_REQUESTS,
    ev,
    identity,
)

detector = get("human_use_of_nhi")
SATURDAY = 5 * 24 * 60  # minutes after Monday 09:00


def nhi(kind="service_account", **fields):
    return identity(identity_kind=kind, **fields)


def run(state, new, **params):
    return detector.detect(state, new, params or None)


# ------------------------------------------------------------------ must alert


def test_interactive_browser_sign_in_with_mfa_on_a_service_account():
    sign_in = ev(
        0,
        provider_event_type="user.session.start",
        event_type="logon",
        interactive=True,
        mfa=True,
        actor_login="svc-payroll",
    )
    [finding] = run(nhi(), [sign_in])
    assert finding.severity == "critical"
    assert [f.label for f in finding.factors] == [
        "Interactive sign-in",
        "MFA prompt",
        "Browser Chrome 131 on Windows",
        "During office hours",
    ]
    assert finding.summary.startswith("Service account svc-payroll used like a person")


def test_mfa_prompt_for_an_api_key():
    push = ev(
        SATURDAY,
        event_type="mfa_challenge",
        provider_event_type="system.push.send_factor_verify_push",
        user_agent="",
        outcome="challenge",
    )
    [finding] = run(nhi("api_key"), [push])
    assert [f.label for f in finding.factors] == ["MFA prompt"]
    assert finding.severity == "low"


def test_agent_token_used_from_a_desktop_browser():
    [finding] = run(nhi("ai_agent", privilege_tier="privileged"), [ev(30, AWS_FRANKFURT)])
    assert "Browser Chrome 131 on Windows" in [f.label for f in finding.factors]
    assert "Privileged identity" in [f.label for f in finding.factors]


def test_office_hours_follow_the_configured_offset():
    # 09:00 UTC is 18:00 in UTC+9: outside office hours there.
    [finding] = run(nhi(), [ev(0)], utc_offset_min=540)
    assert "During office hours" not in [f.label for f in finding.factors]


# ------------------------------------------------------------------ must not alert


def test_scripted_non_interactive_use():
    calls = [ev(n, user_agent=PYTHON_REQUESTS, interactive=False) for n in range(3)]
    assert run(nhi(), calls) == []


def test_headless_browser_of_an_agent_is_not_human():
    assert run(nhi("ai_agent"), [ev(0, user_agent=HEADLESS)]) == []


def test_human_identity_with_a_browser_is_out_of_scope():
    assert run(identity(identity_kind="human"), [ev(0, interactive=True, mfa=True)]) == []


def test_unknown_client_with_no_interactive_flag():
    assert run(nhi("workload"), [ev(0, user_agent="", interactive=None)]) == []


def test_go_client_during_office_hours():
    assert run(nhi(), [ev(60, user_agent=GO_HTTP)]) == []


def test_refused_browser_attempt():
    assert run(nhi(), [ev(0, outcome="failure")]) == []
