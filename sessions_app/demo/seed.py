"""Persist a demo plan: directory data by ORM, telemetry through the real ingestion pipeline.

Owners, sources, identities and their ``IdentityLink``s are written first so ingestion links
every event to an identity that already has its kind, privilege tier, owner and department.
Events then go through ``sessions_app.services.ingest_records`` in time-ordered batches,
exactly as a poller would deliver them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from govern.audit import audit_log
from govern.roles import ADMIN, ANALYST, MANAGER
from sessions_app.models import (
    Identity,
    IdentityLink,
    Owner,
    Session,
    Source,
    TelemetryEvent,
)
from sessions_app.services import IngestResult, ingest_records

from .catalog import DOMAIN, OWNERS
from .plan import SOURCE_NAMES, DemoPlan, PlannedEvent
from .vendors import RENDERERS

BATCH_SIZE = 5000
SCENARIOS_FILE = "demo_scenarios.json"

# One login per role; created only when missing, never changed afterwards.
DEMO_USERS = (
    ("analyst", "analyst-demo-pass", ANALYST),
    ("manager", "manager-demo-pass", MANAGER),
    ("admin", "admin-demo-pass", ADMIN),
)


class AlreadySeeded(Exception):
    """The database already holds demo data; reset it first."""


@dataclass
class SeedResult:
    owners: int
    identities: int
    result: IngestResult
    users_created: list[str]
    scenarios_path: Path


def scenarios_path() -> Path:
    return Path(settings.VAR_DIR) / SCENARIOS_FILE


def demo_is_seeded() -> bool:
    """True when any of the demo sources exists (the demo is seeded or half-seeded)."""
    return Source.objects.filter(name__in=SOURCE_NAMES).exists()


def demo_reset() -> dict[str, int]:
    """Delete the demo sources and everything that came from them; returns counts deleted.

    Identities linked to a demo source, or with a demo-domain login (break-glass accounts
    have no traffic), go with their sessions, links and alerts. Demo owners go when no
    identity still points at them. Demo users and the audit log stay.
    """
    with transaction.atomic():
        source_ids = list(Source.objects.filter(name__in=SOURCE_NAMES).values_list("pk", flat=True))
        identity_ids = set(
            IdentityLink.objects.filter(source_id__in=source_ids).values_list(
                "identity_id", flat=True
            )
        ) | set(Identity.objects.filter(login__iendswith="@" + DOMAIN).values_list("pk", flat=True))
        events, _ = TelemetryEvent.objects.filter(source_id__in=source_ids).delete()
        sessions, _ = Session.objects.filter(source_id__in=source_ids).delete()
        identities, _ = Identity.objects.filter(pk__in=identity_ids).delete()
        Source.objects.filter(pk__in=source_ids).delete()
        Owner.objects.filter(name__in=[o.name for o in OWNERS], identities__isnull=True).delete()
        counts = {"sources": len(source_ids), "events": events, "sessions": sessions}
        counts["identities"] = identities
        audit_log(
            actor_label="system:seed_demo",
            verb="demo.reset",
            object_type="sessions_app.source",
            object_repr="demo organisation",
            after=counts,
        )
    return counts


def demo_seed(*, plan: DemoPlan, progress: Callable[[str], None] | None = None) -> SeedResult:
    """Write ``plan`` to the database; raises ``AlreadySeeded`` if demo data is present."""
    say = progress or (lambda _message: None)
    if demo_is_seeded():
        raise AlreadySeeded("the demo organisation is already in the database")
    with transaction.atomic():
        sources = _create_directory(plan)
        audit_log(
            actor_label="system:seed_demo",
            verb="demo.seed",
            object_type="sessions_app.source",
            object_repr="demo organisation",
            after={
                "seed": plan.seed,
                "now": plan.now.isoformat(),
                "days": plan.days,
                "scale": plan.scale,
                "identities": len(plan.identities),
                "events": plan.event_count,
                "scenarios": [s.key for s in plan.scenarios],
            },
        )
    say(f"created {len(plan.owners)} owners, {len(plan.identities)} identities, 3 sources")
    total = IngestResult()
    done = 0
    for source_name, batch in _batches(plan):
        total.add(ingest_records(source=sources[source_name], records=batch))
        done += len(batch)
        if done % (BATCH_SIZE * 4) < len(batch):
            say(f"ingested {done:,} / {plan.event_count:,} events")
    total.session_ids, total.identity_ids, total.event_ids = [], [], []
    users = _create_demo_users()
    path = scenarios_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plan.scenarios_json())
    return SeedResult(len(plan.owners), len(plan.identities), total, users, path)


def _create_directory(plan: DemoPlan) -> dict[str, Source]:
    Owner.objects.bulk_create(
        [
            Owner(
                name=o.name,
                email=o.email,
                chat_webhook_url=o.chat_webhook_url,
                escalation_contact=o.escalation_contact,
            )
            for o in plan.owners
        ],
        ignore_conflicts=True,
    )
    owners = dict(
        Owner.objects.filter(name__in=[o.name for o in plan.owners]).values_list("name", "pk")
    )
    sources = {
        s.name: Source.objects.create(name=s.name, kind=s.kind, settings=s.settings, enabled=False)
        for s in plan.sources
    }
    rows = Identity.objects.bulk_create(
        [
            Identity(
                kind=i.kind,
                display_name=i.display_name,
                login=i.login,
                provider_ids={str(sources[name].pk): pid for name, pid in i.provider_ids.items()},
                privilege_tier=i.privilege_tier,
                owner_id=owners[i.owner] if i.owner else None,
                department=i.department,
            )
            for i in plan.identities
        ],
        batch_size=1000,
    )
    IdentityLink.objects.bulk_create(
        [
            IdentityLink(source=sources[name], provider_id=pid, identity_id=row.pk)
            for identity, row in zip(plan.identities, rows, strict=True)
            for name, pid in identity.provider_ids.items()
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    return sources


def _batches(plan: DemoPlan):
    """(source name, rendered records) batches of about BATCH_SIZE, in global time order."""
    merged = heapq.merge(*(plan.planned[name] for name in SOURCE_NAMES), key=lambda e: e.at)
    buffers: dict[str, list[dict]] = {name: [] for name in SOURCE_NAMES}
    pending = 0
    event: PlannedEvent
    for event in merged:
        buffers[event.source].append(RENDERERS[event.source](event))
        pending += 1
        if pending >= BATCH_SIZE:
            for name in SOURCE_NAMES:
                if buffers[name]:
                    yield name, buffers[name]
                    buffers[name] = []
            pending = 0
    for name in SOURCE_NAMES:
        if buffers[name]:
            yield name, buffers[name]


def _create_demo_users() -> list[str]:
    """Create the per-role demo logins that do not exist yet; return the usernames created."""
    users = get_user_model()
    created = []
    for username, password, role in DEMO_USERS:
        if users.objects.filter(username=username).exists():
            continue
        user = users.objects.create_user(username=username, password=password)
        user.groups.add(Group.objects.get(name=role))
        created.append(username)
    return created
