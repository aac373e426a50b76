"""Validation of session-lifetime policy values against NIST SP 800-63B-4 (pure).

What contradicts a SHALL of the policy's assurance level is refused; what goes beyond a
SHOULD is accepted only with a written justification (NIST CSF GV.PO-01: policy decisions are
documented). Limits that contradict each other (an idle timeout longer than the overall
lifetime) are refused too, because the longer one could never take effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pycountry

from .policy_templates import AAL_LIMITS

MIN_LIMIT_S = 60  # below a minute, clock skew between IdP and apps dominates
MAX_LIFETIME_S = 365 * 24 * 3600


@dataclass
class PolicyCheck:
    """The outcome of checking policy values: refusals per field, SHOULDs that were exceeded."""

    errors: dict[str, list[str]] = field(default_factory=dict)
    should_exceeded: list[str] = field(default_factory=list)

    def refuse(self, field_name: str, message: str) -> None:
        self.errors.setdefault(field_name, []).append(message)

    @property
    def needs_justification(self) -> bool:
        return bool(self.should_exceeded)


def human(seconds: int | None) -> str:
    """A limit in words: "30 days", "24 h", "15 min", "no limit"."""
    if seconds is None:
        return "no limit"
    if seconds % 86400 == 0 and seconds >= 86400:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def normalise_countries(codes: list[str] | str | None) -> tuple[list[str], list[str]]:
    """Upper-case, de-duplicated ISO 3166-1 alpha-2 codes, and the ones that are not codes."""
    if isinstance(codes, str):
        codes = [c for c in codes.replace(";", ",").replace(" ", ",").split(",")]
    valid, invalid = [], []
    for raw in codes or []:
        code = raw.strip().upper()
        if not code:
            continue
        if len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None:
            if code not in valid:
                valid.append(code)
        else:
            invalid.append(raw.strip())
    return sorted(valid), invalid


def check_policy_values(
    *,
    assurance_level: str,
    max_lifetime_s: int | None,
    idle_timeout_s: int | None,
    reauth_window_s: int | None,
    allowed_countries: list[str] | None = None,
) -> PolicyCheck:
    """Check limits (seconds) against SP 800-63B-4 for ``assurance_level`` and each other."""
    check = PolicyCheck()
    limits = AAL_LIMITS.get(assurance_level)
    if limits is None:
        check.refuse("assurance_level", f"Unknown assurance level {assurance_level!r}.")
        return check
    cite = f"SP 800-63B-4 §{limits.section}"

    if max_lifetime_s is None:
        check.refuse(
            "max_lifetime_s",
            f"An overall timeout SHALL be established at every AAL ({cite}).",
        )
    elif max_lifetime_s < MIN_LIMIT_S or max_lifetime_s > MAX_LIFETIME_S:
        check.refuse(
            "max_lifetime_s",
            f"Must be between {human(MIN_LIMIT_S)} and {human(MAX_LIFETIME_S)}.",
        )
    elif max_lifetime_s > limits.overall_max_s:
        message = (
            f"Overall timeout {human(max_lifetime_s)} is over the {human(limits.overall_max_s)} "
            f"that {cite} sets at {limits.aal} ({limits.overall_level})."
        )
        if limits.overall_level == "SHALL":
            check.refuse("max_lifetime_s", message)
        else:
            check.should_exceeded.append(message)

    if idle_timeout_s is not None and idle_timeout_s < MIN_LIMIT_S:
        check.refuse("idle_timeout_s", f"Must be at least {human(MIN_LIMIT_S)}, or empty.")
    elif (
        idle_timeout_s is not None
        and max_lifetime_s is not None
        and idle_timeout_s > max_lifetime_s
    ):
        check.refuse(
            "idle_timeout_s",
            "The inactivity timeout cannot be longer than the overall timeout; it would never "
            "take effect.",
        )
    elif limits.inactivity_max_s is not None and (
        idle_timeout_s is None or idle_timeout_s > limits.inactivity_max_s
    ):
        what = "No inactivity timeout" if idle_timeout_s is None else human(idle_timeout_s)
        message = (
            f"{what} at {limits.aal}: {cite} says the inactivity timeout "
            f"{limits.inactivity_level} be no more than {human(limits.inactivity_max_s)}."
        )
        if limits.inactivity_level == "SHALL":
            check.refuse("idle_timeout_s", message)
        else:
            check.should_exceeded.append(message)

    if reauth_window_s is None:
        check.refuse("reauth_window_s", "A re-authentication window is required.")
    elif reauth_window_s < MIN_LIMIT_S:
        check.refuse("reauth_window_s", f"Must be at least {human(MIN_LIMIT_S)}.")
    elif max_lifetime_s is not None and reauth_window_s > max_lifetime_s:
        check.refuse(
            "reauth_window_s",
            "The re-authentication window cannot be longer than the overall timeout.",
        )

    _, invalid = normalise_countries(allowed_countries)
    if invalid:
        check.refuse(
            "allowed_countries",
            f"Not ISO 3166-1 alpha-2 country codes: {', '.join(invalid)}.",
        )
    return check
