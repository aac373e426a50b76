"""Forms for people management and the audit log filter."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model, password_validation

from sessions_app.models import AuditEvent

from .roles import ROLES

ROLE_CHOICES = [(r, r) for r in ROLES]


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=ROLE_CHOICES)
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 12 characters.")

    def clean_username(self):
        name = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=name).exists():
            raise forms.ValidationError("A user with this username already exists.")
        return name

    def clean(self):
        data = super().clean()
        if data.get("password"):
            user = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            password_validation.validate_password(data["password"], user)
        return data


class UserEditForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False)
    role = forms.ChoiceField(choices=ROLE_CHOICES)
    is_active = forms.BooleanField(required=False, label="Active")


class AuditFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_label", lookup_expr="icontains")
    verb = django_filters.CharFilter(lookup_expr="istartswith")
    object_type = django_filters.CharFilter()
    after = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lte")

    class Meta:
        model = AuditEvent
        fields = ["verb", "object_type"]
