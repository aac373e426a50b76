"""Impossible travel: two consecutive successful events of one identity too far apart to fly.

Public rules use great-circle (haversine) distance and speed: Panther flags > 900 km/h (a
Boeing 747's cruise), Elastic requires ≥ 500 km and ≥ 800 km/h. Short hops are GeoIP jitter
(Panther: < 50 km in 10 min). Anonymisers, VPNs, Apple Private Relay and in-flight satellite
ASNs (AS22351) geolocate their exit node, not the person, so they lower the severity; Entra
non-interactive sign-ins egress through cloud regions, so they are left out
(../shared/research/detection.md §1.1 P6, §1.2 E2, §1.6).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from sessions_app.choices import Outcome
from sessions_app.ingest.schema import NormalizedEvent

from .base import (
    DetectorSpec,
    Factor,
    Finding,
    IdentityState,
    SessionPolicy,
    Threshold,
    build_finding,
    describe_client,
    describe_network,
    event_context,
    event_uid,
    human_duration,
    is_idp_internal,
    merge_timeline,
    privilege_factors,
    strongest,
)

SPEC = DetectorSpec(
    id="impossible_travel",
    version=1,
    title="Impossible travel between sign-ins",
    description=(
        "Two consecutive successful events of the same identity, from different IPs, are "
        "farther apart than the minimum distance and would need a travel speed above the "
        "maximum (great-circle distance over elapsed time). Events without coordinates are "
        "skipped, as are non-interactive Entra sign-ins, which egress through cloud regions. "
        "When either end is an anonymiser, VPN, relay or satellite link the alert is kept "
        "but its severity lowered, since the location is the exit node's."
    ),
    severity_logic=(
        "50 points for the impossible speed, 15 more if the countries differ, 10 more if the "
        "speed is over three times the threshold; minus 30 when an anonymiser, VPN, relay or "
        "satellite ASN is involved; a privileged identity adds 10 (break-glass 20)."
    ),
    thresholds={
        "min_distance_km": Threshold(
            default=500,
            min=50,
            max=20000,
            unit="km",
            help="Shorter hops are treated as GeoIP jitter or local movement.",
        ),
        "min_speed_kmh": Threshold(
            default=900,
            min=100,
            max=100000,
            unit="km/h",
            help="Speed above which the trip is impossible (900 km/h ≈ airliner cruise).",
        ),
    },
    owasp_nhi=("NHI7:2025", "NHI2:2025"),
    nist_csf=("DE.CM-01", "DE.AE-02", "DE.AE-07"),
    mitre_attack=("T1078", "T1550.004"),
    scope="identity",
    applies_to="all",
)

EARTH_RADIUS_KM = 6371.0088
# Intelsat in-flight connectivity: passengers appear wherever the ground station is (Panther P6).
SATELLITE_ASNS = frozenset({22351})


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points on the mean Earth sphere, in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class Place(NamedTuple):
    """Where an event happened: a point and how far the truth may be from it (km)."""

    lat: float
    lon: float
    radius_km: float
    precision: str  # "point" (the IdP's or GeoIP's coordinates) or "country"


@cache
def _country_points() -> dict[str, dict]:
    # Capital coordinates and an area-equivalent radius per ISO country (GeoNames, CC BY 4.0;
    # see data/README.md). Used when an IdP reports only a country (Google's regionCode).
    path = Path(__file__).with_name("data") / "country_points.json"
    return json.loads(path.read_text(encoding="utf-8"))["countries"]


def place_of(event: NormalizedEvent) -> Place | None:
    """The event's coordinates, else its country's capital with the country's radius."""
    if event.lat is not None and event.lon is not None:
        return Place(event.lat, event.lon, 0.0, "point")
    point = _country_points().get((event.country or "").upper())
    if point is None:
        return None
    return Place(point["lat"], point["lon"], float(point["radius_km"]), "country")


def min_distance_km(a: Place, b: Place) -> float:
    """The least distance the two places can be apart, given their uncertainty."""
    return max(0.0, haversine_km(a.lat, a.lon, b.lat, b.lon) - a.radius_km - b.radius_km)


def _usable(event: NormalizedEvent) -> bool:
    return (
        event.outcome == Outcome.SUCCESS
        and place_of(event) is not None
        and event.interactive is not False
        and not is_idp_internal(event)
    )


def _masked(event: NormalizedEvent) -> bool:
    return event.anonymizer or event.asn in SATELLITE_ASNS


def detect(
    state: IdentityState,
    new_events: Sequence[NormalizedEvent],
    params: Mapping[str, Any],
    policy: SessionPolicy,
    *,
    now: datetime | None = None,
) -> list[Finding]:
    """Flag consecutive geolocated successes (at least one of them new) that imply flight."""
    timeline, new_ids = merge_timeline(state.recent_events, new_events)
    located = [e for e in timeline if _usable(e)]
    candidates: list[tuple[list[Factor], NormalizedEvent, NormalizedEvent, float, float]] = []
    for before, after in itertools.pairwise(located):
        if event_uid(before) not in new_ids and event_uid(after) not in new_ids:
            continue
        if before.ip and before.ip == after.ip:
            continue
        start, end = place_of(before), place_of(after)
        # Country-level places count only across countries, by their least possible distance.
        coarse = "country" in (start.precision, end.precision)
        if coarse and before.country == after.country:
            continue
        distance = min_distance_km(start, end)
        if distance < params["min_distance_km"]:
            continue
        seconds = max((after.occurred_at - before.occurred_at).total_seconds(), 1.0)
        speed = distance / (seconds / 3600)
        if speed < params["min_speed_kmh"]:
            continue
        factors = [
            Factor(
                f"{distance:,.0f} km in {human_duration(seconds)} ({speed:,.0f} km/h)",
                50,
            )
        ]
        if before.country and after.country and before.country != after.country:
            factors.append(Factor(f"Different countries ({before.country} → {after.country})", 15))
        if coarse:
            factors.append(Factor("Located by country only (at least this far apart)", -5))
        if speed >= 3 * params["min_speed_kmh"]:
            factors.append(Factor("Over three times the speed threshold", 10))
        if _masked(before) or _masked(after):
            factors.append(Factor("Anonymiser, VPN, relay or satellite link on one end", -30))
        factors.extend(privilege_factors(state.privilege_tier))
        candidates.append((factors, before, after, distance, speed))

    if not candidates:
        return []
    factors, before, after, distance, speed = candidates[strongest([c[0] for c in candidates])]
    elapsed = human_duration((after.occurred_at - before.occurred_at).total_seconds())
    summary = (
        f"{after.actor_login or state.identity_key} signed in from {describe_network(after)} "
        f"on {describe_client(after)}, {elapsed} after {describe_network(before)} on "
        f"{describe_client(before)}: {distance:,.0f} km apart, {speed:,.0f} km/h"
    )
    if len(candidates) > 1:
        summary += f" ({len(candidates)} impossible hops)"
    evidence = {
        "trigger_event_ids": sorted({c[2].provider_event_id for c in candidates}),
        "before": event_context(before),
        "after": event_context(after),
        "distance_km": round(distance, 1),
        "speed_kmh": round(speed, 1),
        "hops": [
            {
                "from_event_id": c[1].provider_event_id,
                "to_event_id": c[2].provider_event_id,
                "distance_km": round(c[3], 1),
                "speed_kmh": round(c[4], 1),
            }
            for c in candidates
        ],
    }
    events = [e for c in candidates for e in (c[1], c[2])]
    return [
        build_finding(SPEC, f"identity:{state.identity_key}", factors, summary, evidence, events)
    ]
