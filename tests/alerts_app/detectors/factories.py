"""Small builders for detector scenarios: events, places, clients and states.

Times are minutes after ``T0`` (a Monday, 09:00 UTC) so scenarios read like timelines.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts_app.detectors import IdentityState, SessionState
from sessions_app.ingest.schema import NormalizedEvent

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

CHROME_130_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)
CHROME_131_WIN = CHROME_130_WIN.replace("Chrome/130", "Chrome/131")
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI_IOS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
CURL = "curl/8.1.2"
PYTHON_REQUESTS = "python-requests/2.31.0"
GO_HTTP = "Go-http-client/2.0"
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36"
)
OKTA_INTEGRATIONS = "Okta-Integrations"

# Places: ip, ASN, organisation, country, city, coordinates.
BERLIN = dict(
    ip="81.2.69.160",
    asn=3320,
    as_org="Deutsche Telekom AG",
    country="DE",
    city="Berlin",
    lat=52.52,
    lon=13.405,
)
BERLIN_VPN_RECONNECT = {**BERLIN, "ip": "81.2.70.23"}
BERLIN_CELLULAR = dict(
    ip="94.134.10.5",
    asn=3209,
    as_org="Vodafone GmbH",
    country="DE",
    city="Berlin",
    lat=52.51,
    lon=13.39,
)
POTSDAM = dict(
    ip="91.64.2.10",
    asn=3209,
    as_org="Vodafone GmbH",
    country="DE",
    city="Potsdam",
    lat=52.39,
    lon=13.06,
)
BUCHAREST = dict(
    ip="185.220.101.4",
    asn=9009,
    as_org="M247 Europe SRL",
    country="RO",
    city="Bucharest",
    lat=44.43,
    lon=26.10,
)
NEW_YORK = dict(
    ip="198.51.100.7",
    asn=7922,
    as_org="Comcast",
    country="US",
    city="New York",
    lat=40.71,
    lon=-74.01,
)
SYDNEY = dict(
    ip="203.0.113.9",
    asn=1221,
    as_org="Telstra",
    country="AU",
    city="Sydney",
    lat=-33.87,
    lon=151.21,
)
AWS_FRANKFURT = dict(
    ip="3.120.0.15",
    asn=16509,
    as_org="Amazon.com",
    country="DE",
    city="Frankfurt",
    lat=50.11,
    lon=8.68,
)
AWS_FRANKFURT_2 = {**AWS_FRANKFURT, "ip": "3.120.9.77"}
MICROSOFT = dict(
    ip="20.190.128.5",
    asn=8075,
    as_org="MICROSOFT-CORP-MSN-AS-BLOCK",
    country="NL",
    city="Amsterdam",
    lat=52.37,
    lon=4.9,
)
OKTA_AWS = dict(
    ip="52.9.1.2",
    asn=16509,
    as_org="Amazon.com",
    country="US",
    city="San Jose",
    lat=37.33,
    lon=-121.89,
)

_ids = itertools.count(1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ev(minutes: float, place: dict[str, Any] | None = None, **fields: Any) -> NormalizedEvent:
    """An Okta-shaped successful session event ``minutes`` after T0, from ``place``."""
    values: dict[str, Any] = {
        "provider": "okta",
        "provider_event_id": f"evt-{next(_ids):05d}",
        "occurred_at": at(minutes),
        "provider_event_type": "user.authentication.sso",
        "event_type": "sso",
        "outcome": "success",
        "actor_id": "00u1",
        "actor_login": "alice@example.com",
        "session_key": "102abcdefghijklmnopa7",
        "user_agent": CHROME_131_WIN,
        "device_id": "dt-alice-laptop",
    }
    values.update(place or BERLIN)
    values.update(fields)
    return NormalizedEvent(**values)


def login(minutes: float, place: dict[str, Any] | None = None, **fields: Any) -> NormalizedEvent:
    """A completed session start with MFA."""
    fields.setdefault("provider_event_type", "user.session.start")
    fields.setdefault("event_type", "logon")
    fields.setdefault("mfa", True)
    fields.setdefault("interactive", True)
    return ev(minutes, place, **fields)


def session(*prior: NormalizedEvent, **fields: Any) -> SessionState:
    fields.setdefault("session_key", "102abcdefghijklmnopa7")
    if prior:
        fields.setdefault("first_seen_at", prior[0].occurred_at)
        fields.setdefault("last_seen_at", prior[-1].occurred_at)
    return SessionState(prior_events=tuple(prior), **fields)


def identity(*recent: NormalizedEvent, **fields: Any) -> IdentityState:
    fields.setdefault("identity_key", "42")
    return IdentityState(recent_events=tuple(recent), **fields)


def with_id(event: NormalizedEvent, provider_event_id: str) -> NormalizedEvent:
    return replace(event, provider_event_id=provider_event_id)
