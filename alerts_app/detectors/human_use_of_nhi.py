"""Human use of a non-human identity (OWASP NHI10:2025).

Service accounts, API keys and agents are run by programs. When one of them signs in
interactively, answers an MFA prompt or shows up in a desktop browser, a person is using it:
accountability is lost, MFA and IP restrictions may be bypassed, and a copied credential is
hard to tell from the owner's (../shared/research/governance.md §1.1, NHI10).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sessions_app.choices import EventType, Outcome
from sessions_app.ingest.schema import NormalizedEvent

from .base import (
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
    event_uid,
    is_idp_internal,
    merge_timeline,
    privilege_factors,
    strongest,
    ua,
)

SPEC = DetectorSpec(
    id="human_use_of_nhi",
    version=1,
    title="Person using a non-human identity",
    description=(
        "A service account, API key, OAuth app, workload or AI agent shows human behaviour: an "
        "interactive sign-in, an MFA prompt, or a real (non-headless) browser user agent. Use "
        "during office hours on a weekday adds weight but never raises a finding by itself. "
        "Headless browsers and scripts are what workloads use, and are not human signals."
    ),
    severity_logic=(
        "Interactive sign-in 30 points, MFA prompt 25, browser 20, office hours 10; a "
        "privileged identity adds 10 (break-glass 20). An interactive browser sign-in with "
        "MFA on a service account is high."
    ),
    thresholds={
        "office_start_hour": Threshold(
            default=8, min=0, max=23, unit="hour", help="Start of office hours (local time)."
        ),
        "office_end_hour": Threshold(
            default=18, min=1, max=24, unit="hour", help="End of office hours (local time)."
        ),
        "utc_offset_min": Threshold(
            default=0,
            min=-720,
            max=840,
            unit="minutes",
            help="Offset of the organisation's local time from UTC, for office hours.",
        ),
    },
    owasp_nhi=("NHI10:2025",),
    nist_csf=("DE.CM-03", "PR.AA-05", "PR.AA-03"),
    mitre_attack=("T1078.004",),
    scope="identity",
    applies_to="non_human",
)

MFA_METHOD_HINTS = ("mfa", "otp", "push", "sms", "totp", "fido", "webauthn", "authenticator")


def _mfa_prompted(event: NormalizedEvent) -> bool:
    if event.event_type == EventType.MFA_CHALLENGE or event.mfa:
        return True
    return any(hint in method.lower() for method in event.auth_methods for hint in MFA_METHOD_HINTS)


def _interactive_sign_in(event: NormalizedEvent) -> bool:
    return event.interactive is True and event.event_type in (
        EventType.LOGON,
        EventType.SSO,
        EventType.MFA_CHALLENGE,
    )


def _office_hours(event: NormalizedEvent, params: Mapping[str, Any]) -> bool:
    local = event.occurred_at + timedelta(minutes=params["utc_offset_min"])
    return (
        local.weekday() < 5
        and params["office_start_hour"] <= local.hour < params["office_end_hour"]
    )


def detect(
    state: IdentityState,
    new_events: Sequence[NormalizedEvent],
    params: Mapping[str, Any],
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> list[Finding]:
    """Flag new events on a non-human identity that carry a human signal."""
    timeline, new_ids = merge_timeline((), new_events)
    candidates: list[tuple[list[Factor], NormalizedEvent]] = []
    for event in timeline:
        if event_uid(event) not in new_ids or is_idp_internal(event):
            continue
        if event.outcome == Outcome.FAILURE and event.event_type != EventType.MFA_CHALLENGE:
            continue
        signals = []
        if _interactive_sign_in(event):
            signals.append(Factor("Interactive sign-in", 30))
        if _mfa_prompted(event):
            signals.append(Factor("MFA prompt", 25))
        agent = ua(event)
        if agent.is_browser:
            signals.append(Factor(f"Browser {agent.label}", 20))
        if not signals:
            continue
        if _office_hours(event, params):
            signals.append(Factor("During office hours", 10))
        signals.extend(privilege_factors(state.privilege_tier))
        candidates.append((signals, event))

    if not candidates:
        return []
    factors, trigger = candidates[strongest([c[0] for c in candidates])]
    human = ", ".join(
        f.label.lower() for f in factors if f.points > 0 and "identity" not in f.label
    )
    summary = (
        f"{state.identity_kind.replace('_', ' ').capitalize()} "
        f"{trigger.actor_login or state.identity_key} used like a person ({human}) from "
        f"{describe_network(trigger)} on {describe_client(trigger)}"
    )
    if len(candidates) > 1:
        summary += f"; {len(candidates)} such events"
    evidence = {
        "trigger_event_ids": [c[1].provider_event_id for c in candidates],
        "after": event_context(trigger),
        "identity_kind": state.identity_kind,
        "interactive": trigger.interactive,
        "auth_methods": list(trigger.auth_methods),
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
