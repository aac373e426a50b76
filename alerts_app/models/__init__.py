"""alerts_app models, one module per area: alerts, triage workflow, response (revocation)."""

from .alerts import (
    Alert,
    AlertHistory,
    DetectorConfig,
    DetectorState,
    Resolution,
    Severity,
    Stage,
)

__all__ = [
    "Alert",
    "AlertHistory",
    "DetectorConfig",
    "DetectorState",
    "Resolution",
    "Severity",
    "Stage",
]
