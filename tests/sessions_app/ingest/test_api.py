"""The ingest package API: splitting deliveries, dispatch, and offline GeoIP enrichment."""

import json

import pytest

from sessions_app import ingest
from sessions_app.ingest import PROVIDERS, QuarantineError, enrich, parse_record, split_records
from sessions_app.ingest.schema import NormalizedEvent

from . import mmdb
from .helpers import fixture_bytes, load_fixture


def test_providers():
    assert PROVIDERS == ("okta", "entra", "google", "json")


@pytest.mark.parametrize(
    ("provider", "name", "count"),
    [
        ("okta", "session_start.json", 1),  # a single event
        ("okta", "hook_delivery.json", 2),  # event hook {"data": {"events": [...]}}
        ("entra", "graph_page.json", 3),  # Graph {"value": [...]}
        ("entra", "azure_monitor.json", 2),  # Azure Monitor {"records": [...]}
        ("entra", "log_analytics.json", 2),  # JSON array
        ("google", "activity_three_events.json", 3),  # one activity, three events
        ("google", "page.json", 2),  # {"items": [...]}
        ("google", "flattened.json", 3),
        ("json", "events.json", 3),
    ],
)
def test_split_records_understands_each_delivery_shape(provider, name, count):
    folder = {"json": "generic"}.get(provider, provider)
    assert len(split_records(provider, fixture_bytes(folder, name))) == count
    # parsed JSON works the same as bytes
    assert len(split_records(provider, load_fixture(folder, name))) == count


def test_split_records_reads_json_lines():
    lines = [
        json.dumps(load_fixture("okta", n)) for n in ("session_start.json", "risk_detect.json")
    ]
    records = split_records("okta", "\n".join(lines) + "\n")
    assert [r["eventType"] for r in records] == ["user.session.start", "user.risk.detect"]


def test_generic_json_does_not_unwrap_an_events_own_lists():
    record = {"id": "1", "items": [{"sku": "a"}], "value": [1]}
    assert split_records("json", record) == [record]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty payload"),
        (b"{not json", "payload is not valid JSON"),
        (b'{"a": 1}\n{broken', "payload is neither JSON nor JSON Lines"),
        ("[1, 2]", "element 0 of the payload is a int, not an event"),
        ('"text"', "payload is a str, not an event or event list"),
    ],
)
def test_split_records_quarantines_unusable_input(payload, reason):
    with pytest.raises(QuarantineError) as caught:
        split_records("okta", payload)
    assert caught.value.reason.startswith(reason)


def test_unknown_provider_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown provider"):
        parse_record("auth0", {})


def test_a_non_object_record_is_quarantined():
    with pytest.raises(QuarantineError):
        parse_record("okta", ["not", "a", "dict"])


def test_parse_record_returns_plain_string_choices():
    event = parse_record("okta", load_fixture("okta", "session_start.json"))
    assert type(event.event_type) is str
    assert type(event.token_kind) is str
    assert event.raw == load_fixture("okta", "session_start.json")


# ---------------------------------------------------------------------------
# enrichment


@pytest.fixture
def geo_dbs(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "_readers", {})
    city = tmp_path / "city.mmdb"
    city.write_bytes(
        mmdb.build(
            {
                "81.2.69.0/24": {
                    "country": {"iso_code": "GB"},
                    "city": {"names": {"en": "London"}},
                    "location": {"latitude": 51.5142, "longitude": -0.0931},
                }
            },
            "GeoLite2-City",
        )
    )
    asn = tmp_path / "asn.mmdb"
    asn.write_bytes(
        mmdb.build(
            {
                "81.2.69.0/24": {
                    "autonomous_system_number": 20712,
                    "autonomous_system_organization": "Andrews & Arnold Ltd",
                }
            },
            "GeoLite2-ASN",
        )
    )
    return str(city), str(asn)


def bare_event(ip):
    return NormalizedEvent(
        provider="google",
        provider_event_id="e",
        occurred_at=None,
        provider_event_type="x",
        event_type="logon",
        outcome="success",
        actor_id="a",
        ip=ip,
    )


def test_enrich_fills_missing_geo_and_asn_from_local_databases(geo_dbs):
    city, asn = geo_dbs
    event = enrich(bare_event("81.2.69.160"), city, asn)
    assert (event.country, event.city, event.lat, event.lon) == ("GB", "London", 51.5142, -0.0931)
    assert (event.asn, event.as_org) == (20712, "Andrews & Arnold Ltd")


def test_enrich_keeps_what_the_idp_said(geo_dbs):
    city, asn = geo_dbs
    event = bare_event("81.2.69.160")
    event.country, event.city, event.asn, event.as_org = "FR", "Paris", 3215, "Orange"
    enrich(event, city, asn)
    assert (event.country, event.city, event.lat, event.asn, event.as_org) == (
        "FR",
        "Paris",
        None,
        3215,
        "Orange",
    )


@pytest.mark.parametrize("ip", ["10.0.0.1", "192.0.2.1", "2001:db8::1", None])
def test_enrich_skips_private_unknown_and_absent_addresses(geo_dbs, ip):
    city, asn = geo_dbs
    event = enrich(bare_event(ip), city, asn)
    assert (event.country, event.asn) == ("", None)


def test_enrich_tolerates_an_ipv6_address_against_an_ipv4_database(geo_dbs):
    city, asn = geo_dbs
    event = enrich(bare_event("2a00:1450:4009:81d::200e"), city, asn)
    assert (event.country, event.asn) == ("", None)


def test_enrich_without_paths_or_with_a_broken_file_does_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "_readers", {})
    assert enrich(bare_event("81.2.69.160"), "", "").country == ""
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    event = enrich(bare_event("81.2.69.160"), str(broken), str(tmp_path / "missing.mmdb"))
    assert (event.country, event.asn) == ("", None)


def test_readers_are_opened_once_per_path(geo_dbs, monkeypatch):
    import maxminddb

    city, _ = geo_dbs
    opened = []
    real_open = maxminddb.open_database
    monkeypatch.setattr(
        maxminddb, "open_database", lambda path, *a: opened.append(path) or real_open(path, *a)
    )
    for _ in range(3):
        enrich(bare_event("81.2.69.160"), city, None)
    assert opened == [city]
