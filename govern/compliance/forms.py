"""Forms of the compliance pages: the reporting period, the control table's view, mappings."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils import timezone

from ..models import Control, ControlLevel, ControlMapping, Framework, MappingKind
from .metrics import Period
from .selectors import COVERED, GAP, PARTIALLY_COVERED, STATUS_LABELS

MAX_PERIOD_DAYS = 366
DAY_CHOICES = [
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("", "Dates below"),
]


class PeriodForm(forms.Form):
    """Either a preset number of days up to now, or a start and end date (both inclusive)."""

    days = forms.TypedChoiceField(
        choices=DAY_CHOICES, coerce=int, required=False, initial="30", label="Period"
    )
    start = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From"
    )
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To"
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if bool(start) != bool(end):
            raise forms.ValidationError("Give both a start and an end date, or neither.")
        if start and end:
            if end < start:
                raise forms.ValidationError("The end date is before the start date.")
            if (end - start).days + 1 > MAX_PERIOD_DAYS:
                raise forms.ValidationError(f"A period can span at most {MAX_PERIOD_DAYS} days.")
            if start > timezone.localdate():
                raise forms.ValidationError("The period starts in the future.")
        elif "days" in self.data and not data.get("days"):
            raise forms.ValidationError("Choose a number of days, or give a start and end date.")
        return data

    def period(self) -> Period:
        """The chosen period (call after ``is_valid()``)."""
        data = self.cleaned_data
        if data.get("start") and data.get("end"):
            return Period.from_dates(data["start"], data["end"])
        return Period.last_days(data.get("days") or 30)

    def query(self) -> str:
        """The period as a query string, for links that keep it."""
        data = self.cleaned_data
        if data.get("start") and data.get("end"):
            return f"start={data['start']:%Y-%m-%d}&end={data['end']:%Y-%m-%d}"
        return f"days={data.get('days') or 30}"


def period_form(params) -> PeriodForm:
    form = PeriodForm(params or {"days": "30"})
    form.is_valid()
    return form


STATUS_CHOICES = [(s, STATUS_LABELS[s]) for s in (COVERED, PARTIALLY_COVERED, GAP)]


class ControlViewForm(PeriodForm):
    """Period plus which rows of a framework's control table to show."""

    status = forms.ChoiceField(choices=[("", "Any status"), *STATUS_CHOICES], required=False)
    scope = forms.ChoiceField(
        choices=[("mapped", "Mapped to govern"), ("all", "All controls")],
        required=False,
        initial="mapped",
        label="Controls",
    )


class MappingFilter(django_filters.FilterSet):
    framework = django_filters.ModelChoiceFilter(
        field_name="control__framework", queryset=Framework.objects.all()
    )
    kind = django_filters.ChoiceFilter(choices=MappingKind.choices)
    subject = django_filters.CharFilter(lookup_expr="icontains", label="Subject")
    control = django_filters.CharFilter(
        field_name="control__ref_id", lookup_expr="iexact", label="Control id"
    )
    changed = django_filters.BooleanFilter(
        field_name="is_default", exclude=True, label="Changed by an admin"
    )

    class Meta:
        model = ControlMapping
        fields = ["framework", "kind"]


class MappingCreateForm(forms.Form):
    control = forms.ModelChoiceField(
        queryset=Control.objects.filter(level__in=ControlLevel.assessable())
        .select_related("framework")
        .order_by("framework__order", "order"),
        help_text="The control this provides evidence for.",
    )
    kind = forms.ChoiceField(choices=MappingKind.choices)
    subject = forms.CharField(
        max_length=60,
        help_text="Detector id, 'session_lifetime', a workflow step (acknowledge, escalate, "
        "revoke, verify, notify) or a connector kind (okta, entra, google, webhook, file).",
    )
    rationale = forms.CharField(widget=forms.Textarea, help_text="Why a reviewer should accept it.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["control"].label_from_instance = lambda c: (
            f"{c.framework.short_name} · {c.ref_id} {c.label}"
        )


class MappingEditForm(forms.Form):
    rationale = forms.CharField(widget=forms.Textarea)
