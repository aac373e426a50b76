"""The identity providers' own risk verdicts, turned into findings with their evidence.

Okta Identity Threat Protection and ThreatInsight, Microsoft Entra ID Protection and Google's
login account warnings already see things we cannot (token binding, device signals, threat
intel); the public rules pass them through as alerts (../shared/research/detection.md §0.4,
§1.1 K1–K3/P3/O15, §1.2 E7/SG1, §1.3 W4, §1.5). Parsers keep vendor risk fields in
``event.risk``; the event type names the rest. Both are read defensively, because the three
vendors spell things differently and exports reshape them. Entra's offline detections arrive
up to 48 h late and their level can change later, so each verdict is judged as it arrives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sessions_app.ingest.schema import NormalizedEvent

from .base import (
    DetectorSpec,
    Factor,
    Finding,
    IdentityState,
    SessionPolicy,
    Threshold,
    build_finding,
    describe_network,
    event_context,
    event_uid,
    merge_timeline,
    privilege_factors,
    short_key,
    strongest,
)

SPEC = DetectorSpec(
    id="idp_risk_verdict",
    version=1,
    title="Identity provider flagged a risk",
    description=(
        "Okta (user.risk.detect, e.g. 'Suspected Session Hijacking'; session roaming "
        "security.session.detect_client_roaming; policy.auth_reevaluate.fail; OAuth token "
        "reuse app.oauth2.*token.detect_reuse; ThreatInsight security.threat.detected or "
        "threatSuspected), Microsoft Entra ID Protection (risk event types such as "
        "anomalousToken, tokenIssuerAnomaly, unlikelyTravel, attackerinTheMiddle; risk state "
        "atRisk or confirmedCompromised; risk level during sign-in) and Google Workspace "
        "(suspicious_login*, user_signed_out_due_to_suspicious_session_cookie, "
        "account_disabled_hijacked, is_suspicious) report risk themselves. Named detections "
        "always raise a finding; a bare risk level only from the minimum level up. Verdicts "
        "the vendor marks remediated, dismissed or confirmed safe are dropped."
    ),
    severity_logic=(
        "Session-theft verdicts (token anomaly, attacker in the middle, session hijacking, "
        "token reuse, suspicious session cookie, hijacked account, session roaming) start at "
        "50 points, other named verdicts at 35, a bare risk level at 25; vendor level high "
        "adds 25, medium 10; state confirmedCompromised adds 35, atRisk 10; a privileged "
        "identity adds 10 (break-glass 20)."
    ),
    thresholds={
        "min_level": Threshold(
            default=2,
            min=1,
            max=3,
            unit="level (1 low, 2 medium, 3 high)",
            help="Lowest vendor risk level that raises a finding without a named detection.",
        ),
    },
    owasp_nhi=("NHI7:2025", "NHI2:2025"),
    nist_csf=("DE.AE-02", "DE.AE-07", "DE.CM-06", "RS.MA-02"),
    mitre_attack=("T1550.004", "T1539", "T1557"),
    scope="identity",
    applies_to="all",
)

LEVELS = {"low": 1, "medium": 2, "high": 3}
CLEARED_STATES = frozenset({"remediated", "dismissed", "confirmedsafe"})

# Event types that are verdicts in themselves, per vendor, and whether they mean session theft.
OKTA_VERDICT_TYPES = {
    "user.risk.detect": False,
    "security.session.detect_client_roaming": True,
    "policy.auth_reevaluate.fail": False,
    "app.oauth2.as.token.detect_reuse": True,
    "app.oauth2.token.detect_reuse": True,
    "security.threat.detected": False,
    "user.account.report_suspicious_activity_by_enduser": False,
}
GOOGLE_VERDICT_TYPES = {
    "suspicious_login": False,
    "suspicious_login_less_secure_app": False,
    "suspicious_programmatic_login": False,
    "user_signed_out_due_to_suspicious_session_cookie": True,
    "account_disabled_hijacked": True,
    "account_disabled_password_leak": False,
    "gov_attack_warning": False,
    "risky_sensitive_action_blocked": False,
    "risky_sensitive_action_allowed": False,
}
# Names (detection names, risk event types, reasons) that mean a stolen or replayed session.
SESSION_THEFT_NAMES = frozenset(
    {
        "anomaloustoken",
        "tokenissueranomaly",
        "attackerinthemiddle",
        "suspected session hijacking",
        "associated sessionid is suspected to be hijacked",
        "attemptedprtaccess",
    }
)
# Entra risk event types that are verdicts (SigmaHQ's ID Protection rule family, level high).
ENTRA_NAMED = frozenset(
    {
        "anomaloustoken",
        "tokenissueranomaly",
        "attackerinthemiddle",
        "unlikelytravel",
        "impossibletravel",
        "mcasimpossibletravel",
        "unfamiliarfeatures",
        "anonymizedipaddress",
        "riskyipaddress",
        "maliciousipaddress",
        "suspiciousipaddress",
        "malwareinfectedipaddress",
        "nationstateip",
        "newcountry",
        "passwordspray",
        "attemptedprtaccess",
        "suspiciousbrowser",
        "suspiciousapitraffic",
        "investigationsthreatintelligence",
        "leakedcredentials",
        "anomaloususeractivity",
        "userreportedsuspiciousactivity",
        "generic",
    }
)


@dataclass(frozen=True)
class Verdict:
    """One vendor verdict read from an event."""

    names: tuple[str, ...]  # named detections and verdict event types, as the vendor wrote them
    reasons: tuple[str, ...]  # the vendor's free-text reasons (context, not a verdict alone)
    level: str  # "low" | "medium" | "high" | ""
    state: str  # vendor risk state as given ("atRisk", …) or ""
    session_theft: bool


def _first(risk: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = risk.get(key)
        if value not in (None, "", [], ()):
            return value
    return None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value)]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def read_verdict(event: NormalizedEvent) -> Verdict | None:
    """The vendor verdict an event carries, or None when it carries none (or a cleared one)."""
    risk = event.risk if isinstance(event.risk, Mapping) else {}
    etype = event.provider_event_type or ""
    names: list[str] = []
    theft = False

    for table in (OKTA_VERDICT_TYPES, GOOGLE_VERDICT_TYPES):
        if etype in table:
            names.append(etype)
            theft = theft or table[etype]
    detection = _first(risk, "detection_name", "detectionName")
    if detection:
        names.append(str(detection))
    reasons = _as_list(_first(risk, "reasons", "reason"))
    # Most reasons only explain a level ("New Device"); hijacking reasons are verdicts.
    names.extend(r for r in reasons if r.lower() in SESSION_THEFT_NAMES or "hijack" in r.lower())
    for risk_type in _as_list(
        _first(risk, "event_types", "riskEventTypes_v2", "riskEventTypes", "risk_event_types")
    ):
        if risk_type.lower() in ENTRA_NAMED or risk_type.lower() in SESSION_THEFT_NAMES:
            names.append(risk_type)
    if _truthy(_first(risk, "threat_suspected", "threatSuspected")):
        names.append("ThreatInsight threat suspected")
    if _truthy(_first(risk, "is_suspicious", "isSuspicious")):
        names.append("Google is_suspicious")
    theft = theft or any(n.lower() in SESSION_THEFT_NAMES or "hijack" in n.lower() for n in names)

    level = str(
        _first(risk, "level", "risk_level", "riskLevelDuringSignIn", "riskLevelAggregated") or ""
    ).lower()
    level = level if level in LEVELS else ""
    state = str(_first(risk, "state", "riskState") or "")
    if state.lower() in CLEARED_STATES:
        return None
    detail = str(_first(risk, "detail", "riskDetail") or "")
    if detail.lower().startswith("adminconfirmed") and "compromised" in detail.lower():
        state = "confirmedCompromised"
    if not names and not level and state.lower() not in ("atrisk", "confirmedcompromised"):
        return None
    # Keep the order the vendor gave, without repeats.
    unique = tuple(dict.fromkeys(names))
    return Verdict(
        names=unique,
        reasons=tuple(dict.fromkeys(reasons)),
        level=level,
        state=state,
        session_theft=theft,
    )


def detect(
    state: IdentityState,
    new_events: Sequence[NormalizedEvent],
    params: Mapping[str, Any],
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> list[Finding]:
    """One finding for the identity from the strongest new vendor verdict."""
    timeline, new_ids = merge_timeline((), new_events)
    candidates: list[tuple[list[Factor], NormalizedEvent, Verdict]] = []
    for event in timeline:
        if event_uid(event) not in new_ids:
            continue
        verdict = read_verdict(event)
        if verdict is None:
            continue
        state_lower = verdict.state.lower()
        strong_state = state_lower in ("atrisk", "confirmedcompromised")
        if (
            not verdict.names
            and not strong_state
            and LEVELS.get(verdict.level, 0) < params["min_level"]
        ):
            continue
        vendor = event.provider.capitalize()
        if verdict.session_theft:
            label, points = f"{vendor} session-theft verdict: {', '.join(verdict.names)}", 50
        elif verdict.names:
            label, points = f"{vendor} verdict: {', '.join(verdict.names)}", 35
        else:
            label, points = f"{vendor} risk level {verdict.level or 'unknown'}", 25
        factors = [Factor(label, points)]
        if verdict.level == "high":
            factors.append(Factor("Vendor risk level high", 25))
        elif verdict.level == "medium":
            factors.append(Factor("Vendor risk level medium", 10))
        if state_lower == "confirmedcompromised":
            factors.append(Factor("Vendor state: confirmed compromised", 35))
        elif state_lower == "atrisk":
            factors.append(Factor("Vendor state: at risk", 10))
        factors.extend(privilege_factors(state.privilege_tier))
        candidates.append((factors, event, verdict))

    if not candidates:
        return []
    factors, trigger, verdict = candidates[strongest([c[0] for c in candidates])]
    vendor = trigger.provider.capitalize()
    what = ", ".join(verdict.names) or f"risk level {verdict.level}"
    summary = f"{vendor} flagged {trigger.actor_login or state.identity_key}: {what}"
    if verdict.level:
        summary += f" (level {verdict.level}"
        summary += f", state {verdict.state})" if verdict.state else ")"
    elif verdict.state:
        summary += f" (state {verdict.state})"
    if trigger.session_key:
        summary += f" on session {short_key(trigger.session_key)}"
    if trigger.ip:
        summary += f" from {describe_network(trigger)}"
    extra = [r for r in verdict.reasons if r not in verdict.names]
    if extra:
        summary += f"; reasons: {', '.join(extra)}"
    if len(candidates) > 1:
        summary += f"; {len(candidates)} verdicts"
    evidence = {
        "trigger_event_ids": [c[1].provider_event_id for c in candidates],
        "vendor": trigger.provider,
        "provider_event_type": trigger.provider_event_type,
        "verdict": {
            "names": list(verdict.names),
            "reasons": list(verdict.reasons),
            "level": verdict.level,
            "state": verdict.state,
            "session_theft": verdict.session_theft,
        },
        "vendor_risk": dict(trigger.risk),
        "session_keys": sorted({c[1].session_key for c in candidates if c[1].session_key}),
        "after": event_context(trigger),
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
