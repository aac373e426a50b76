"""Tolerant helpers shared by the provider parsers (and, for user agents, by detectors).

Real exports of the same vendor event differ in letter case (``ipAddress`` / ``IPAddress``),
in whether numbers arrive as strings, in whether nested objects arrive as JSON strings (Log
Analytics ``dynamic`` columns exported to CSV/JSON) and in timestamp format. Everything here
accepts those variants and returns one canonical form, so the same event read from two shapes
normalises to the same values.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import pycountry

_MISSING = object()

# Values vendors put where they mean "no value".
PLACEHOLDERS = frozenset({"", "-", "null", "none", "unknown", "n/a", "undefined"})


# ---------------------------------------------------------------------------
# key access


def _as_container(value: Any) -> Any:
    """Return ``value`` decoded when it is a JSON object/array sent as a string."""
    if isinstance(value, str | bytes):
        text = value.strip() if isinstance(value, str) else value.strip().decode(errors="ignore")
        if text[:1] in ("{", "["):
            try:
                return orjson.loads(text)
            except orjson.JSONDecodeError:
                return value
    return value


def ci_get(obj: Any, *keys: str, default: Any = None) -> Any:
    """First present value among ``keys`` in the dict ``obj``, matching keys case-insensitively.

    An exact-case match wins over a case-insensitive one; ``None`` values count as absent so
    that the next candidate key is tried.
    """
    obj = _as_container(obj)
    if not isinstance(obj, dict):
        return default
    lowered: dict[str, Any] | None = None
    for key in keys:
        value = obj.get(key, _MISSING)
        if value is _MISSING or value is None:
            if lowered is None:
                lowered = {}
                for k, v in obj.items():
                    if isinstance(k, str) and v is not None:
                        lowered.setdefault(k.lower(), v)
            value = lowered.get(key.lower(), _MISSING)
        if value is not _MISSING and value is not None:
            return value
    return default


def dig(obj: Any, path: str, default: Any = None) -> Any:
    """Follow a dotted ``path`` through nested dicts/lists, case-insensitively.

    Numeric segments index lists. A key that itself contains dots (``{"client.ip": ...}``, as
    flattened exports write them) is matched too: at each level the longest run of remaining
    segments that names a key wins. JSON objects sent as strings are decoded on the way.
    """
    segments = [s for s in path.split(".")] if path else []
    if not segments or any(s == "" for s in segments):
        return default
    current = obj
    i = 0
    while i < len(segments):
        current = _as_container(current)
        if isinstance(current, dict):
            found = _longest_key_match(current, segments, i)
            if found is None:
                return default
            current, i = found
        elif isinstance(current, list) and segments[i].lstrip("-").isdigit():
            index = int(segments[i])
            if not -len(current) <= index < len(current):
                return default
            current, i = current[index], i + 1
        else:
            return default
    return default if current is None else current


def _longest_key_match(obj: dict, segments: list[str], start: int) -> tuple[Any, int] | None:
    """(value, next segment index) for the longest run of segments naming a key of ``obj``.

    Exact-case keys are tried for every run first; the lower-cased view of the dict is built
    at most once per level, and only when no exact key matched (it is the costly part on
    events with many null fields).
    """
    runs = [(".".join(segments[start:j]), j) for j in range(len(segments), start, -1)]
    for key, j in runs:
        value = obj.get(key)
        if value is not None:
            return value, j
    lowered: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(k, str) and v is not None:
            lowered.setdefault(k.lower(), v)
    for key, j in runs:
        value = lowered.get(key.lower())
        if value is not None:
            return value, j
    return None


def first(obj: Any, *paths: str, default: Any = None) -> Any:
    """Value of the first dotted path in ``paths`` that is present and not a placeholder."""
    for path in paths:
        value = dig(obj, path)
        if value is not None and not is_placeholder(value):
            return value
    return default


def as_dict(value: Any) -> dict:
    """``value`` as a dict (decoding a JSON string), or an empty dict."""
    value = _as_container(value)
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    """``value`` as a list: lists pass through, JSON arrays are decoded, scalars are wrapped."""
    value = _as_container(value)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]


# ---------------------------------------------------------------------------
# scalar coercion


def is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in PLACEHOLDERS


def to_str(value: Any) -> str:
    """A clean string: numbers become their decimal text, placeholders and None become ''."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return "" if text.lower() in PLACEHOLDERS else text


