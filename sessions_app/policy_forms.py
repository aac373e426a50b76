"""Forms of the session-lifetime policy pages: the policy editor and the explainer lookup."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from .choices import IdentityKind, PrivilegeTier
from .models import (
    AssuranceLevel,
    PolicyMode,
    SessionLifetimePolicy,
    Source,
    ViolationAction,
)
from .policy_rules import check_policy_values, normalise_countries
from .policy_services import EDITABLE_FIELDS
from .policy_templates import TEMPLATES, PolicyTemplate

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_LIMIT = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d)?\s*$", re.IGNORECASE)


def limit_text(seconds: int | None) -> str:
    """Seconds as the shortest exact "30d" / "24h" / "15m" / "90s" an admin would type."""
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class LimitField(forms.CharField):
    """A duration typed as a number with a unit: 90s, 15m, 12h, 30d (no unit = minutes)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"maxlength": 12, "size": 8}))
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        return limit_text(value) if isinstance(value, int) else value

    def to_python(self, value) -> int | None:
        text = super().to_python(value)
        if text in ("", None):
            return None
        match = _LIMIT.match(text)
        if not match:
            raise forms.ValidationError(
                "Type a number with a unit: 90s, 15m, 12h or 30d.", code="invalid"
            )
        unit = (match.group(2) or "m").lower()
        return int(match.group(1)) * _UNITS[unit]


def _blank_choices(choices, label: str) -> list[tuple[str, str]]:
    return [("", label), *choices]


class PolicyForm(forms.Form):
    """Every editable field of a policy; durations as "12h"-style limits."""

    name = forms.CharField(max_length=150)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    assurance_level = forms.ChoiceField(
        choices=AssuranceLevel.choices,
        help_text="The SP 800-63B-4 assurance level the limits are checked against.",
    )
    identity_kind = forms.ChoiceField(
        choices=_blank_choices(IdentityKind.choices, "any kind"), required=False
    )
    privilege_tier = forms.ChoiceField(
        choices=_blank_choices(PrivilegeTier.choices, "any tier"), required=False
    )
    source = forms.ModelChoiceField(
        queryset=Source.objects.order_by("name"), required=False, empty_label="any source"
    )
    client_app = forms.CharField(
        max_length=200,
        required=False,
        label="Application",
        help_text="Sessions used with this client app (as events name it); empty = any.",
    )
    department = forms.CharField(
        max_length=200, required=False, label="Group / department", help_text="Empty = any."
    )
    max_lifetime_s = LimitField(
        label="Maximum session lifetime",
        help_text="Overall timeout after the last (re-)authentication, e.g. 12h.",
    )
    idle_timeout_s = LimitField(
        label="Idle timeout", required=False, help_text="e.g. 15m; empty = no idle limit."
    )
    reauth_window_s = LimitField(
        label="Re-authentication window for high-value actions",
        help_text="Privilege grants, exports, policy changes need an authentication this recent.",
    )
    device_binding = forms.BooleanField(
        required=False, label="Device binding required", help_text="Sessions stay on one device."
    )
    allowed_countries = forms.CharField(
        required=False,
        label="Countries allowed",
        help_text="ISO codes separated by commas (GB, DE, US); empty = anywhere.",
    )
    violation_action = forms.ChoiceField(choices=ViolationAction.choices)
    mode = forms.ChoiceField(
        choices=PolicyMode.choices,
        help_text="Monitor raises alerts only; enforce also carries out the violation action.",
    )
    priority = forms.IntegerField(
        min_value=0,
        max_value=100000,
        initial=100,
        help_text="Among equally specific policies, the lowest number wins.",
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required when a value goes beyond what NIST SP 800-63B-4 says SHOULD hold.",
    )
    enabled = forms.BooleanField(required=False, initial=True)
    comment = forms.CharField(
        max_length=500, required=False, label="Change note", help_text="Shown in the history."
    )
    template = forms.CharField(widget=forms.HiddenInput, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    VALUE_FIELDS = EDITABLE_FIELDS  # the service's editable fields, in the same order

    def __init__(self, *args, for_backtest: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # A backtest previews values before the admin writes a justification for them.
        self.for_backtest = for_backtest
        self.should_exceeded: list[str] = []

    @classmethod
    def initial_from_template(cls, template: PolicyTemplate) -> dict[str, Any]:
        return {
            "name": template.label,
            "description": template.description,
            "template": template.key,
            "assurance_level": template.assurance_level,
            "max_lifetime_s": template.max_lifetime_s,
            "idle_timeout_s": template.idle_timeout_s,
            "reauth_window_s": template.reauth_window_s,
            "device_binding": template.device_binding,
            "violation_action": ViolationAction.ALERT,
            "mode": PolicyMode.MONITOR,
            "priority": 100,
            "enabled": True,
        }

    @classmethod
    def initial_from_policy(cls, policy: SessionLifetimePolicy) -> dict[str, Any]:
        initial = {name: getattr(policy, name) for name in cls.VALUE_FIELDS}
        initial["source"] = policy.source_id
        initial["allowed_countries"] = ", ".join(policy.allowed_countries or [])
        initial["version"] = policy.version
        return initial

    def clean_allowed_countries(self) -> list[str]:
        valid, invalid = normalise_countries(self.cleaned_data.get("allowed_countries"))
        if invalid:
            raise forms.ValidationError(
                f"Not ISO 3166-1 alpha-2 country codes: {', '.join(invalid)}."
            )
        return valid

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        check = check_policy_values(
            assurance_level=data.get("assurance_level", ""),
            max_lifetime_s=data.get("max_lifetime_s"),
            idle_timeout_s=data.get("idle_timeout_s"),
            reauth_window_s=data.get("reauth_window_s"),
            allowed_countries=data.get("allowed_countries"),
        )
        for name, messages in check.errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        self.should_exceeded = check.should_exceeded
        missing = not (data.get("justification") or "").strip()
        if check.needs_justification and missing and not self.for_backtest:
            self.add_error(
                "justification",
                "Justify why these values are acceptable here: " + " ".join(check.should_exceeded),
            )
        return data

    def values(self) -> dict[str, Any]:
        """The cleaned values in the shape ``policy_services`` takes."""
        return {name: self.cleaned_data.get(name) for name in self.VALUE_FIELDS}

    def draft(self, policy: SessionLifetimePolicy | None = None) -> SessionLifetimePolicy:
        """An unsaved policy with the form's values (for the backtest); keeps ``policy``'s id."""
        values = self.values()
        draft = SessionLifetimePolicy(
            pk=policy.pk if policy else None,
            **{k: v for k, v in values.items() if k != "source"},
        )
        draft.source = values["source"]
        if policy is not None:
            draft.version = policy.version
        return draft


def template_choices() -> list[PolicyTemplate]:
    return list(TEMPLATES.values())


class ExplainForm(forms.Form):
    """Pick a session or an identity to see which policy governs it and why."""

    session = forms.IntegerField(required=False, min_value=1, label="Session id")
    identity = forms.IntegerField(required=False, min_value=1, label="Identity id")

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("session") and not data.get("identity"):
            raise forms.ValidationError("Give a session id or an identity id.")
        return data
