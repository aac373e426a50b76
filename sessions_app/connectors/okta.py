"""Okta System Log connector: ``GET {base_url}/api/v1/logs`` in Okta's polling model.

The first request asks for ``since`` (the cursor's watermark, or now minus the initial
lookback) in ascending order without ``until``; from then on we only ever follow the
``Link: <…>; rel="next"`` URL Okta returns, which it sends even on an empty page. An empty
page means "caught up" (``more=False``); the next link stays in the cursor for the next tick.
Polling requests filter on Okta's persistence time, so events can arrive out of
``published`` order; the ingest layer dedupes on ``uuid``.

Auth is either an SSWS API token or OAuth 2.0 client credentials with a ``private_key_jwt``
client assertion for the ``okta.logs.read`` scope (Okta service app). Okta does not return
rate-limit budget to us in advance, so we read ``X-Rate-Limit-*`` from each response and stop
paging once more than the configured share of the per-minute budget is used.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from .base import (
    TOKEN_CACHE,
    ConnectorError,
    HttpConnector,
    Page,
    SettingField,
    format_time,
    host_of,
    later,
    parse_time,
    secret_digest,
)

SCOPE = "okta.logs.read"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_PAGE_LIMIT = 1000
OKTA_DEFAULT_LIMIT = 100  # what Okta uses when a next link carries no limit
ASSERTION_LIFETIME = timedelta(minutes=5)

SETTINGS_FIELDS = [
    SettingField(
        "base_url",
        "Okta org URL",
        required=True,
        kind="url",
        help="e.g. https://acme.okta.com (no /api path).",
    ),
    SettingField(
        "auth_method",
        "Authentication",
        kind="choice",
        default="api_token",
        choices=("api_token", "oauth"),
        help="api_token: an SSWS API token. oauth: a service app with private_key_jwt "
        "and the okta.logs.read scope granted (preferred).",
    ),
    SettingField("client_id", "OAuth client id", help="Service app client id (oauth only)."),
    SettingField(
        "key_id", "Key id (kid)", help="The kid of the app's public key in Okta (oauth only)."
    ),
    SettingField(
        "page_limit",
        "Page size",
        kind="int",
        default=DEFAULT_PAGE_LIMIT,
        help="Events per request, 1-1000.",
    ),
    SettingField(
        "initial_lookback_minutes",
        "Initial look-back (minutes)",
        kind="int",
        default=60,
        help="How far back the very first poll starts.",
    ),
    SettingField(
        "budget_share",
        "Share of rate limit to use",
        kind="float",
        default=0.5,
        help="Stop paging once this share of the per-minute /api/v1/logs budget is used, "
        "leaving the rest to other integrations (0.05-1).",
    ),
    SettingField("api_token", "API token", secret=True, help="SSWS token (api_token method only)."),
    SettingField(
        "private_key",
        "Private key (PEM)",
        secret=True,
        kind="text",
        help="RSA private key whose public half is registered on the service app (oauth).",
    ),
]


class OktaConnector(HttpConnector):
    """Pulls the Okta System Log. Cursor: ``{"next_url": str | None, "watermark": iso}``."""

    vendor = "Okta"

    def _configure(self) -> None:
        self.base_url = self._url("base_url", required=True)
        self.auth_method = self._str("auth_method", "api_token")
        if self.auth_method not in ("api_token", "oauth"):
            raise self._config_error("'auth_method' must be 'api_token' or 'oauth'.")
        self.page_limit = self._int("page_limit", DEFAULT_PAGE_LIMIT, minimum=1, maximum=1000)
        self.lookback = timedelta(
            minutes=self._int("initial_lookback_minutes", 60, minimum=1, maximum=180 * 24 * 60)
        )
        self.budget_share = self._number("budget_share", 0.5, minimum=0.05, maximum=1.0)
        if self.auth_method == "api_token":
            self.api_token = self._secret("api_token").strip()
        else:
            self.client_id = self._str("client_id", required=True)
            self.key_id = self._str("key_id")
            self.private_key = self._secret("private_key")
        self.token_url = f"{self.base_url}/oauth2/v1/token"

    # --- auth -----------------------------------------------------------------------------

    def _token_key(self) -> str:
        return TOKEN_CACHE.key(
            "okta", self.token_url, self.client_id, secret_digest(self.private_key)
        )

    def _client_assertion(self) -> str:
        issued = self.now()
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "iat": int(issued.timestamp()),
            "exp": int((issued + ASSERTION_LIFETIME).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self.key_id} if self.key_id else None
        try:
            return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)
        except (ValueError, TypeError, jwt.PyJWTError):
            raise self._config_error(
                "the private key could not be used to sign (expected an RSA key in PEM)."
            ) from None

    def _request_token(self) -> tuple[str, float]:
        response = self._send(
            "POST",
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "scope": SCOPE,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self._client_assertion(),
            },
            headers={"Accept": "application/json"},
        )
        return self._token_response(response, what="the OAuth token request")

    def _get(self, url: str, params: dict | None) -> requests.Response:
        if self.auth_method == "api_token":
            headers = {"Authorization": f"SSWS {self.api_token}", "Accept": "application/json"}
            response = self._send_retrying("GET", url, params=params, headers=headers)
            self._check(response, what="the System Log request")
            return response
        return self._bearer_get(url, params=params, what="the System Log request")

    def _auth_hint(self, response: requests.Response) -> str:
        challenge = response.headers.get("WWW-Authenticate", "")
        summary = self._error_summary(response)
        from_token_endpoint = response.request is not None and str(response.request.url).startswith(
            self.token_url
        )
        oauth_error = ""
        if from_token_endpoint:
            try:
                body = response.json()
                oauth_error = str(body.get("error", "")) if isinstance(body, dict) else ""
            except ValueError:
                pass
        if "insufficient_scope" in challenge or oauth_error == "invalid_scope":
            return (
                f"Missing scope {SCOPE}: grant it to the service app under Okta API Scopes "
                "and give the app an admin role that can read the System Log."
            )
        if from_token_endpoint:
            return (
                "Okta rejected the client assertion: check the client id, that the public "
                f"key (kid) is registered on the app and that the private key matches. {summary}"
            ).strip()
        if "invalid_token" in challenge:
            return "The access token expired or was revoked, and a fresh one was refused too."
        if self.auth_method == "api_token" and response.status_code == 401:
            return (
                "The API token is invalid, expired or revoked (tokens expire after 30 days "
                "unused). Create a new one under Security → API → Tokens."
            )
        if response.status_code == 403:
            return (
                "The credential's admin lacks permission to read the System Log; use a "
                f"read-only or report admin. {summary}"
            ).strip()
        return summary or "Token expired or revoked."

    def _retry_after(self, response: requests.Response) -> float | None:
        """Okta says when the budget refills in X-Rate-Limit-Reset (UTC epoch seconds)."""
        reset = _int_header(response, "X-Rate-Limit-Reset")
        if reset is not None:
            return max(1.0, reset - self.now().timestamp())
        return super()._retry_after(response)

    # --- paging ---------------------------------------------------------------------------

    def _first_request(self, watermark: str | None) -> tuple[str, dict]:
        since = parse_time(watermark) or self.now() - self.lookback
        # Okta refuses since more than 180 days back; data older than 90 days is gone anyway.
        since = max(since, self.now() - timedelta(days=90))
        return f"{self.base_url}/api/v1/logs", {
            "since": format_time(since),
            "limit": self.page_limit,
            "sortOrder": "ASCENDING",
        }

    def fetch_page(self, cursor: dict) -> Page:
        """Fetch the next System Log page.

        ``more`` is true only for a full page (Okta's advice: poll again at once while pages
        are full, wait when a page is short or empty) and while the rate-limit budget share
        is not used up. The returned cursor always holds Okta's next link when one was sent.
        """
        cursor = cursor or {}
        watermark = cursor.get("watermark")
        next_url = cursor.get("next_url")
        if next_url and not _same_origin(next_url, self.base_url):
            # The org URL changed since this cursor was written: never send the credential to
            # the old host; restart from the watermark instead.
            next_url = None
        if next_url:
            url, params = next_url, None
        else:
            url, params = self._first_request(watermark)
        response = self._get(url, params)
        body = self._json(response, what="the System Log")
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise self._malformed("System Log", "expected a JSON array of events", body)

        for event in body:
            watermark = later(watermark, parse_time(event.get("published")))
        link = _next_link(response)
        if link and not _same_origin(link, self.base_url):
            raise ConnectorError(
                f"Okta: the next link points to {host_of(link)}, not {host_of(self.base_url)}; "
                "refusing to follow it. Check the org URL (custom domain?).",
                kind="malformed",
            )
        rate_limit = self._rate_limit(response)
        used_limit = _limit_of(response.url) or OKTA_DEFAULT_LIMIT
        more = bool(link) and len(body) >= used_limit and not self._over_budget(rate_limit)
        # Okta always sends a next link in polling mode; if one is ever missing, resume from
        # the watermark next time rather than re-reading the same page forever.
        new_cursor = {"next_url": link, "watermark": watermark}
        return Page(records=body, cursor=new_cursor, more=more, rate_limit=rate_limit)

    def _rate_limit(self, response: requests.Response) -> dict:
        limit = _int_header(response, "X-Rate-Limit-Limit")
        remaining = _int_header(response, "X-Rate-Limit-Remaining")
        reset = _int_header(response, "X-Rate-Limit-Reset")
        info: dict = {}
        if limit is not None:
            info["limit"] = limit
        if remaining is not None:
            info["remaining"] = remaining
        if reset is not None:
            info["reset_at"] = format_time(datetime.fromtimestamp(reset, tz=UTC))
        return info

    def _over_budget(self, rate_limit: dict) -> bool:
        limit, remaining = rate_limit.get("limit"), rate_limit.get("remaining")
        if limit is None or remaining is None:
            return False
        return remaining < limit * (1 - self.budget_share)

    def test_connection(self) -> str:
        url = f"{self.base_url}/api/v1/logs"
        since = format_time(self.now() - timedelta(minutes=5))
        response = self._get(url, {"since": since, "limit": 1})
        body = self._json(response, what="the System Log")
        if not isinstance(body, list):
            raise self._malformed("System Log", "expected a JSON array of events", body)
        how = "API token" if self.auth_method == "api_token" else f"OAuth client {self.client_id}"
        budget = self._rate_limit(response)
        extra = (
            f" Rate limit: {budget['remaining']}/{budget['limit']} left this minute."
            if "limit" in budget and "remaining" in budget
            else ""
        )
        return f"Connected to {host_of(self.base_url)} with {how}; System Log readable.{extra}"


def _int_header(response: requests.Response, name: str) -> int | None:
    raw = response.headers.get(name)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _next_link(response: requests.Response) -> str | None:
    # requests parses RFC 8288 Link headers (Okta sends rel="self" and rel="next").
    link = response.links.get("next")
    return link.get("url") if link else None


def _limit_of(url: str | None) -> int | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("limit")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def _same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())
