"""Tolerant helpers: key access, coercion, timestamps, countries and user agents."""

from datetime import UTC, datetime

import pytest

from sessions_app.ingest.common import (
    as_list,
    ci_get,
    clean_ip,
    country_code,
    dig,
    is_programmatic_client,
    parse_timestamp,
    to_bool,
    to_float,
    to_int,
    to_str,
    ua_family,
)

T = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


class TestKeyAccess:
    def test_ci_get_matches_any_letter_case_and_prefers_exact(self):
        record = {"IPAddress": "a", "ipAddress": "b", "IpAddress": None}
        assert ci_get(record, "ipAddress") == "b"
        assert ci_get({"IPAddress": "a"}, "ipaddress") == "a"
        assert ci_get({"x": None, "X": 1}, "x") == 1  # a None value counts as absent

    def test_ci_get_tries_candidates_in_order(self):
        assert ci_get({"TimeGenerated": "t"}, "createdDateTime", "TimeGenerated") == "t"
        assert ci_get("not a dict", "a", default="d") == "d"

    def test_dig_through_lists_json_strings_and_dotted_keys(self):
        record = {
            "Properties": {"LocationDetails": '{"geoCoordinates": {"latitude": 51.5}}'},
            "items": [{"id": "first"}, {"id": "second"}],
            "client.ip": "192.0.2.1",
        }
        assert dig(record, "properties.locationDetails.geoCoordinates.latitude") == 51.5
        assert dig(record, "items.1.id") == "second"
        assert dig(record, "items.-1.id") == "second"
        assert dig(record, "items.5.id") is None
        assert dig(record, "client.ip") == "192.0.2.1"
        assert dig(record, "missing.path", default="d") == "d"
        assert dig(record, "bad..path") is None

    def test_as_list_decodes_and_wraps(self):
        assert as_list('["a", "b"]') == ["a", "b"]
        assert as_list("a") == ["a"]
        assert as_list(None) == []


class TestCoercion:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (15169, 15169),
            ("15169", 15169),
            ("AS15169", 15169),
            (15169.0, 15169),
            ("1.0", 1),
            ("1.5", None),
            ("", None),
            (None, None),
            (True, None),
            ("abc", None),
        ],
    )
    def test_to_int(self, value, expected):
        assert to_int(value) == expected

    def test_to_float_and_to_str(self):
        assert to_float("51.5164") == 51.5164
        assert to_float("nan") is None
        assert to_float(None) is None
        assert to_str(5089) == "5089"
        assert to_str(2.0) == "2"
        assert to_str("  unknown ") == ""
        assert to_str("-") == ""
        assert to_str({"a": 1}) == ""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (True, True),
            ("true", True),
            ("TRUE", True),
            ("1", True),
            (1, True),
            ("yes", True),
            (False, False),
            ("false", False),
            (0, False),
            ("no", False),
            ("maybe", None),
            (None, None),
            (7, None),
        ],
    )
    def test_to_bool(self, value, expected):
        assert to_bool(value) is expected

    def test_clean_ip(self):
        assert clean_ip("198.51.100.23") == "198.51.100.23"
        assert clean_ip("198.51.100.23:443") == "198.51.100.23"
        assert clean_ip("[2001:db8::1]:443") == "2001:db8::1"
        assert clean_ip("2001:DB8:0::1") == "2001:db8::1"
        assert clean_ip("not-an-ip") is None
        assert clean_ip("") is None
        # cached per text: a repeat gives the same answer
        assert clean_ip("2001:DB8:0::1") == "2001:db8::1"
        assert clean_ip("not-an-ip") is None


