"""Shared contracts of the detectors: specs, inputs, findings, scoring and small helpers.

Detectors are pure functions over plain data: the engine hands them what it knows about a
session or an identity *before* the new events (``SessionState`` / ``IdentityState``), the new
events themselves, validated parameters and a session policy, and gets ``Finding`` objects
back. They never read the clock or the database, so the same input always gives the same
output; anything time-dependent (lifetime sweeps) takes ``now`` from the caller.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sessions_app.choices import EventType, IdentityKind, Outcome, PrivilegeTier, TokenKind
from sessions_app.ingest.schema import NormalizedEvent

from .useragent import UserAgent, parse_user_agent

SEVERITIES = ("low", "medium", "high", "critical")

# Score bands shared by every detector so a "high" means the same thing everywhere.
# A finding's score is the sum of its factors' points, clamped to 0–100.
SEVERITY_BANDS: tuple[tuple[int, str], ...] = ((85, "critical"), (65, "high"), (40, "medium"))


# --------------------------------------------------------------------------- specs & params


@dataclass(frozen=True)
class Threshold:
    """One tunable parameter of a detector, with its allowed range."""

    default: int | float
    min: int | float
    max: int | float
    unit: str
    help: str

    def __post_init__(self) -> None:
        if not (self.min <= self.default <= self.max):
            raise ValueError(f"default {self.default} outside [{self.min}, {self.max}]")

    @property
    def integer(self) -> bool:
        """Integer thresholds (the default is an int) accept whole numbers only."""
        return isinstance(self.default, int)


class ParamsError(ValueError):
    """Invalid detector parameters; ``errors`` maps each bad field to what is wrong with it."""

    def __init__(self, detector_id: str, errors: Mapping[str, str]):
        self.detector_id = detector_id
        self.errors = dict(errors)
        detail = "; ".join(f"{name}: {problem}" for name, problem in sorted(self.errors.items()))
        super().__init__(f"invalid parameters for {detector_id}: {detail}")


def validate_thresholds(
    detector_id: str, thresholds: Mapping[str, Threshold], raw: Mapping[str, Any] | None
) -> dict[str, int | float]:
    """Check ``raw`` against ``thresholds`` and return a complete params dict.

    Missing fields take their defaults. Unknown fields, non-numbers (booleans included),
    fractions for integer fields and values outside [min, max] are errors; all of them are
    reported together in one ``ParamsError``.
    """
    raw = dict(raw or {})
    errors: dict[str, str] = {}
    for name in sorted(set(raw) - set(thresholds)):
        errors[name] = "unknown parameter"
    params: dict[str, int | float] = {}
    for name, spec in thresholds.items():
        if name not in raw:
            params[name] = spec.default
            continue
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "a whole number" if spec.integer else "a number"
            errors[name] = f"must be {kind}, got {type(value).__name__}"
            continue
        if spec.integer:
            if isinstance(value, float):
                if not value.is_integer():
                    errors[name] = f"must be a whole number, got {value}"
                    continue
                value = int(value)
        else:
            value = float(value)
        if value < spec.min:
            errors[name] = f"must be at least {spec.min} {spec.unit}, got {value}"
        elif value > spec.max:
            errors[name] = f"must be at most {spec.max} {spec.unit}, got {value}"
        else:
            params[name] = value
    if errors:
        raise ParamsError(detector_id, errors)
    return params


@dataclass(frozen=True)
class DetectorSpec:
    """What a detector is, in plain words, with its tunables and framework mappings."""

    id: str
    version: int
    title: str
    description: str
    severity_logic: str
    thresholds: dict[str, Threshold]
    owasp_nhi: tuple[str, ...]
    nist_csf: tuple[str, ...]
    mitre_attack: tuple[str, ...]
    scope: str  # "session" | "identity"
    applies_to: str  # "all" | "human" | "non_human"

    def __post_init__(self) -> None:
        if self.scope not in ("session", "identity"):
            raise ValueError(f"{self.id}: scope must be 'session' or 'identity'")
        if self.applies_to not in ("all", "human", "non_human"):
            raise ValueError(f"{self.id}: applies_to must be 'all', 'human' or 'non_human'")


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class SessionPolicy:
    """Session limits a detector checks against (seconds; ``None`` means no limit)."""

    max_lifetime_s: int | None
    idle_timeout_s: int | None
    reauth_window_s: int
    device_binding: bool
    name: str
    # ISO 3166-1 alpha-2 codes a session may be used from; empty: anywhere.
    allowed_countries: tuple[str, ...] = ()


# NIST SP 800-63B-4 (final, 2025) §2.2.3, AAL2: the overall timeout SHOULD be no more than
# 24 hours and the inactivity timeout SHOULD be no more than 1 hour
# (../shared/reference/nist_800_63b_session.json, "AAL2"). The 1 h re-authentication window
# for high-value actions is our product default, aligned with the AAL2 inactivity limit.
DEFAULT_POLICY = SessionPolicy(
    max_lifetime_s=24 * 3600,
    idle_timeout_s=3600,
    reauth_window_s=3600,
    device_binding=False,
    name="NIST SP 800-63B-4 AAL2",
)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SessionState:
    """What the engine knows about one session before the new events arrive.

    ``session_key`` is whatever the engine uses to name the session uniquely (it becomes the
    finding's ``dedup_subject``). ``prior_events`` is a recent window of the session's earlier
    events, in chronological order.
    """

    session_key: str
    token_kind: str = TokenKind.BROWSER_SESSION
    identity_kind: str = IdentityKind.HUMAN
    privilege_tier: str = PrivilegeTier.STANDARD
    status: str = "active"
    revoked_at: datetime | None = None
    ended_at: datetime | None = None
    authenticated_at: datetime | None = None
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None
    credential_changed_at: datetime | None = None
    prior_events: tuple[NormalizedEvent, ...] = ()


@dataclass(frozen=True)
class ContextSeen:
    """One learned value (an ASN, a country, …) of a non-human identity's baseline."""

    first_seen: datetime
    last_seen: datetime
    count: int


@dataclass(frozen=True)
class Baseline:
    """The contexts a non-human identity has been seen in, learned from its own history.

    Keys are strings: ASNs as "AS64500", countries as ISO codes, IP prefixes as /24 (IPv4) or
    /48 (IPv6) networks, client families as parsed UA families. ``started_at`` is the first
    event ever learned; the learning period runs from there.
    """

    started_at: datetime | None = None
    asns: Mapping[str, ContextSeen] = field(default_factory=dict)
    countries: Mapping[str, ContextSeen] = field(default_factory=dict)
    ip_prefixes: Mapping[str, ContextSeen] = field(default_factory=dict)
    client_families: Mapping[str, ContextSeen] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for persistence (datetimes as ISO 8601)."""

        def dump(values: Mapping[str, ContextSeen]) -> dict[str, dict[str, Any]]:
            return {
                key: {
                    "first_seen": seen.first_seen.isoformat(),
                    "last_seen": seen.last_seen.isoformat(),
                    "count": seen.count,
                }
                for key, seen in sorted(values.items())
            }

        return {
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "asns": dump(self.asns),
            "countries": dump(self.countries),
            "ip_prefixes": dump(self.ip_prefixes),
            "client_families": dump(self.client_families),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Baseline:
        """Inverse of ``to_dict``; an empty or missing dict is an empty baseline."""
        data = data or {}

        def load(values: Mapping[str, Any] | None) -> dict[str, ContextSeen]:
            return {
                key: ContextSeen(
                    first_seen=datetime.fromisoformat(item["first_seen"]),
                    last_seen=datetime.fromisoformat(item["last_seen"]),
                    count=int(item["count"]),
                )
                for key, item in (values or {}).items()
            }

        started = data.get("started_at")
        return cls(
            started_at=datetime.fromisoformat(started) if started else None,
            asns=load(data.get("asns")),
            countries=load(data.get("countries")),
            ip_prefixes=load(data.get("ip_prefixes")),
            client_families=load(data.get("client_families")),
        )


@dataclass(frozen=True)
class IdentityState:
    """What the engine knows about one identity before the new events arrive.

    ``identity_key`` names the identity uniquely (it becomes the finding's ``dedup_subject``).
    ``recent_events`` is a recent window of the identity's earlier events across all its
    sessions, in chronological order.
    """

    identity_key: str
    identity_kind: str = IdentityKind.HUMAN
    privilege_tier: str = PrivilegeTier.STANDARD
    baseline: Baseline = field(default_factory=Baseline)
    recent_events: tuple[NormalizedEvent, ...] = ()
    credential_changed_at: datetime | None = None


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Factor:
    """One explainable contribution to a finding's score (negative points lower it)."""

    label: str
    points: int


@dataclass(frozen=True)
class Finding:
    """One detection result, ready for the engine to persist as (or merge into) an alert.

    ``variant`` distinguishes findings of one detector on one subject that must not be merged
    (e.g. the "lifetime" and "idle" kinds of a policy violation); it is "" otherwise.
    """

    detector_id: str
    detector_version: int
    dedup_subject: str
    severity: str
    score: int
    factors: tuple[Factor, ...]
    summary: str
    evidence: dict[str, Any]
    first_event_at: datetime | None
    last_event_at: datetime | None
    variant: str = ""


def score_factors(factors: Iterable[Factor]) -> tuple[int, str]:
    """Sum the factors' points into a 0–100 score and map it to a severity band."""
    total = max(0, min(100, sum(f.points for f in factors)))
    severity = next((name for floor, name in SEVERITY_BANDS if total >= floor), "low")
    return total, severity


def strongest(factor_lists: Sequence[Sequence[Factor]]) -> int:
    """Index of the highest-scoring factor list; the earliest wins ties, so it's deterministic."""
    return max(range(len(factor_lists)), key=lambda i: (sum(f.points for f in factor_lists[i]), -i))


def privilege_factors(tier: str) -> list[Factor]:
    """The shared bump for privileged identities: their sessions are worth more to attackers."""
    if tier == PrivilegeTier.BREAK_GLASS:
        return [Factor("Break-glass identity", 20)]
    if tier == PrivilegeTier.PRIVILEGED:
        return [Factor("Privileged identity", 10)]
    return []


def build_finding(
    spec: DetectorSpec,
    subject: str,
    factors: Sequence[Factor],
    summary: str,
    evidence: dict[str, Any],
    events: Sequence[NormalizedEvent],
    *,
    variant: str = "",
    first_event_at: datetime | None = None,
    last_event_at: datetime | None = None,
) -> Finding:
    """Score ``factors`` and assemble a ``Finding`` whose time span covers ``events``."""
    score, severity = score_factors(factors)
    times = sorted(e.occurred_at for e in events)
    return Finding(
        detector_id=spec.id,
        detector_version=spec.version,
        dedup_subject=subject,
        severity=severity,
        score=score,
        factors=tuple(factors),
        summary=summary,
        evidence=evidence,
        first_event_at=first_event_at or (times[0] if times else None),
        last_event_at=last_event_at or (times[-1] if times else None),
        variant=variant,
    )


# --------------------------------------------------------------------------- detector


class DetectFn(Protocol):
    def __call__(
        self,
        state: Any,
        new_events: Sequence[NormalizedEvent],
        params: Mapping[str, Any],
        policy: SessionPolicy,
        *,
        now: datetime | None = None,
    ) -> list[Finding]: ...


@dataclass(frozen=True)
class Detector:
    """A registered detector: its spec plus the pure function that runs it."""

    spec: DetectorSpec
    fn: Callable[..., list[Finding]]

    @property
    def id(self) -> str:
        return self.spec.id

    def default_params(self) -> dict[str, int | float]:
        return {name: t.default for name, t in self.spec.thresholds.items()}

    def validate_params(self, raw: Mapping[str, Any] | None) -> dict[str, int | float]:
        return validate_thresholds(self.spec.id, self.spec.thresholds, raw)

    def applies(self, identity_kind: str) -> bool:
        """Whether this detector looks at identities of ``identity_kind`` at all."""
        if self.spec.applies_to == "human":
            return identity_kind == IdentityKind.HUMAN
        if self.spec.applies_to == "non_human":
            return identity_kind != IdentityKind.HUMAN
        return True

    def detect(
        self,
        state: SessionState | IdentityState,
        new_events: Sequence[NormalizedEvent],
        params: Mapping[str, Any] | None = None,
        policy: SessionPolicy = DEFAULT_POLICY,
        *,
        now: datetime | None = None,
    ) -> list[Finding]:
        """Run the detector; ``params=None`` means defaults, otherwise they are validated."""
        expected = SessionState if self.spec.scope == "session" else IdentityState
        if not isinstance(state, expected):
            raise TypeError(f"{self.id} is {self.spec.scope}-scoped: pass a {expected.__name__}")
        if not self.applies(state.identity_kind):
            return []
        checked = self.validate_params(params)
        return self.fn(state, tuple(new_events), checked, policy, now=now)


# --------------------------------------------------------------------------- event helpers


def event_sort_key(event: NormalizedEvent) -> tuple[datetime, str, str]:
    """Chronological order with a stable tie-break, so arrival order never matters."""
    return (event.occurred_at, event.provider_event_id, event.provider)


def event_uid(event: NormalizedEvent) -> tuple[str, str]:
    return (event.provider, event.provider_event_id)


def merge_timeline(
    prior: Iterable[NormalizedEvent], new: Iterable[NormalizedEvent]
) -> tuple[list[NormalizedEvent], set[tuple[str, str]]]:
    """Prior and new events as one sorted, de-duplicated list, plus the ids of the new ones.

    A redelivered event (same provider id in both) counts once and as new.
    """
    by_uid: dict[tuple[str, str], NormalizedEvent] = {}
    for event in prior:
        by_uid[event_uid(event)] = event
    new_ids: set[tuple[str, str]] = set()
    for event in new:
        by_uid[event_uid(event)] = event
        new_ids.add(event_uid(event))
    return sorted(by_uid.values(), key=event_sort_key), new_ids


def is_failure(event: NormalizedEvent) -> bool:
    return event.outcome == Outcome.FAILURE


AUTH_EVENT_TYPES = frozenset({EventType.LOGON, EventType.MFA_CHALLENGE})
END_EVENT_TYPES = frozenset(
    {
        EventType.LOGOFF,
        EventType.SESSION_REVOKED,
        EventType.TOKEN_REVOKED,
        EventType.SESSION_EXPIRED,
    }
)


def is_authentication(event: NormalizedEvent) -> bool:
    """A successful (re-)authentication: a logon or an MFA challenge that succeeded."""
    return event.event_type in AUTH_EVENT_TYPES and event.outcome == Outcome.SUCCESS


def is_session_use(event: NormalizedEvent) -> bool:
    """An event that shows someone using the session (not its end, not a refused attempt)."""
    return (
        not is_failure(event)
        and event.event_type not in END_EVENT_TYPES
        and event.event_type != EventType.RISK_SIGNAL
    )


def ua(event: NormalizedEvent) -> UserAgent:
    return parse_user_agent(event.user_agent)


def ip_prefix(ip: str | None) -> str:
    """The /24 (IPv4) or /48 (IPv6) network of ``ip``, "" if absent or unparsable."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    bits = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{bits}", strict=False))


# --------------------------------------------------------------------------- IdP internals

# Okta's own Admin Console calls: client.id of the Admin Console app and Okta's
# "Okta-Integrations" user agent from Okta's cloud IPs. Panther's Okta.PotentiallyStolenSession
# skips them (../shared/research/detection.md §1.1 P1, §1.6 FP guidance).
OKTA_ADMIN_CONSOLE_CLIENT_ID = "okta.b58d5b75-07d4-5f25-bf59-368a1261a405"
OKTA_INTERNAL_UA_PREFIXES = ("okta-integrations", "okta/")
OKTA_SYSTEM_ACTOR = "system@okta.com"
# Microsoft's own ASN, "MICROSOFT-CORP-MSN-AS-BLOCK": Entra first-party back-end calls egress
# from it, so Elastic's and Panther's single-session-multiple-IP rules exclude it
# (detection.md §1.2 E1, PA1).
MICROSOFT_FIRST_PARTY_ASNS = frozenset({8075})


def _nested(data: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


def is_idp_internal(event: NormalizedEvent) -> bool:
    """True for calls the IdP makes itself, which show its own IPs, devices and agents."""
    ua_lower = (event.user_agent or "").strip().lower()
    if event.provider == "okta":
        if ua_lower.startswith(OKTA_INTERNAL_UA_PREFIXES) or ua_lower == "okta":
            return True
        if event.actor_login.lower() == OKTA_SYSTEM_ACTOR:
            return True
        client_id = _nested(event.raw, "client", "id")
        if client_id == OKTA_ADMIN_CONSOLE_CLIENT_ID and not parse_user_agent(ua_lower).known:
            return True
        if event.client_app == "Okta" and not ua_lower:
            return True
    return event.provider == "entra" and event.asn in MICROSOFT_FIRST_PARTY_ASNS


# --------------------------------------------------------------------------- wording


def short_key(key: str) -> str:
    """Session keys are long; show the head and tail, as the session list does."""
    return key if len(key) <= 12 else f"{key[:6]}…{key[-4:]}"


def human_duration(seconds: float) -> str:
    """42 s, 42 min, 25 h 5 min, 3 d 4 h — precise enough for an analyst, never ambiguous."""
    seconds = round(abs(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    # Up to two days, hours read better than days ("25 h" against a "24 h" limit).
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def describe_network(event: NormalizedEvent) -> str:
    """ "185.220.101.4 (AS9009 M247, Bucharest, RO)" — the full IP, as analysts need it."""
    parts = []
    if event.asn is not None:
        parts.append(f"AS{event.asn} {event.as_org}".strip())
    place = ", ".join(p for p in (event.city, event.country) if p)
    if place:
        parts.append(place)
    if event.anonymizer:
        parts.append("anonymiser")
    where = event.ip or "unknown IP"
    return f"{where} ({', '.join(parts)})" if parts else where


def describe_client(event: NormalizedEvent) -> str:
    return ua(event).label if event.user_agent else (event.client_app or "unknown client")


def event_context(event: NormalizedEvent) -> dict[str, Any]:
    """The context fields of one event, JSON-ready, for a finding's evidence."""
    agent = ua(event)
    return {
        "provider_event_id": event.provider_event_id,
        "provider_event_type": event.provider_event_type,
        "event_type": event.event_type,
        "outcome": event.outcome,
        "occurred_at": event.occurred_at.isoformat(),
        "session_key": event.session_key,
        "ip": event.ip,
        "asn": event.asn,
        "as_org": event.as_org,
        "country": event.country,
        "city": event.city,
        "anonymizer": event.anonymizer,
        "user_agent": event.user_agent,
        "client": agent.label if event.user_agent else "",
        "client_family": agent.family,
        "os": agent.os,
        "programmatic": agent.programmatic,
        "device_id": event.device_id,
        "client_app": event.client_app,
    }
