"""FilterSet for the alert queue (all filter state in the URL; the REST API reuses it)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from govern.widgets import render_in_python
from sessions_app.choices import IdentityKind, PrivilegeTier
from sessions_app.models import Identity, Owner, Session, Source

from .detectors import REGISTRY
from .models import Alert, IdentityClass, Resolution, Severity, Stage, Substatus

# Free text: up to this many matching identities (or sessions) are passed as literal ids.
SEARCH_ID_LIMIT = 500
STATUS_CHOICES = [("open", "Open"), ("closed", "Closed or suppressed"), ("all", "All")]


class AssigneeFilter(django_filters.CharFilter):
    """``me``, ``none`` or a username."""

    def filter(self, qs, value):
        value = (value or "").strip()
        if not value:
            return qs
        if value == "none":
            return qs.filter(assignee__isnull=True)
        if value == "me":
            user = getattr(self.parent.request, "user", None)
            return qs.filter(assignee_id=user.pk) if user and user.is_authenticated else qs.none()
        return qs.filter(assignee__username=value)


class AlertFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="by_status", label="Status", empty_label="Any"
    )
    # distinct=False: these are columns of the alert itself, no join can duplicate rows.
    stage = django_filters.MultipleChoiceFilter(
        choices=Stage.choices, distinct=False, widget=forms.SelectMultiple(attrs={"size": 1})
    )
    substatus = django_filters.ChoiceFilter(choices=Substatus.choices, label="In-progress status")
    severity = django_filters.MultipleChoiceFilter(
        choices=Severity.choices, distinct=False, widget=forms.SelectMultiple(attrs={"size": 1})
    )
    resolution = django_filters.ChoiceFilter(choices=Resolution.choices)
    detector = django_filters.ChoiceFilter(
        field_name="detector_id",
        label="Detector",
        choices=sorted((d.id, d.spec.title) for d in REGISTRY.values()),
    )
    identity_kind = django_filters.ChoiceFilter(
        field_name="identity__kind", choices=IdentityKind.choices, label="Identity kind"
    )
    identity_class = django_filters.ChoiceFilter(
        choices=IdentityClass.choices, method="by_identity_class", label="Human / NHI"
    )
    privilege = django_filters.ChoiceFilter(
        field_name="identity__privilege_tier", choices=PrivilegeTier.choices, label="Privilege"
    )
    source = django_filters.ModelChoiceFilter(queryset=Source.objects.all())
    owner = django_filters.ModelChoiceFilter(
        field_name="response_owner", queryset=Owner.objects.all(), label="Response owner"
    )
    assignee = AssigneeFilter(label="Assignee", help_text="me, none or a username")
    control = django_filters.CharFilter(method="by_control", label="Mapped control")
    since = django_filters.IsoDateTimeFilter(
        field_name="last_seen_at", lookup_expr="gte", label="Seen since"
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="last_seen_at", lookup_expr="lt", label="Seen before"
    )
    sla = django_filters.ChoiceFilter(
        choices=[("breaching", "Breaching")], method="by_sla", label="SLA"
    )
    escalated = django_filters.ChoiceFilter(
        choices=[("yes", "Escalated"), ("no", "Not escalated")],
        method="by_escalated",
        label="Escalation",
    )
    ordering = django_filters.OrderingFilter(
        fields=(
            ("last_seen_at", "last_seen"),
            ("score", "score"),
            ("first_seen_at", "first_seen"),
            ("created_at", "created"),
            ("ack_due_at", "ack_due"),
            ("contain_due_at", "contain_due"),
        ),
    )

    class Meta:
        model = Alert
        fields = ["stage", "severity"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Time range inputs accept what <input type="datetime-local"> sends.
        for name in ("since", "until"):
            self.filters[name].field.widget = forms.DateTimeInput(attrs={"type": "datetime-local"})
            self.filters[name].field.input_formats = [
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%dT%H:%M:%S",
                "iso-8601",
            ]

    @property
    def form(self):
        created = not hasattr(self, "_form")
        form = super().form
        if created:
            # The queue prints this form on every full page: widgets built in Python.
            render_in_python(form)
        return form

    def search(self, queryset, name, value):
        value = value.strip()
        if value.startswith("#") and value[1:].isdigit():
            return queryset.filter(pk=int(value[1:]))
        # Matching identities and sessions first (small look-ups), then their ids as literal
        # lists: every arm of the OR is then indexed (trigram on title/summary, b-tree on
        # identity and session), so PostgreSQL combines bitmaps instead of filtering every
        # open alert. A search matching very many identities keeps the subquery.
        condition = Q(title__icontains=value) | Q(summary__icontains=value)
        identities = Identity.objects.filter(
            Q(login__icontains=value) | Q(display_name__icontains=value)
        ).values_list("pk", flat=True)
        identity_ids = list(identities[: SEARCH_ID_LIMIT + 1])
        if len(identity_ids) > SEARCH_ID_LIMIT:
            condition |= Q(identity_id__in=identities)
        elif identity_ids:
            condition |= Q(identity_id__in=identity_ids)
        session_ids = list(
            Session.objects.filter(session_key=value).values_list("pk", flat=True)[:SEARCH_ID_LIMIT]
        )
        if session_ids:
            condition |= Q(session_id__in=session_ids)
        return queryset.filter(condition)

    def by_status(self, queryset, name, value):
        if value == "open":
            return queryset.filter(stage__in=Stage.open_stages())
        if value == "closed":
            return queryset.filter(stage__in=[Stage.CLOSED, Stage.SUPPRESSED])
        return queryset

    def by_identity_class(self, queryset, name, value):
        if value == IdentityClass.HUMAN:
            return queryset.filter(identity__kind=IdentityKind.HUMAN)
        return queryset.exclude(identity__kind=IdentityKind.HUMAN)

    def by_control(self, queryset, name, value):
        return queryset.filter(controls__icontains=f" {value.strip()} ")

    def by_sla(self, queryset, name, value):
        return queryset.sla_breaching(timezone.now())

    def by_escalated(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(escalation_level__gt=0)
        return queryset.filter(escalation_level=0)
