"""The demo plan: plain data describing the organisation, its traffic and the embedded attacks.

A plan is what ``generator.build_plan`` returns and what ``seed.demo_seed`` persists. It holds
events as compact ``PlannedEvent`` records and renders them into the vendors' JSON shapes on
demand (``DemoPlan.events``), so a full-size plan stays small in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from .agents import UserAgent
from .networks import Network

OKTA = "okta-prod"
ENTRA = "entra-prod"
GOOGLE = "google-workspace"
SOURCE_NAMES = (OKTA, ENTRA, GOOGLE)

# The detector ids scenarios name; detectors use the same ids.
DETECTORS = (
    "session_context_change",
    "impossible_travel",
    "concurrent_session_reuse",
    "use_after_revocation",
    "session_policy_violation",
    "nhi_new_context",
    "human_use_of_nhi",
    "high_value_without_reauth",
    "idp_risk_verdict",
)


@dataclass(frozen=True, slots=True)
class DemoOwner:
    """A team accountable for identities (becomes an ``Owner`` row)."""

    name: str
    email: str
    chat_webhook_url: str
    escalation_contact: str


@dataclass(frozen=True, slots=True)
class DemoSource:
    """One demo IdP tenant (becomes a disabled ``Source`` row)."""

    name: str
    kind: str
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DemoIdentity:
    """A human or non-human identity and how each source names it."""

    key: str
    kind: str  # IdentityKind value
    display_name: str
    login: str
    privilege_tier: str  # PrivilegeTier value
    department: str
    owner: str | None  # DemoOwner.name
    provider_ids: dict[str, str]  # source name -> the provider's id for this identity
    home_city: str = ""  # humans: where they work; NHIs: the cloud region they run in

    @property
    def is_human(self) -> bool:
        return self.kind == "human"


@dataclass(frozen=True, slots=True)
class Device:
    """A laptop or phone: its device-token hash (Okta dtHash) and Entra device id stay fixed."""

    key: str
    platform: str  # windows | mac | ios | android
    browser: str  # CHROME | EDGE | SAFARI | FIREFOX | APP
    dt_hash: str
    device_id: str  # Entra deviceId; '' when the device is not registered
    display_name: str
    managed: bool
    lag_days: int  # how many days after a browser release this device updates


@dataclass(slots=True)
class PlannedEvent:
    """One event before rendering: who, when, from where, in which session, and specifics.

    ``name`` is the Okta eventType, the Entra sign-in category (interactiveUser,
    nonInteractiveUser, servicePrincipal, managedIdentity) or the Google event name.
    """

    at: datetime
    source: str
    event_id: str
    name: str
    identity: DemoIdentity
    network: Network
    ip: str
    agent: UserAgent
    device: Device | None = None
    session: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DemoScenario:
    """One embedded attack, recorded so tests and detectors can check they find it."""

    key: str
    title: str
    detectors: tuple[str, ...]
    source: str
    identity_login: str
    session_keys: tuple[str, ...]
    at: datetime  # when the malicious part starts
    event_ids: tuple[str, ...]  # provider event ids of every event the scenario added
    malicious_event_ids: tuple[str, ...]  # the subset a detector should point at
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "detectors": list(self.detectors),
            "source": self.source,
            "identity_login": self.identity_login,
            "session_keys": list(self.session_keys),
            "at": self.at.isoformat(),
            "event_ids": list(self.event_ids),
            "malicious_event_ids": list(self.malicious_event_ids),
            "description": self.description,
        }


@dataclass(slots=True)
class DemoPlan:
    """Everything ``seed_demo`` writes; a pure function of (seed, now, days, scale)."""

    seed: int
    now: datetime
    days: int
    scale: float
    owners: list[DemoOwner]
    sources: list[DemoSource]
    identities: list[DemoIdentity]
    scenarios: list[DemoScenario]
    planned: dict[str, list[PlannedEvent]]  # per source name, in time order

    @property
    def event_count(self) -> int:
        return sum(len(events) for events in self.planned.values())

    def events(self, source: str) -> Iterator[dict[str, Any]]:
        """The source's raw events as the vendor's JSON would deliver them, oldest first."""
        from .vendors import RENDERERS

        render = RENDERERS[source]
        for event in self.planned[source]:
            yield render(event)

    def session_keys(self, source: str) -> set[str]:
        return {e.session for e in self.planned[source] if e.session}

    def scenarios_json(self) -> bytes:
        return orjson.dumps([s.as_dict() for s in self.scenarios], option=orjson.OPT_INDENT_2)

    def digest(self) -> str:
        """SHA-256 over the whole plan, rendered events included: equal plans, equal digests."""
        h = hashlib.sha256()
        head = {
            "seed": self.seed,
            "now": self.now.isoformat(),
            "days": self.days,
            "scale": self.scale,
            "owners": [vars_of(o) for o in self.owners],
            "sources": [vars_of(s) for s in self.sources],
            "identities": [vars_of(i) for i in self.identities],
            "scenarios": [s.as_dict() for s in self.scenarios],
        }
        h.update(orjson.dumps(head, option=orjson.OPT_SORT_KEYS))
        for source in SOURCE_NAMES:
            for raw in self.events(source):
                h.update(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS))
        return h.hexdigest()


def vars_of(obj: Any) -> dict[str, Any]:
    """A slotted dataclass as a dict (``dataclasses.asdict`` deep-copies, which is slow)."""
    return {name: getattr(obj, name) for name in obj.__slots__}
