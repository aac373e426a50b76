"""Session policy violations: sessions living longer, or idling longer, than policy allows,
or used from a country the policy does not allow.

NIST SP 800-63B-4 §5.2: when the overall or the inactivity timeout expires the session SHALL
be terminated; activity resets the inactivity timer and a successful re-authentication resets
both. A session that is still used past either limit shows the IdP is not enforcing them, and
gives a stolen token a longer useful life (OWASP NHI7). The limits come from the session
policy (default: AAL2, 24 h overall and 1 h inactivity). 800-63B covers human subscribers, so
this detector looks at human identities only (../shared/research/governance.md §4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sessions_app.choices import SessionStatus
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
    is_session_use,
    merge_timeline,
    privilege_factors,
    short_key,
    strongest,
    ua,
)

SPEC = DetectorSpec(
    id="session_policy_violation",
    version=3,
    title="Session outlived its policy limits",
    description=(
        "Lifetime: the session is used longer after its last authentication than the policy's "
        "overall limit (a sweep also reports a session past its limit that was still in use "
        "within the idle limit; sessions that simply went quiet were expired by the IdP and are "
        "not reported). Idle: after a gap longer than the policy's inactivity limit, the "
        "session is used again on another device or in another client without "
        "re-authenticating. Resuming on the same device and client is not reported (a new "
        "network alone is mobility), because IdPs log a session's use only now and then "
        "(Okta logs sign-ins and app launches), so a quiet stretch in the log is no proof of "
        "inactivity. A successful re-authentication resets "
        "both clocks, as NIST SP 800-63B-4 §5.2 requires. Country: when the policy lists the "
        "countries sessions may be used from, a use from any other country. At most one "
        "finding per kind per session."
    ),
    severity_logic=(
        "Lifetime: 40 points, 15 more if the session is over twice its limit. Idle: 35 points, "
        "15 more if the session came back from another network, 10 more from another device. "
        "Country: 35 points, 15 more through an anonymiser. "
        "A privileged identity adds 10 (break-glass 20)."
    ),
    thresholds={
        "tolerance_s": Threshold(
            default=60,
            min=0,
            max=3600,
            unit="seconds",
            help="Slack added to each limit for clock skew between the IdP and its apps.",
        ),
    },
    owasp_nhi=("NHI7:2025",),
    nist_csf=("PR.AA-05", "DE.CM-03", "GV.PO-01"),
    mitre_attack=("T1550.004",),
    scope="session",
    applies_to="human",
)

CLOSED = frozenset({SessionStatus.ENDED, SessionStatus.EXPIRED, SessionStatus.REVOKED})


def detect(
    state: SessionState,
    new_events: Sequence[NormalizedEvent],
    params: Mapping[str, Any],
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> list[Finding]:
    """One "lifetime", one "idle" and/or one "country" finding for the session, triggered by
    new events.

    With ``now`` (a sweep), an open session older than the overall limit is a lifetime
    violation even without new events.
    """
    timeline, new_ids = merge_timeline(state.prior_events, new_events)
    uses = [e for e in timeline if is_session_use(e)]
    tolerance = timedelta(seconds=params["tolerance_s"])
    findings = []
    lifetime = _lifetime(state, uses, new_ids, policy, tolerance, now)
    if lifetime is not None:
        findings.append(lifetime)
    idle = _idle(state, uses, new_ids, policy, tolerance)
    if idle is not None:
        findings.append(idle)
    country = _country(state, uses, new_ids, policy)
    if country is not None:
        findings.append(country)
    return findings


def _country(
    state: SessionState,
    uses: Sequence[NormalizedEvent],
    new_ids: set[tuple[str, str]],
    policy: SessionPolicy,
) -> Finding | None:
    """New uses from a country outside the policy's list (events without a country pass)."""
    if not policy.allowed_countries:
        return None
    allowed = set(policy.allowed_countries)
    outside = [
        e
        for e in uses
        if event_uid(e) in new_ids and e.country and e.country.upper() not in allowed
    ]
    if not outside:
        return None
    trigger = outside[0]
    countries = sorted({e.country.upper() for e in outside})
    allowed_words = ", ".join(sorted(allowed))
    factors = [
        Factor(f"Used from {', '.join(countries)}; {policy.name} allows only {allowed_words}", 35)
    ]
    if any(e.anonymizer for e in outside):
        factors.append(Factor("Through an anonymising proxy or Tor", 15))
    factors.extend(privilege_factors(state.privilege_tier))
    summary = (
        f"Session {short_key(state.session_key)} used from {describe_network(trigger)} by "
        f"{describe_client(trigger)}; {policy.name} allows only {allowed_words}"
    )
    evidence = {
        "trigger_event_ids": [e.provider_event_id for e in outside],
        "kind": "country",
        "countries": countries,
        "allowed_countries": sorted(allowed),
        "policy": policy.name,
        "after": event_context(trigger),
    }
    return build_finding(
        SPEC,
        f"session:{state.session_key}",
        factors,
        summary,
        evidence,
        outside,
        variant="country",
    )


