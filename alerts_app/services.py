"""Writes for detectors and alerts; every change audit-logged in the same transaction."""

from __future__ import annotations

from django.db import transaction

from govern.audit import audit_log

from .detectors import REGISTRY
from .models import DetectorConfig


@transaction.atomic
def detector_configure(
    *, detector_id: str, enabled: bool, params: dict, actor, client_ip: str | None = None
) -> DetectorConfig:
    """Enable/disable a detector and set threshold overrides (validated; raises ValueError)."""
    detector = REGISTRY[detector_id]
    clean = detector.validate_params(params)  # raises ParamsError (a ValueError) per field
    overrides = {k: v for k, v in clean.items() if v != detector.spec.thresholds[k].default}
    config, _ = DetectorConfig.objects.select_for_update().get_or_create(detector_id=detector_id)
    before = {"enabled": config.enabled, "params": config.params}
    config.enabled, config.params, config.updated_by = enabled, overrides, actor
    config.save()
    audit_log(
        actor=actor,
        verb="detector.configure",
        object_type="alerts_app.detector",
        object_id=detector_id,
        object_repr=detector.spec.title,
        before=before,
        after={"enabled": enabled, "params": overrides},
        client_ip=client_ip,
    )
    return config
