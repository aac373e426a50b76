"""Reads for alerts, the triage queue and detectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from sessions_app.choices import IdentityKind, PrivilegeTier, SessionStatus
from sessions_app.models import Identity, Session, TelemetryEvent

from .detectors import REGISTRY
from .detectors.base import Detector
from .models import (
    DEFAULT_SLA_MINUTES,
    Alert,
    DetectorConfig,
    IdentityClass,
    Resolution,
    SavedView,
    Severity,
    SLAPolicy,
    Stage,
    Substatus,
    SuppressionRule,
)
from .models.alerts import running_due_at

TIMELINE_LIMIT = 200
RELATED_LIMIT = 10
# Fields of consecutive events compared to highlight what changed within a session.
TIMELINE_FIELDS = ("ip", "asn", "country", "city", "user_agent", "device_id", "client_app")


def alert_list(user=None) -> QuerySet[Alert]:
    """The queue's rows with what each row shows, restricted to what ``user`` may see."""
    qs = Alert.objects.restrict(user, "view") if user is not None else Alert.objects.all()
    return qs.select_related("identity", "assignee", "response_owner").defer("evidence", "factors")


# What a queue row shows, read as plain values: building 50 model instances (and their
# identity, assignee and owner) cost more than the query itself.
QUEUE_ROW_FIELDS = (
    "id",
    "title",
    "summary",
    "severity",
    "score",
    "stage",
    "substatus",
    "resolution",
    "escalation_level",
    "last_seen_at",
    "occurrences",
    "acknowledged_at",
    "ack_due_at",
    "contained_at",
    "contain_due_at",
    "identity__display_name",
    "identity__kind",
    "identity__privilege_tier",
    "assignee__username",
    "response_owner__name",
)
_LABELS = {
    "severity": dict(Severity.choices),
    "stage": dict(Stage.choices),
    "substatus": dict(Substatus.choices),
    "resolution": dict(Resolution.choices),
    "kind": dict(IdentityKind.choices),
}


def queue_row_values(rows: QuerySet[Alert]) -> list[dict]:
    """One page of ``rows`` (a slice of ``alert_list``) as the plain values ``queue_rows``
    formats, in the page's order.

    Two steps: the page's ids first — on PostgreSQL an index-only scan of the open queue's
    covering index, whatever the filter — then the rows by id, so only the page's own rows
    are read from the table.
    """
    ids = list(rows.values_list("pk", flat=True))
    if not ids:
        return []
    by_id = {v["id"]: v for v in Alert.objects.filter(pk__in=ids).values(*QUEUE_ROW_FIELDS)}
    return [by_id[pk] for pk in ids if pk in by_id]


def queue_rows(values, *, now: datetime) -> list[dict]:
    """Queue rows ready to print: every label resolved and every time formatted in the
    active (viewer's) time zone, so the template only places strings."""
    tiers = dict(PrivilegeTier.choices)
    zone = timezone.get_current_timezone()
    rows = []
    for v in values:
        due = running_due_at(
            stage=v["stage"],
            acknowledged_at=v["acknowledged_at"],
            ack_due_at=v["ack_due_at"],
            contained_at=v["contained_at"],
            contain_due_at=v["contain_due_at"],
        )
        kind, tier = v["identity__kind"], v["identity__privilege_tier"]
        rows.append(
            {
                "pk": v["id"],
                "id": str(v["id"]),
                "title": v["title"],
                "summary": v["summary"][:140],
                "severity": v["severity"],
                "severity_label": _LABELS["severity"].get(v["severity"], v["severity"]),
                "score": str(v["score"]),
                "identity": v["identity__display_name"],
                "nhi_kind": _LABELS["kind"].get(kind, kind) if kind != IdentityKind.HUMAN else "",
                "privilege": tiers.get(tier, tier) if tier != PrivilegeTier.STANDARD else "",
                "stage": _LABELS["stage"].get(v["stage"], v["stage"]),
                "substatus": _LABELS["substatus"].get(v["substatus"], v["substatus"]),
                "resolution": _LABELS["resolution"].get(v["resolution"], v["resolution"]),
                "escalation_level": v["escalation_level"],
                "assignee": v["assignee__username"] or "—",
                "owner": v["response_owner__name"] or "—",
                "due": due.astimezone(zone).strftime("%m-%d %H:%M") if due else "",
                "breaching": bool(due and due < now),
                "last_seen": v["last_seen_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "occurrences": str(v["occurrences"]) if v["occurrences"] > 1 else "",
            }
        )
    return rows


def queue_row(pk: int, user, *, now: datetime) -> dict:
    """One queue row (after an action on it), restricted like the queue."""
    [row] = queue_rows(queue_row_values(alert_list(user).filter(pk=pk)), now=now)
    return row


def alert_detail(pk: int, user=None) -> Alert:
    qs = Alert.objects.restrict(user, "view") if user is not None else Alert.objects.all()
    return qs.select_related(
        "identity",
        "identity__owner",
        "session",
        "source",
        "assignee",
        "response_owner",
        "risk_approver",
        "suppressed_by",
    ).get(pk=pk)  # recurrence_of / duplicate_of: the page shows only their ids


def users_with_perm(perm: str) -> QuerySet:
    """Active users holding ``app_label.codename`` through a group, directly or as superuser."""
    app_label, codename = perm.split(".", 1)
    by_group = Q(
        groups__permissions__codename=codename,
        groups__permissions__content_type__app_label=app_label,
    )
    direct = Q(
        user_permissions__codename=codename,
        user_permissions__content_type__app_label=app_label,
    )
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | by_group | direct)
        .distinct()
        .order_by("username")
    )


