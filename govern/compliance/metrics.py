"""Response figures behind the compliance reports: response times, SLA compliance, open alerts
by age, revocation outcomes, and their daily trends.

Response times come from ``AlertHistory`` (the recorded transitions), so they are the same
whatever fields the alert itself carries:

* acknowledged = the first transition out of New (to any other stage);
* contained = the first transition to Contained, or — for alerts closed as remediated without
  passing through Contained — the close;
* resolved = the first transition to Closed.

All are measured from ``Alert.created_at`` (when govern raised the alert, i.e. when someone could
first respond). SLA due times are the alert's own ``ack_due_at`` / ``contain_due_at`` where the
triage workflow set them, else ``DEFAULT_SLA`` below.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import fmean

from django.db.models import Count, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from alerts_app.models import (
    Alert,
    AlertHistory,
    Containment,
    Resolution,
    Revocation,
    RevocationStatus,
    Stage,
)
from sessions_app.choices import IdentityKind

# Default SLA matrix (severity → (acknowledge, contain) for humans, and for non-human
# identities). Suggested values to tune, from ../shared/research/product.md §4.2; used only for
# alerts the triage workflow has not given due times.
DEFAULT_SLA: dict[str, tuple[timedelta, timedelta, timedelta]] = {
    # severity: (acknowledge, contain human, contain non-human)
    "critical": (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=2)),
    "high": (timedelta(hours=1), timedelta(hours=4), timedelta(hours=8)),
    "medium": (timedelta(hours=8), timedelta(days=3), timedelta(days=5)),
    "low": (timedelta(days=3), timedelta(days=14), timedelta(days=30)),
}

# A response measure at or above this share counts as effective evidence.
TARGET_RATE = 0.9

REMEDIATED = (Resolution.TRUE_POSITIVE, Resolution.AUTO_REMEDIATED)

AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("< 1 day", timedelta(days=1)),
    ("1–7 days", timedelta(days=7)),
    ("7–30 days", timedelta(days=30)),
    ("> 30 days", None),
)


@dataclass(frozen=True)
class Period:
    """A half-open reporting window [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("The period must end after it starts.")

    @classmethod
    def last_days(cls, days: int, *, now: datetime | None = None) -> Period:
        now = now or timezone.now()
        return cls(start=now - timedelta(days=days), end=now)

    @classmethod
    def from_dates(cls, first: date, last: date) -> Period:
        """Whole days ``first`` to ``last`` inclusive, in the current time zone."""
        tz = timezone.get_current_timezone()
        start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        return cls(start=start, end=end)

    @property
    def label(self) -> str:
        last = timezone.localtime(self.end - timedelta(microseconds=1))
        return f"{timezone.localtime(self.start):%Y-%m-%d} to {last:%Y-%m-%d}"

    def days(self) -> list[date]:
        first = timezone.localtime(self.start).date()
        last = timezone.localtime(self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def default_due(
    severity: str, identity_kind: str, created_at: datetime
) -> tuple[datetime, datetime]:
    """Acknowledge-by and contain-by times from ``DEFAULT_SLA``."""
    ack, contain_human, contain_nhi = DEFAULT_SLA.get(severity, DEFAULT_SLA["low"])
    contain = contain_human if identity_kind == IdentityKind.HUMAN else contain_nhi
    return created_at + ack, created_at + contain


@dataclass(frozen=True)
class AlertTimes:
    """One alert's response timeline, as recorded in its history."""

    id: int
    detector_id: str
    severity: str
    identity_kind: str
    stage: str
    resolution: str
    created_at: datetime
    ack_at: datetime | None
    contain_at: datetime | None
    close_at: datetime | None
    ack_due: datetime
    contain_due: datetime

    @property
    def needs_containment(self) -> bool:
        """Containment is owed unless the alert was closed as not-a-compromise or suppressed."""
        if self.contain_at is not None:
            return True
        if self.stage == Stage.SUPPRESSED:
            return False
        return self.stage != Stage.CLOSED or self.resolution in REMEDIATED

    def ack_sla(self, as_of: datetime) -> bool | None:
        """True met, False breached, None not due yet."""
        if self.ack_at is not None:
            return self.ack_at <= self.ack_due
        return False if self.ack_due < as_of else None

    def contain_sla(self, as_of: datetime) -> bool | None:
        if not self.needs_containment:
            return None
        if self.contain_at is not None:
            return self.contain_at <= self.contain_due
        return False if self.contain_due < as_of else None


def alert_times(
    *, created_from: datetime, created_to: datetime, detector_ids: Iterable[str] | None = None
) -> list[AlertTimes]:
    """Timelines of the alerts raised in [created_from, created_to) — one query."""
    alerts = Alert.objects.filter(created_at__gte=created_from, created_at__lt=created_to)
    if detector_ids is not None:
        alerts = alerts.filter(detector_id__in=list(detector_ids))
    left_new = Q(history__from_stage=Stage.NEW) & ~Q(history__to_stage__in=["", Stage.NEW])
    alerts = alerts.annotate(
        first_ack=Min("history__at", filter=left_new),
        first_contain=Min("history__at", filter=Q(history__to_stage=Stage.CONTAINED)),
        first_close=Min("history__at", filter=Q(history__to_stage=Stage.CLOSED)),
    )
    fields = [
        "id",
        "detector_id",
        "severity",
        "identity__kind",
        "stage",
        "resolution",
        "created_at",
        "first_ack",
        "first_contain",
        "first_close",
        "ack_due_at",
        "contain_due_at",
    ]
    rows = []
    for row in alerts.values(*fields).order_by("created_at", "id"):
        ack_due, contain_due = default_due(
            row["severity"], row["identity__kind"], row["created_at"]
        )
        ack_due = row["ack_due_at"] or ack_due
        contain_due = row["contain_due_at"] or contain_due
        contain_at = row["first_contain"]
        if contain_at is None and row["resolution"] in REMEDIATED:
            contain_at = row["first_close"]
        rows.append(
            AlertTimes(
                id=row["id"],
                detector_id=row["detector_id"],
                severity=row["severity"],
                identity_kind=row["identity__kind"],
                stage=row["stage"],
                resolution=row["resolution"],
                created_at=row["created_at"],
                ack_at=row["first_ack"],
                contain_at=contain_at,
                close_at=row["first_close"],
                ack_due=ack_due,
                contain_due=contain_due,
            )
        )
    return rows


def _mean_seconds(deltas: list[timedelta]) -> float | None:
    return fmean(d.total_seconds() for d in deltas) if deltas else None


def _rate(met: int, breached: int) -> float | None:
    return met / (met + breached) if met + breached else None


@dataclass(frozen=True)
class ResponseMetrics:
    """MTTA/MTTC/MTTR (seconds) and SLA counts over a set of alerts."""

    alerts: int
    acknowledged: int
    contained: int
    resolved: int
    mtta_s: float | None
    mttc_s: float | None
    mttr_s: float | None
    ack_met: int
    ack_breached: int
    contain_met: int
    contain_breached: int

    @property
    def ack_sla_rate(self) -> float | None:
        return _rate(self.ack_met, self.ack_breached)

    @property
    def contain_sla_rate(self) -> float | None:
        return _rate(self.contain_met, self.contain_breached)

    @property
    def sla_rate(self) -> float | None:
        """Share of due SLA clocks (acknowledge and contain together) that were met."""
        return _rate(self.ack_met + self.contain_met, self.ack_breached + self.contain_breached)

    @property
    def breaches(self) -> int:
        return self.ack_breached + self.contain_breached


def response_metrics(times: Iterable[AlertTimes], *, as_of: datetime) -> ResponseMetrics:
    """Figures over ``times``; clocks not yet due at ``as_of`` count neither way."""
    times = list(times)
    acked = [t.ack_at - t.created_at for t in times if t.ack_at]
    contained = [t.contain_at - t.created_at for t in times if t.contain_at]
    resolved = [t.close_at - t.created_at for t in times if t.close_at]
    ack = [t.ack_sla(as_of) for t in times]
    contain = [t.contain_sla(as_of) for t in times]
    return ResponseMetrics(
        alerts=len(times),
        acknowledged=len(acked),
        contained=len(contained),
        resolved=len(resolved),
        mtta_s=_mean_seconds(acked),
        mttc_s=_mean_seconds(contained),
        mttr_s=_mean_seconds(resolved),
        ack_met=ack.count(True),
        ack_breached=ack.count(False),
        contain_met=contain.count(True),
        contain_breached=contain.count(False),
    )


def response_trend(
    times: Iterable[AlertTimes], *, period: Period, as_of: datetime
) -> dict[date, ResponseMetrics]:
    """Response figures of the alerts raised on each day of ``period``."""
    by_day: dict[date, list[AlertTimes]] = defaultdict(list)
    for t in times:
        by_day[timezone.localtime(t.created_at).date()].append(t)
    return {day: response_metrics(by_day.get(day, []), as_of=as_of) for day in period.days()}


def escalations(period: Period) -> int:
    """Alerts escalated in the period: a history row naming an escalation, or ``escalated_at``
    in the period."""
    alert_ids = set(
        AlertHistory.objects.filter(
            at__gte=period.start, at__lt=period.end, action__icontains="escalat"
        ).values_list("alert_id", flat=True)
    )
    alert_ids |= set(
        Alert.objects.filter(
            escalated_at__gte=period.start, escalated_at__lt=period.end
        ).values_list("id", flat=True)
    )
    return len(alert_ids)


@dataclass(frozen=True)
class OpenAlerts:
    """Open alerts by age at ``as_of``, and how many are past their containment due time."""

    by_age: dict[str, int]
    overdue: int

    @property
    def total(self) -> int:
        return sum(self.by_age.values())


def open_alerts(*, as_of: datetime, detector_ids: Iterable[str] | None = None) -> OpenAlerts:
    return open_alerts_by_detector(as_of=as_of, detector_ids=detector_ids).get("*", _EMPTY_OPEN)


_EMPTY_OPEN = OpenAlerts(by_age={label: 0 for label, _ in AGE_BUCKETS}, overdue=0)


def open_alerts_by_detector(
    *, as_of: datetime, detector_ids: Iterable[str] | None = None
) -> dict[str, OpenAlerts]:
    """``OpenAlerts`` per detector id, plus ``"*"`` for all of them together."""
    rows = Alert.objects.filter(stage__in=Stage.open_stages(), created_at__lt=as_of)
    if detector_ids is not None:
        rows = rows.filter(detector_id__in=list(detector_ids))
    fields = ["detector_id", "severity", "identity__kind", "created_at", "stage", "contain_due_at"]
    ages: dict[str, dict[str, int]] = defaultdict(lambda: {label: 0 for label, _ in AGE_BUCKETS})
    overdue: dict[str, int] = defaultdict(int)
    for row in rows.values(*fields).iterator():
        age = as_of - row["created_at"]
        label = next(lbl for lbl, limit in AGE_BUCKETS if limit is None or age < limit)
        _ack_due, contain_due = default_due(
            row["severity"], row["identity__kind"], row["created_at"]
        )
        if row["contain_due_at"]:
            contain_due = row["contain_due_at"]
        late = row["stage"] != Stage.CONTAINED and contain_due < as_of
        for key in (row["detector_id"], "*"):
            ages[key][label] += 1
            overdue[key] += int(late)
    return {key: OpenAlerts(by_age=dict(ages[key]), overdue=overdue[key]) for key in ages}


@dataclass(frozen=True)
class RevocationMetrics:
    """Revocation outcomes and containment verification of the revocations requested in a
    period."""

    requested: int = 0
    succeeded: int = 0
    partially_succeeded: int = 0
    failed: int = 0
    rejected: int = 0
    in_flight: int = 0
    verified: int = 0
    containment_failed: int = 0
    verification_pending: int = 0
    daily: dict[str, dict[date, int]] = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return self.succeeded + self.partially_succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.completed if self.completed else None

    @property
    def verification_rate(self) -> float | None:
        decided = self.verified + self.containment_failed
        return self.verified / decided if decided else None


def revocation_metrics(period: Period) -> RevocationMetrics:
    rows = Revocation.objects.filter(requested_at__gte=period.start, requested_at__lt=period.end)
    by_status = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
    by_containment = dict(rows.values_list("containment").annotate(n=Count("id")).order_by())
    daily: dict[str, dict[date, int]] = defaultdict(dict)
    for requested_at, status in rows.values_list("requested_at", "status"):
        day = timezone.localtime(requested_at).date()
        daily[status][day] = daily[status].get(day, 0) + 1
    return RevocationMetrics(
        requested=sum(by_status.values()),
        succeeded=by_status.get(RevocationStatus.SUCCEEDED, 0),
        partially_succeeded=by_status.get(RevocationStatus.PARTIALLY_SUCCEEDED, 0),
        failed=by_status.get(RevocationStatus.FAILED, 0),
        rejected=by_status.get(RevocationStatus.REJECTED, 0),
        in_flight=sum(by_status.get(s, 0) for s in RevocationStatus.in_flight()),
        verified=by_containment.get(Containment.VERIFIED, 0),
        containment_failed=by_containment.get(Containment.FAILED, 0),
        verification_pending=by_containment.get(Containment.PENDING, 0),
        daily=dict(daily),
    )


def alerts_daily(period: Period, *, by: str) -> dict[str, dict[date, int]]:
    """Alerts raised per day in ``period``, split ``by`` "detector_id" or "severity"."""
    series: dict[str, dict[date, int]] = defaultdict(dict)
    rows = (
        Alert.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values_list(by, "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    for key, day, n in rows:
        series[key][day] = n
    return dict(series)


def human_duration(seconds: float | None) -> str:
    """'42 min', '3.5 h', '2.1 d'; an em dash for no data."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"