def to_int(value: Any) -> int | None:
    """An int from an int, an integral float or a numeric string ("15169", "AS15169", "1.0")."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = to_str(value)
    if text[:2].upper() == "AS":
        text = text[2:]
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


def to_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(to_str(value))
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def to_bool(value: Any) -> bool | None:
    """True/False from booleans, 0/1 and the usual strings ("true", "False", "yes"); else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    text = to_str(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def clean_ip(value: Any) -> str | None:
    """An IP address string, or None. Strips a port and IPv6 brackets some exports add."""
    import ipaddress

    text = to_str(value)
    if not text:
        return None
    candidates = [text]
    if text.startswith("[") and "]" in text:
        candidates.insert(0, text[1 : text.index("]")])
    elif text.count(":") == 1:
        candidates.insert(0, text.split(":", 1)[0])
    for candidate in candidates:
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


# ---------------------------------------------------------------------------
# time

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?"
    r"(?:[.,](?P<frac>\d+))?\s*(?P<tz>Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_timestamp(value: Any) -> datetime:
    """Parse the timestamp formats real exports use into an aware UTC datetime.

    Accepts ISO 8601 with ``Z``, an offset or no zone (taken as UTC), any number of fractional
    digits (Entra writes 7; digits past microseconds are truncated, as .NET ticks convert),
    a space instead of ``T``, and epoch seconds / milliseconds / microseconds as numbers or
    numeric strings (the unit is told by magnitude). Raises ``ValueError`` when it cannot.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value is None or isinstance(value, bool):
        raise ValueError("no timestamp")
    if isinstance(value, int | float):
        return _from_epoch(Decimal(str(value)))
    text = to_str(value)
    if not text:
        raise ValueError("empty timestamp")
    try:
        return _from_epoch(Decimal(text))
    except InvalidOperation:
        pass
    match = _ISO.match(text)
    if match is None:
        if _DATE_ONLY.match(text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        raise ValueError(f"unrecognised timestamp {text!r}")
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    base = f"{match['date']}T{match['h']}:{match['m']}:{match['s'] or '00'}.{frac}"
    tz = match["tz"] or "Z"
    if tz.upper() in ("Z", "UTC", "GMT"):
        offset = "+00:00"
    else:
        digits = tz[1:].replace(":", "").ljust(4, "0")
        offset = f"{tz[0]}{digits[:2]}:{digits[2:]}"
    return datetime.fromisoformat(base + offset).astimezone(UTC)


def _from_epoch(number: Decimal) -> datetime:
    if not number.is_finite():
        raise ValueError("not a finite epoch")
    magnitude = abs(number)
    if magnitude >= Decimal(10) ** 14:  # microseconds (Google login_timestamp)
        micros = number
    elif magnitude >= Decimal(10) ** 11:  # milliseconds
        micros = number * 1000
    else:  # seconds
        micros = number * 1_000_000
    try:
        return _EPOCH + timedelta(microseconds=int(micros))
    except OverflowError as exc:
        raise ValueError("epoch out of range") from exc


def parse_timestamp_or_none(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# geography

# MaxMind/Okta English names that ISO 3166 (pycountry) spells differently.
_COUNTRY_ALIASES = {
    "russia": "RU",
    "palestine": "PS",
    "brunei": "BN",
    "cape verde": "CV",
    "ivory coast": "CI",
    "turkey": "TR",
    "dr congo": "CD",
    "congo republic": "CG",
    "kosovo": "XK",
    "micronesia": "FM",
    "federated states of micronesia": "FM",
    "bonaire, sint eustatius, and saba": "BQ",
    "the netherlands": "NL",
    "vatican city": "VA",
    "st kitts and nevis": "KN",
    "st lucia": "LC",
    "st vincent and grenadines": "VC",
    "saint martin": "MF",
    "hashemite kingdom of jordan": "JO",
    "u.s. virgin islands": "VI",
    "british virgin islands": "VG",
    "macedonia": "MK",
    "swaziland": "SZ",
    "east timor": "TL",
    "falkland islands": "FK",
    "pitcairn islands": "PN",
    "u.s. minor outlying islands": "UM",
    "republic of korea": "KR",
    "usa": "US",
    "uk": "GB",
}


def country_code(value: Any) -> str:
    """ISO 3166-1 alpha-2 code for a code or an English country name; '' when unknown."""
    text = to_str(value)
    if not text:
        return ""
    if len(text) == 2 and text.isalpha():
        return text.upper()
    alias = _COUNTRY_ALIASES.get(text.lower())
    if alias:
        return alias
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return ""


# ---------------------------------------------------------------------------
# user agents

# Order matters: many browsers also announce "Chrome/" or "Safari/", so the more specific
# tokens come first.
_UA_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("headlesschrome", r"HeadlessChrome/(\d+)"),
        ("edge", r"\bEdg(?:e|A|iOS)?/(\d+)"),
        ("opera", r"\b(?:OPR|Opera)/(\d+)"),
        ("samsung", r"SamsungBrowser/(\d+)"),
        ("yandex", r"YaBrowser/(\d+)"),
        ("vivaldi", r"Vivaldi/(\d+)"),
        ("brave", r"Brave/(\d+)"),
        ("chrome", r"\b(?:Chrome|CriOS)/(\d+)"),
        ("firefox", r"\b(?:Firefox|FxiOS)/(\d+)"),
        ("ie", r"(?:MSIE (\d+)|Trident/.*rv:(\d+))"),
        ("safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
        ("curl", r"^curl/(\d+)"),
        ("wget", r"^Wget/(\d+)"),
        ("python-requests", r"python-requests/(\d+)"),
        ("python-httpx", r"python-httpx/(\d+)"),
        ("aiohttp", r"aiohttp/(\d+)"),
        ("python-urllib", r"Python-urllib/(\d+)"),
        ("go-http-client", r"Go-http-client/(\d+)"),
        ("okhttp", r"okhttp/(\d+)"),
        ("java", r"^Java/(\d+)"),
        ("apache-httpclient", r"Apache-HttpClient/(\d+)"),
        ("powershell", r"(?:Windows)?PowerShell/(\d+)"),
        ("axios", r"axios/(\d+)"),
        ("node-fetch", r"node-fetch/(\d+)"),
        ("undici", r"undici(?:/(\d+))?"),
        ("postman", r"PostmanRuntime/(\d+)"),
        ("okta-verify", r"OktaVerify/(\d+)"),
    )
)

# Clients that are code rather than a person at a browser. Matching is on the whole UA.
_PROGRAMMATIC = re.compile(
    r"^curl/|^wget/|python-requests|python-httpx|\bhttpx\b|aiohttp|python-urllib|"
    r"go-http-client|okhttp|^java/|apache-httpclient|powershell|headless|phantomjs|"
    r"^axios/|node-fetch|\bundici\b|^node$|^node/|libwww-perl|postmanruntime|^insomnia|"
    r"^ruby|faraday|^guzzlehttp|^restsharp|^dart:io|^scrapy|selenium|puppeteer|playwright|"
    r"bav2ropc|^python/|^boto|^aws-sdk|azure-sdk|msal\.\w+/|^mozilla/4\.0 \(compatible; ms-rtc",
    re.IGNORECASE,
)


def ua_family(user_agent: str | None) -> str:
    """A stable "family/major" key for a user agent ("chrome/124", "curl/8"), for comparing.

    The OS is left out on purpose: detectors compare this key inside one session, where a
    browser auto-update moves the major version and a stolen cookie replayed from another
    client changes the family. Returns '' for an empty UA and "other" when unrecognised.
    """
    ua = (user_agent or "").strip()
    if not ua:
        return ""
    for name, pattern in _UA_FAMILIES:
        match = pattern.search(ua)
        if match:
            major = next((g for g in match.groups() if g), "")
            return f"{name}/{major}" if major else name
    return "other"


def is_programmatic_client(user_agent: str | None) -> bool:
    """True when the UA names an HTTP library, CLI tool or headless/automated browser."""
    ua = (user_agent or "").strip()
    return bool(ua) and _PROGRAMMATIC.search(ua) is not None
