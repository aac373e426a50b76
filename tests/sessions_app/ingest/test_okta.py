"""Okta System Log LogEvent → NormalizedEvent, through the public ingest API."""

import copy

import pytest

from sessions_app.ingest import QuarantineError, parse_record, split_records

from .helpers import as_plain, fixture_bytes, load_fixture

DANA = {
    "actor_id": "00u1a2b3c4d5e6f7g8h9",
    "actor_login": "dana.lee@example.com",
    "actor_display_name": "Dana Lee",
    "actor_kind": "human",
}
NO_CONTEXT = {
    "asn": None,
    "as_org": "",
    "country": "",
    "city": "",
    "lat": None,
    "lon": None,
    "anonymizer": False,
    "user_agent": "",
    "device_id": "",
    "client_app": "",
    "interactive": None,
    "auth_methods": (),
    "mfa": None,
    "status_detail": "",
    "high_value_action": "",
    "risk": {},
    "target": {},
}
DT_HASH = "9d3f5a0c1b7e4e2a8f6d5c4b3a291807f6e5d4c3b2a19087f6e5d4c3b2a19087"


def parse(name: str):
    return parse_record("okta", load_fixture("okta", name))


def test_session_start_keeps_every_session_key_and_client_context():
    assert as_plain(parse("session_start.json")) == {
        "provider": "okta",
        "provider_event_id": "7f2c7d4e-07b3-11ef-9d2a-4b8f0c2e9a11",
        "occurred_at": "2024-05-01T10:00:00.123000+00:00",
        "provider_event_type": "user.session.start",
        "event_type": "logon",
        "outcome": "success",
        **DANA,
        "session_key": "idxBager62CSveUkTxvgRtonA",
        "session_keys": {
            "external_session_id": "idxBager62CSveUkTxvgRtonA",
            "root_session_id": "idxRoot7Hq2TqLQ9sB0kG1mQ",
            "dt_hash": DT_HASH,
            "request_id": "ZjIVkDhcN8x3eP1bO3mXhQAABjE",
            "transaction_id": "ZjIVkDhcN8x3eP1bO3mXhQAABjE",
        },
        "token_kind": "browser_session",
        "ip": "198.51.100.23",
        "asn": 5089,
        "as_org": "virgin media",
        "country": "GB",
        "city": "London",
        "lat": 51.5164,
        "lon": -0.093,
        "anonymizer": False,
        "user_agent": (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
        ),
        "device_id": DT_HASH,
        "client_app": "",
        "interactive": None,
        "auth_methods": ("SIGNED_NONCE",),
        "mfa": True,
        "status_detail": "",
        "high_value_action": "",
        "risk": {"level": "LOW", "behaviors": ["New Device", "New IP"]},
        "target": {},
    }


def test_admin_console_sso_from_proxy_with_strings_for_numbers():
    """isProxy "true", asNumber "9009", lat/lon strings, postalCode int, version 0, dtHash "-"."""
    event = as_plain(parse("sso_admin_console.json"))
    assert event == {
        "provider": "okta",
        "provider_event_id": "a18c2e55-07b4-11ef-8c3d-1f5e0b7d6c22",
        "occurred_at": "2024-05-01T10:07:12.500000+00:00",
        "provider_event_type": "user.authentication.sso",
        "event_type": "privileged_action",
        "outcome": "success",
        **DANA,
        "session_key": "idxBager62CSveUkTxvgRtonA",
        "session_keys": {
            "external_session_id": "idxBager62CSveUkTxvgRtonA",
            "root_session_id": "idxRoot7Hq2TqLQ9sB0kG1mQ",
            "request_id": "ZjIXQJ1r6Wm2q8V7Xo9FWgAAAC4",
            "transaction_id": "ZjIXQJ1r6Wm2q8V7Xo9FWgAAAC4",
        },
        "token_kind": "browser_session",
        "ip": "203.0.113.77",
        "asn": 9009,
        "as_org": "m247 europe srl",
        "country": "RU",
        "city": "Moscow",
        "lat": 55.7522,
        "lon": 37.6156,
        "anonymizer": True,
        "user_agent": "python-requests/2.31.0",
        "device_id": "",
        "client_app": "Okta Admin Console",
        "interactive": None,
        "auth_methods": (),
        "mfa": None,
        "status_detail": "",
        "high_value_action": "admin_console",
        "risk": {"threat_suspected": True},
        "target": {
            "objects": [
                {
                    "type": "AppInstance",
                    "id": "0oa1adminconsole0000",
                    "login": "Okta Admin Console",
                    "name": "Okta Admin Console",
                },
                {
                    "type": "AppUser",
                    "id": "0ua1appuser000000000",
                    "login": "dana.lee@example.com",
                    "name": "Dana Lee",
                },
            ]
        },
    }