def _auth_clock(
    state: SessionState, uses: Sequence[NormalizedEvent], at: datetime
) -> tuple[datetime | None, str]:
    """When the session last (re-)authenticated at or before ``at``, and how we know."""
    start = state.authenticated_at or state.first_seen_at
    source = "authentication" if state.authenticated_at else "first sighting"
    if start is None and uses:
        start, source = uses[0].occurred_at, "first event"
    for event in uses:
        if event.occurred_at > at:
            break
        if is_authentication(event) and (start is None or event.occurred_at > start):
            start, source = event.occurred_at, "re-authentication"
    return start, source


def _lifetime(
    state: SessionState,
    uses: Sequence[NormalizedEvent],
    new_ids: set[tuple[str, str]],
    policy: SessionPolicy,
    tolerance: timedelta,
    now: datetime | None,
) -> Finding | None:
    if policy.max_lifetime_s is None:
        return None
    limit = timedelta(seconds=policy.max_lifetime_s) + tolerance
    over: list[tuple[NormalizedEvent, datetime, str]] = []
    for event in uses:
        if event_uid(event) not in new_ids:
            continue
        start, source = _auth_clock(state, uses, event.occurred_at)
        if start is not None and event.occurred_at - start > limit:
            over.append((event, start, source))

    trigger: NormalizedEvent | None
    if over:
        trigger, started_at, started_by = over[0]
        measured_at = trigger.occurred_at
    else:
        # The sweep: an open session past its limit should have been terminated already.
        still_open = (
            state.status not in CLOSED and state.revoked_at is None and state.ended_at is None
        )
        if now is None or not still_open or not _alive(state, uses, policy, now):
            return None
        started_at, started_by = _auth_clock(state, uses, now)
        if started_at is None or now - started_at <= limit:
            return None
        trigger, measured_at = None, now

    age = (measured_at - started_at).total_seconds()
    allowed = human_duration(policy.max_lifetime_s)
    factors = [
        Factor(f"{human_duration(age)} since {started_by}; {policy.name} allows {allowed}", 40)
    ]
    if age > 2 * policy.max_lifetime_s:
        factors.append(Factor("More than twice the lifetime limit", 15))
    factors.extend(privilege_factors(state.privilege_tier))
    if trigger is not None:
        summary = (
            f"Session {short_key(state.session_key)} used from {describe_network(trigger)} by "
            f"{describe_client(trigger)} {human_duration(age)} after its {started_by}; "
            f"{policy.name} allows {allowed}"
        )
    else:
        summary = (
            f"Session {short_key(state.session_key)} still open {human_duration(age)} after "
            f"its {started_by}; {policy.name} allows {allowed}"
        )
    evidence = {
        "trigger_event_ids": [o[0].provider_event_id for o in over],
        "kind": "lifetime",
        "started_at": started_at.isoformat(),
        "started_by": started_by,
        "measured_at": measured_at.isoformat(),
        "age_s": int(age),
        "limit_s": policy.max_lifetime_s,
        "policy": policy.name,
        "after": event_context(trigger) if trigger is not None else None,
    }
    return build_finding(
        SPEC,
        f"session:{state.session_key}",
        factors,
        summary,
        evidence,
        [o[0] for o in over],
        variant="lifetime",
        first_event_at=started_at,
        last_event_at=measured_at,
    )


