"""Forms and filters of the revocation pages."""

from __future__ import annotations

import django_filters
from django import forms

from sessions_app.models import Identity, Session

from ..models import Alert, Containment, Revocation, RevocationScope, RevocationStatus


class RevocationTargetForm(forms.Form):
    """What to revoke (from the alert, session or identity page that links here)."""

    scope = forms.ChoiceField(choices=RevocationScope.choices)
    identity = forms.ModelChoiceField(queryset=Identity.objects.all(), widget=forms.HiddenInput)
    session = forms.ModelChoiceField(
        queryset=Session.objects.select_related("source"),
        required=False,
        widget=forms.HiddenInput,
    )
    alert = forms.ModelChoiceField(
        queryset=Alert.objects.all(), required=False, widget=forms.HiddenInput
    )

    def clean(self):
        data = super().clean()
        scope, session = data.get("scope"), data.get("session")
        if scope in (RevocationScope.SESSION, RevocationScope.CREDENTIAL) and session is None:
            raise forms.ValidationError("Choose the session or token to revoke.")
        identity = data.get("identity")
        if session is not None and identity is not None and session.identity_id != identity.pk:
            raise forms.ValidationError("The session does not belong to this identity.")
        alert = data.get("alert")
        if alert is not None and identity is not None and alert.identity_id != identity.pk:
            raise forms.ValidationError("The alert is about another identity.")
        return data


class RevocationRequestForm(RevocationTargetForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Why this access must end now. Recorded with the request and in the audit log.",
    )
    idempotency_key = forms.RegexField(
        regex=r"^[0-9a-f]{32}$", widget=forms.HiddenInput, required=False
    )


class ApproveForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)


class RevocationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RevocationStatus.choices)
    containment = django_filters.ChoiceFilter(choices=Containment.choices)
    scope = django_filters.ChoiceFilter(choices=RevocationScope.choices)
    provider = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Revocation
        fields = ["status", "containment", "scope", "provider"]
