"""FilterSet for the alert list (all filter state in the URL)."""

from __future__ import annotations

import django_filters
from django.db.models import Q

from sessions_app.choices import IdentityKind, PrivilegeTier
from sessions_app.models import Source

from .detectors import REGISTRY
from .models import Alert, Severity, Stage


class AlertFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    stage = django_filters.MultipleChoiceFilter(choices=Stage.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    detector = django_filters.ChoiceFilter(
        field_name="detector_id",
        choices=sorted((d.id, d.spec.title) for d in REGISTRY.values()),
    )
    identity_kind = django_filters.ChoiceFilter(
        field_name="identity__kind", choices=IdentityKind.choices, label="Identity kind"
    )
    privilege = django_filters.ChoiceFilter(
        field_name="identity__privilege_tier", choices=PrivilegeTier.choices
    )
    source = django_filters.ModelChoiceFilter(queryset=Source.objects.all())
    control = django_filters.CharFilter(method="by_control", label="Mapped control")
    ordering = django_filters.OrderingFilter(
        fields=(("last_seen_at", "last_seen"), ("score", "score"), ("first_seen_at", "first_seen")),
    )

    class Meta:
        model = Alert
        fields = ["stage", "severity"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(summary__icontains=value)
            | Q(identity__login__icontains=value)
            | Q(session__session_key__icontains=value)
        )

    def by_control(self, queryset, name, value):
        return queryset.filter(controls__icontains=f" {value.strip()} ")
