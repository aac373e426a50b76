"""Session replay: one session key suddenly used from another network *and* another device.

A stolen session cookie or token keeps its key but not its surroundings: the thief replays it
from their own network, on their own machine or script. Public rules agree on requiring two
changed dimensions (Panther Okta.PotentiallyStolenSession: new IP and a different UA; Splunk /
Okta "Suspicious Use of a Session Cookie": > 1 IP and > 1 OS or browser), because either one
alone is everyday life: VPN reconnects and Wi-Fi→cellular hand-offs change the network but not
the device, browser auto-updates change the UA version but not the browser.
(../shared/research/detection.md §0, §1.1 O1/P1/S1, §1.6.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sessions_app.choices import EventType, TokenKind
from sessions_app.ingest.schema import NormalizedEvent

from .base import (
    DetectorSpec,
    Factor,
    Finding,
    SessionPolicy,
    SessionState,
    Threshold,
    build_finding,
    describe_client,
    describe_network,
    event_context,
    event_uid,
    human_duration,
    is_failure,
    is_idp_internal,
    merge_timeline,
    privilege_factors,
    short_key,
    strongest,
    ua,
)

SPEC = DetectorSpec(
    id="session_context_change",
    version=1,
    title="Session used from a new network and a new device",
    description=(
        "Inside one session, a later event comes from an IP in a different network (ASN) and "
        "with a different device token (Okta dtHash, Entra deviceId) or a different client "
        "(browser family or operating system; version updates are ignored). That is what a "
        "replayed session cookie or token looks like. A new network alone (VPN reconnect, "
        "Wi-Fi to cellular) or a browser update alone does not count. Events of the sign-in "
        "itself, which legitimately carry several device hashes (Okta policy.evaluate_sign_on "
        "during login, events of the login transaction or before the session start "
        "completed), and the identity provider's own internal calls (Okta Admin Console "
        "internals, Okta-Integrations agent, Microsoft's AS8075) are context only."
    ),
    severity_logic=(
        "New network 35 points, changed device token 20 (30 under a device-binding policy), "
        "changed client 20; a script or "
        "headless client on a browser session adds 25, another country 10, an anonymiser 10, "
        "a privileged identity 10 (break-glass 20). Medium from 40, high from 65, critical "
        "from 85."
    ),
    thresholds={
        "login_grace_s": Threshold(
            default=120,
            min=0,
            max=3600,
            unit="seconds",
            help=(
                "How long after the session start Okta policy.evaluate_sign_on events still "
                "belong to the login flow (and may show several device hashes)."
            ),
        ),
    },
    owasp_nhi=("NHI7:2025", "NHI2:2025"),
    nist_csf=("DE.CM-01", "DE.CM-03", "DE.AE-02", "PR.AA-05"),
    mitre_attack=("T1550.004", "T1539"),
    scope="session",
    applies_to="all",
)

LOGIN_START_TYPES = frozenset({"user.session.start"})
LOGIN_FLOW_TYPES = frozenset({"policy.evaluate_sign_on"})


def transaction_id(event: NormalizedEvent) -> str:
    """The provider's transaction / request id grouping one sign-in's events, or ""."""
    for key in ("transaction_id", "transaction"):
        value = event.session_keys.get(key)
        if value:
            return str(value)
    transaction = event.raw.get("transaction") if isinstance(event.raw, Mapping) else None
    if isinstance(transaction, Mapping) and transaction.get("id"):
        return str(transaction["id"])
    return ""


def _login_anchor(state: SessionState, timeline: Sequence[NormalizedEvent]) -> datetime | None:
    """When the session's sign-in completed: authenticated_at, else the first session start."""
    if state.authenticated_at is not None:
        return state.authenticated_at
    for event in timeline:
        if not is_failure(event) and (
            event.provider_event_type in LOGIN_START_TYPES or event.event_type == EventType.LOGON
        ):
            return event.occurred_at
    return None


def _is_login_phase(
    event: NormalizedEvent,
    anchor: datetime | None,
    grace: timedelta,
    login_transactions: set[str],
) -> bool:
    if anchor is None:
        return False
    if event.occurred_at <= anchor:
        return True
    txn = transaction_id(event)
    if txn and txn in login_transactions:
        return True
    return event.provider_event_type in LOGIN_FLOW_TYPES and event.occurred_at <= anchor + grace


