"""Source configuration forms, built from each connector's declared settings."""

from __future__ import annotations

import json

from django import forms

from .choices import SourceKind
from .connectors import SETTINGS_FIELDS, SettingField
from .ingest import PROVIDERS
from .ingest.generic import validate_mapping

PUSH_FIELDS = [
    SettingField(
        "webhook_secret",
        "Webhook signing secret",
        secret=True,
        help="Shared secret for X-Govern-Signature (HMAC-SHA256 over '<t>.' + body).",
    ),
    SettingField(
        "okta_authorization",
        "Okta Event Hook Authorization value",
        secret=True,
        help="Only for Okta Event Hooks: the static Authorization header configured in Okta.",
    ),
]


# Where govern sends signed revocation requests for identities of a push or file source.
REVOCATION_WEBHOOK_FIELDS = [
    SettingField(
        "revocation_url",
        "Revocation webhook URL",
        kind="url",
        help="Optional: govern POSTs a signed revocation request here for this source's "
        "identities (HMAC-SHA256 with the revocation secret).",
    ),
    SettingField(
        "revocation_grace_seconds",
        "Revocation propagation grace (seconds)",
        kind="int",
        help="How long the receiving system may take to drop a revoked session.",
    ),
    SettingField(
        "revocation_secret",
        "Revocation webhook signing secret",
        secret=True,
        help="Shared secret that signs revocation requests.",
    ),
]


def fields_for(kind: str) -> list[SettingField]:
    if kind in SETTINGS_FIELDS:
        return SETTINGS_FIELDS[kind]
    if kind == SourceKind.WEBHOOK:
        return PUSH_FIELDS + REVOCATION_WEBHOOK_FIELDS
    return REVOCATION_WEBHOOK_FIELDS


def _form_field(spec: SettingField, *, secret_is_set: bool) -> forms.Field:
    common = {"label": spec.label, "help_text": spec.help, "required": False}
    if spec.secret:
        note = "Set — leave empty to keep it." if secret_is_set else "Not set."
        widget = forms.Textarea(attrs={"rows": 4}) if spec.kind == "text" else forms.PasswordInput
        return forms.CharField(
            widget=widget, **{**common, "help_text": f"{spec.help} {note}".strip()}
        )
    if spec.kind == "int":
        return forms.IntegerField(**common)
    if spec.kind == "float":
        return forms.FloatField(**common)
    if spec.kind == "bool":
        return forms.BooleanField(**common)
    if spec.kind == "url":
        return forms.URLField(assume_scheme="https", **common)
    if spec.kind == "choice":
        return forms.ChoiceField(choices=[(c, c) for c in spec.choices], **common)
    if spec.kind == "choices":
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in spec.choices], widget=forms.CheckboxSelectMultiple, **common
        )
    if spec.kind == "text":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), **common)
    return forms.CharField(**common)


class SourceForm(forms.Form):
    """Name, switches and the kind's own settings; secrets are write-only."""

    name = forms.CharField(max_length=100)
    enabled = forms.BooleanField(required=False, initial=True)
    poll_interval_seconds = forms.IntegerField(min_value=15, max_value=86400, initial=60)
    format = forms.ChoiceField(
        choices=[(p, p) for p in PROVIDERS],
        required=False,
        help_text="Which parser reads pushed or imported events (webhook and file sources).",
    )
    mapping = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text='Generic JSON only: {"fields": {"provider_event_id": "id", "occurred_at": '
        '"time", "actor_id": "user.id", ...}, "values": {...}}',
    )

    def __init__(self, *args, kind: str, source=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.specs = fields_for(kind)
        secret_names = set(source.secret_names) if source else set()
        settings = (source.settings if source else {}) or {}
        if kind not in (SourceKind.WEBHOOK, SourceKind.FILE):
            del self.fields["format"], self.fields["mapping"]
        else:
            del self.fields["poll_interval_seconds"]
            self.initial.setdefault("format", settings.get("format", "json"))
            if settings.get("mapping"):
                self.initial.setdefault("mapping", json.dumps(settings["mapping"], indent=2))
        for spec in self.specs:
            self.fields[spec.name] = _form_field(spec, secret_is_set=spec.name in secret_names)
            if not spec.secret:
                self.initial.setdefault(spec.name, settings.get(spec.name, spec.default))
        if source is not None:
            self.initial.setdefault("name", source.name)
            self.initial.setdefault("enabled", source.enabled)
            self.initial.setdefault("poll_interval_seconds", source.poll_interval_seconds)
        self.secret_names = secret_names

    def clean_mapping(self):
        text = self.cleaned_data.get("mapping", "").strip()
        if not text:
            return None
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        errors = validate_mapping(mapping)
        if errors:
            raise forms.ValidationError(errors)
        return mapping

    def clean(self):
        data = super().clean()
        needs_mapping = data.get("format") == "json" and self.kind in (
            SourceKind.WEBHOOK,
            SourceKind.FILE,
        )
        if needs_mapping and not data.get("mapping") and "mapping" not in self.errors:
            self.add_error("mapping", "Generic JSON needs a field mapping.")
        for spec in self.specs:
            value = data.get(spec.name)
            if not spec.required:
                continue
            if spec.secret and not value and spec.name not in self.secret_names:
                self.add_error(spec.name, "This secret is required.")
            elif not spec.secret and value in (None, "", []):
                self.add_error(spec.name, "This field is required.")
        return data

    def settings_values(self) -> dict:
        values = {
            s.name: self.cleaned_data.get(s.name)
            for s in self.specs
            if not s.secret and self.cleaned_data.get(s.name) not in (None, "", [])
        }
        if "format" in self.fields:
            values["format"] = self.cleaned_data.get("format") or "json"
            if self.cleaned_data.get("mapping"):
                values["mapping"] = self.cleaned_data["mapping"]
        return values

    def secret_values(self) -> dict:
        """Only the secrets the admin typed; empty inputs keep what is stored."""
        return {
            s.name: self.cleaned_data[s.name]
            for s in self.specs
            if s.secret and self.cleaned_data.get(s.name)
        }


class ImportForm(forms.Form):
    file = forms.FileField(help_text="JSON array, JSON Lines, or either gzip-compressed.")
    format = forms.ChoiceField(choices=[(p, p) for p in PROVIDERS])
