"""Concurrent reuse: one session key active from two networks at once (A, B, A).

A person moves between networks one way at a time; a copied token is used by its owner and
the thief side by side, so the session's events alternate between two ASNs. Public rules look
for the same thing as "one session, two IPs/ASNs in a short window" (Entra: Elastic E1 and
Panther PA1 with ≥ 2 IPs and ≥ 2 ASN orgs per sessionId in 30–60 min; O365 SessionId from more
than one IP, Splunk SP3). Requiring the return to the first network (A, B, A) keeps one-way
hand-offs (Wi-Fi → cellular, VPN on) quiet (../shared/research/detection.md §1.2, §1.6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sessions_app.choices import TokenKind
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
    id="concurrent_session_reuse",
    version=2,
    title="Session used from two networks at the same time",
    description=(
        "One session key is used from network A, then network B, then network A again (ASNs), "
        "either with the whole back-and-forth inside a short window, or with a hand-over "
        "between the networks inside that window while network B shows another device or "
        "client (the owner idles while the thief works, then carries on). Two parties are "
        "using the same session concurrently. A single switch of network (Wi-Fi to cellular, "
        "VPN on) and one laptop moving between networks do not count; failed attempts and the "
        "identity provider's own internal calls are ignored."
    ),
    severity_logic=(
        "45 points for the interleaving; a different device on the other network adds 20, a "
        "different client 15, a script on a browser session 15, another country 10; the same "
        "device and client on both networks (a flapping connection) takes 25 off; a privileged "
        "identity adds 10 (break-glass 20)."
    ),
    thresholds={
        "window_s": Threshold(
            default=600,
            min=60,
            max=86400,
            unit="seconds",
            help="Longest time from leaving network A to coming back to it through B.",
        ),
    },
    owasp_nhi=("NHI7:2025", "NHI2:2025"),
    nist_csf=("DE.CM-01", "DE.AE-02", "DE.AE-03"),
    mitre_attack=("T1550.004", "T1539"),
    scope="session",
    applies_to="all",
)


def _segments(events: Sequence[NormalizedEvent]) -> list[list[NormalizedEvent]]:
    """Runs of consecutive events from the same ASN."""
    runs: list[list[NormalizedEvent]] = []
    for event in events:
        if runs and runs[-1][0].asn == event.asn:
            runs[-1].append(event)
        else:
            runs.append([event])
    return runs


def detect(
    state: SessionState,
    new_events: Sequence[NormalizedEvent],
    params: Mapping[str, Any],
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> list[Finding]:
    """Find A, B, A network alternations in the session that involve a new event."""
    timeline, new_ids = merge_timeline(state.prior_events, new_events)
    usable = [
        e for e in timeline if not is_failure(e) and not is_idp_internal(e) and e.asn is not None
    ]
    runs = _segments(usable)
    candidates: list[tuple[list[Factor], list[NormalizedEvent], list[NormalizedEvent]]] = []
    for first, middle, back in zip(runs, runs[1:], runs[2:], strict=False):
        if first[0].asn != back[0].asn:
            continue
        home = [first[-1], back[0]]
        pattern = [first[-1], *middle, back[0]]
        if not any(event_uid(e) in new_ids for e in pattern):
            continue
        home_devices = {e.device_id for e in home if e.device_id}
        away_devices = {e.device_id for e in middle if e.device_id}
        home_clients = {ua(e).client_key for e in home if ua(e).known}
        away_clients = {ua(e).client_key for e in middle if ua(e).known}
        device_differs = bool(home_devices and away_devices and not home_devices & away_devices)
        client_differs = bool(home_clients and away_clients and not home_clients & away_clients)
        span = (back[0].occurred_at - first[-1].occurred_at).total_seconds()
        # The closest hand-over between the two networks. The owner may sit idle while the
        # thief works (a long absence from A), but then comes back minutes after the thief's
        # last request: with another device or client on B, that is two parties, not a move.
        switch = min(
            (middle[0].occurred_at - first[-1].occurred_at).total_seconds(),
            (back[0].occurred_at - middle[-1].occurred_at).total_seconds(),
        )
        interleaved = span <= params["window_s"]
        handed_back = switch <= params["window_s"] and (device_differs or client_differs)
        if not (interleaved or handed_back):
            continue
        within = span if interleaved else switch
        factors = [
            Factor(
                f"Alternating between AS{first[0].asn} and AS{middle[0].asn} "
                f"within {human_duration(within)}",
                45,
            )
        ]
        if device_differs:
            factors.append(Factor("Different device on the other network", 20))
        if client_differs:
            factors.append(Factor("Different client on the other network", 15))
        if state.token_kind == TokenKind.BROWSER_SESSION and any(
            ua(e).programmatic for e in middle
        ):
            factors.append(Factor("Scripted client on a browser session", 15))
        home_countries = {e.country for e in home if e.country}
        away_countries = {e.country for e in middle if e.country}
        if home_countries and away_countries and not home_countries & away_countries:
            factors.append(Factor("Networks in different countries", 10))
        same_device = bool(home_devices) and home_devices == away_devices
        same_client = bool(home_clients) and home_clients == away_clients
        if same_device and same_client:
            factors.append(Factor("Same device and client on both networks", -25))
        factors.extend(privilege_factors(state.privilege_tier))
        candidates.append((factors, home, middle))

    if not candidates:
        return []
    factors, home, middle = candidates[strongest([c[0] for c in candidates])]
    span = human_duration((home[1].occurred_at - home[0].occurred_at).total_seconds())
    summary = (
        f"Session {short_key(state.session_key)} used from {describe_network(home[0])} on "
        f"{describe_client(home[0])} and, in between, from {describe_network(middle[0])} on "
        f"{describe_client(middle[0])} ({len(middle)} event(s)), back on the first network "
        f"{span} later"
    )
    trigger_ids = sorted({e.provider_event_id for c in candidates for e in c[2]})
    evidence = {
        "trigger_event_ids": trigger_ids,
        "before": event_context(home[0]),
        "after": event_context(middle[0]),
        "returned": event_context(home[1]),
        "interleavings": len(candidates),
    }
    events = [e for c in candidates for e in (*c[1], *c[2])]
    return [build_finding(SPEC, f"session:{state.session_key}", factors, summary, evidence, events)]
