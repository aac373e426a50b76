"""The folded view: the same answers as plain-dict look-ups, from one lower-casing per object."""

import pytest

from sessions_app.ingest.common import Folded, ci_get, dig, first, fold, unfold

RECORD = {
    "IPAddress": "a",
    "ipAddress": "b",
    "IpAddress": None,
    "Properties": {"LocationDetails": '{"geoCoordinates": {"latitude": 51.5}}', "x": None},
    "items": [{"Id": "first"}, {"id": "second"}],
    "client.ip": "192.0.2.1",
    "client": {"ip": "198.51.100.1", "IP": "other"},
    "CLIENT.Geo": "flat",
    "Actor": {"Id": "00u1", "alternateId": None, "ALTERNATEID": "dana@example.com"},
    "outcome": {"result": "SUCCESS", "reason": None},
    "device": None,
    "nested": {"deeper": {"Value": 7, "flag": False}},
}

KEYS = [
    ("ipAddress",),
    ("ipaddress",),
    ("IPADDRESS",),
    ("missing", "ipAddress"),
    ("device",),
    ("device", "outcome"),
    ("nothing",),
]
PATHS = [
    "properties.locationDetails.geoCoordinates.latitude",
    "Properties.x",
    "items.1.id",
    "items.-1.id",
    "items.0.ID",
    "items.5.id",
    "client.ip",
    "client.IP",
    "Client.geo",
    "actor.alternateId",
    "actor.id",
    "outcome.reason",
    "outcome.RESULT",
    "device.id",
    "nested.deeper.value",
    "nested.deeper.flag",
    "bad..path",
    "",
]


@pytest.mark.parametrize("keys", KEYS)
def test_ci_get_on_a_view_answers_as_on_the_plain_dict(keys):
    assert ci_get(fold(RECORD), *keys) == ci_get(RECORD, *keys)


@pytest.mark.parametrize("path", PATHS)
def test_dig_on_a_view_answers_as_on_the_plain_dict(path):
    view = fold(RECORD)
    assert dig(view, path) == _plain(dig(RECORD, path))
    assert dig(view, path) == _plain(dig(view, path))  # memoised children answer the same


def test_exact_case_still_wins_and_null_counts_as_absent():
    view = fold(RECORD)
    assert ci_get(view, "ipAddress") == "b"
    assert ci_get(view, "ipaddress") == "a"
    assert ci_get(ci_get(view, "actor"), "alternateId") == "dana@example.com"
    assert ci_get(view, "device", default="d") == "d"
    assert first(view, "outcome.reason", "outcome.result") == "SUCCESS"


def test_nested_objects_become_views_once_and_keep_their_source():
    record = {"Nested": {"deeper": {"Value": 7}}, "items": [{"Id": 1}, "x"]}
    view = fold(record)
    nested = ci_get(view, "nested")
    assert type(nested) is Folded and ci_get(view, "NESTED") is nested
    assert dig(view, "nested.deeper") is dig(view, "NESTED.Deeper")
    assert unfold(nested) is record["Nested"]
    assert [type(item) for item in ci_get(view, "items")] == [Folded, str]
    assert fold(view) is view and unfold("text") == "text"
    assert record == {"Nested": {"deeper": {"Value": 7}}, "items": [{"Id": 1}, "x"]}


def test_non_string_keys_fall_back_to_the_general_rules():
    record = {1: "one", "Name": "n", "a.b": {"C": 3}}
    view = fold(record)
    assert ci_get(view, "name") == "n"
    assert dig(view, "A.B.c") == 3


def _plain(value):
    """A view compared by content with the plain answer (which keeps the vendor's case)."""
    if type(value) is Folded:
        return fold(unfold(value))
    return value
