"""NIST SP 800-63B-4 session limits per AAL, and the policy templates built from them.

Data copied from ``../shared/reference/nist_800_63b_session.json`` (typed from the normative
sentences of the final revision 4, which are quoted verbatim below).

Attribution: Source: National Institute of Standards and Technology (NIST), SP 800-63B-4
(Digital Identity Guidelines: Authentication and Authenticator Management, 2025,
https://doi.org/10.6028/NIST.SP.800-63B-4, §§2.1.3, 2.2.3, 2.3.3, 5.2) and SP 800-63B
(revision 3, §§4.1.3–4.3.3). Read from ``usnistgov/800-63-4`` at commit
d26e8a278c1aad19d859b13f772be327ab9ed888 and ``usnistgov/800-63-3`` at commit
ce8ada6277a2948308d85b16a4c568874f7d5abb. Work of the US Government: public domain in the US
(17 U.S.C. 105).

Caution carried over from the reference: the rev-4 second public draft (Dec 2023) still used the
rev-3 figures (AAL2 12 h / 30 min). The final rev 4 relaxed AAL2 to 24 h overall and 1 h
inactivity (both SHOULD) and kept the SHALL that an overall timeout be established. The
"strict" profile below uses the rev-3 figures on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR = 3600
DAY = 24 * HOUR

ATTRIBUTION = (
    "Source: National Institute of Standards and Technology (NIST), SP 800-63B-4 and "
    "SP 800-63B (rev. 3). Public domain in the US."
)
REFERENCE_URL = "https://doi.org/10.6028/NIST.SP.800-63B-4"

# Rules that hold at every AAL (rev 4 §5.2), quoted verbatim.
GENERAL_RULES = (
    "When either timeout expires, the session SHALL be terminated.",
    "Session activity SHALL reset the inactivity timeout, and successful reauthentication "
    "during a session SHALL reset both timeouts.",
    "Agencies SHALL establish and document the inactivity and overall time limits being "
    "enforced in a system security plan.",
)


@dataclass(frozen=True)
class AalLimits:
    """What SP 800-63B-4 says about session timeouts at one authenticator assurance level.

    ``*_max_s`` is the figure of the guideline (seconds; ``None`` = no figure given) and
    ``*_level`` how binding it is: "SHALL" (refuse values above it), "SHOULD" (accept with a
    recorded justification) or "MAY" (no limit required).
    """

    aal: str
    section: str
    overall_max_s: int
    overall_level: str
    inactivity_max_s: int | None
    inactivity_level: str
    quote: str


AAL_LIMITS: dict[str, AalLimits] = {
    "AAL1": AalLimits(
        aal="AAL1",
        section="2.1.3",
        overall_max_s=30 * DAY,
        overall_level="SHOULD",
        inactivity_max_s=None,
        inactivity_level="MAY",
        quote=(
            "A definite reauthentication overall timeout SHALL be established, which SHOULD be "
            "no more than 30 days at AAL1. An inactivity timeout MAY be applied but is not "
            "required at AAL1."
        ),
    ),
    "AAL2": AalLimits(
        aal="AAL2",
        section="2.2.3",
        overall_max_s=DAY,
        overall_level="SHOULD",
        inactivity_max_s=HOUR,
        inactivity_level="SHOULD",
        quote=(
            "A definite reauthentication overall timeout SHALL be established, which SHOULD be "
            "no more than 24 hours at AAL2. The inactivity timeout SHOULD be no more than 1 "
            "hour."
        ),
    ),
    "AAL3": AalLimits(
        aal="AAL3",
        section="2.3.3",
        overall_max_s=12 * HOUR,
        overall_level="SHALL",
        inactivity_max_s=15 * 60,
        inactivity_level="SHOULD",
        quote=(
            "At AAL3, the overall timeout for reauthentication SHALL be no more than 12 hours. "
            "The inactivity timeout SHOULD be no more than 15 minutes."
        ),
    ),
}


@dataclass(frozen=True)
class PolicyTemplate:
    """Starting values for a new policy. Limits in seconds; ``None`` idle = no idle limit."""

    key: str
    label: str
    assurance_level: str
    max_lifetime_s: int
    idle_timeout_s: int | None
    reauth_window_s: int
    device_binding: bool
    description: str


# Overall and inactivity limits are the rev-4 maxima ("product_default_policies.rev4_default"
# of the reference); the strict profile takes the rev-3 SHALL figures ("rev3_strict"). The
# re-authentication windows for high-value actions are our product choice: NIST sets none, so
# each level asks for a fresh authentication no later than its own inactivity limit (AAL1,
# which has none, gets 12 h).
TEMPLATES: dict[str, PolicyTemplate] = {
    "aal1": PolicyTemplate(
        key="aal1",
        label="NIST SP 800-63B-4 AAL1",
        assurance_level="AAL1",
        max_lifetime_s=30 * DAY,
        idle_timeout_s=None,
        reauth_window_s=12 * HOUR,
        device_binding=False,
        description="Overall timeout 30 days (§2.1.3 SHOULD); no inactivity timeout (MAY).",
    ),
    "aal2": PolicyTemplate(
        key="aal2",
        label="NIST SP 800-63B-4 AAL2",
        assurance_level="AAL2",
        max_lifetime_s=DAY,
        idle_timeout_s=HOUR,
        reauth_window_s=HOUR,
        device_binding=False,
        description="Overall 24 h and inactivity 1 h (§2.2.3, both SHOULD). govern's default.",
    ),
    "aal3": PolicyTemplate(
        key="aal3",
        label="NIST SP 800-63B-4 AAL3",
        assurance_level="AAL3",
        max_lifetime_s=12 * HOUR,
        idle_timeout_s=15 * 60,
        reauth_window_s=15 * 60,
        device_binding=True,
        description="Overall 12 h (§2.3.3 SHALL), inactivity 15 min (SHOULD), device-bound.",
    ),
    "strict": PolicyTemplate(
        key="strict",
        label="Strict (SP 800-63B rev. 3 AAL2)",
        assurance_level="AAL2",
        max_lifetime_s=12 * HOUR,
        idle_timeout_s=30 * 60,
        reauth_window_s=15 * 60,
        device_binding=True,
        description=(
            "The rev-3 SHALL figures for AAL2 (12 h overall, 30 min inactivity), step-up "
            "within 15 min for high-value actions, device-bound sessions."
        ),
    ),
}

# What applies when no enabled policy matches a session or identity. It must stay equal to
# alerts_app.detectors.base.DEFAULT_POLICY (a test pins that).
DEFAULT_TEMPLATE = TEMPLATES["aal2"]
