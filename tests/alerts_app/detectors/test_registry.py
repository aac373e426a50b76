"""The registry, parameter validation, specs' framework ids and the shared scoring."""

import re

import pytest

from alerts_app.detectors import (
    REGISTRY,
    Factor,
    ParamsError,
    SessionState,
    for_scope,
    get,
    score_factors,
    validate_params,
)
from alerts_app.detectors.base import human_duration

from .factories import ev, identity

# NIST CSF 2.0 subcategories (../shared/reference/nist_csf_2_0.json) the detectors may cite.
CSF_2_0 = {
    *(f"PR.AA-0{n}" for n in range(1, 7)),
    "PR.DS-01", "PR.DS-02", "PR.DS-10", "PR.PS-01", "PR.PS-04",
    "DE.AE-02", "DE.AE-03", "DE.AE-04", "DE.AE-06", "DE.AE-07", "DE.AE-08",
    "DE.CM-01", "DE.CM-02", "DE.CM-03", "DE.CM-06", "DE.CM-09",
    "RS.MA-01", "RS.MA-02", "RS.MA-03", "RS.MI-01", "RS.MI-02", "GV.PO-01", "GV.PO-02",
}  # fmt: skip
OWASP_NHI = {f"NHI{n}:2025" for n in range(1, 11)}

EXPECTED = {
    "session_context_change",
    "impossible_travel",
    "concurrent_session_reuse",
    "use_after_revocation",
    "session_policy_violation",
    "nhi_new_context",
    "human_use_of_nhi",
    "high_value_without_reauth",
    "idp_risk_verdict",
}


def test_registry_has_every_required_detector():
    assert set(REGISTRY) == EXPECTED
    assert {d.id for d in for_scope("session")} | {d.id for d in for_scope("identity")} == EXPECTED


@pytest.mark.parametrize("detector_id", sorted(EXPECTED))
def test_specs_cite_real_framework_ids(detector_id):
    spec = get(detector_id).spec
    assert spec.id == detector_id and spec.version >= 1
    assert spec.owasp_nhi and set(spec.owasp_nhi) <= OWASP_NHI
    assert spec.nist_csf and set(spec.nist_csf) <= CSF_2_0
    assert all(re.fullmatch(r"T\d{4}(\.\d{3})?", t) for t in spec.mitre_attack)
    assert spec.description and spec.severity_logic and spec.title
    assert spec.thresholds


def test_session_token_theft_maps_first_to_nhi7():
    for detector_id in (
        "session_context_change",
        "concurrent_session_reuse",
        "use_after_revocation",
    ):
        assert get(detector_id).spec.owasp_nhi[0] == "NHI7:2025"
    assert get("human_use_of_nhi").spec.owasp_nhi == ("NHI10:2025",)


def test_unknown_detector():
    with pytest.raises(KeyError, match="unknown detector 'nope'"):
        get("nope")
    with pytest.raises(ValueError, match="unknown detector"):
        validate_params("nope", {})


# ------------------------------------------------------------------ params


def test_defaults_fill_missing_fields():
    assert validate_params("impossible_travel", None) == {
        "min_distance_km": 500,
        "min_speed_kmh": 900,
    }
    assert validate_params("impossible_travel", {"min_speed_kmh": 800}) == {
        "min_distance_km": 500,
        "min_speed_kmh": 800,
    }


def test_every_bad_field_is_reported_at_once():
    raw = {
        "min_distance_km": 10,  # below min
        "min_speed_kmh": "900",  # wrong type
        "speed": 1,  # unknown
    }
    with pytest.raises(ParamsError) as info:
        validate_params("impossible_travel", raw)
    errors = info.value.errors
    assert errors == {
        "min_distance_km": "must be at least 50 km, got 10",
        "min_speed_kmh": "must be a whole number, got str",
        "speed": "unknown parameter",
    }
    assert isinstance(info.value, ValueError)
    assert "min_speed_kmh: must be a whole number, got str" in str(info.value)


def test_integer_fields_refuse_fractions_and_booleans_but_take_whole_floats():
    with pytest.raises(ParamsError) as info:
        validate_params("session_context_change", {"login_grace_s": 1.5})
    assert info.value.errors == {"login_grace_s": "must be a whole number, got 1.5"}
    with pytest.raises(ParamsError, match="must be a whole number, got bool"):
        validate_params("use_after_revocation", {"grace_s": True})
    assert validate_params("use_after_revocation", {"grace_s": 120.0}) == {"grace_s": 120}


def test_above_maximum():
    with pytest.raises(ParamsError, match="must be at most 3 "):
        validate_params("idp_risk_verdict", {"min_level": 4})


def test_detect_validates_params_and_checks_the_state_kind():
    detector = get("impossible_travel")
    with pytest.raises(ParamsError):
        detector.detect(identity(), [ev(0)], {"min_speed_kmh": -1})
    with pytest.raises(TypeError, match="identity-scoped"):
        detector.detect(SessionState(session_key="k"), [ev(0)])


# ------------------------------------------------------------------ scoring & wording


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([10, 20], (30, "low")),
        ([40], (40, "medium")),
        ([50, 15], (65, "high")),
        ([60, 25], (85, "critical")),
        ([90, 40], (100, "critical")),
        ([20, -50], (0, "low")),
    ],
)
def test_score_bands(points, expected):
    assert score_factors([Factor(str(p), p) for p in points]) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(42, "42 s"), (2520, "42 min"), (3600, "1 h"), (90300, "25 h 5 min"), (273600, "3 d 4 h")],
)
def test_human_durations(seconds, text):
    assert human_duration(seconds) == text