class TestTimestamps:
    @pytest.mark.parametrize(
        "value",
        [
            "2024-05-01T10:00:00.123456Z",
            "2024-05-01T10:00:00.1234567Z",  # Entra: 7 fractional digits, truncated
            "2024-05-01T10:00:00.123456789+00:00",
            "2024-05-01T12:00:00.123456+02:00",
            "2024-05-01T05:00:00.123456-0500",
            "2024-05-01T10:00:00.123456",  # no zone: UTC
            "2024-05-01 10:00:00.123456",  # space separated
            "2024-05-01 10:00:00.123456 UTC",
            "1714557600.123456",
            1714557600123456,  # microseconds (Google login_timestamp)
            "1714557600123456",
            datetime(2024, 5, 1, 10, 0, 0, 123456),  # naive datetime taken as UTC
        ],
    )
    def test_formats_agree_to_the_microsecond(self, value):
        parsed = parse_timestamp(value)
        assert parsed == T
        assert parsed.tzinfo is UTC

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (1714557600, datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
            ("1714557600", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
            (1714557600123, datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)),
            ("1714557600123", datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)),
            ("2024-05-01T10:00Z", datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
            ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ],
    )
    def test_epoch_units_and_short_forms(self, value, expected):
        assert parse_timestamp(value) == expected

    @pytest.mark.parametrize(
        "value",
        [
            "2024-05-01T10:00:00.123Z",
            "2024-02-29T23:59:59.999Z",
            "1999-12-31T00:00:00.000Z",
            "2024-05-01T10:00:00.000Z",
        ],
    )
    def test_the_millisecond_z_shortcut_reads_as_the_general_path(self, value):
        # The same instant spelled with an offset takes the general (regex) path.
        general = parse_timestamp(value.replace("Z", "+00:00"))
        parsed = parse_timestamp(value)
        assert parsed == general
        assert parsed.tzinfo is UTC

    @pytest.mark.parametrize(
        "value",
        [
            "2024-02-30T10:00:00.123Z",  # the shortcut's shape, not a date
            "2024-05-01T25:00:00.123Z",
            "2024-W18-3T10:00:00.123Z",  # an ISO week date: fromisoformat alone takes it
            "２024-05-01T10:00:00.123Z",  # a non-ASCII digit
        ],
    )
    def test_the_shortcut_rejects_what_the_general_path_rejects(self, value):
        with pytest.raises(ValueError):
            parse_timestamp(value)

    @pytest.mark.parametrize("value", ["", None, "yesterday", "01/05/2024 10:00", True, "nan"])
    def test_rejects_what_it_cannot_read(self, value):
        with pytest.raises(ValueError):
            parse_timestamp(value)


class TestCountries:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("GB", "GB"),
            ("gb", "GB"),
            ("United Kingdom", "GB"),
            ("United States", "US"),
            ("Russia", "RU"),
            ("South Korea", "KR"),
            ("Vietnam", "VN"),
            ("Czechia", "CZ"),
            ("Ivory Coast", "CI"),
            ("Atlantis", ""),
            ("", ""),
            (None, ""),
        ],
    )
    def test_country_code(self, value, expected):
        assert country_code(value) == expected


CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
EDGE = CHROME_MAC + " Edg/124.0.2478.80"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/123.0.6312.58 Safari/537.36"
)
POWERSHELL = "Mozilla/5.0 (Windows NT 10.0; Microsoft Windows 10.0.22631; en-US) PowerShell/7.4.1"


class TestUserAgents:
    @pytest.mark.parametrize(
        ("ua", "family"),
        [
            (CHROME_MAC, "chrome/124"),
            (EDGE, "edge/124"),
            (SAFARI, "safari/17"),
            (IPHONE_SAFARI, "safari/17"),
            (FIREFOX, "firefox/125"),
            (HEADLESS, "headlesschrome/123"),
            ("curl/8.4.0", "curl/8"),
            ("python-requests/2.31.0", "python-requests/2"),
            ("Go-http-client/1.1", "go-http-client/1"),
            ("okhttp/4.12.0", "okhttp/4"),
            (POWERSHELL, "powershell/7"),
            ("SomethingElse", "other"),
            ("", ""),
            (None, ""),
        ],
    )
    def test_ua_family(self, ua, family):
        assert ua_family(ua) == family

    @pytest.mark.parametrize(
        "ua",
        [
            "curl/8.4.0",
            "python-requests/2.31.0",
            "Go-http-client/2.0",
            "okhttp/4.12.0",
            POWERSHELL,
            HEADLESS,
            "Java/17.0.2",
            "axios/1.6.8",
            "python-httpx/0.27.0",
            "aiohttp/3.9",
            "BAV2ROPC",
            "node",
        ],
    )
    def test_programmatic_clients(self, ua):
        assert is_programmatic_client(ua)

    @pytest.mark.parametrize("ua", [CHROME_MAC, EDGE, SAFARI, IPHONE_SAFARI, FIREFOX, "", None])
    def test_browsers_are_not_programmatic(self, ua):
        assert not is_programmatic_client(ua)
