"""Shared machinery for the HTTP pull connectors (Okta, Microsoft Graph, Google Reports).

A connector turns a persisted cursor into one page of raw vendor records plus the cursor to
persist after that page is stored. It never touches the database: the poller builds it with
``connector_for(source)`` (see ``sessions_app.connectors``), calls ``fetch_page`` in a loop
while ``Page.more`` is true, and stores ``Page.cursor`` after each page's records are saved.

Every failure surfaces as ``ConnectorError`` with a ``kind`` the poller can act on
(back off, mark the source unhealthy, show the message to an admin). Messages never contain
secrets: they name hosts, status codes and the vendor's own error summary only.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

# (connect, read) seconds. Okta's System Log query times out server-side after 30 s, so the
# read timeout sits a little above that.
DEFAULT_TIMEOUT = (5.0, 40.0)
# A Retry-After this short is cheaper to wait out in place than to end the run for.
MAX_INLINE_WAIT_SECONDS = 5.0
# Refresh cached access tokens this long before the vendor says they expire.
TOKEN_EXPIRY_MARGIN = timedelta(seconds=60)
SNIPPET_CHARS = 200

ERROR_KINDS = ("auth", "rate_limited", "server", "malformed", "network", "config")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Page:
    """One page of raw vendor records and the cursor to persist after storing them."""

    records: list[dict]
    cursor: dict
    more: bool
    rate_limit: dict = field(default_factory=dict)


class ConnectorError(Exception):
    """A failed fetch. ``str(exc)`` is shown to admins on the source page.

    ``kind`` is one of ``ERROR_KINDS``; ``retry_after`` is the number of seconds to wait
    before the next attempt when the vendor told us (Retry-After, X-Rate-Limit-Reset).
    """

    def __init__(self, message: str, *, kind: str, retry_after: float | None = None) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown ConnectorError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class Connector(Protocol):
    """What the poller and the source form rely on."""

    def fetch_page(self, cursor: dict) -> Page: ...

    def test_connection(self) -> str: ...


@dataclass(frozen=True)
class SettingField:
    """One input of a source's configuration form.

    ``secret`` fields are stored with ``Source.set_secrets`` and never shown back; the rest
    go into ``Source.settings``. ``kind`` tells the form which widget to use: "str", "url",
    "int", "float", "bool", "choice" (one of ``choices``), "choices" (a list, several of
    ``choices``) or "text" (multi-line, e.g. a PEM key or a JSON key file).
    """

    name: str
    label: str
    required: bool = False
    secret: bool = False
    help: str = ""
    kind: str = "str"
    default: Any = None
    choices: tuple[str, ...] = ()


class TokenCache:
    """Process-wide cache of OAuth access tokens, keyed by client identity and secret digest.

    Connectors are rebuilt for every poll, so an instance attribute would not survive between
    runs; the key includes a digest of the credential so rotating a secret misses the cache.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, datetime]] = {}

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def get(self, key: str, now: datetime) -> str | None:
        with self._lock:
            entry = self._tokens.get(key)
        if entry and now < entry[1] - TOKEN_EXPIRY_MARGIN:
            return entry[0]
        return None

    def put(self, key: str, token: str, expires_at: datetime) -> None:
        with self._lock:
            self._tokens[key] = (token, expires_at)

    def drop(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKEN_CACHE = TokenCache()


def parse_time(value: Any) -> datetime | None:
    """Parse a vendor ISO-8601 timestamp (Z suffix, up to 7 fractional digits) to aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with a Z suffix and millisecond precision, as all three vendors accept."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def later(a: str | None, b: datetime | None) -> str | None:
    """The later of a stored ISO watermark and a datetime, as an ISO string."""
    current = parse_time(a)
    if b is None:
        return a
    if current is None or b > current:
        return format_time(b)
    return a


def snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "…"


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


class HttpConnector:
    """Base for the vendor connectors: settings coercion, requests, error mapping, tokens.

    Subclasses set ``vendor`` (used in messages), implement ``_configure`` (read and validate
    ``self.settings``/``self.secrets``, raising ``ConnectorError(kind="config")``),
    ``fetch_page`` and ``test_connection``, and may override ``_auth_hint`` to turn a 401/403
    body into advice an admin can act on.
    """

    vendor = "vendor"

    def __init__(
        self,
        *,
        settings: dict,
        secrets: dict,
        http: requests.Session | None = None,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = dict(settings or {})
        self.secrets = dict(secrets or {})
        self.http = http or requests.Session()
        self.now = now
        self.sleep = sleep
        self.timeout = DEFAULT_TIMEOUT
        self._configure()

    def _configure(self) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    # --- settings -------------------------------------------------------------------------

    def _config_error(self, message: str) -> ConnectorError:
        return ConnectorError(f"{self.vendor} settings: {message}", kind="config")

    def _str(self, name: str, default: str = "", *, required: bool = False) -> str:
        value = self.settings.get(name, default)
        value = "" if value is None else str(value).strip()
        if required and not value:
            raise self._config_error(f"'{name}' is required.")
        return value or default

    def _url(self, name: str, default: str = "", *, required: bool = False) -> str:
        value = self._str(name, default, required=required).rstrip("/")
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise self._config_error(f"'{name}' must be an http(s) URL, got {value!r}.")
        return value

    def _number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        raw = self.settings.get(name, default)
        if raw in (None, ""):
            return default
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise self._config_error(f"'{name}' must be a number, got {raw!r}.") from None
        if not minimum <= value <= maximum:
            raise self._config_error(f"'{name}' must be between {minimum:g} and {maximum:g}.")
        return value

    def _int(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self._number(name, default, minimum=minimum, maximum=maximum)
        if value != int(value):
            raise self._config_error(f"'{name}' must be a whole number.")
        return int(value)

    def _bool(self, name: str, default: bool) -> bool:
        raw = self.settings.get(name, default)
        if isinstance(raw, str):
            return raw.strip().lower() in ("1", "true", "yes", "on")
        return bool(raw)

    def _choices(self, name: str, default: list[str], allowed: tuple[str, ...]) -> list[str]:
        raw = self.settings.get(name, default)
        if isinstance(raw, str):
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list | tuple):
            raise self._config_error(f"'{name}' must be a list.")
        unknown = [value for value in raw if value not in allowed]
        if unknown:
            raise self._config_error(
                f"'{name}' has unknown values {unknown}; allowed: {', '.join(allowed)}."
            )
        return list(dict.fromkeys(raw))

    def _secret(self, name: str, *, required: bool = True) -> str:
        value = self.secrets.get(name) or ""
        if required and not str(value).strip():
            raise self._config_error(f"the secret '{name}' is not set.")
        return str(value)

    # --- HTTP -----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict | None = None,
        data: dict | None = None,
        headers: dict | None = None,
    ) -> requests.Response:
        """Send one request with a timeout; map transport failures to ``network`` errors."""
        host = host_of(url)
        try:
            return self.http.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise ConnectorError(
                f"{self.vendor}: {host} did not answer within {self.timeout[1]:g} s.",
                kind="network",
            ) from None
        except requests.ConnectionError:
            raise ConnectorError(
                f"{self.vendor}: could not connect to {host} (DNS, firewall or proxy?).",
                kind="network",
            ) from None
        except requests.RequestException as exc:
            raise ConnectorError(
                f"{self.vendor}: request to {host} failed ({type(exc).__name__}).",
                kind="network",
            ) from None

    def _send_retrying(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """``_send``, waiting out one short throttle (429/503/504 with a small wait) in place."""
        response = self._send(method, url, **kwargs)
        if response.status_code in (429, 503, 504):
            wait = self._retry_after(response)
            if wait is not None and wait <= MAX_INLINE_WAIT_SECONDS:
                self.sleep(wait)
                response = self._send(method, url, **kwargs)
        return response

    def _retry_after(self, response: requests.Response) -> float | None:
        """Seconds from a Retry-After header (delta-seconds or HTTP-date), if any."""
        raw = response.headers.get("Retry-After")
        if not raw:
            return None
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - self.now()).total_seconds())

    def _check(self, response: requests.Response, *, what: str) -> None:
        """Raise the right ``ConnectorError`` for a non-2xx response."""
        status = response.status_code
        if 200 <= status < 300:
            return
        host = host_of(response.url or "")
        if status in (401, 403):
            raise ConnectorError(
                f"{self.vendor}: {what} was refused ({status}) by {host}. "
                f"{self._auth_hint(response)}",
                kind="auth",
            )
        if status == 429:
            wait = self._retry_after(response)
            after = f" Retrying in {wait:.0f} s." if wait is not None else ""
            raise ConnectorError(
                f"{self.vendor}: rate limit reached on {what} ({host}).{after}",
                kind="rate_limited",
                retry_after=wait,
            )
        if status >= 500:
            raise ConnectorError(
                f"{self.vendor}: {host} returned {status} for {what}; the vendor side is "
                f"failing, we will retry. {self._error_summary(response)}".rstrip(),
                kind="server",
                retry_after=self._retry_after(response),
            )
        raise ConnectorError(
            f"{self.vendor}: {host} rejected {what} with {status}. "
            f"{self._error_summary(response)}".rstrip(),
            kind="config" if status in (400, 404) else "server",
        )

    def _auth_hint(self, response: requests.Response) -> str:
        return self._error_summary(response) or "Check the credentials and their permissions."

    def _error_summary(self, response: requests.Response) -> str:
        """The vendor's own error text (never our request), shortened."""
        try:
            body = response.json()
        except ValueError:
            return snippet(response.text or "")
        if isinstance(body, dict):
            for key in ("errorSummary", "error_description", "message"):
                if isinstance(body.get(key), str):
                    return snippet(body[key])
            error = body.get("error")
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                return snippet(error["message"])
            if isinstance(error, str):
                return snippet(error)
        return snippet(response.text or "")

    def _json(self, response: requests.Response, *, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(
                f"{self.vendor}: {what} returned a body that is not JSON: "
                f"{snippet(response.text or '')!r}",
                kind="malformed",
            ) from None

    def _malformed(self, what: str, detail: str, body: Any) -> ConnectorError:
        return ConnectorError(
            f"{self.vendor}: unexpected {what} response ({detail}): {snippet(repr(body))}",
            kind="malformed",
        )

    # --- OAuth tokens ---------------------------------------------------------------------

    def _token_key(self) -> str:  # pragma: no cover - OAuth subclasses override
        raise NotImplementedError

    def _request_token(self) -> tuple[str, float]:  # pragma: no cover - OAuth subclasses override
        """Fetch a fresh access token; return (token, lifetime in seconds)."""
        raise NotImplementedError

    def _access_token(self, *, fresh: bool = False) -> tuple[str, bool]:
        """A bearer token and whether it came from the cache."""
        key = self._token_key()
        if not fresh:
            cached = TOKEN_CACHE.get(key, self.now())
            if cached:
                return cached, True
        token, lifetime = self._request_token()
        TOKEN_CACHE.put(key, token, self.now() + timedelta(seconds=lifetime))
        return token, False

    def _token_response(self, response: requests.Response, *, what: str) -> tuple[str, float]:
        """Validate an OAuth token endpoint response without ever echoing the token."""
        if response.status_code in (400, 401, 403):
            # OAuth servers answer bad client credentials, grants and scopes with 400/401.
            raise ConnectorError(
                f"{self.vendor}: {what} was refused ({response.status_code}) by "
                f"{host_of(response.url or '')}. {self._auth_hint(response)}",
                kind="auth",
            )
        self._check(response, what=what)
        try:
            body = response.json()
        except ValueError:
            raise ConnectorError(
                f"{self.vendor}: the token endpoint returned a body that is not JSON.",
                kind="malformed",
            ) from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ConnectorError(
                f"{self.vendor}: the token endpoint response has no access_token.",
                kind="malformed",
            )
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        return token, lifetime

    def _bearer_get(self, url: str, *, params: dict | None = None, what: str) -> requests.Response:
        """GET with a cached bearer token; on 401 with a cached token, refresh once and retry."""
        token, cached = self._access_token()
        response = self._send_retrying("GET", url, params=params, headers=self._headers(token))
        if response.status_code == 401 and cached:
            TOKEN_CACHE.drop(self._token_key())
            token, _ = self._access_token(fresh=True)
            response = self._send_retrying("GET", url, params=params, headers=self._headers(token))
        self._check(response, what=what)
        return response

    def _headers(self, token: str) -> dict:
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def secret_digest(*values: str) -> str:
    """A digest of credential material, for cache keys; never the material itself."""
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:32]


@dataclass
class Round:
    """One query followed through all its pages (a stream = an event type or application)."""

    stream: str
    start: str
    late: bool = False
    extra: str = ""
    next: str | None = None
    max_seen: str | None = None

    def as_dict(self) -> dict:
        return {
            "stream": self.stream,
            "start": self.start,
            "late": self.late,
            "extra": self.extra,
            "next": self.next,
            "max_seen": self.max_seen,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Round:
        return cls(
            stream=str(data["stream"]),
            start=str(data["start"]),
            late=bool(data.get("late", False)),
            extra=str(data.get("extra") or ""),
            next=data.get("next"),
            max_seen=data.get("max_seen"),
        )


class RoundRobinConnector(HttpConnector):
    """Windowed polling over several streams, for APIs queried by time window (Graph, Google).

    The cursor is ``{"watermarks": {stream: iso}, "cycle": n, "pending": [round…],
    "round": round | None}``. A cycle plans one round per stream (plus, for Graph, periodic
    late re-polls). A round queries ``time >= watermark - overlap`` and follows the vendor's
    page links; the stream's watermark (newest record time seen) advances only after the
    round's last page, so a crash mid-round re-reads the round rather than skipping records.
    ``more`` stays true until the cycle's last round ends.
    """

    overlap = timedelta(hours=1)
    initial_lookback = timedelta(hours=1)

    def _streams(self) -> list[str]:  # pragma: no cover - subclasses override
        raise NotImplementedError

    def _plan_extra(self, cycle: int) -> list[Round]:
        """Extra rounds for this cycle (Graph's late-verdict re-poll); none by default."""
        return []

    def _fetch_round(self, round_: Round) -> tuple[list[dict], str | None, dict]:
        """Fetch one page of ``round_``: (records, next link/token, rate-limit info)."""
        raise NotImplementedError  # pragma: no cover

    def _record_time(self, record: dict) -> datetime | None:  # pragma: no cover
        raise NotImplementedError

    def _window_start(self, watermark: str | None) -> datetime:
        parsed = parse_time(watermark)
        if parsed is None:
            return self.now() - self.initial_lookback
        return parsed - self.overlap

    def fetch_page(self, cursor: dict) -> Page:
        cursor = cursor or {}
        watermarks = dict(cursor.get("watermarks") or {})
        cycle = int(cursor.get("cycle") or 0)
        pending = [Round.from_dict(r) for r in cursor.get("pending") or []]
        streams = self._streams()
        current = Round.from_dict(cursor["round"]) if cursor.get("round") else None
        if current is not None and current.stream not in streams:
            # The stream was removed from the settings since the cursor was written.
            current = None
        pending = [r for r in pending if r.stream in streams]
        if current is None:
            if not pending:
                cycle += 1
                pending = [
                    Round(stream=s, start=format_time(self._window_start(watermarks.get(s))))
                    for s in streams
                ]
                pending += self._plan_extra(cycle)
            current = pending.pop(0)

        records, next_token, rate_limit = self._fetch_round(current)
        for record in records:
            current.max_seen = later(current.max_seen, self._record_time(record))
        if next_token:
            current.next = next_token
            state_round: Round | None = current
            more = True
        else:
            if not current.late:
                seen = parse_time(current.max_seen)
                if seen is not None:
                    watermarks[current.stream] = later(watermarks.get(current.stream), seen)
                elif not watermarks.get(current.stream):
                    # Nothing seen yet: anchor the window where this round started so a quiet
                    # stream's window does not drift forward with the clock.
                    anchor = parse_time(current.start) + self.overlap
                    watermarks[current.stream] = format_time(anchor)
            state_round = None
            more = bool(pending)
        new_cursor = {
            "watermarks": watermarks,
            "cycle": cycle,
            "pending": [r.as_dict() for r in pending],
            "round": state_round.as_dict() if state_round else None,
        }
        return Page(records=records, cursor=new_cursor, more=more, rate_limit=rate_limit)
