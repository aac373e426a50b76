"""Writes of session-lifetime policies: each one validated, versioned and audited atomically.

Every change bumps ``SessionLifetimePolicy.version`` with a conditional update on the version
the editor saw, so two admins saving the same policy at once cannot silently overwrite each
other: the second save is refused and nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from govern.audit import audit_log

from .models import PolicyVersion, SessionLifetimePolicy, Source
from .policy_rules import check_policy_values, normalise_countries

# The fields an admin edits, in the order they are shown in history and diffs.
EDITABLE_FIELDS = (
    "name",
    "description",
    "template",
    "assurance_level",
    "identity_kind",
    "privilege_tier",
    "source",
    "client_app",
    "department",
    "max_lifetime_s",
    "idle_timeout_s",
    "reauth_window_s",
    "device_binding",
    "allowed_countries",
    "violation_action",
    "mode",
    "priority",
    "justification",
    "enabled",
)


def policy_snapshot(policy: SessionLifetimePolicy) -> dict[str, Any]:
    """The editable state of a policy as plain JSON (the source by id and name)."""
    data = {}
    for name in EDITABLE_FIELDS:
        if name == "source":
            data["source"] = (
                {"id": policy.source_id, "name": policy.source.name} if policy.source_id else None
            )
        else:
            data[name] = getattr(policy, name)
    return data


def snapshot_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields that changed, in display order."""
    return {
        name: [before.get(name), after.get(name)]
        for name in EDITABLE_FIELDS
        if before.get(name) != after.get(name)
    }


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise and validate a complete set of editable values; raise ValidationError."""
    data = {name: values.get(name) for name in EDITABLE_FIELDS if name in values}
    for text in ("name", "description", "template", "client_app", "department", "justification"):
        data[text] = (data.get(text) or "").strip()
    for choice in ("identity_kind", "privilege_tier"):
        data[choice] = data.get(choice) or ""
    source = data.get("source")
    if source is not None and not isinstance(source, Source):
        source = Source.objects.filter(pk=source).first()
        if source is None:
            raise ValidationError({"source": "No such source."})
    data["source"] = source
    countries, _invalid = normalise_countries(data.get("allowed_countries"))
    check = check_policy_values(
        assurance_level=data.get("assurance_level") or "",
        max_lifetime_s=data.get("max_lifetime_s"),
        idle_timeout_s=data.get("idle_timeout_s"),
        reauth_window_s=data.get("reauth_window_s"),
        allowed_countries=data.get("allowed_countries"),
    )
    errors = dict(check.errors)
    if not data["name"]:
        errors.setdefault("name", []).append("A policy needs a name.")
    if check.needs_justification and not data["justification"]:
        errors.setdefault("justification", []).append(
            "Justify why these values are acceptable here: " + " ".join(check.should_exceeded)
        )
    if errors:
        raise ValidationError(errors)
    data["allowed_countries"] = countries
    data["device_binding"] = bool(data.get("device_binding"))
    data["enabled"] = bool(data.get("enabled", True))
    if data.get("priority") is None:
        data["priority"] = 100
    return data


def _record(
    *,
    policy: SessionLifetimePolicy,
    action: str,
    before: dict[str, Any] | None,
    actor,
    actor_label: str,
    comment: str,
    client_ip: str | None,
) -> PolicyVersion:
    after = policy_snapshot(policy)
    diff = snapshot_diff(before or {}, after)
    version = PolicyVersion.objects.create(
        policy=policy,
        version=policy.version,
        at=timezone.now(),
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_label=actor_label or (actor.get_username() if actor is not None else "system"),
        action=action,
        snapshot=after,
        diff=diff,
        comment=comment,
    )
    audit_log(
        actor=actor,
        actor_label=actor_label,
        verb=f"policy.{action}",
        obj=policy,
        before={k: v[0] for k, v in diff.items()} if before is not None else None,
        after={"version": policy.version, **{k: v[1] for k, v in diff.items()}},
        client_ip=client_ip,
    )
    return version


@transaction.atomic
def policy_create(
    *,
    values: Mapping[str, Any],
    actor,
    actor_label: str = "",
    comment: str = "",
    client_ip: str | None = None,
) -> SessionLifetimePolicy:
    """Create a policy from a complete set of values (version 1)."""
    data = _clean(values)
    if SessionLifetimePolicy.objects.filter(name=data["name"]).exists():
        raise ValidationError({"name": "A policy with this name already exists."})
    policy = SessionLifetimePolicy.objects.create(**data, version=1)
    _record(
        policy=policy,
        action="created",
        before=None,
        actor=actor,
        actor_label=actor_label,
        comment=comment,
        client_ip=client_ip,
    )
    return policy


@transaction.atomic
def policy_update(
    *,
    policy: SessionLifetimePolicy,
    values: Mapping[str, Any],
    expected_version: int,
    actor,
    actor_label: str = "",
    comment: str = "",
    client_ip: str | None = None,
) -> SessionLifetimePolicy:
    """Save new values for ``policy`` if nobody saved it since ``expected_version``.

    Returns the policy unchanged (no new version) when nothing differs.
    """
    current = SessionLifetimePolicy.objects.select_for_update().get(pk=policy.pk)
    if current.version != expected_version:
        raise ValidationError(
            f"This policy was changed (now version {current.version}) since you opened "
            f"version {expected_version}. Reload it and apply your change again."
        )
    data = _clean({**policy_snapshot(current), "source": current.source_id, **values})
    if SessionLifetimePolicy.objects.filter(name=data["name"]).exclude(pk=current.pk).exists():
        raise ValidationError({"name": "A policy with this name already exists."})
    before = policy_snapshot(current)
    for name, value in data.items():
        setattr(current, name, value)
    if not snapshot_diff(before, policy_snapshot(current)):
        return current
    current.version += 1
    current.save()
    action = "updated"
    if set(snapshot_diff(before, policy_snapshot(current))) == {"enabled"}:
        action = "enabled" if current.enabled else "disabled"
    _record(
        policy=current,
        action=action,
        before=before,
        actor=actor,
        actor_label=actor_label,
        comment=comment,
        client_ip=client_ip,
    )
    return current


def policy_set_enabled(
    *,
    policy: SessionLifetimePolicy,
    enabled: bool,
    expected_version: int,
    actor,
    client_ip: str | None = None,
) -> SessionLifetimePolicy:
    """Enable or disable a policy (a new version like any other change)."""
    return policy_update(
        policy=policy,
        values={"enabled": enabled},
        expected_version=expected_version,
        actor=actor,
        client_ip=client_ip,
    )
