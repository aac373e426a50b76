"""Form widgets that print the HTML of Django's own widget templates, built in Python.

A filter bar of twenty fields rendered through the form template engine costs a template
render per widget and one more per ``<option>`` — a quarter of the alert queue's server time.
These widgets keep Django's ``get_context`` (attributes, ids, which options are selected) and
only replace the last step; a test checks the output is byte-for-byte what the templates give.
"""

from __future__ import annotations

from django import forms
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe


def _attrs(attrs: dict) -> str:
    """``django/forms/widgets/attrs.html``. (Django's renderer strips each widget's output.)"""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {conditional_escape(name)}")
        else:
            out.append(f' {conditional_escape(name)}="{conditional_escape(str(value))}"')
    return "".join(out)


class PythonInputMixin:
    """``django/forms/widgets/input.html``."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        html = (
            f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(name)}"'
        )
        if widget["value"] is not None:
            html += f' value="{conditional_escape(str(widget["value"]))}"'
        return mark_safe(f"{html}{_attrs(widget['attrs'])}>")  # noqa: S308 — every value escaped


class PythonSelectMixin:
    """``django/forms/widgets/select.html`` with ``select_option.html`` per option."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [f'<select name="{conditional_escape(name)}"{_attrs(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for option in options:
                parts.append(
                    f'\n  <option value="{conditional_escape(str(option["value"]))}"'
                    f"{_attrs(option['attrs'])}>{conditional_escape(option['label'])}</option>\n"
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # noqa: S308 — every value escaped


class TextInput(PythonInputMixin, forms.TextInput):
    pass


class DateTimeInput(PythonInputMixin, forms.DateTimeInput):
    pass


class Select(PythonSelectMixin, forms.Select):
    pass


class SelectMultiple(PythonSelectMixin, forms.SelectMultiple):
    pass


# Django's widget class → its Python-rendered twin.
TWINS: dict[type, type] = {
    forms.TextInput: TextInput,
    forms.DateTimeInput: DateTimeInput,
    forms.Select: Select,
    forms.SelectMultiple: SelectMultiple,
}


def render_in_python(form: forms.Form) -> forms.Form:
    """Swap each field's widget for its Python-rendered twin (same attributes and choices)."""
    for field in form.fields.values():
        twin = TWINS.get(type(field.widget))
        if twin is not None:
            field.widget.__class__ = twin
    return form
