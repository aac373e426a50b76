"""FilterSets for the identity, session and event lists (all filter state lives in the URL)."""

from __future__ import annotations

import django_filters
from django.db.models import F, Q
from django.db.models.expressions import OrderBy

from .choices import EventType, IdentityKind, IdentityStatus, Outcome, PrivilegeTier, SessionStatus
from .models import Identity, Owner, Session, Source, TelemetryEvent


class NullsLastOrderingFilter(django_filters.OrderingFilter):
    """Sorting where a missing value (an identity never seen) comes last either way, and on
    every database (PostgreSQL puts NULL first when descending, SQLite when ascending)."""

    def get_ordering_value(self, param: str) -> OrderBy:
        descending = param.startswith("-")
        name = self.param_map.get(param.lstrip("-"), param.lstrip("-"))
        return F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)


class IdentityFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    kind = django_filters.ChoiceFilter(choices=IdentityKind.choices)
    nhi = django_filters.BooleanFilter(method="non_human", label="Non-human")
    privilege_tier = django_filters.ChoiceFilter(choices=PrivilegeTier.choices, label="Privilege")
    status = django_filters.ChoiceFilter(choices=IdentityStatus.choices)
    owner = django_filters.ModelChoiceFilter(queryset=Owner.objects.all())
    ordering = NullsLastOrderingFilter(
        fields=(
            ("display_name", "name"),
            ("last_seen_at", "last_seen"),
            ("risk_score", "risk"),
            ("kind", "kind"),
        ),
    )

    class Meta:
        model = Identity
        fields = ["kind", "privilege_tier", "status", "owner"]

    def search(self, queryset, name, value):
        return queryset.filter(Q(display_name__icontains=value) | Q(login__icontains=value))

    def non_human(self, queryset, name, value):
        if value is None:
            return queryset
        return (
            queryset.exclude(kind=IdentityKind.HUMAN)
            if value
            else queryset.filter(kind=IdentityKind.HUMAN)
        )


class SessionFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.ChoiceFilter(choices=SessionStatus.choices)
    source = django_filters.ModelChoiceFilter(queryset=Source.objects.all())
    identity_kind = django_filters.ChoiceFilter(
        field_name="identity__kind", choices=IdentityKind.choices, label="Identity kind"
    )
    seen_after = django_filters.IsoDateTimeFilter(field_name="last_seen_at", lookup_expr="gte")
    seen_before = django_filters.IsoDateTimeFilter(field_name="last_seen_at", lookup_expr="lte")
    ordering = django_filters.OrderingFilter(
        fields=(
            ("last_seen_at", "last_seen"),
            ("first_seen_at", "first_seen"),
            ("risk_score", "risk"),
            ("event_count", "events"),
        ),
    )

    class Meta:
        model = Session
        fields = ["status", "source"]

    def search(self, queryset, name, value):
        match = Q(session_key__icontains=value) | Q(identity__login__icontains=value)
        if _looks_like_ip(value):
            match |= Q(last_ip=value) | Q(first_ip=value)
        return queryset.filter(match)


class EventFilter(django_filters.FilterSet):
    source = django_filters.ModelChoiceFilter(queryset=Source.objects.all())
    event_type = django_filters.ChoiceFilter(choices=EventType.choices, label="Type")
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    identity = django_filters.NumberFilter(field_name="identity_id", label="Identity id")
    session = django_filters.NumberFilter(field_name="session_id", label="Session id")
    ip = django_filters.CharFilter(method="by_ip", label="IP")
    after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lte")

    class Meta:
        model = TelemetryEvent
        fields = ["source", "event_type", "outcome"]

    def by_ip(self, queryset, name, value):
        if not _looks_like_ip(value):
            return queryset.none()
        return queryset.filter(ip=value)


def _looks_like_ip(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