def test_itp_risk_detect_carries_the_vendor_verdict():
    event = as_plain(parse("risk_detect.json"))
    assert event == {
        "provider": "okta",
        "provider_event_id": "c3d9b7e2-07b4-11ef-a1a1-9b7e2d4c6f33",
        "occurred_at": "2024-05-01T10:07:30+00:00",
        "provider_event_type": "user.risk.detect",
        "event_type": "risk_signal",
        "outcome": "success",
        **DANA,
        "session_key": "idxBager62CSveUkTxvgRtonA",
        "session_keys": {"external_session_id": "idxBager62CSveUkTxvgRtonA"},
        "token_kind": "browser_session",
        "ip": "203.0.113.77",
        **NO_CONTEXT,
        "risk": {
            "level": "HIGH",
            "reasons": ["Anomalous Device"],
            "detection": "Suspected Session Hijacking",
            "previous_level": "LOW",
            "issuer": "OKTA",
            "behaviors": ["New Country", "New Device"],
        },
        "target": {
            "objects": [
                {
                    "type": "User",
                    "id": "00u1a2b3c4d5e6f7g8h9",
                    "login": "dana.lee@example.com",
                    "name": "Dana Lee",
                }
            ]
        },
    }


def test_debug_data_risk_string_is_read_when_security_context_has_none():
    record = load_fixture("okta", "risk_detect.json")
    del record["securityContext"]
    assert parse_record("okta", record).risk == {
        "level": "HIGH",
        "reasons": ["Associated sessionId is suspected to be hijacked"],
    }


def test_pascal_case_refresh_grant_by_a_client_app_with_epoch_ms_time():
    event = as_plain(parse("token_refresh.json"))
    assert event == {
        "provider": "okta",
        "provider_event_id": "e5f1c9a0-07b4-11ef-b2b2-0c9d8e7f6a44",
        "occurred_at": "2024-05-01T10:00:00.123000+00:00",
        "provider_event_type": "app.oauth2.as.token.grant.access_token",
        "event_type": "token_refresh",
        "outcome": "success",
        "actor_id": "0oa9svcclient0000001",
        "actor_login": "reporting-cli",
        "actor_display_name": "Reporting CLI",
        "actor_kind": "oauth_app",
        # externalSessionId "unknown" is a placeholder, and an access token id is per event.
        "session_key": "",
        "session_keys": {"request_id": "req-77", "access_token_id": "AT.q7w8e9r0t1y2u3i4"},
        "token_kind": "access_token",
        "ip": "192.0.2.10",
        **NO_CONTEXT,
        "user_agent": "okhttp/4.12.0",
        "target": {
            "objects": [
                {"type": "AuthorizationServer", "id": "aus1authserver00000", "name": "default"},
                {"type": "access_token", "id": "AT.q7w8e9r0t1y2u3i4", "name": "Access Token"},
            ]
        },
    }


def test_event_hook_delivery_splits_into_its_events():
    records = split_records("okta", fixture_bytes("okta", "hook_delivery.json"))
    cleared, added = (parse_record("okta", r) for r in records)

    assert (cleared.event_type, cleared.provider_event_type) == (
        "session_revoked",
        "user.session.clear",
    )
    # Done through an SSWS API token and outside any browser session: the token is the key.
    assert (cleared.session_key, cleared.token_kind) == (
        "api_token:00T1apitoken0000000",
        "api_token",
    )
    assert cleared.session_keys == {
        "transaction_id": "WcTxn001",
        "api_token_id": "00T1apitoken0000000",
    }
    # Membership of an admin group is a privilege grant.
    assert (added.event_type, added.high_value_action) == ("privileged_action", "privilege_grant")
    assert added.session_key == "102AdminSess0000"
    assert added.ip is None


