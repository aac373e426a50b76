"""Vendor risk verdicts from Okta, Entra ID and Google Workspace."""

from alerts_app.detectors import get
from alerts_app.detectors.idp_risk_verdict import read_verdict

from .factories import BUCHAREST, ev, identity

detector = get("idp_risk_verdict")


def run(new, **fields):
    return detector.detect(identity(**fields), new)


def okta(etype, **risk):
    return ev(0, BUCHAREST, provider_event_type=etype, event_type="risk_signal", risk=risk)


def entra(**risk):
    return ev(
        0,
        BUCHAREST,
        provider="entra",
        provider_event_type="signIn",
        event_type="logon",
        session_key="sid-entra-1",
        risk=risk,
    )


def google(name, **risk):
    return ev(
        0,
        {**BUCHAREST, "asn": None},
        provider="google",
        provider_event_type=name,
        event_type="risk_signal",
        session_key="",
        risk=risk,
    )


# ------------------------------------------------------------------ must alert


def test_okta_itp_suspected_session_hijacking():
    event = okta(
        "user.risk.detect",
        level="HIGH",
        detection_name="Suspected Session Hijacking",
        reasons=["Anomalous Device"],
    )
    [finding] = run([event])
    assert (finding.severity, finding.score) == ("high", 75)
    assert finding.factors[0].points == 50
    assert finding.summary.startswith(
        "Okta flagged alice@example.com: user.risk.detect, Suspected Session Hijacking (level high)"
    )
    assert "reasons: Anomalous Device" in finding.summary
    assert "185.220.101.4" in finding.summary
    assert finding.evidence["vendor_risk"]["detection_name"] == "Suspected Session Hijacking"


def test_entra_anomalous_token_at_risk():
    [finding] = run(
        [
            entra(
                riskEventTypes_v2=["anomalousToken"],
                riskLevelDuringSignIn="medium",
                riskState="atRisk",
            )
        ]
    )
    assert finding.evidence["verdict"]["session_theft"] is True
    assert finding.score == 70
    assert "on session sid-entra-1" in finding.summary


def test_entra_admin_confirmed_compromise_is_critical():
    [finding] = run([entra(riskDetail="adminConfirmedUserCompromised", level="high")])
    assert finding.severity == "critical"


def test_google_suspicious_session_cookie():
    [finding] = run([google("user_signed_out_due_to_suspicious_session_cookie")])
    assert finding.severity == "medium"
    assert finding.summary.startswith("Google flagged")


def test_okta_refresh_token_reuse_and_threatinsight_string_flag():
    assert run([okta("app.oauth2.as.token.detect_reuse")])[0].evidence["verdict"]["session_theft"]
    assert run([okta("user.authentication.sso", threatSuspected="true")])


def test_privileged_identities_score_higher():
    event = okta("security.session.detect_client_roaming")
    [plain] = run([event])
    [admin] = run([event], privilege_tier="privileged")
    assert admin.score == plain.score + 10


# ------------------------------------------------------------------ must not alert


def test_remediated_entra_risk():
    assert (
        run(
            [
                entra(
                    riskEventTypes_v2=["unfamiliarFeatures"],
                    riskLevelDuringSignIn="high",
                    riskState="remediated",
                )
            ]
        )
        == []
    )


def test_low_okta_login_risk_with_behaviour_reasons():
    assert run([okta("policy.evaluate_sign_on", level="LOW", reasons=["New Device"])]) == []


def test_events_without_risk():
    assert run([ev(0), google("login_success")]) == []


def test_hidden_or_none_levels():
    assert run([entra(riskLevelDuringSignIn="hidden"), entra(riskLevelDuringSignIn="none")]) == []


def test_min_level_param_admits_bare_low_levels():
    event = okta("policy.evaluate_sign_on", level="LOW")
    assert read_verdict(event) is not None
    assert run([event]) == []
    assert detector.detect(identity(), [event], {"min_level": 1})