def _reference_phrase(event: NormalizedEvent) -> str:
    if event.event_type == EventType.MFA_CHALLENGE or event.mfa:
        return "MFA"
    if event.event_type == EventType.LOGON:
        return "sign-in"
    return "activity"


def detect(
    state: SessionState,
    new_events: Sequence[NormalizedEvent],
    params: Mapping[str, Any],
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> list[Finding]:
    """Find events in ``new_events`` that move the session to a new network and device."""
    timeline, new_ids = merge_timeline(state.prior_events, new_events)
    timeline = [e for e in timeline if not is_failure(e) and not is_idp_internal(e)]
    anchor = _login_anchor(state, timeline)
    grace = timedelta(seconds=params["login_grace_s"])
    login_transactions = {
        transaction_id(e)
        for e in timeline
        if anchor is not None
        and e.occurred_at <= anchor + grace
        and (e.provider_event_type in LOGIN_START_TYPES or e.event_type == EventType.LOGON)
    } - {""}

    known_ips: set[str] = set()
    known_asns: set[int] = set()
    known_devices: set[str] = set()
    known_clients: set[tuple[str, str]] = set()
    known_countries: set[str] = set()
    reference: NormalizedEvent | None = None
    candidates: list[tuple[list[Factor], NormalizedEvent, NormalizedEvent]] = []

    for event in timeline:
        agent = ua(event)
        triggerable = event_uid(event) in new_ids and not _is_login_phase(
            event, anchor, grace, login_transactions
        )
        if triggerable and reference is not None:
            new_network = (
                event.asn is not None
                and bool(known_asns)
                and event.asn not in known_asns
                and event.ip not in known_ips
            )
            device_changed = (
                bool(event.device_id)
                and bool(known_devices)
                and event.device_id not in known_devices
            )
            client_changed = (
                agent.known and bool(known_clients) and agent.client_key not in known_clients
            )
            if new_network and (device_changed or client_changed):
                factors = [
                    Factor(
                        f"New network AS{event.asn} (session seen in "
                        f"{', '.join(f'AS{a}' for a in sorted(known_asns))})",
                        35,
                    )
                ]
                if device_changed:
                    factors.append(Factor("Device token changed", 20))
                    if policy.device_binding:
                        factors.append(Factor(f"{policy.name} binds sessions to a device", 10))
                if client_changed:
                    factors.append(
                        Factor(
                            f"Client changed to {agent.label} (was {describe_client(reference)})",
                            20,
                        )
                    )
                if agent.programmatic and state.token_kind == TokenKind.BROWSER_SESSION:
                    factors.append(Factor("Scripted client on a browser session", 25))
                if event.country and known_countries and event.country not in known_countries:
                    factors.append(Factor(f"New country {event.country}", 10))
                if event.anonymizer:
                    factors.append(Factor("Anonymising proxy or VPN", 10))
                factors.extend(privilege_factors(state.privilege_tier))
                candidates.append((factors, event, reference))
        # Everything seen becomes known context, including a trigger: later events from the
        # same replayed context add nothing new and must not re-alert.
        if event.ip:
            known_ips.add(event.ip)
        if event.asn is not None:
            known_asns.add(event.asn)
        if event.device_id:
            known_devices.add(event.device_id)
        if agent.known:
            known_clients.add(agent.client_key)
        if event.country:
            known_countries.add(event.country)
        if not triggerable or not candidates or candidates[-1][1] is not event:
            reference = event

    if not candidates:
        return []
    factors, trigger, before = candidates[strongest([c[0] for c in candidates])]
    gap = human_duration((trigger.occurred_at - before.occurred_at).total_seconds())
    summary = (
        f"Session {short_key(state.session_key)} used from {describe_network(trigger)} by "
        f"{describe_client(trigger)}, {gap} after {_reference_phrase(before)} from "
        f"{describe_network(before)} on {describe_client(before)}"
    )
    if len(candidates) > 1:
        summary += f" ({len(candidates)} events from new contexts)"
    evidence = {
        "trigger_event_ids": [c[1].provider_event_id for c in candidates],
        "before": event_context(before),
        "after": event_context(trigger),
        "token_kind": state.token_kind,
    }
    events = [c[1] for c in candidates] + [before]
    return [build_finding(SPEC, f"session:{state.session_key}", factors, summary, evidence, events)]
