"""New context for a non-human identity: its token used from a network, country or client it
has never used before.

Workloads are creatures of habit: a service account runs from the same cloud ASNs with the
same SDK. A stolen API key or token is used from wherever the thief sits, with whatever tool
they use. Public "new terms" rules do the same over 7–14 day histories (Elastic Google
Workspace unusual ASN, Okta rare client; ../shared/research/detection.md §1.1 O9, §1.3 W2,
§1.6). During the learning window nothing is reported; the baseline then rolls forward.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sessions_app.choices import Outcome
from sessions_app.ingest.schema import NormalizedEvent

from .base import (
    MICROSOFT_FIRST_PARTY_ASNS,
    Baseline,
    ContextSeen,
    DetectorSpec,
    Factor,
    Finding,
    IdentityState,
    SessionPolicy,
    Threshold,
    build_finding,
    describe_client,
    describe_network,
    event_context,
    event_sort_key,
    event_uid,
    ip_prefix,
    is_idp_internal,
    merge_timeline,
    privilege_factors,
    strongest,
    ua,
)

SPEC = DetectorSpec(
    id="nhi_new_context",
    version=1,
    title="Non-human identity used from a new network, country or client",
    description=(
        "A service account, API key, OAuth app, workload or AI agent succeeds from an ASN, a "
        "country or a client family (e.g. python-requests, Go-http-client, Chrome) absent from "
        "its learned baseline. The baseline holds what the identity used within the learning "
        "window (contexts unused for longer are forgotten); while the identity's history is "
        "shorter than that window, nothing is reported."
    ),
    severity_logic=(
        "New ASN 30 points, new country 25, new client family 25, plus 10 when the IP range "
        "is also new and 15 through an anonymiser; a privileged identity adds 10 (break-glass "
        "20). A new ASN alone stays low; a new ASN in a new country with a new tool is high."
    ),
    thresholds={
        "learning_window_s": Threshold(
            default=14 * 86400,
            min=86400,
            max=90 * 86400,
            unit="seconds",
            help="History that makes up the baseline, and the initial learning period.",
        ),
    },
    owasp_nhi=("NHI7:2025", "NHI2:2025", "NHI3:2025"),
    nist_csf=("DE.CM-01", "DE.CM-09", "DE.AE-02", "PR.AA-05"),
    mitre_attack=("T1078.004", "T1550.001"),
    scope="identity",
    applies_to="non_human",
)

_DIMENSIONS = ("asns", "countries", "ip_prefixes", "client_families")


def _context_values(event: NormalizedEvent) -> dict[str, str]:
    """The baseline keys one event contributes, per dimension ('' values are skipped)."""
    return {
        "asns": f"AS{event.asn}" if event.asn is not None else "",
        "countries": event.country.upper(),
        "ip_prefixes": ip_prefix(event.ip),
        "client_families": ua(event).family,
    }


def _learnable(event: NormalizedEvent) -> bool:
    # Microsoft's AS8075 is skipped for people's sessions (Entra's back-end calls egress from
    # it), but workloads hosted in Azure really do run from it: for them it is the baseline.
    internal = is_idp_internal(event) and not (
        event.provider == "entra" and event.asn in MICROSOFT_FIRST_PARTY_ASNS
    )
    return event.outcome == Outcome.SUCCESS and not internal


def update_baseline(
    baseline: Baseline, events: Iterable[NormalizedEvent], learning_window_s: int
) -> Baseline:
    """Fold ``events`` into ``baseline`` and forget contexts unused for a learning window.

    Pure and order-independent: events are sorted first, and only successful ones (not the
    IdP's internal calls) are learned. Rebuilding from the full history gives the same result
    as folding it in batch by batch, as long as each batch is newer than the previous one.
    """
    ordered = sorted((e for e in events if _learnable(e)), key=event_sort_key)
    if not ordered:
        return baseline
    values: dict[str, dict[str, ContextSeen]] = {
        dim: dict(getattr(baseline, dim)) for dim in _DIMENSIONS
    }
    for event in ordered:
        for dim, key in _context_values(event).items():
            if not key:
                continue
            seen = values[dim].get(key)
            if seen is None:
                values[dim][key] = ContextSeen(event.occurred_at, event.occurred_at, 1)
            else:
                values[dim][key] = ContextSeen(
                    min(seen.first_seen, event.occurred_at),
                    max(seen.last_seen, event.occurred_at),
                    seen.count + 1,
                )
    newest = max(
        [ordered[-1].occurred_at]
        + [seen.last_seen for dim in _DIMENSIONS for seen in values[dim].values()]
    )
    horizon = newest - timedelta(seconds=learning_window_s)
    kept = {
        dim: {k: v for k, v in sorted(values[dim].items()) if v.last_seen >= horizon}
        for dim in _DIMENSIONS
    }
    started = ordered[0].occurred_at
    if baseline.started_at is not None:
        started = min(started, baseline.started_at)
    return Baseline(started_at=started, **kept)


def detect(
    state: IdentityState,
    new_events: Sequence[NormalizedEvent],
    params: Mapping[str, Any],
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> list[Finding]:
    """Compare each new successful event with the baseline (plus earlier new events)."""
    window = int(params["learning_window_s"])
    timeline, new_ids = merge_timeline((), new_events)
    baseline = state.baseline
    candidates: list[tuple[list[Factor], NormalizedEvent, dict[str, str], Baseline]] = []
    for event in timeline:
        if not _learnable(event) or event_uid(event) not in new_ids:
            continue
        learning = (
            baseline.started_at is None
            or event.occurred_at < baseline.started_at + timedelta(seconds=window)
        )
        if not learning:
            novel = {
                dim: key
                for dim, key in _context_values(event).items()
                if key and key not in getattr(baseline, dim)
            }
            factors = []
            if "asns" in novel:
                factors.append(Factor(f"New network {novel['asns']} {event.as_org}".strip(), 30))
            if "countries" in novel:
                factors.append(Factor(f"New country {novel['countries']}", 25))
            if "client_families" in novel:
                factors.append(Factor(f"New client {ua(event).label}", 25))
            if factors:
                if "ip_prefixes" in novel:
                    factors.append(Factor(f"New IP range {novel['ip_prefixes']}", 10))
                if event.anonymizer:
                    factors.append(Factor("Anonymising proxy or VPN", 15))
                factors.extend(privilege_factors(state.privilege_tier))
                candidates.append((factors, event, novel, baseline))
        # Later events in the same batch are judged against what earlier ones introduced,
        # so one new context raises one finding, not one per request.
        baseline = update_baseline(baseline, [event], window)

    if not candidates:
        return []
    # Describe the baseline as it stood when the new context appeared (it grows as it learns).
    factors, trigger, novel, known = candidates[strongest([c[0] for c in candidates])]
    summary = (
        f"{trigger.actor_login or state.identity_key} ({state.identity_kind.replace('_', ' ')}) "
        f"used from {describe_network(trigger)} by {describe_client(trigger)}; its baseline "
        f"has {', '.join(sorted(known.asns)) or 'no ASNs'} in "
        f"{', '.join(sorted(known.countries)) or 'no countries'} with "
        f"{', '.join(sorted(known.client_families)) or 'no known clients'}"
    )
    if len(candidates) > 1:
        summary += f" ({len(candidates)} new contexts)"
    evidence = {
        "trigger_event_ids": [c[1].provider_event_id for c in candidates],
        "after": event_context(trigger),
        "new_values": {dim: key for dim, key in sorted(novel.items())},
        "baseline": {dim: sorted(getattr(known, dim)) for dim in _DIMENSIONS},
        "baseline_started_at": known.started_at.isoformat() if known.started_at else None,
    }
    return [
        build_finding(
            SPEC,
            f"identity:{state.identity_key}",
            factors,
            summary,
            evidence,
            [c[1] for c in candidates],
        )
    ]
