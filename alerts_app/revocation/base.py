"""What every revocation provider offers: a plan (which call, what it does and does not revoke)
and one call at a time, answered as a ``CallResult`` the service records and acts on.

Providers never touch the database. Transient failures (429, 5xx, timeouts, connection
errors) come back as ``retryable`` with the wait the vendor asked for, if any; other 4xx are
``failed`` and are not retried. 404 on a revocation of something already gone is failed too:
we cannot prove the session was killed if the provider does not know the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

from sessions_app.connectors.base import ConnectorError, snippet

BODY_CHARS = 2000
# Response headers worth keeping with an attempt (rate limits, request ids); never auth.
KEPT_HEADERS = (
    "retry-after",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "request-id",
    "client-request-id",
    "x-okta-request-id",
    "x-ms-ags-diagnostic",
    "content-type",
)


@dataclass(frozen=True)
class Plan:
    """What one provider call will do, shown in the preview before anyone confirms."""

    action: str
    method: str
    path: str
    provider_user_id: str
    provider_session_id: str = ""
    user_wide: bool = True
    revokes: tuple[str, ...] = ()
    survives: tuple[str, ...] = ()
    grace_seconds: int = 300


@dataclass
class CallResult:
    """One provider call's outcome: success, retryable (with a wait) or failed."""

    outcome: str
    method: str
    url: str
    status_code: int | None = None
    body: str = ""
    headers: dict = field(default_factory=dict)
    error: str = ""
    retry_after: float | None = None


class ProviderError(Exception):
    """The provider cannot be used for this source (missing or invalid settings)."""


def result_from_response(response: requests.Response, *, retry_after: float | None) -> CallResult:
    status = response.status_code
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() in KEPT_HEADERS}
    body = (response.text or "")[:BODY_CHARS]
    request = response.request
    method = request.method if request is not None else ""
    url = str(request.url) if request is not None else str(response.url)
    if 200 <= status < 300:
        return CallResult("success", method, url, status, body, headers)
    transient = status == 429 or status >= 500
    return CallResult(
        "retryable" if transient else "failed",
        method,
        url,
        status,
        body,
        headers,
        error=f"{status}: {snippet(body) or response.reason or 'no body'}",
        retry_after=retry_after if transient else None,
    )


def result_from_error(exc: ConnectorError, *, method: str, url: str) -> CallResult:
    """A call that never got an HTTP answer (timeout, refused connection) or a bad config."""
    retryable = exc.kind in ("network", "server", "rate_limited")
    return CallResult(
        "retryable" if retryable else "failed",
        method,
        url,
        error=str(exc),
        retry_after=exc.retry_after if retryable else None,
    )


def retry_after_of(response: requests.Response, now: datetime) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP-date) or Okta's X-Rate-Limit-Reset."""
    raw = response.headers.get("Retry-After")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, (when - now).total_seconds())
    reset = response.headers.get("X-Rate-Limit-Reset")
    if reset and reset.isdigit():
        return max(1.0, int(reset) - now.timestamp())
    return None


class RevocationProvider:
    """Base of the provider adapters. Subclasses set ``name`` and implement both methods."""

    name = "provider"

    def plan(self, *, scope: str, provider_user_id: str, session_key: str, token_kind: str) -> Plan:
        raise NotImplementedError  # pragma: no cover - every provider overrides

    def call(self, plan: Plan, *, idempotency_key: str) -> CallResult:
        raise NotImplementedError  # pragma: no cover - every provider overrides