def _context_changed(before: NormalizedEvent, after: NormalizedEvent) -> bool:
    """Whether the session came back on another device or in another client.

    A new network alone is everyday mobility (a phone moving from Wi-Fi to cellular while
    it sat idle); another device token, browser or operating system is not.
    """
    device_changed = bool(
        before.device_id and after.device_id and before.device_id != after.device_id
    )
    a, b = ua(before), ua(after)
    client_changed = a.known and b.known and a.client_key != b.client_key
    return device_changed or client_changed


def _alive(
    state: SessionState, uses: Sequence[NormalizedEvent], policy: SessionPolicy, now: datetime
) -> bool:
    """A session counts as still open only if it was used within the idle limit before ``now``.

    Sessions the IdP silently expired never tell us so; without this, every quiet session
    older than the lifetime limit would look like a violation.
    """
    last_use = uses[-1].occurred_at if uses else state.last_seen_at
    if last_use is None:
        return False
    window = timedelta(seconds=policy.idle_timeout_s or policy.max_lifetime_s or 3600)
    return now - last_use <= window


def _idle(
    state: SessionState,
    uses: Sequence[NormalizedEvent],
    new_ids: set[tuple[str, str]],
    policy: SessionPolicy,
    tolerance: timedelta,
) -> Finding | None:
    if policy.idle_timeout_s is None:
        return None
    limit = timedelta(seconds=policy.idle_timeout_s) + tolerance
    candidates: list[tuple[list[Factor], NormalizedEvent | None, NormalizedEvent, datetime]] = []
    previous: NormalizedEvent | None = None
    for event in uses:
        # Without an earlier event in the window, the session's last sighting is the
        # previous activity the engine knows of.
        if previous is not None:
            before_at: datetime | None = previous.occurred_at
        elif state.last_seen_at is not None and state.last_seen_at < event.occurred_at:
            before_at = state.last_seen_at
        else:
            before_at = None
        before = previous
        previous = event
        if event_uid(event) not in new_ids or is_authentication(event) or before_at is None:
            continue
        gap = event.occurred_at - before_at
        if gap <= limit or before is None or not _context_changed(before, event):
            # IdPs log a session's use only now and then (Okta: sign-ins and app launches), so
            # a quiet stretch in the log is not proof of inactivity. Resuming in the same
            # context is the IdP's own idle timer at work; resuming from another network or
            # device after the idle limit is what a reused cookie looks like.
            continue
        factors = [
            Factor(
                f"Idle {human_duration(gap.total_seconds())}; {policy.name} allows "
                f"{human_duration(policy.idle_timeout_s)}",
                35,
            )
        ]
        if before is not None:
            if before.asn is not None and event.asn is not None and before.asn != event.asn:
                factors.append(Factor(f"Resumed from another network (AS{event.asn})", 15))
            if before.device_id and event.device_id and before.device_id != event.device_id:
                factors.append(Factor("Resumed from another device", 10))
        factors.extend(privilege_factors(state.privilege_tier))
        candidates.append((factors, before, event, before_at))
    if not candidates:
        return None
    factors, before, after, before_at = candidates[strongest([c[0] for c in candidates])]
    gap_s = (after.occurred_at - before_at).total_seconds()
    last_used = (
        f"last used from {describe_network(before)}"
        if before is not None
        else f"last seen {before_at:%Y-%m-%d %H:%M} UTC"
    )
    summary = (
        f"Session {short_key(state.session_key)} resumed from {describe_network(after)} by "
        f"{describe_client(after)} after {human_duration(gap_s)} idle ({last_used}); "
        f"{policy.name} allows {human_duration(policy.idle_timeout_s)}"
    )
    evidence = {
        "trigger_event_ids": [c[2].provider_event_id for c in candidates],
        "kind": "idle",
        "idle_s": int(gap_s),
        "limit_s": policy.idle_timeout_s,
        "policy": policy.name,
        "before": event_context(before) if before is not None else None,
        "idle_since": before_at.isoformat(),
        "after": event_context(after),
    }
    events = [e for c in candidates for e in (c[1], c[2]) if e is not None]
    return build_finding(
        SPEC,
        f"session:{state.session_key}",
        factors,
        summary,
        evidence,
        events,
        variant="idle",
        first_event_at=min(c[3] for c in candidates),
    )
