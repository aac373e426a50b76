"""Tolerant helpers shared by the provider parsers (and, for user agents, by detectors).

Real exports of the same vendor event differ in letter case (``ipAddress`` / ``IPAddress``),
in whether numbers arrive as strings, in whether nested objects arrive as JSON strings (Log
Analytics ``dynamic`` columns exported to CSV/JSON) and in timestamp format. Everything here
accepts those variants and returns one canonical form, so the same event read from two shapes
normalises to the same values.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import pycountry

# Values vendors put where they mean "no value".
PLACEHOLDERS = frozenset({"", "-", "null", "none", "unknown", "n/a", "undefined"})
_LONGEST_PLACEHOLDER = max(map(len, PLACEHOLDERS))


# ---------------------------------------------------------------------------
# key access
#
# Two ways in. Plain dicts are searched exact case first and lower-cased only on a miss (one
# look-up in someone else's dict). A parser that reads many fields of one record calls
# ``fold(record)`` once and passes the view around: every later look-up is then one plain
# ``dict.get`` on pre-lower-cased keys, each nested object is lower-cased at most once (on
# first access, memoised in its parent's view) and dotted paths are split once per process.
# Profiling the Okta parser showed the repeated lower-casing of the same objects, for every
# missing or null field, as most of its cost.


class Folded(dict):
    """A case-insensitive view of one JSON object: lower-cased keys → values, ``None`` left out.

    When two keys differ only in case, the first in the object's order is the view's value,
    as the lower-cased look-up always did. ``source`` is the object the view was made from.
    ``tricky`` marks objects where a plain look-up in the view could differ from the
    documented rules — two non-null keys folding together (exact case must win) or a key
    containing a dot (a flattened path that ``dig`` must match as a run of segments); those
    take the general path through ``source``. Nested objects become views when they are
    first reached through ``ci_get``/``dig``, so untouched parts of a record cost nothing.
    """

    __slots__ = ("source", "tricky")


def fold(value: Any) -> Any:
    """``value`` as a ``Folded`` view when it is a dict (or a JSON object sent as a string).

    Lists become lists of views; anything else is returned unchanged. Folding a view again
    returns it as is.
    """
    value = _as_container(value)
    kind = type(value)
    if kind is Folded:
        return value
    if kind is dict or isinstance(value, dict):
        return _fold_level(value)
    if kind is list:
        return [_fold_level(v) if type(v) is dict else v for v in value]
    return value


def unfold(value: Any) -> Any:
    """The original object behind a ``Folded`` view (anything else unchanged), for callers
    that need the original keys — e.g. to keep names as the vendor spelled them."""
    return value.source if type(value) is Folded else value


def _fold_level(obj: dict) -> Folded:
    """One level of ``obj`` as a view (children are folded when first reached)."""
    try:
        # All in C: reversed, so that among keys folding together the first in order wins.
        view = Folded(zip(map(str.lower, reversed(obj)), reversed(obj.values()), strict=True))
        dotted = "." in "".join(obj)
    except TypeError:  # a non-string key: only string keys can match
        view = Folded((k.lower(), v) for k, v in reversed(obj.items()) if isinstance(k, str))
        dotted = True  # and the general path handles the rest
    view.source = obj
    # A null value stays in the view (look-ups treat it as absent). Keys folding together
    # make the view smaller than the object: the general path then applies exact case first
    # and skips a null first variant.
    view.tricky = dotted or len(view) != len(obj)
    return view


def _fold_child(view: Folded, key: str, value: Any) -> Any:
    """``value`` (found under ``key`` in ``view``) ready for further look-ups, memoised."""
    kind = type(value)
    if kind is dict:
        value = view[key] = _fold_level(value)
    elif kind is list:
        value = view[key] = [_fold_level(v) if type(v) is dict else v for v in value]
    return value


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
    that the next candidate key is tried. On a ``Folded`` view, dicts and lists found are
    returned as views too.
    """
    if type(obj) is Folded:
        if obj.tricky:
            return _ci_get_general(obj, keys, default)
        for key in keys:
            lowered = key.lower()
            value = obj.get(lowered)
            if value is not None:
                kind = type(value)  # _fold_child, inlined: this is the hottest line
                if kind is dict:
                    value = obj[lowered] = _fold_level(value)
                elif kind is list:
                    value = obj[lowered] = [_fold_level(v) if type(v) is dict else v for v in value]
                return value
        return default
    obj = _as_container(obj)
    if not isinstance(obj, dict):
        return default
    lowered_view: dict[str, Any] | None = None
    for key in keys:
        value = obj.get(key)
        if value is None:
            if lowered_view is None:
                lowered_view = _lowered(obj)
            value = lowered_view.get(key.lower())
        if value is not None:
            return value
    return default


