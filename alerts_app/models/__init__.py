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
from .response import (
    AttemptOutcome,
    Containment,
    Revocation,
    RevocationAttempt,
    RevocationScope,
    RevocationStatus,
    RevocationTarget,
    TargetStatus,
)
from .ssf import (
    SsfDeliveryMethod,
    SsfEvent,
    SsfEventStatus,
    SsfReceiver,
    SsfSigningKey,
    SsfStream,
    SsfStreamStatus,
)

__all__ = [
    "Alert",
    "AlertHistory",
    "AttemptOutcome",
    "Containment",
    "DetectorConfig",
    "DetectorState",
    "Resolution",
    "Revocation",
    "RevocationAttempt",
    "RevocationScope",
    "RevocationStatus",
    "RevocationTarget",
    "Severity",
    "SsfDeliveryMethod",
    "SsfEvent",
    "SsfEventStatus",
    "SsfReceiver",
    "SsfSigningKey",
    "SsfStream",
    "SsfStreamStatus",
    "Stage",
    "TargetStatus",
]
