"""The Okta parser's fast path for documented records gives exactly what the tolerant one does.

``okta.parse`` reads a record spelled as Okta documents it with plain look-ups and hands
anything else to ``okta.parse_tolerant``. These tests run both over every captured fixture,
over generated events covering the parser's branches, and over variants of them that stray
from the documented shape (other letter case, JSON strings for objects, strings for numbers,
nulls, flattened dotted keys, keys folding together), and require the same event — field
values, types and key order — or the same quarantine reason.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from sessions_app.ingest import okta, split_records
from sessions_app.ingest.schema import QuarantineError

from .helpers import FIXTURES, fixture_bytes


def outcome(parse, record: Any) -> str:
    """The event as text (values, types and key order), or the quarantine reason."""
    try:
        event = parse(copy.deepcopy(record))
    except QuarantineError as exc:
        return f"quarantined: {exc.reason}"
    return repr(dataclasses.asdict(event))


def fixture_records() -> list[tuple[str, dict]]:
    records = []
    for path in sorted((FIXTURES / "okta").glob("*.json")):
        if path.name == "quarantine.json":
            for case in orjson.loads(path.read_bytes()):
                records.append((f"quarantine:{case['reason']}", case["record"]))
            continue
        for index, record in enumerate(split_records("okta", fixture_bytes("okta", path.name))):
            records.append((f"{path.stem}[{index}]", record))
    return records


EVENT_TYPES = [
    *okta._EXACT_TYPES,
    *okta._HIGH_VALUE_EXACT,
    "policy.rule.update",
    "zone.update",
    "group.user_membership.add",
    "app.oauth2.as.token.grant.refresh_token",
    "app.oauth2.token.grant.access_token",
    "app.oauth2.as.token.revoke",
    "app.oauth2.token.detect_reuse",
    "app.oauth2.as.authorize.code",
    "app.oauth2.as.consent.grant",
    "system.api_token.create",
    "user.authentication.authenticate",
    "system.csv.export",
    "user.mfa.okta_verify",
    "app.generic.unknown",
    "directory.user.update",
]


def generated(count: int, seed: int = 7) -> list[dict]:
    """Documented-shape events that take the parser's different branches."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for n in range(count):
        event_type = rng.choice(EVENT_TYPES)
        targets = rng.choice(
            [
                None,
                [],
                [{"id": "0oa1", "type": "AppInstance", "displayName": "Okta Admin Console"}],
                [{"id": "0oa2", "type": "AppInstance", "alternateId": "App", "displayName": "App"}],
                [{"id": "00g1", "type": "UserGroup", "displayName": "Super Administrators"}],
                [{"id": "at.1", "type": "access_token"}, {"id": "rt.1", "type": "refresh_token"}],
                [{"id": "00T1", "type": "Token", "displayName": "ci"}, None],
            ]
        )
        security = rng.choice(
            [
                None,
                {"asNumber": 5089, "asOrg": "virgin media", "isProxy": False},
                {"asNumber": "AS15169", "asOrg": "google", "isProxy": "true"},
                {
                    "asNumber": None,
                    "isProxy": False,
                    "risk": {"level": "high", "reasons": ["Anomalous Location"], "issuer": "ITP"},
                    "userBehaviors": [{"name": "New City", "result": "positive"}],
                    "ipDetails": {"ipServiceCategories": [{"isAnonymous": True}]},
                },
            ]
        )
        debug = {
            "requestId": f"req{n}",
            "dtHash": rng.choice(["", None, f"{rng.getrandbits(64):016x}"]),
            "behaviors": rng.choice(
                [
                    None,
                    "{New Device=POSITIVE, New IP=NEGATIVE, Velocity=POSITIVE}",
                    {"New Device": "POSITIVE"},
                    ["New City=POSITIVE", {"name": "New IP", "result": "POSITIVE"}],
                ]
            ),
            "risk": rng.choice([None, "{level=MEDIUM}", "{reasons=Unusual device, level=HIGH}"]),
            "factor": rng.choice([None, "SIGNED_NONCE", "PASSWORD_AS_FACTOR", "OKTA_VERIFY_PUSH"]),
            "threatSuspected": rng.choice([None, "false", "true"]),
            "grantType": rng.choice([None, "refresh_token", "client_credentials"]),
        }
        if rng.random() < 0.2:
            debug["tunnels"] = [{"anonymous": True, "operator": "x"}]
        if rng.random() < 0.2:
            log_only = {"risk": {"level": "LOW"}, "behaviors": {"A": "POSITIVE"}}
            debug["logOnlySecurityData"] = log_only
        events.append(
            {
                "uuid": f"{rng.getrandbits(128):032x}",
                "published": (start + timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
                "eventType": event_type,
                "version": "0",
                "severity": "INFO",
                "displayMessage": "x",
                "actor": {
                    "id": f"00u{n % 13}",
                    "type": rng.choice(["User", "SystemPrincipal", "PublicClientApp"]),
                    "alternateId": f"user{n % 13}@example.com",
                    "displayName": rng.choice(["User", None, "unknown"]),
                    "detailEntry": None,
                },
                "client": rng.choice(
                    [
                        None,
                        {
                            "userAgent": {"rawUserAgent": "curl/8.4.0", "os": "Unknown"},
                            "ipAddress": rng.choice(["198.51.100.7", "[2001:db8::1]:443", None]),
                            "geographicalContext": {
                                "city": "Berlin",
                                "country": rng.choice(["Germany", "DE", "Narnia", None]),
                                "geolocation": {"lat": 52.5, "lon": "13.4"},
                            },
                        },
                    ]
                ),
                "authenticationContext": {
                    "externalSessionId": rng.choice(["idx1", "trs2", None, "unknown"]),
                    "rootSessionId": "idxRoot",
                    "credentialType": rng.choice([None, "PASSWORD", "OTP"]),
                },
                "outcome": {
                    "result": rng.choice(["SUCCESS", "FAILURE", "DENY", "CHALLENGE", None]),
                    "reason": rng.choice([None, "INVALID_CREDENTIALS"]),
                },
                "securityContext": security,
                "debugContext": {"debugData": debug},
                "transaction": {
                    "type": "WEB",
                    "id": f"tx{n}",
                    "detail": rng.choice([{}, {"requestApiTokenId": "00T9"}]),
                },
                "request": {
                    "ipChain": rng.choice(
                        [
                            [],
                            [
                                {
                                    "ip": "203.0.113.9",
                                    "ipDetails": {"asNumber": 64500, "asOrg": "chain org"},
                                    "geographicalContext": {"country": "France"},
                                }
                            ],
                        ]
                    )
                },
                "device": rng.choice([None, {"id": "guo1"}]),
                "target": targets,
            }
        )
    return events


def variants(record: dict) -> list[dict]:
    """Copies of ``record`` with one thing changed away from the documented shape."""
    found = []

    def walk(value: Any, path: tuple) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                found.append((path, key, item))
                walk(item, (*path, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*path, index))

    walk(record, ())
    out = []
    for path, key, value in found:
        changes = [
            lambda d, k=key: d.__setitem__(k.upper(), d.pop(k)),  # other letter case
            lambda d, k=key, v=value: d.__setitem__(k[:1].upper() + k[1:], v),  # both cases
            lambda d, k=key: d.__setitem__(k, None),
            lambda d, k=key: d.__setitem__(f"{k}.x", "flattened"),
        ]
        if isinstance(value, dict | list):
            changes.append(lambda d, k=key: d.__setitem__(k, orjson.dumps(d[k]).decode()))
        if isinstance(value, int | float) and not isinstance(value, bool):
            changes.append(lambda d, k=key: d.__setitem__(k, str(d[k])))
        if isinstance(value, str):
            changes.append(lambda d, k=key: d.__setitem__(k, f"  {d[k].upper()} "))
        for change in changes:
            variant = copy.deepcopy(record)
            target = variant
            for step in path:
                target = target[step]
            change(target)
            out.append(variant)
    return out


@pytest.mark.parametrize("name,record", fixture_records(), ids=lambda v: str(v)[:60])
def test_fixtures_parse_the_same_both_ways(name, record):
    assert outcome(okta.parse, record) == outcome(okta.parse_tolerant, record)


@pytest.mark.parametrize("name,record", fixture_records(), ids=lambda v: str(v)[:60])
def test_variants_of_fixtures_parse_the_same_both_ways(name, record):
    for variant in variants(record):
        assert outcome(okta.parse, variant) == outcome(okta.parse_tolerant, variant), variant


def test_generated_events_parse_the_same_both_ways_on_the_fast_path():
    events = generated(600)
    for record in events:
        expected = outcome(okta.parse_tolerant, record)
        assert outcome(okta.parse, record) == expected
        if not expected.startswith("quarantined"):  # documented shape: no fall-back
            assert outcome(okta._parse_documented, record) == expected


def test_variants_of_generated_events_parse_the_same_both_ways():
    for record in generated(12, seed=11):
        for variant in variants(record):
            assert outcome(okta.parse, variant) == outcome(okta.parse_tolerant, variant), variant


def test_documented_fixtures_take_the_fast_path():
    documented = [r for name, r in fixture_records() if name.startswith("session_start")]
    assert documented
    for record in documented:
        assert outcome(okta._parse_documented, record) == outcome(okta.parse_tolerant, record)


def test_pascal_case_export_goes_the_tolerant_way():
    record = orjson.loads(fixture_bytes("okta", "token_refresh.json"))
    with pytest.raises(okta._Irregular):
        okta._parse_documented(record)
    assert outcome(okta.parse, record) == outcome(okta.parse_tolerant, record)
