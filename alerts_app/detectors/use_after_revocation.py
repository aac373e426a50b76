"""Use after revocation: a session still in use after it was revoked, ended or out-dated.

Three cut-offs make a session dead: it was revoked (``revoked_at``), it ended (``ended_at``:
logout, expiry), or the identity's password or MFA was reset (``credential_changed_at``) after
the session authenticated. Use beyond a short propagation grace means a copy of the token
outlived the kill switch (OWASP NHI7: long-lived secrets; ../shared/research/detection.md §4.4,
governance.md §5).
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
    is_authentication,
    is_failure,
    is_idp_internal,
    merge_timeline,
    privilege_factors,
    short_key,
    strongest,
    ua,
)

SPEC = DetectorSpec(
    id="use_after_revocation",
    version=1,
    title="Session used after revocation or credential reset",
    description=(
        "Activity on a session after it was revoked or ended, or after the identity's "
        "password or MFA was reset when the session had authenticated before that reset, "
        "once a propagation grace period has passed. Vendors document the delay: Microsoft "
        "says revokeSignInSessions takes effect after 'a small delay of a few minutes' and "
        "Continuous Access Evaluation may take up to 15 minutes, while already-issued Entra "
        "access tokens stay valid until they expire (1 hour by default) unless the resource "
        "supports CAE; Okta's session revocation and Google's users.signOut are synchronous. "
        "Attempts the identity provider refused (e.g. Entra 50133, 50173, 70008) are reported "
        "at low severity: someone is still holding the old token. The session in which the "
        "identity itself changed its credential is not cut off by that change."
    ),
    severity_logic=(
        "60 points for use after the cut-off, 15 more when the use succeeded, 10 more for a "
        "script or a network not seen before the cut-off; refused attempts take 35 off and "
        "access tokens (which may legitimately outlive revocation until expiry) take 15 off; "
        "a privileged identity adds 10 (break-glass 20)."
    ),
    thresholds={
        "grace_s": Threshold(
            default=300,
            min=0,
            max=7200,
            unit="seconds",
            help="Propagation delay tolerated after the cut-off before activity counts.",
        ),
    },
    owasp_nhi=("NHI7:2025", "NHI1:2025"),
    nist_csf=("DE.CM-03", "DE.AE-02", "RS.MI-01", "PR.AA-05"),
    mitre_attack=("T1550.004", "T1539", "T1078"),
    scope="session",
    applies_to="all",
)

# Events that record the end itself (or the change itself), not use of the session.
NOT_USE = frozenset(
    {
        EventType.LOGOFF,
        EventType.SESSION_REVOKED,
        EventType.TOKEN_REVOKED,
        EventType.SESSION_EXPIRED,
        EventType.CREDENTIAL_CHANGE,
        EventType.RISK_SIGNAL,
    }
)


def _cutoffs(
    state: SessionState, timeline: Sequence[NormalizedEvent]
) -> list[tuple[datetime, str]]:
    cuts: list[tuple[datetime, str]] = []
    if state.revoked_at is not None:
        cuts.append((state.revoked_at, "revoked"))
    if state.ended_at is not None:
        cuts.append((state.ended_at, "ended"))
    changed = state.credential_changed_at
    authenticated = state.authenticated_at or state.first_seen_at
    if changed is not None and authenticated is not None and authenticated < changed:
        # A password change made from inside this session keeps this session alive (the IdP
        # signs out the *other* sessions), so that change is not a cut-off for it.
        changed_here = any(
            e.event_type == EventType.CREDENTIAL_CHANGE
            and abs((e.occurred_at - changed).total_seconds()) <= 60
            for e in timeline
        )
        if not changed_here:
            cuts.append((changed, "credential reset"))
    return sorted(cuts)


def detect(
    state: SessionState,
    new_events: Sequence[NormalizedEvent],
    params: Mapping[str, Any],
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> list[Finding]:
    """Flag new events on the session later than a cut-off plus the grace period."""
    timeline, new_ids = merge_timeline(state.prior_events, new_events)
    cuts = _cutoffs(state, timeline)
    if not cuts:
        return []
    grace = timedelta(seconds=params["grace_s"])

    candidates: list[tuple[list[Factor], NormalizedEvent, datetime, str]] = []
    for event in timeline:
        if event_uid(event) not in new_ids:
            continue
        if event.event_type in NOT_USE or is_idp_internal(event):
            continue
        applicable = [
            (cut_at, kind)
            for cut_at, kind in cuts
            if event.occurred_at > cut_at + grace
            and not (kind == "credential reset" and _reauthenticated(timeline, cut_at, event))
        ]
        if not applicable:
            continue
        cut_at, cut_kind = applicable[0]
        known_asns = {
            e.asn
            for e in timeline
            if e.occurred_at <= cut_at and not is_failure(e) and e.asn is not None
        }
        late = (event.occurred_at - cut_at).total_seconds()
        factors = [Factor(f"Used {human_duration(late)} after the session was {cut_kind}", 60)]
        if is_failure(event):
            factors.append(Factor("Refused by the identity provider", -35))
        else:
            factors.append(Factor("Use succeeded", 15))
            if ua(event).programmatic:
                factors.append(Factor(f"Scripted client {ua(event).label}", 10))
            if event.asn is not None and known_asns and event.asn not in known_asns:
                factors.append(Factor(f"Network AS{event.asn} not seen before the cut-off", 10))
        if state.token_kind == TokenKind.ACCESS_TOKEN:
            factors.append(Factor("Access token: may stay valid until it expires", -15))
        factors.extend(privilege_factors(state.privilege_tier))
        candidates.append((factors, event, cut_at, cut_kind))

    if not candidates:
        return []
    factors, trigger, cut_at, cut_kind = candidates[strongest([c[0] for c in candidates])]
    late = human_duration((trigger.occurred_at - cut_at).total_seconds())
    verb = "attempted" if is_failure(trigger) else "used"
    summary = (
        f"Session {short_key(state.session_key)} {verb} from {describe_network(trigger)} by "
        f"{describe_client(trigger)}, {late} after it was {cut_kind} "
        f"({cut_at:%Y-%m-%d %H:%M} UTC)"
    )
    if len(candidates) > 1:
        summary += f"; {len(candidates)} events after the cut-off"
    before_cut = [e for e in timeline if e.occurred_at <= cut_at and not is_failure(e)]
    last_good = before_cut[-1] if before_cut else None
    evidence = {
        "trigger_event_ids": [c[1].provider_event_id for c in candidates],
        "cutoff": {"kind": cut_kind, "at": cut_at.isoformat(), "grace_s": params["grace_s"]},
        "before": event_context(last_good) if last_good else None,
        "after": event_context(trigger),
        "token_kind": state.token_kind,
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


def _reauthenticated(
    timeline: Sequence[NormalizedEvent], cut_at: datetime, event: NormalizedEvent
) -> bool:
    """Whether the session proved the new credential between the reset and ``event``."""
    return any(
        is_authentication(e) and cut_at < e.occurred_at <= event.occurred_at for e in timeline
    )
