"""Plotly figures as plain dicts (rendered by the vendored plotly.js, no CDN)."""

from __future__ import annotations

import plotly.graph_objects as go

PALETTE = ["#2457c5", "#c2410c", "#2f6f4e", "#7c3aed", "#b7791f", "#0e7490"]

BASE_LAYOUT = dict(
    margin=dict(l=40, r=10, t=10, b=30),
    height=260,
    paper_bgcolor="rgba(0,0,0,0)",
    plot_bgcolor="rgba(0,0,0,0)",
    font=dict(family="system-ui, sans-serif", size=12, color="#1c2230"),
    legend=dict(orientation="h", y=-0.18),
    xaxis=dict(gridcolor="#eef0f4"),
    yaxis=dict(gridcolor="#eef0f4", rangemode="tozero"),
)


def stacked_bars(series: dict[str, dict], *, y_title: str = "") -> dict:
    """Stacked daily bars, one trace per series name: {name: {x: y}}."""
    fig = go.Figure()
    for i, (name, points) in enumerate(sorted(series.items())):
        xs = sorted(points)
        fig.add_bar(
            x=[str(x) for x in xs],
            y=[points[x] for x in xs],
            name=name,
            marker_color=PALETTE[i % len(PALETTE)],
        )
    fig.update_layout(barmode="stack", yaxis_title=y_title, **BASE_LAYOUT)
    return fig.to_plotly_json()
