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
    "DetectorConfig",
    "DetectorState",
    "Resolution",
    "Severity",
    "SsfDeliveryMethod",
    "SsfEvent",
    "SsfEventStatus",
    "SsfReceiver",
    "SsfSigningKey",
    "SsfStream",
    "SsfStreamStatus",
    "Stage",
]
