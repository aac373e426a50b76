"""Forms for alerts, the triage workflow and detector tuning. Forms validate shape; services
decide what is allowed."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone

from .detectors.base import Detector
from .models import Alert, IdentityClass, OwnerAnswer, Resolution, Severity, Stage
from .selectors import users_with_perm

DATETIME_LOCAL = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

# What the "move to" select offers: a stage, or a status inside In progress.
TARGETS = [
    ("in_progress/acknowledged", "In progress — acknowledged"),
    ("in_progress/investigating", "In progress — investigating"),
    ("in_progress/awaiting_info", "In progress — awaiting info (asks the owner)"),
    ("in_progress/pending_approval", "In progress — pending approval"),
    (Stage.CONTAINED, "Contained"),
    (Stage.CLOSED, "Closed (choose a resolution)"),
    (Stage.SUPPRESSED, "Suppressed"),
    (Stage.NEW, "New (un-suppress)"),
]


def split_target(target: str) -> tuple[str, str]:
    stage, _, substatus = target.partition("/")
    return stage, substatus


class DetectorConfigForm(forms.Form):
    """Enabled flag plus one number field per threshold, bounded by the detector's spec."""

    enabled = forms.BooleanField(required=False)

    def __init__(self, *args, detector: Detector, initial_params: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.detector = detector
        for name, threshold in detector.spec.thresholds.items():
            field_class = forms.IntegerField if threshold.integer else forms.FloatField
            self.fields[name] = field_class(
                label=name.replace("_", " "),
                min_value=threshold.min,
                max_value=threshold.max,
                initial=initial_params.get(name, threshold.default),
                help_text=f"{threshold.help} ({threshold.unit}; default {threshold.default})",
            )

    def params(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.detector.spec.thresholds}


class AssignForm(forms.Form):
    """``me``, empty (unassign) or a username."""

    assignee = forms.CharField(required=False, max_length=150)


class TransitionForm(forms.Form):
    target = forms.ChoiceField(choices=TARGETS, label="Move to")
    resolution = forms.ChoiceField(
        choices=[("", "—"), *Resolution.choices], required=False, label="Resolution"
    )
    duplicate_of = forms.IntegerField(required=False, min_value=1, label="Duplicate of alert #")
    accepted_until = forms.DateTimeField(
        required=False, widget=DATETIME_LOCAL, label="Risk accepted until"
    )
    approver = forms.ModelChoiceField(
        queryset=users_with_perm("alerts_app.accept_risk"),
        required=False,
        label="Approver",
        to_field_name="username",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["approver"].queryset = users_with_perm("alerts_app.accept_risk")

    def clean_duplicate_of(self):
        pk = self.cleaned_data.get("duplicate_of")
        if pk is None:
            return None
        try:
            return Alert.objects.only("id").get(pk=pk)
        except Alert.DoesNotExist as exc:
            raise forms.ValidationError(f"There is no alert #{pk}.") from exc


class EscalateForm(forms.Form):
    level = forms.TypedChoiceField(
        choices=[(1, "Level 1"), (2, "Level 2"), (3, "Level 3")], coerce=int
    )
    to = forms.CharField(max_length=200, label="To (user, team or rota)")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)


class CommentForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Note… @username to mention"}),
        max_length=10000,
        label="Comment",
    )


class SuppressionForm(forms.Form):
    """Conditions prefilled from the alert; the analyst ticks what should match."""

    match_identity = forms.BooleanField(required=False, initial=True, label="This identity")
    asn = forms.IntegerField(required=False, min_value=0, label="ASN")
    country = forms.CharField(required=False, max_length=2, label="Country (ISO-2)")
    ip = forms.GenericIPAddressField(required=False, label="IP")
    expires_at = forms.DateTimeField(widget=DATETIME_LOCAL, label="Until")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=4000)

    @staticmethod
    def initial_for(alert: Alert, asn: int | None) -> dict:
        return {
            "match_identity": True,
            "asn": asn,
            "expires_at": (timezone.now() + timedelta(days=30)).replace(second=0, microsecond=0),
        }


class BulkForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("assign", "Assign"), ("transition", "Change status"), ("close", "Close")]
    )
    scope = forms.ChoiceField(
        choices=[("selected", "Selected rows"), ("all", "All rows matching the filter")],
        initial="selected",
    )
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)
    assignee = forms.CharField(required=False, max_length=150, help_text="me, none or username")
    target = forms.ChoiceField(choices=[("", "—"), *TARGETS], required=False, label="Move to")
    resolution = forms.ChoiceField(choices=[("", "—"), *Resolution.choices], required=False)
    reason = forms.CharField(required=False, max_length=4000)

    def clean(self):
        data = super().clean()
        # Row checkboxes: any number of alert ids (restricted to what the user may triage later).
        data["ids"] = [int(i) for i in self.data.getlist("ids") if str(i).isdigit()]
        if data.get("scope") == "selected" and not data.get("ids"):
            raise forms.ValidationError("Select at least one alert, or choose all matching rows.")
        if data.get("action") == "transition" and not data.get("target"):
            raise forms.ValidationError("Choose the status to move to.")
        return data


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=80)
    query = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)


class SLAMatrixForm(forms.Form):
    """One ack/contain pair of minute fields per severity × identity class."""

    def __init__(self, *args, matrix: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.cells = []
        for severity in reversed(Severity.values):
            for identity_class in IdentityClass.values:
                ack, contain = matrix[(severity, identity_class)]
                key = f"{severity}__{identity_class}"
                self.fields[f"{key}__ack"] = forms.IntegerField(min_value=1, initial=ack)
                self.fields[f"{key}__contain"] = forms.IntegerField(min_value=1, initial=contain)
                self.cells.append((severity, identity_class, key))

    def rows(self):
        """(severity label, [(class label, ack field, contain field)]) for the template."""
        out = []
        for severity in reversed(Severity.values):
            cells = []
            for identity_class in IdentityClass.values:
                key = f"{severity}__{identity_class}"
                cells.append(
                    (
                        IdentityClass(identity_class).label,
                        self[f"{key}__ack"],
                        self[f"{key}__contain"],
                    )
                )
            out.append((Severity(severity).label, cells))
        return out

    def matrix(self) -> dict:
        return {
            (severity, identity_class): (
                self.cleaned_data[f"{key}__ack"],
                self.cleaned_data[f"{key}__contain"],
            )
            for severity, identity_class, key in self.cells
        }


class OwnerAnswerForm(forms.Form):
    answer = forms.ChoiceField(choices=OwnerAnswer.choices, widget=forms.RadioSelect)
    answered_by = forms.CharField(max_length=200, label="Your name")
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )


class NotificationPreferenceForm(forms.Form):
    digest = forms.BooleanField(required=False, label="Send me a digest instead of each message")
    email = forms.BooleanField(required=False, label="By email")
    webhook_url = forms.URLField(
        required=False, label="Slack-compatible webhook URL", assume_scheme="https"
    )
