"""High-value actions without a fresh authentication.

Granting privileges, opening the admin console, exporting data, changing policy or minting
credentials are what an attacker does with a hijacked session. Requiring a recent
authentication for them (step-up) means a replayed cookie alone is not enough; this detector
reports where that did not happen: the session's last authentication is older than the
policy's re-authentication window (NIST SP 800-63B-4 §5.2 re-authentication; CSF PR.AA-03).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sessions_app.choices import HighValueAction
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
    is_authentication,
    is_failure,
    merge_timeline,
    privilege_factors,
    short_key,
    strongest,
    ua,
)

SPEC = DetectorSpec(
    id="high_value_without_reauth",
    version=1,
    title="High-value action without recent re-authentication",
    description=(
        "A privilege grant, admin-console access, data export, policy change or credential "
        "creation happens in a session whose last authentication (the session's sign-in or a "
        "later successful logon or MFA event) is older than the policy's re-authentication "
        "window. When the sign-in time is unknown, the session's first sighting is used: the "
        "authentication can only have been earlier. Refused actions are ignored."
    ),
    severity_logic=(
        "40 points for the stale authentication; privilege grants add 20, credential creation "
        "and policy changes 15, data exports 10, admin-console access 5; another network than "
        "the authentication's adds 15, a script 15; a privileged identity adds 10 "
        "(break-glass 20)."
    ),
    thresholds={
        "grace_s": Threshold(
            default=60,
            min=0,
            max=3600,
            unit="seconds",
            help="Slack added to the policy's re-authentication window.",
        ),
    },
    owasp_nhi=("NHI7:2025", "NHI5:2025"),
    nist_csf=("PR.AA-03", "PR.AA-05", "DE.CM-03", "DE.AE-02"),
    mitre_attack=("T1550.004", "T1098"),
    scope="session",
    applies_to="all",
)

ACTION_WEIGHT = {
    HighValueAction.PRIVILEGE_GRANT: 20,
    HighValueAction.CREDENTIAL_CREATE: 15,
    HighValueAction.POLICY_CHANGE: 15,
    HighValueAction.DATA_EXPORT: 10,
    HighValueAction.ADMIN_CONSOLE: 5,
}


def _last_authentication(
    state: SessionState, timeline: Sequence[NormalizedEvent], at: datetime
) -> tuple[datetime | None, NormalizedEvent | None, str]:
    """Latest authentication at or before ``at``: (time, the event if any, how we know)."""
    best_at, best_event, how = state.authenticated_at, None, "sign-in"
    for event in timeline:
        if event.occurred_at > at:
            break
        if not is_authentication(event):
            continue
        if best_at is None or event.occurred_at > best_at:
            best_at, best_event, how = event.occurred_at, event, "authentication"
        elif event.occurred_at == best_at:
            best_event = event  # the sign-in's own event: keep its network for comparison
    if best_at is None and state.first_seen_at is not None:
        return state.first_seen_at, None, "first sighting (sign-in time unknown)"
    return best_at, best_event, how


def detect(
    state: SessionState,
    new_events: Sequence[NormalizedEvent],
    params: Mapping[str, Any],
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> list[Finding]:
    """Flag new high-value actions whose session authenticated too long ago."""
    timeline, new_ids = merge_timeline(state.prior_events, new_events)
    window = timedelta(seconds=policy.reauth_window_s + params["grace_s"])
    candidates: list[tuple[list[Factor], NormalizedEvent, datetime, str]] = []
    for event in timeline:
        if event_uid(event) not in new_ids or not event.high_value_action or is_failure(event):
            continue
        auth_at, auth_event, how = _last_authentication(state, timeline, event.occurred_at)
        if auth_at is None or event.occurred_at - auth_at <= window:
            continue
        age = (event.occurred_at - auth_at).total_seconds()
        action = event.high_value_action.replace("_", " ")
        factors = [
            Factor(
                f"{action[:1].upper()}{action[1:]} {human_duration(age)} after {how}; "
                f"{policy.name} asks for re-authentication within "
                f"{human_duration(policy.reauth_window_s)}",
                40,
            )
        ]
        weight = ACTION_WEIGHT.get(event.high_value_action, 0)
        if weight:
            factors.append(Factor(f"Action: {action}", weight))
        if (
            auth_event is not None
            and auth_event.asn is not None
            and event.asn is not None
            and auth_event.asn != event.asn
        ):
            factors.append(
                Factor(f"From AS{event.asn}, not the authentication's AS{auth_event.asn}", 15)
            )
        if ua(event).programmatic:
            factors.append(Factor(f"Scripted client {ua(event).label}", 15))
        factors.extend(privilege_factors(state.privilege_tier))
        candidates.append((factors, event, auth_at, how))

    if not candidates:
        return []
    factors, trigger, auth_at, how = candidates[strongest([c[0] for c in candidates])]
    age = human_duration((trigger.occurred_at - auth_at).total_seconds())
    target = trigger.target.get("displayName") or trigger.target.get("name") or ""
    what = trigger.high_value_action.replace("_", " ")
    if target:
        what += f" ({target})"
    summary = (
        f"{what[:1].upper()}{what[1:]} in session {short_key(state.session_key)} from "
        f"{describe_network(trigger)} by {describe_client(trigger)}, {age} after {how} "
        f"with no re-authentication; {policy.name} window is "
        f"{human_duration(policy.reauth_window_s)}"
    )
    if len(candidates) > 1:
        summary += f"; {len(candidates)} such actions"
    evidence = {
        "trigger_event_ids": [c[1].provider_event_id for c in candidates],
        "actions": sorted({c[1].high_value_action for c in candidates}),
        "last_authentication_at": auth_at.isoformat(),
        "last_authentication_by": how,
        "reauth_window_s": policy.reauth_window_s,
        "policy": policy.name,
        "after": event_context(trigger),
        "target": dict(trigger.target),
    }
    return [
        build_finding(
            SPEC,
            f"session:{state.session_key}",
            factors,
            summary,
            evidence,
            [c[1] for c in candidates],
        )
    ]