# ---------------------------------------------------------------------------- SLA


def identity_class(kind: str) -> str:
    return IdentityClass.HUMAN if kind == IdentityKind.HUMAN else IdentityClass.NON_HUMAN


def sla_matrix() -> dict[tuple[str, str], tuple[int, int]]:
    """(severity, identity class) → (ack minutes, contain minutes): stored cells over defaults."""
    matrix = dict(DEFAULT_SLA_MINUTES)
    for cell in SLAPolicy.objects.all():
        matrix[(cell.severity, cell.identity_class)] = (cell.ack_minutes, cell.contain_minutes)
    return matrix


def sla_due_times(
    *, severity: str, identity_kind: str, start: datetime, matrix: dict | None = None
) -> tuple[datetime, datetime]:
    """When an alert raised at ``start`` must be acknowledged and contained."""
    ack, contain = (matrix or sla_matrix())[(severity, identity_class(identity_kind))]
    return start + timedelta(minutes=ack), start + timedelta(minutes=contain)


# ---------------------------------------------------------------------------- suppression


def active_suppression_rules(*, detector_id: str, now: datetime) -> QuerySet[SuppressionRule]:
    return SuppressionRule.objects.filter(
        detector_id=detector_id, ended_at__isnull=True, expires_at__gt=now
    ).order_by("id")


def matching_suppression(
    *, detector_id: str, identity_id: int, evidence: dict, now: datetime
) -> SuppressionRule | None:
    """The first active rule an alert with these properties falls under, or None."""
    for rule in active_suppression_rules(detector_id=detector_id, now=now):
        if rule.matches(detector_id=detector_id, identity_id=identity_id, evidence=evidence):
            return rule
    return None


def suppression_rule_list() -> QuerySet[SuppressionRule]:
    # Spelled out: Meta.ordering does not apply to an aggregating query, and pages of an
    # unordered list could repeat or skip rules.
    return (
        SuppressionRule.objects.select_related("identity", "created_by")
        .annotate(alert_count=Count("alerts"))
        .order_by("-created_at", "-id")
    )


# ---------------------------------------------------------------------------- queue


def queue_counts(user, now: datetime) -> dict[str, int]:
    """The counters above the queue, in one aggregate query."""
    open_q = Q(stage__in=Stage.open_stages())
    breaching = Q(acknowledged_at__isnull=True, ack_due_at__lt=now) | Q(
        contained_at__isnull=True, contain_due_at__lt=now
    )
    # Every counter is about open alerts and counts a column of the partial index
    # alert_open_counters, so PostgreSQL answers from the index alone (no heap, no closed rows).
    return (
        Alert.objects.restrict(user, "view")
        .filter(open_q)
        .aggregate(
            new=Count("stage", filter=Q(stage=Stage.NEW)),
            in_progress=Count("stage", filter=Q(stage=Stage.IN_PROGRESS)),
            contained=Count("stage", filter=Q(stage=Stage.CONTAINED)),
            mine=Count("stage", filter=Q(assignee_id=user.pk)),
            unassigned=Count("stage", filter=Q(assignee__isnull=True)),
            breaching=Count("stage", filter=breaching),
        )
    )


# Built-in saved views: names and the query strings they stand for.
BUILTIN_VIEWS = [
    ("My queue", "assignee=me"),
    ("Unassigned", "assignee=none"),
    ("SLA breaching", "sla=breaching"),
    ("Non-human identities", "identity_class=non_human"),
    ("Closed", "status=closed"),
]


def saved_views(user) -> list[SavedView]:
    return list(SavedView.objects.filter(user=user))


# ---------------------------------------------------------------------------- detail


@dataclass(frozen=True)
class TimelineRow:
    event: TelemetryEvent
    changed: frozenset[str]


