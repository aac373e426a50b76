"""Build raw Okta System Log events for engine tests (real parser, real ingestion)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

BERLIN = {
    "ip": "81.200.10.4",
    "asn": 3320,
    "org": "Deutsche Telekom AG",
    "city": "Berlin",
    "country": "DE",
    "lat": 52.52,
    "lon": 13.40,
}
BUCHAREST = {
    "ip": "185.181.60.7",
    "asn": 9009,
    "org": "M247 Europe SRL",
    "city": "Bucharest",
    "country": "RO",
    "lat": 44.43,
    "lon": 26.10,
}
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
CURL = "curl/8.1.2"


def okta_event(
    *,
    at: datetime,
    event_type: str = "user.authentication.sso",
    session: str = "102sessAAA",
    actor: str = "00u1dana",
    login: str = "dana@example.com",
    where: dict = BERLIN,
    ua: str = CHROME,
    dt_hash: str = "dt-laptop-1",
    result: str = "SUCCESS",
) -> dict:
    return {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{at.isoformat()}-{event_type}-{session}")),
        "published": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventType": event_type,
        "displayMessage": event_type,
        "outcome": {"result": result},
        "actor": {"id": actor, "type": "User", "alternateId": login, "displayName": "Dana Lee"},
        "client": {
            "ipAddress": where["ip"],
            "userAgent": {"rawUserAgent": ua},
            "geographicalContext": {
                "city": where["city"],
                "country": where["country"],
                "geolocation": {"lat": where["lat"], "lon": where["lon"]},
            },
        },
        "securityContext": {"asNumber": where["asn"], "asOrg": where["org"], "isProxy": False},
        "authenticationContext": {"externalSessionId": session, "rootSessionId": session},
        "debugContext": {"debugData": {"dtHash": dt_hash}},
        "target": [{"id": "0oa1app", "type": "AppInstance", "displayName": "Salesforce"}],
    }


def replay_sequence(start: datetime, session: str = "102sessAAA") -> list[dict]:
    """MFA login in Berlin on Chrome, then the same session from Bucharest by curl."""
    return [
        okta_event(at=start, event_type="user.session.start", session=session),
        okta_event(at=start + timedelta(minutes=5), session=session),
        okta_event(
            at=start + timedelta(minutes=42),
            session=session,
            where=BUCHAREST,
            ua=CURL,
            dt_hash="dt-attacker",
        ),
    ]