@pytest.mark.parametrize(
    ("event_type", "extra", "expected"),
    [
        ("user.session.end", {}, ("logoff", "")),
        ("user.session.expire", {}, ("session_expired", "")),
        ("user.authentication.auth_via_mfa", {}, ("mfa_challenge", "")),
        ("user.authentication.auth_via_IDP", {}, ("logon", "")),
        ("policy.evaluate_sign_on", {}, ("logon", "")),
        ("user.account.reset_password", {}, ("credential_change", "")),
        ("user.mfa.factor.reset_all", {}, ("credential_change", "")),
        ("user.mfa.factor.deactivate", {}, ("credential_change", "")),
        ("user.account.update_password", {}, ("credential_change", "")),
        ("app.oauth2.as.token.grant.refresh_token", {}, ("token_issued", "")),
        ("app.oauth2.as.token.revoke", {}, ("token_revoked", "")),
        ("app.oauth2.as.token.detect_reuse", {}, ("risk_signal", "")),
        ("app.oauth2.token.detect_reuse", {}, ("risk_signal", "")),
        ("security.session.detect_client_roaming", {}, ("risk_signal", "")),
        ("policy.auth_reevaluate.fail", {}, ("risk_signal", "")),
        ("security.threat.detected", {}, ("risk_signal", "")),
        ("user.account.privilege.grant", {}, ("privileged_action", "privilege_grant")),
        ("policy.lifecycle.update", {}, ("privileged_action", "policy_change")),
        ("policy.rule.deactivate", {}, ("privileged_action", "policy_change")),
        ("zone.update", {}, ("privileged_action", "policy_change")),
        ("system.idp.lifecycle.create", {}, ("privileged_action", "policy_change")),
        ("system.org.rate_limit.warning", {}, ("other", "")),
        ("system.api_token.create", {}, ("privileged_action", "credential_create")),
        ("user.session.access_admin_app", {}, ("privileged_action", "admin_console")),
        ("user.session.impersonation.grant", {}, ("privileged_action", "privilege_grant")),
        ("system.csv.export", {}, ("privileged_action", "data_export")),
        (
            "group.user_membership.add",
            {"target": [{"type": "UserGroup", "displayName": "Engineering"}]},
            ("other", ""),
        ),
        ("user.session.context.change", {}, ("session_activity", "")),
        ("user.lifecycle.create", {}, ("other", "")),
    ],
)
def test_event_type_mapping(event_type, extra, expected):
    record = {**copy.deepcopy(load_fixture("okta", "risk_detect.json")), "eventType": event_type}
    record.pop("target")
    record.update(extra)
    event = parse_record("okta", record)
    assert (event.event_type, event.high_value_action) == expected


@pytest.mark.parametrize(
    ("result", "outcome"),
    [
        ("SUCCESS", "success"),
        ("ALLOW", "success"),
        ("FAILURE", "failure"),
        ("DENY", "failure"),
        ("CHALLENGE", "challenge"),
        ("SKIPPED", "unknown"),
        (None, "unknown"),
    ],
)
def test_outcome_mapping(result, outcome):
    record = load_fixture("okta", "session_start.json")
    record["outcome"] = {"result": result, "reason": "INVALID_CREDENTIALS"}
    event = parse_record("okta", record)
    assert event.outcome == outcome
    assert event.status_detail == "INVALID_CREDENTIALS"


def test_failed_sign_in_with_null_session_has_no_session_key():
    record = load_fixture("okta", "session_start.json")
    record["authenticationContext"]["externalSessionId"] = None
    record["authenticationContext"]["rootSessionId"] = "unknown"
    record["outcome"] = {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}
    event = parse_record("okta", record)
    assert event.session_key == ""
    assert "external_session_id" not in event.session_keys
    assert "root_session_id" not in event.session_keys
    assert event.mfa is None


def test_missing_optional_objects_are_tolerated():
    record = {
        "uuid": "u-min",
        "published": "2024-05-01T10:00:00Z",
        "eventType": "user.session.start",
        "actor": {"id": "00u1", "type": "User"},
        "client": None,
        "securityContext": None,
        "debugContext": None,
        "target": None,
    }
    event = parse_record("okta", record)
    assert (event.ip, event.asn, event.country, event.device_id) == (None, None, "", "")


def test_ip_chain_and_tunnels_fill_in_for_missing_security_context():
    record = load_fixture("okta", "session_start.json")
    record["securityContext"] = {}
    record["request"]["ipChain"][0]["ipDetails"] = {
        "asNumber": "212238",
        "asOrg": "datacamp limited",
        "ipServiceCategories": [{"isAnonymous": True, "operator": "NORD_VPN", "type": "VPN"}],
    }
    event = parse_record("okta", record)
    assert (event.asn, event.as_org, event.anonymizer) == (212238, "datacamp limited", True)


def test_system_principal_and_client_credentials_actors():
    record = load_fixture("okta", "risk_detect.json")
    record["actor"] = {
        "id": "0oa0system",
        "type": "SystemPrincipal",
        "alternateId": "system@okta.com",
    }
    assert parse_record("okta", record).actor_kind == "workload"
    record = load_fixture("okta", "token_refresh.json")
    record["Actor"]["Type"] = "User"
    record["DebugContext"]["DebugData"]["grantType"] = "client_credentials"
    event = parse_record("okta", record)
    assert (event.actor_kind, event.event_type) == ("oauth_app", "token_issued")


@pytest.mark.parametrize("case", load_fixture("okta", "quarantine.json"), ids=lambda c: c["reason"])
def test_quarantined_events_say_why(case):
    with pytest.raises(QuarantineError) as caught:
        parse_record("okta", case["record"])
    assert caught.value.reason == case["reason"]