def alert_timeline(alert: Alert) -> list[TimelineRow]:
    """The session's events (or the identity's around the alert) with changed fields marked."""
    fields = (
        "id",
        "occurred_at",
        "provider_event_type",
        "event_type",
        "outcome",
        "ip",
        "asn",
        "as_org",
        "country",
        "city",
        "lat",
        "lon",
        "anonymizer",
        "user_agent",
        "device_id",
        "client_app",
        "high_value_action",
        "session_key",
        "mfa",
    )
    if alert.session_id:
        qs = TelemetryEvent.objects.filter(session_id=alert.session_id)
    else:
        qs = TelemetryEvent.objects.filter(
            identity_id=alert.identity_id,
            occurred_at__gte=alert.first_seen_at - timedelta(hours=1),
            occurred_at__lte=alert.last_seen_at + timedelta(hours=1),
        )
    events = list(qs.only(*fields).order_by("-occurred_at", "-id")[:TIMELINE_LIMIT])
    events.reverse()
    rows, previous = [], None
    for event in events:
        changed = frozenset(
            f
            for f in TIMELINE_FIELDS
            if previous is not None and getattr(event, f) != getattr(previous, f)
        )
        rows.append(TimelineRow(event=event, changed=changed))
        previous = event
    return rows


@dataclass(frozen=True)
class Location:
    country: str
    city: str
    lat: float | None
    lon: float | None
    asn: int | None
    as_org: str
    ips: tuple[str, ...]
    events: int
    first_at: datetime
    last_at: datetime


def alert_locations(timeline: list[TimelineRow]) -> list[Location]:
    """Distinct places (city + network) the timeline's events came from, in order of first use."""
    groups: dict[tuple, dict] = {}
    for row in timeline:
        e = row.event
        key = (e.country, e.city, e.asn)
        group = groups.setdefault(
            key,
            {"event": e, "ips": [], "events": 0, "first": e.occurred_at, "last": e.occurred_at},
        )
        group["events"] += 1
        group["last"] = e.occurred_at
        if e.ip and e.ip not in group["ips"]:
            group["ips"].append(e.ip)
    return [
        Location(
            country=g["event"].country,
            city=g["event"].city,
            lat=g["event"].lat,
            lon=g["event"].lon,
            asn=g["event"].asn,
            as_org=g["event"].as_org,
            ips=tuple(g["ips"]),
            events=g["events"],
            first_at=g["first"],
            last_at=g["last"],
        )
        for g in groups.values()
    ]


def other_active_sessions(alert: Alert) -> list[Session]:
    return list(
        Session.objects.filter(identity_id=alert.identity_id, status=SessionStatus.ACTIVE)
        .exclude(pk=alert.session_id)
        .only("id", "session_key", "last_seen_at", "last_country", "last_ip", "risk_score")
        .order_by("-last_seen_at")[:RELATED_LIMIT]
    )


def related_alerts(alert: Alert) -> dict[str, list[Alert]]:
    """Alerts on the same session, the same identity and the same network (ASN)."""
    base = Alert.objects.exclude(pk=alert.pk).only(
        "id", "title", "severity", "stage", "last_seen_at", "identity_id"
    )
    related: dict[str, list[Alert]] = {}
    if alert.session_id:
        related["Same session"] = list(
            base.filter(session_id=alert.session_id).order_by("-last_seen_at")[:RELATED_LIMIT]
        )
    related["Same identity"] = list(
        base.filter(identity_id=alert.identity_id)
        .exclude(session_id=alert.session_id)
        .order_by("-last_seen_at")[:RELATED_LIMIT]
        if alert.session_id
        else base.filter(identity_id=alert.identity_id).order_by("-last_seen_at")[:RELATED_LIMIT]
    )
    asn = alert_asn(alert)
    if asn is not None:
        # Sessions last seen on that network: uses the session table, not the evidence JSON.
        sessions = Session.objects.filter(last_asn=asn).exclude(identity_id=alert.identity_id)
        related[f"Same network (AS{asn})"] = list(
            base.filter(session__in=sessions.values("pk")[:500]).order_by("-last_seen_at")[
                :RELATED_LIMIT
            ]
        )
    return related


def alert_asn(alert: Alert) -> int | None:
    """The network the alert is about: the suspicious side if the evidence names it."""
    evidence = alert.evidence or {}
    for key in ("asn", "new_asn", "to_asn"):
        if isinstance(evidence.get(key), int):
            return evidence[key]
    for key in ("to", "new", "second", "current"):
        value = evidence.get(key)
        if isinstance(value, dict) and isinstance(value.get("asn"), int):
            return value["asn"]
    if alert.session_id and alert.session.last_asn:
        return alert.session.last_asn
    return None


def identity_for_panel(identity_id: int) -> Identity:
    return Identity.objects.select_related("owner").get(pk=identity_id)


# ---------------------------------------------------------------------------- detectors


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


def open_alert_counts(user) -> dict[str, int]:
    """Open alerts the user may see, by severity, plus the total (for the home page)."""
    rows = (
        Alert.objects.restrict(user, "view")
        .filter(stage__in=Stage.open_stages())
        .values("severity")
        .annotate(n=Count("id"))
    )
    counts = {row["severity"]: row["n"] for row in rows}
    return {
        "total": sum(counts.values()),
        **{severity: counts.get(severity, 0) for severity in Severity.values},
    }
