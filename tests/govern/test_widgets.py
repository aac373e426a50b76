"""The Python-rendered widgets print exactly what Django's widget templates print."""

import pytest
from django import forms

from govern.widgets import TWINS, render_in_python


class Everything(forms.Form):
    text = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": 'a "b" <c>'})
    )
    when = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    one = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any"),
            ("a&b", "A & B"),
            ("c", "<C>"),
            ("Group", [("g1", "G1"), ("g2", "G2")]),
        ],
    )
    many = forms.MultipleChoiceField(
        required=False,
        choices=[("x", "X"), ("y", "Y"), ("z", "Z")],
        widget=forms.SelectMultiple(attrs={"size": 1, "disabled": False, "autofocus": True}),
    )


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"text": "<script>&", "when": "2026-11-28T10:00", "one": "a&b", "many": ["x", "z"]},
        {"one": "g2", "many": ["nope"]},
        {"text": "", "one": "missing"},
    ],
)
def test_same_html_as_the_django_templates(data):
    from django.http import QueryDict

    query = QueryDict(mutable=True)
    for key, value in data.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    django_form, python_form = (
        Everything(query or None),
        render_in_python(Everything(query or None)),
    )
    assert {type(f.widget) for f in python_form.fields.values()} <= set(TWINS.values())
    for name in Everything.base_fields:
        assert str(python_form[name]) == str(django_form[name]), name


def test_unknown_widgets_are_left_alone():
    class Other(forms.Form):
        flag = forms.BooleanField(required=False)

    form = render_in_python(Other())
    assert type(form.fields["flag"].widget) is forms.CheckboxInput


def test_the_queue_filter_form_uses_them(rf):
    from alerts_app.filtersets import AlertFilter

    form = AlertFilter(rf.get("/alerts/").GET).form
    assert type(form.fields["severity"].widget) is TWINS[forms.SelectMultiple]
    assert type(form.fields["q"].widget) is TWINS[forms.TextInput]
