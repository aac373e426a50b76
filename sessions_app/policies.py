"""Which session-lifetime policy governs a session or an identity, and why (reads only).

Precedence is deterministic: among the enabled policies whose scope matches, the one with the
most scope fields set wins (most specific); ties go to the lowest ``priority`` number, then to
the oldest policy (lowest id). When nothing matches, the NIST SP 800-63B-4 AAL2 default applies
(``alerts_app.detectors.base.DEFAULT_POLICY``). The backtest (``policy_backtest``) implements
the same order in SQL.

Scope matching: identity kind, privilege tier and department come from the identity; source
from the session; application matches a session that used that client app in any of its
events. An identity on its own has no source or application, so policies scoped to either
apply to its sessions, not to the identity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from alerts_app.detectors.base import DEFAULT_POLICY, SessionPolicy

from .models import Identity, Session, SessionLifetimePolicy, TelemetryEvent
from .policy_rules import human

SCOPE_LABELS = {
    "identity_kind": "identity kind",
    "privilege_tier": "privilege tier",
    "source": "source",
    "client_app": "application",
    "department": "group/department",
}


@dataclass(frozen=True)
class EffectivePolicy:
    """The policy governing a subject: the model (None for the default), the limits the
    detectors read, and the reason in words."""

    policy: SessionLifetimePolicy | None
    detector_policy: SessionPolicy
    reason: str
    matched: tuple[SessionLifetimePolicy, ...] = ()

    @property
    def is_default(self) -> bool:
        return self.policy is None


def detector_policy_of(policy: SessionLifetimePolicy) -> SessionPolicy:
    """The limits of a stored policy in the shape detectors read."""
    return SessionPolicy(
        max_lifetime_s=policy.max_lifetime_s,
        idle_timeout_s=policy.idle_timeout_s,
        reauth_window_s=policy.reauth_window_s,
        device_binding=policy.device_binding,
        name=f"policy “{policy.name}”",
        allowed_countries=tuple(policy.allowed_countries or ()),
    )


def precedence_key(policy: SessionLifetimePolicy) -> tuple[int, int, int]:
    """Sort key: the first policy after sorting wins. Unsaved drafts sort after saved ones."""
    return (-policy.specificity, policy.priority, policy.pk or 2**62)


def _scope_words(policy: SessionLifetimePolicy) -> str:
    parts = []
    if policy.identity_kind:
        parts.append(f"identity kind {policy.get_identity_kind_display()}")
    if policy.privilege_tier:
        parts.append(f"privilege tier {policy.get_privilege_tier_display()}")
    if policy.source_id:
        parts.append(f"source {policy.source.name if policy.source else policy.source_id}")
    if policy.client_app:
        parts.append(f"application {policy.client_app}")
    if policy.department:
        parts.append(f"group/department {policy.department}")
    return ", ".join(parts) if parts else "everything (no scope set)"


def _default_reason(subject: str, skipped: int) -> str:
    text = (
        f"No enabled policy matches this {subject}, so the {DEFAULT_POLICY.name} default "
        f"applies: {human(DEFAULT_POLICY.max_lifetime_s)} overall, "
        f"{human(DEFAULT_POLICY.idle_timeout_s)} idle, re-authentication for high-value "
        f"actions within {human(DEFAULT_POLICY.reauth_window_s)}."
    )
    if skipped:
        text += (
            f" {skipped} polic{'y is' if skipped == 1 else 'ies are'} scoped to a source or "
            "application and apply to this identity's sessions individually."
        )
    return text


def explain(matched: Sequence[SessionLifetimePolicy], *, subject: str, skipped: int = 0) -> str:
    """The reason, in words, why the first of ``matched`` (already in precedence order) wins."""
    if not matched:
        return _default_reason(subject, skipped)
    winner = matched[0]
    text = f"“{winner.name}” applies because it matches {_scope_words(winner)}"
    if winner.specificity:
        text += f" ({winner.specificity} of 5 scope fields)"
    text += "."
    others = list(matched[1:])
    if others:
        less_specific = [p for p in others if p.specificity < winner.specificity]
        tied = [p for p in others if p.specificity == winner.specificity]
        if less_specific:
            names = ", ".join(f"“{p.name}”" for p in less_specific[:3])
            more = f" and {len(less_specific) - 3} more" if len(less_specific) > 3 else ""
            text += f" It is more specific than {names}{more}, which also match."
        for p in tied[:3]:
            if p.priority != winner.priority:
                text += (
                    f" “{p.name}” is as specific, but priority {winner.priority} comes before "
                    f"{p.priority}."
                )
            else:
                text += f" “{p.name}” is as specific with the same priority; the older policy wins."
    return text


class PolicyResolver:
    """Resolves effective policies for many subjects with the policies loaded once.

    Use one resolver per batch (a detection run, a page); it does not see policies changed
    after it was created.
    """

    def __init__(self, policies: Iterable[SessionLifetimePolicy]):
        self.policies = sorted(policies, key=precedence_key)
        self.needs_apps = any(p.client_app for p in self.policies)

    @classmethod
    def load(cls) -> PolicyResolver:
        return cls(SessionLifetimePolicy.objects.filter(enabled=True).select_related("source"))

    @staticmethod
    def _identity_matches(policy: SessionLifetimePolicy, identity: Identity) -> bool:
        return (
            (not policy.identity_kind or policy.identity_kind == identity.kind)
            and (not policy.privilege_tier or policy.privilege_tier == identity.privilege_tier)
            and (not policy.department or policy.department == identity.department)
        )

    def session_apps(self, session: Session) -> set[str]:
        """Client apps the session was used with (only queried when a policy needs them)."""
        if not self.needs_apps:
            return set()
        return set(
            TelemetryEvent.objects.filter(session_id=session.pk)
            .exclude(client_app="")
            .values_list("client_app", flat=True)
            .distinct()
        )

    def for_session(self, session: Session, *, apps: set[str] | None = None) -> EffectivePolicy:
        identity = session.identity
        if apps is None:
            apps = self.session_apps(session)
        matched = tuple(
            p
            for p in self.policies
            if self._identity_matches(p, identity)
            and (not p.source_id or p.source_id == session.source_id)
            and (not p.client_app or p.client_app in apps)
        )
        return self._result(matched, subject="session")

    def for_identity(self, identity: Identity) -> EffectivePolicy:
        per_session = [p for p in self.policies if p.source_id or p.client_app]
        matched = tuple(
            p
            for p in self.policies
            if not (p.source_id or p.client_app) and self._identity_matches(p, identity)
        )
        skipped = sum(1 for p in per_session if self._identity_matches(p, identity))
        return self._result(matched, subject="identity", skipped=skipped)

    @staticmethod
    def _result(
        matched: tuple[SessionLifetimePolicy, ...], *, subject: str, skipped: int = 0
    ) -> EffectivePolicy:
        reason = explain(matched, subject=subject, skipped=skipped)
        if not matched:
            return EffectivePolicy(None, DEFAULT_POLICY, reason, ())
        return EffectivePolicy(matched[0], detector_policy_of(matched[0]), reason, matched)


def effective_policy(
    *, session: Session | None = None, identity: Identity | None = None
) -> EffectivePolicy:
    """The policy governing ``session`` (preferred when both are given) or ``identity``."""
    resolver = PolicyResolver.load()
    if session is not None:
        return resolver.for_session(session)
    if identity is not None:
        return resolver.for_identity(identity)
    raise ValueError("effective_policy needs a session or an identity.")
