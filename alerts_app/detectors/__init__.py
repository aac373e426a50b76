"""The detector registry: every detector by id, with parameter validation.

Each detector is a pure function over plain data (see ``base``); the engine picks the ones
whose ``spec.scope`` matches the state it has (a session or an identity), validates the
configured parameters with ``validate_params`` and calls ``detector.detect(...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import (
    concurrent_session_reuse,
    high_value_without_reauth,
    human_use_of_nhi,
    idp_risk_verdict,
    impossible_travel,
    nhi_new_context,
    session_context_change,
    session_policy_violation,
    use_after_revocation,
)
from .base import (
    DEFAULT_POLICY,
    Baseline,
    ContextSeen,
    Detector,
    DetectorSpec,
    Factor,
    Finding,
    IdentityState,
    ParamsError,
    SessionPolicy,
    SessionState,
    Threshold,
    score_factors,
)
from .nhi_new_context import update_baseline

_MODULES = (
    session_context_change,
    impossible_travel,
    concurrent_session_reuse,
    use_after_revocation,
    session_policy_violation,
    nhi_new_context,
    human_use_of_nhi,
    high_value_without_reauth,
    idp_risk_verdict,
)

REGISTRY: dict[str, Detector] = {
    module.SPEC.id: Detector(spec=module.SPEC, fn=module.detect) for module in _MODULES
}


def get(detector_id: str) -> Detector:
    """The registered detector ``detector_id``; ``KeyError`` naming the known ids otherwise."""
    try:
        return REGISTRY[detector_id]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown detector {detector_id!r} (known: {known})") from None


def validate_params(detector_id: str, raw: Mapping[str, Any] | None) -> dict[str, int | float]:
    """Complete, checked parameters for ``detector_id`` (defaults filled in).

    Raises ``ParamsError`` (a ``ValueError``) listing every bad field: unknown names, wrong
    types, values below the minimum or above the maximum; ``ValueError`` for an unknown id.
    """
    if detector_id not in REGISTRY:
        raise ValueError(f"unknown detector {detector_id!r}")
    return REGISTRY[detector_id].validate_params(raw)


def for_scope(scope: str) -> list[Detector]:
    """The detectors that run on a "session" or an "identity" state, in registry order."""
    return [d for d in REGISTRY.values() if d.spec.scope == scope]


__all__ = [
    "DEFAULT_POLICY",
    "REGISTRY",
    "Baseline",
    "ContextSeen",
    "Detector",
    "DetectorSpec",
    "Factor",
    "Finding",
    "IdentityState",
    "ParamsError",
    "SessionPolicy",
    "SessionState",
    "Threshold",
    "for_scope",
    "get",
    "score_factors",
    "update_baseline",
    "validate_params",
]
