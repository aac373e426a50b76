"""Reads for alerts and detectors."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from .detectors import REGISTRY
from .detectors.base import Detector
from .models import Alert, DetectorConfig, Resolution


def alert_list() -> QuerySet[Alert]:
    return Alert.objects.select_related("identity", "session", "source", "assignee")


def alert_detail(pk: int) -> Alert:
    return Alert.objects.select_related(
        "identity",
        "identity__owner",
        "session",
        "source",
        "assignee",
        "response_owner",
        "recurrence_of",
    ).get(pk=pk)


@dataclass(frozen=True)
class DetectorRow:
    detector: Detector
    enabled: bool
    params: dict
    overrides: dict
    alerts_total: int
    alerts_open: int
    true_positives: int
    false_positives: int

    @property
    def precision(self) -> float | None:
        """Share of analyst-resolved alerts that were real (None until any were resolved)."""
        judged = self.true_positives + self.false_positives
        return round(self.true_positives / judged, 2) if judged else None


def detector_rows() -> list[DetectorRow]:
    configs = {c.detector_id: c for c in DetectorConfig.objects.all()}
    counts = {
        row["detector_id"]: row
        for row in Alert.objects.values("detector_id").annotate(
            total=Count("id"),
            open=Count("id", filter=Q(stage__in=["new", "in_progress", "contained"])),
            tp=Count(
                "id",
                filter=Q(resolution__in=[Resolution.TRUE_POSITIVE, Resolution.AUTO_REMEDIATED]),
            ),
            fp=Count("id", filter=Q(resolution__in=[Resolution.FALSE_POSITIVE, Resolution.BENIGN])),
        )
    }
    rows = []
    for detector_id, detector in sorted(REGISTRY.items()):
        config = configs.get(detector_id)
        overrides = dict(config.params) if config else {}
        count = counts.get(detector_id, {})
        rows.append(
            DetectorRow(
                detector=detector,
                enabled=config.enabled if config else True,
                params=detector.validate_params(overrides),
                overrides=overrides,
                alerts_total=count.get("total", 0),
                alerts_open=count.get("open", 0),
                true_positives=count.get("tp", 0),
                false_positives=count.get("fp", 0),
            )
        )
    return rows
