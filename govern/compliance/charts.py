"""Plotly figures of the compliance trends (plain dicts, rendered by the vendored plotly.js)."""

from __future__ import annotations

from datetime import date

import plotly.graph_objects as go

from alerts_app.detectors import REGISTRY

from ..charts import BASE_LAYOUT, PALETTE, stacked_bars
from .metrics import Period, ResponseMetrics

SEVERITY_ORDER = ("critical", "high", "medium", "low")


def _filled(period: Period, points: dict[date, int]) -> dict[date, int]:
    return {day: points.get(day, 0) for day in period.days()}


def alerts_by_detector(period: Period, daily: dict[str, dict[date, int]]) -> dict:
    titled = {
        (REGISTRY[k].spec.title if k in REGISTRY else k): _filled(period, v)
        for k, v in daily.items()
    }
    return stacked_bars(titled, y_title="alerts / day")


def alerts_by_severity(period: Period, daily: dict[str, dict[date, int]]) -> dict:
    fig = go.Figure()
    colours = {"critical": "#b42318", "high": "#c2410c", "medium": "#b7791f", "low": "#2f6f4e"}
    for severity in SEVERITY_ORDER:
        points = _filled(period, daily.get(severity, {}))
        fig.add_bar(
            x=[str(d) for d in points],
            y=list(points.values()),
            name=severity,
            marker_color=colours[severity],
        )
    fig.update_layout(barmode="stack", yaxis_title="alerts / day", **BASE_LAYOUT)
    return fig.to_plotly_json()


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def response_times(trend: dict[date, ResponseMetrics]) -> dict:
    fig = go.Figure()
    days = [str(d) for d in trend]
    for i, (name, attr) in enumerate((("MTTA", "mtta_s"), ("MTTC", "mttc_s"), ("MTTR", "mttr_s"))):
        fig.add_scatter(
            x=days,
            y=[_hours(getattr(m, attr)) for m in trend.values()],
            name=name,
            mode="lines+markers",
            connectgaps=True,
            line=dict(color=PALETTE[i % len(PALETTE)]),
        )
    fig.update_layout(yaxis_title="hours (alerts raised that day)", **BASE_LAYOUT)
    return fig.to_plotly_json()


def sla_compliance(trend: dict[date, ResponseMetrics]) -> dict:
    fig = go.Figure()
    days = [str(d) for d in trend]
    for i, (name, attr) in enumerate(
        (("Acknowledge SLA", "ack_sla_rate"), ("Contain SLA", "contain_sla_rate"))
    ):
        values = [getattr(m, attr) for m in trend.values()]
        fig.add_scatter(
            x=days,
            y=[None if v is None else round(v * 100, 1) for v in values],
            name=name,
            mode="lines+markers",
            connectgaps=True,
            line=dict(color=PALETTE[i % len(PALETTE)]),
        )
    layout = {**BASE_LAYOUT, "yaxis": dict(gridcolor="#eef0f4", range=[0, 105])}
    fig.update_layout(yaxis_title="% within SLA", **layout)
    return fig.to_plotly_json()


def revocations(period: Period, daily: dict[str, dict[date, int]]) -> dict:
    return stacked_bars(
        {status.replace("_", " "): _filled(period, v) for status, v in daily.items()},
        y_title="revocations / day",
    )
