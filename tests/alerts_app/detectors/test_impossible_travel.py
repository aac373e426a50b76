"""Impossible travel between consecutive successful events of one identity."""

from alerts_app.detectors import get
from alerts_app.detectors.impossible_travel import haversine_km

from .factories import BERLIN, BUCHAREST, NEW_YORK, POTSDAM, SYDNEY, ev, identity

detector = get("impossible_travel")


def run(state, new, **params):
    return detector.detect(state, new, params or None)


def test_haversine_berlin_new_york():
    assert round(haversine_km(52.52, 13.405, 40.71, -74.01)) in range(6380, 6395)


# ------------------------------------------------------------------ must alert


def test_berlin_then_new_york_an_hour_later():
    [finding] = run(identity(ev(0)), [ev(60, NEW_YORK)])
    assert finding.severity == "high"
    assert finding.dedup_subject == "identity:42"
    assert "198.51.100.7 (AS7922 Comcast, New York, US)" in finding.summary
    assert "81.2.69.160" in finding.summary
    assert "1 h after" in finding.summary
    assert 6000 < finding.evidence["speed_kmh"] < 7000


def test_berlin_to_bucharest_in_half_an_hour():
    [finding] = run(identity(), [ev(0), ev(30, BUCHAREST)])
    assert finding.severity == "high"
    assert "Different countries (DE → RO)" in [f.label for f in finding.factors]


def test_anonymiser_lowers_severity_but_keeps_the_alert():
    [plain] = run(identity(ev(0)), [ev(60, SYDNEY)])
    [masked] = run(identity(ev(0)), [ev(60, SYDNEY, anonymizer=True)])
    assert masked.score == plain.score - 30
    assert masked.severity == "medium"


def test_satellite_link_counts_as_masked():
    [finding] = run(identity(ev(0)), [ev(60, {**NEW_YORK, "asn": 22351})])
    assert any(f.points == -30 for f in finding.factors)


def test_events_without_geo_in_between_do_not_break_the_chain():
    no_geo = ev(20, {**NEW_YORK, "lat": None, "lon": None})
    assert run(identity(ev(0)), [no_geo, ev(60, NEW_YORK)])


def test_stricter_thresholds_are_honoured():
    # Berlin → Bucharest in 3 h is 430 km/h: fine by default, flagged at 300 km/h.
    assert run(identity(ev(0)), [ev(180, BUCHAREST)]) == []
    assert run(identity(ev(0)), [ev(180, BUCHAREST)], min_speed_kmh=300)


# ------------------------------------------------------------------ must not alert


def test_short_distance_geo_jitter():
    assert run(identity(ev(0)), [ev(5, POTSDAM), ev(6)]) == []


def test_slow_enough_to_fly():
    assert run(identity(ev(0)), [ev(600, NEW_YORK)]) == []


def test_missing_geo_gives_no_finding():
    nowhere = {**SYDNEY, "lat": None, "lon": None, "country": ""}
    assert run(identity(ev(0)), [ev(10, nowhere)]) == []


def test_country_only_places_alert_across_continents():
    # Google reports only a country: Germany to Australia in 10 min is still impossible.
    [finding] = run(identity(ev(0)), [ev(10, {**SYDNEY, "lat": None, "lon": None})])
    assert "Located by country only (at least this far apart)" in [f.label for f in finding.factors]
    assert finding.evidence["distance_km"] > 10_000


def test_country_only_places_in_neighbouring_countries_do_not_alert():
    # Berlin (DE) then somewhere in Austria: the capitals are 520 km apart, the countries touch.
    vienna = {**SYDNEY, "country": "AT", "lat": None, "lon": None}
    assert run(identity(ev(0)), [ev(10, vienna)]) == []


def test_country_only_place_in_the_same_country_never_alerts():
    assert (
        run(identity(ev(0)), [ev(10, {**SYDNEY, "country": "DE", "lat": None, "lon": None})]) == []
    )


def test_entra_non_interactive_sign_ins_are_skipped():
    assert run(identity(ev(0)), [ev(10, SYDNEY, provider="entra", interactive=False)]) == []


def test_failed_sign_ins_are_skipped():
    assert run(identity(ev(0)), [ev(10, SYDNEY, outcome="failure")]) == []


def test_old_pairs_do_not_alert_again():
    assert run(identity(ev(0), ev(60, NEW_YORK)), [ev(600, NEW_YORK)]) == []


def test_same_ip_different_geolocation_is_a_database_change():
    assert run(identity(ev(0)), [ev(10, {**BERLIN, "lat": 40.71, "lon": -74.01})]) == []
