"""The alert's locations on a world map: a Plotly ``scattergeo`` figure as a plain dict.

Built as a dict rather than through ``plotly.graph_objects`` because the validators cost
tens of milliseconds per figure on the detail page. The map works offline: the page sets
plotly.js's ``topojsonURL`` to our vendored ``static/vendor/plotly/topojson/`` (see
``topojson_url``), so nothing is fetched from a CDN.
"""

from __future__ import annotations

from django.templatetags.static import static

from .selectors import Location

PATH_COLOUR = "#8e1b1b"
POINT_COLOURS = ["#2457c5", "#c2410c", "#7c3aed", "#2f6f4e", "#b7791f", "#0e7490"]


def topojson_url() -> str:
    """Where plotly.js finds world_110m.json (a folder URL ending in /)."""
    return static("vendor/plotly/topojson/world_110m.json").rsplit("/", 1)[0] + "/"


def locations_map(locations: list[Location]) -> dict | None:
    """Points per place, joined in order of first use (the session's path); None if no coords."""
    placed = [loc for loc in locations if loc.lat is not None and loc.lon is not None]
    if not placed:
        return None
    labels = [
        f"{loc.city or '?'}, {loc.country or '?'}<br>AS{loc.asn or '?'} {loc.as_org}"
        f"<br>{loc.events} event{'s' if loc.events != 1 else ''}"
        for loc in placed
    ]
    data = []
    if len(placed) > 1:
        data.append(
            {
                "type": "scattergeo",
                "mode": "lines",
                "lat": [loc.lat for loc in placed],
                "lon": [loc.lon for loc in placed],
                "line": {"width": 1.5, "color": PATH_COLOUR, "dash": "dot"},
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
    data.append(
        {
            "type": "scattergeo",
            "mode": "markers+text",
            "lat": [loc.lat for loc in placed],
            "lon": [loc.lon for loc in placed],
            "text": [str(i + 1) for i in range(len(placed))],
            "textposition": "top center",
            "hovertext": labels,
            "hoverinfo": "text",
            "marker": {
                "size": [min(8 + loc.events, 22) for loc in placed],
                "color": [POINT_COLOURS[i % len(POINT_COLOURS)] for i in range(len(placed))],
                "line": {"width": 1, "color": "#fff"},
            },
            "showlegend": False,
        }
    )
    return {
        "data": data,
        "layout": {
            "height": 300,
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "geo": {
                "scope": "world",
                "resolution": 110,
                "projection": {"type": "natural earth"},
                "showland": True,
                "landcolor": "#eef0f4",
                "showcountries": True,
                "countrycolor": "#c9cfda",
                "showocean": True,
                "oceancolor": "#f8fafc",
                "showframe": False,
                "fitbounds": "locations" if len(placed) > 1 else False,
            },
        },
    }
