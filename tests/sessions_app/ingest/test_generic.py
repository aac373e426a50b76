"""Generic JSON through an admin-configured field mapping."""

import copy

import pytest

from sessions_app.ingest import QuarantineError, parse_record, split_records
from sessions_app.ingest.generic import validate_mapping

from .helpers import as_plain, fixture_bytes, load_fixture


@pytest.fixture
def mapping():
    return load_fixture("generic", "mapping.json")


def records():
    return split_records("json", fixture_bytes("generic", "events.json"))


def test_the_fixture_mapping_is_valid(mapping):
    assert validate_mapping(mapping) == []


def test_full_record_through_the_mapping(mapping):
    event = parse_record("json", records()[0], mapping=mapping)
    assert as_plain(event) == {
        "provider": "generic",
        "provider_event_id": "evt-0001",
        "occurred_at": "2024-05-01T10:00:00.123456+00:00",
        "provider_event_type": "USER-LOGIN",
        "event_type": "logon",  # value map matched case-insensitively
        "outcome": "success",
        "actor_id": "4242",  # a number in the record
        "actor_login": "dana.lee@example.com",
        "actor_display_name": "",
        "actor_kind": "human",
        "session_key": "sess-9f8e7d",
        "session_keys": {"session_key": "sess-9f8e7d"},
        "token_kind": "browser_session",
        "ip": "198.51.100.23",
        "asn": 5089,
        "as_org": "Virgin Media",
        "country": "GB",
        "city": "London",
        "lat": 51.5164,
        "lon": -0.093,
        "anonymizer": False,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "device_id": "dev-1",
        "client_app": "billing-portal",
        "interactive": None,
        "auth_methods": ("password", "totp"),
        "mfa": True,
        "status_detail": "",
        "high_value_action": "",
        "risk": {"level": "low"},
        "target": {},
    }


def test_unmapped_values_fall_back_and_epoch_seconds_are_read(mapping):
    event = parse_record("json", records()[1], mapping=mapping)
    assert (event.event_type, event.outcome, event.provider_event_type) == (
        "other",
        "unknown",
        "export-report",
    )
    assert event.occurred_at.isoformat() == "2024-05-01T11:00:00+00:00"
    assert (event.session_key, event.country, event.asn) == ("", "", None)


def test_raw_values_that_already_are_ours_pass_through(mapping):
    record = copy.deepcopy(records()[1])
    record["event"].update(action="token_revoked", outcome="FAILURE")
    event = parse_record("json", record, mapping=mapping)
    assert (event.event_type, event.outcome) == ("token_revoked", "failure")


def test_missing_id_is_quarantined(mapping):
    with pytest.raises(QuarantineError) as caught:
        parse_record("json", records()[2], mapping=mapping)
    assert caught.value.reason == "missing event id (event.id)"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.pop("@timestamp"), "missing event time (@timestamp)"),
        (lambda r: r.update({"@timestamp": "soon"}), "unparseable event time (@timestamp): 'soon'"),
        (lambda r: r.pop("user"), "missing actor (user.id)"),
        (lambda r: r["user"].update(id=""), "missing actor (user.id)"),
    ],
)
def test_missing_essentials_are_quarantined(mapping, change, reason):
    record = copy.deepcopy(records()[0])
    change(record)
    with pytest.raises(QuarantineError) as caught:
        parse_record("json", record, mapping=mapping)
    assert caught.value.reason == reason


def test_no_mapping_is_a_quarantine_reason_not_a_crash():
    with pytest.raises(QuarantineError) as caught:
        parse_record("json", records()[0])
    assert "no field mapping" in caught.value.reason


def test_an_invalid_mapping_quarantines_with_its_errors():
    with pytest.raises(QuarantineError) as caught:
        parse_record("json", records()[0], mapping={"fields": {"occurred_at": "t"}})
    assert caught.value.reason.startswith("invalid field mapping: ")
    assert "'provider_event_id'" in caught.value.reason


@pytest.mark.parametrize(
    ("mapping", "errors"),
    [
        ([], ["The mapping must be a JSON object with a 'fields' object."]),
        ({}, ["'fields' must be an object mapping our field names to paths."]),
        (
            {"fields": {"provider_event_id": "id", "occurred_at": "t"}},
            ["'fields' must map 'actor_id'."],
        ),
        (
            {
                "fields": {
                    "provider_event_id": "id",
                    "occurred_at": "t",
                    "actor_id": "a",
                    "ip": "",
                    "city": "a..b",
                }
            },
            [
                "Field 'ip' needs a non-empty dotted path.",
                "Field 'city' has a malformed path 'a..b' (empty segment).",
            ],
        ),
        (
            {
                "fields": {"provider_event_id": "id", "occurred_at": "t", "actor_id": "a"},
                "values": {"outcome": {"ok": "great"}},
            },
            [
                "'values.outcome' maps 'ok' to 'great', which is not one of: "
                "success, failure, challenge, unknown."
            ],
        ),
        (
            {
                "fields": {"provider_event_id": "id", "occurred_at": "t", "actor_id": "a"},
                "values": {"country": {}},
                "extra": 1,
            },
            [
                "Unknown mapping keys: extra (use 'fields', 'values').",
                "Values can only be mapped for: event_type, outcome.",
            ],
        ),
    ],
)
def test_validate_mapping_reports_every_problem(mapping, errors):
    assert validate_mapping(mapping) == errors


def test_unknown_field_names_are_reported():
    errors = validate_mapping(
        {"fields": {"provider_event_id": "id", "occurred_at": "t", "actor_id": "a", "colour": "c"}}
    )
    assert len(errors) == 1
    assert errors[0].startswith("Unknown field 'colour'.")
