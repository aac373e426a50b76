"""Google Workspace connector: Admin SDK Reports ``activities.list`` for login (and token).

Each application (``login``, optionally ``token``) is a stream of ``RoundRobinConnector``:
a round asks for ``startTime = watermark - overlap`` and follows ``nextPageToken``; the
watermark is the newest ``id.time`` seen and moves only after a round's last page. The
overlap defaults to one hour because Google's login data can lag by hours; re-read
activities are deduplicated downstream on (``id.time``, ``id.uniqueQualifier``).

Auth is a service account with domain-wide delegation: we sign a JWT (RS256, with the key
from the JSON key file) that impersonates an admin (``sub``) for the read-only audit scope
and exchange it at the key's ``token_uri`` with the jwt-bearer grant.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import jwt
import requests

from .base import (
    TOKEN_CACHE,
    ConnectorError,
    Round,
    RoundRobinConnector,
    SettingField,
    format_time,
    parse_time,
    secret_digest,
)

SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = timedelta(hours=1)  # Google's maximum
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}

SETTINGS_FIELDS = [
    SettingField(
        "admin_email",
        "Admin to impersonate",
        required=True,
        help="A Workspace admin allowed to read reports; the service account acts as them.",
    ),
    SettingField(
        "include_token_events",
        "Also read OAuth token events",
        kind="bool",
        default=False,
        help="Adds the 'token' report (OAuth grants and revocations).",
    ),
    SettingField("customer_id", "Customer id", help="Optional; defaults to your own customer."),
    SettingField("page_size", "Page size", kind="int", default=1000, help="1-1000."),
    SettingField(
        "overlap_minutes",
        "Overlap (minutes)",
        kind="int",
        default=60,
        help="Login data can arrive hours late; each poll re-reads this much.",
    ),
    SettingField("initial_lookback_minutes", "Initial look-back (minutes)", kind="int", default=60),
    SettingField(
        "api_base", "Reports API base URL", kind="url", default="https://admin.googleapis.com"
    ),
    SettingField(
        "token_uri",
        "Token URL",
        kind="url",
        help="Leave empty to use the token_uri from the key file.",
    ),
    SettingField(
        "service_account_json",
        "Service account key (JSON)",
        secret=True,
        required=True,
        kind="text",
        help="Key file of a service account whose client id has domain-wide delegation for "
        f"{SCOPE}.",
    ),
]


class GoogleConnector(RoundRobinConnector):
    """Pulls Google Workspace login (and token) activity from the Reports API."""

    vendor = "Google Workspace"

    def _configure(self) -> None:
        self.admin_email = self._str("admin_email", required=True)
        self.include_token = self._bool("include_token_events", False)
        self.customer_id = self._str("customer_id")
        self.page_size = self._int("page_size", 1000, minimum=1, maximum=1000)
        self.overlap = timedelta(
            minutes=self._int("overlap_minutes", 60, minimum=0, maximum=7 * 24 * 60)
        )
        self.initial_lookback = timedelta(
            minutes=self._int("initial_lookback_minutes", 60, minimum=1, maximum=180 * 24 * 60)
        )
        self.api_base = self._url("api_base", "https://admin.googleapis.com")
        raw = self._secret("service_account_json")
        try:
            key = json.loads(raw)
        except ValueError:
            raise self._config_error("the service account key is not valid JSON.") from None
        if not isinstance(key, dict):
            raise self._config_error("the service account key must be a JSON object.")
        missing = [k for k in ("client_email", "private_key") if not key.get(k)]
        if missing:
            raise self._config_error(
                f"the service account key lacks {', '.join(missing)}; download a JSON key."
            )
        self.client_email = str(key["client_email"])
        self.private_key = str(key["private_key"])
        self.key_id = str(key.get("private_key_id") or "")
        self.token_uri = self._url(
            "token_uri", str(key.get("token_uri") or "https://oauth2.googleapis.com/token")
        )

    # --- auth -----------------------------------------------------------------------------

    def _token_key(self) -> str:
        return TOKEN_CACHE.key(
            "google",
            self.token_uri,
            self.client_email,
            self.admin_email,
            secret_digest(self.private_key),
        )

    def _assertion(self) -> str:
        issued = self.now()
        claims = {
            "iss": self.client_email,
            "sub": self.admin_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": int(issued.timestamp()),
            "exp": int((issued + ASSERTION_LIFETIME).timestamp()),
        }
        headers = {"kid": self.key_id} if self.key_id else None
        try:
            return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)
        except (ValueError, TypeError, jwt.PyJWTError):
            raise self._config_error(
                "the private key in the service account key could not be used to sign."
            ) from None

    def _request_token(self) -> tuple[str, float]:
        response = self._send(
            "POST",
            self.token_uri,
            data={"grant_type": JWT_BEARER, "assertion": self._assertion()},
            headers={"Accept": "application/json"},
        )
        return self._token_response(response, what="the token request")

    def _auth_hint(self, response: requests.Response) -> str:
        summary = self._error_summary(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if error == "unauthorized_client":
            return (
                "Domain-wide delegation is missing: in the Admin console (Security → API "
                f"controls) authorise the service account's client id for {SCOPE}."
            )
        if error == "invalid_grant":
            return (
                f"Google refused the grant ({summary}). Check the admin email exists and the "
                "key is not deleted or expired."
            )
        if response.status_code == 403:
            return (
                f"The impersonated admin {self.admin_email} may not read audit reports. {summary}"
            ).strip()
        return summary or "Token expired or revoked."

    def _check(self, response: requests.Response, *, what: str) -> None:
        # Google reports some rate limits as 403 with a reason rather than 429.
        if response.status_code == 403 and self._rate_reason(response):
            raise ConnectorError(
                f"Google Workspace: quota exceeded on {what} ({self._rate_reason(response)}).",
                kind="rate_limited",
                retry_after=self._retry_after(response),
            )
        super()._check(response, what=what)

    @staticmethod
    def _rate_reason(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        error = body.get("error") if isinstance(body, dict) else None
        errors = error.get("errors") if isinstance(error, dict) else None
        for item in errors or []:
            if isinstance(item, dict) and item.get("reason") in RATE_REASONS:
                return str(item["reason"])
        return ""

    # --- rounds ---------------------------------------------------------------------------

    def _streams(self) -> list[str]:
        return ["login", "token"] if self.include_token else ["login"]

    def _activities_url(self, application: str) -> str:
        return f"{self.api_base}/admin/reports/v1/activity/users/all/applications/{application}"

    def _fetch_round(self, round_: Round) -> tuple[list[dict], str | None, dict]:
        # pageToken is only valid with the query that produced it, so every page of a round
        # repeats the round's startTime.
        params = {"startTime": round_.start, "maxResults": str(self.page_size)}
        if self.customer_id:
            params["customerId"] = self.customer_id
        if round_.next:
            params["pageToken"] = round_.next
        response = self._bearer_get(
            self._activities_url(round_.stream), params=params, what="the activity report"
        )
        body = self._json(response, what="the activity report")
        if not isinstance(body, dict):
            raise self._malformed("activity report", "expected a JSON object", body)
        # Google omits "items" entirely when nothing matched.
        records = body.get("items", [])
        if not isinstance(records, list) or not all(isinstance(i, dict) for i in records):
            raise self._malformed("activity report", "'items' is not a list of objects", body)
        token = body.get("nextPageToken")
        if token is not None and not isinstance(token, str):
            raise self._malformed("activity report", "'nextPageToken' is not a string", token)
        return records, token or None, {}

    def _record_time(self, record: dict) -> datetime | None:
        ident = record.get("id")
        return parse_time(ident.get("time")) if isinstance(ident, dict) else None

    def test_connection(self) -> str:
        self._access_token(fresh=True)
        params = {"startTime": format_time(self.now() - timedelta(minutes=5)), "maxResults": "1"}
        response = self._bearer_get(
            self._activities_url("login"), params=params, what="the activity report"
        )
        body = self._json(response, what="the activity report")
        if not isinstance(body, dict):
            raise self._malformed("activity report", "expected a JSON object", body)
        return (
            f"Connected as {self.client_email} impersonating {self.admin_email}; login "
            "activity readable."
        )