def _ci_get_general(view: Folded, keys: tuple[str, ...], default: Any) -> Any:
    """``ci_get`` on a view whose keys collide when lower-cased: the plain-dict rules."""
    value = ci_get(view.source, *keys)
    if value is None:
        return default
    return fold(value) if type(value) is dict or type(value) is list else value


def _lowered(obj: dict) -> dict[str, Any]:
    lowered: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(k, str) and v is not None:
            lowered.setdefault(k.lower(), v)
    return lowered


@functools.lru_cache(maxsize=4096)
def _split_path(path: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(segments, lower-cased segments) of a dotted path; None for an empty or malformed one."""
    segments = tuple(path.split(".")) if path else ()
    if not segments or "" in segments:
        return None
    return segments, tuple(s.lower() for s in segments)


def dig(obj: Any, path: str, default: Any = None) -> Any:
    """Follow a dotted ``path`` through nested dicts/lists, case-insensitively.

    Numeric segments index lists. A key that itself contains dots (``{"client.ip": ...}``, as
    flattened exports write them) is matched too: at each level the longest run of remaining
    segments that names a key wins. JSON objects sent as strings are decoded on the way.
    Through a ``Folded`` view, dicts and lists found are returned as views too.
    """
    split = _split_path(path)
    if split is None:
        return default
    segments, lowered = split
    folded = type(obj) is Folded
    current = obj
    i = 0
    count = len(segments)
    while i < count:
        kind = type(current)
        if kind is Folded and not current.tricky:
            value = current.get(lowered[i])
            if value is None:
                return default
            current = _fold_child(current, lowered[i], value)
            i += 1
            continue
        if kind is not Folded and kind is not list:
            current = _as_container(current)
            if folded and isinstance(current, dict):
                current = _fold_level(current)
                continue
        if isinstance(current, dict):
            source = current.source if type(current) is Folded else current
            found = _longest_key_match(source, segments, i)
            if found is None:
                return default
            current, i = found
            if folded:
                current = fold(current)
        elif isinstance(current, list) and segments[i].lstrip("-").isdigit():
            index = int(segments[i])
            if not -len(current) <= index < len(current):
                return default
            current, i = current[index], i + 1
            if folded and type(current) is dict:
                current = _fold_level(current)
        else:
            return default
    return default if current is None else current


def _longest_key_match(obj: dict, segments: tuple[str, ...], start: int) -> tuple[Any, int] | None:
    """(value, next segment index) for the longest run of segments naming a key of ``obj``.

    Exact-case keys are tried for every run first; the lower-cased view of the dict is built
    at most once per level, and only when no exact key matched.
    """
    runs = [(".".join(segments[start:j]), j) for j in range(len(segments), start, -1)]
    for key, j in runs:
        value = obj.get(key)
        if value is not None:
            return value, j
    lowered = _lowered(obj)
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
    if type(value) is str:  # the common case, kept cheap: called ~40 times per event
        text = value.strip()
        return text if len(text) > _LONGEST_PLACEHOLDER or text.lower() not in PLACEHOLDERS else ""
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
    text = to_str(value)
    return _canonical_ip(text) if text else None


@functools.lru_cache(maxsize=65536)  # addresses repeat; parsing one took ~3 µs
def _canonical_ip(text: str) -> str | None:
    import ipaddress

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
    if (
        len(text) == 24
        and text[23] == "Z"
        and text[10] == "T"
        and text[19] == "."
        and (text[4] == text[7] == "-" and text[13] == text[16] == ":")
    ):
        # The common shape, YYYY-MM-DDTHH:MM:SS.mmmZ (Okta's published): what the general
        # path below makes of it, without the regex.
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass  # the general path says why
    match = _ISO.match(text)  # first: a failed Decimal() raises, which costs more than a match
    if match is None:
        try:
            return _from_epoch(Decimal(text))
        except InvalidOperation:
            pass
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
    return _country_code_by_name(text)


@functools.lru_cache(maxsize=1024)  # ~250 countries, a few spellings each; pycountry is slow
def _country_code_by_name(text: str) -> str:
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
