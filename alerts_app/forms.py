"""Forms for alerts and detector tuning."""

from __future__ import annotations

from django import forms

from .detectors.base import Detector


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
