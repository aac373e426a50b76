"""Google Workspace Reports activities → NormalizedEvent (API shape and flattened export)."""

import pytest

from sessions_app.ingest import QuarantineError, parse_record, split_records
from sessions_app.ingest.google import split

from .helpers import as_plain, fixture_bytes, load_fixture

PROFILE = "114477889900112233445"


def test_one_activity_with_three_events_becomes_three_records_with_distinct_ids():
    activity = load_fixture("google", "activity_three_events.json")
    parts = split(activity)
    assert [p["events"][0]["name"] for p in parts] == [
        "login_challenge",
        "login_challenge",
        "login_success",
    ]
    assert all(p["id"] == activity["id"] for p in parts)
    events = [parse_record("google", p) for p in parts]
    assert [e.provider_event_id for e in events] == [
        "-4567890123456789012:login_challenge",
        "-4567890123456789012:login_challenge:1",
        "-4567890123456789012:login_success",
    ]
    assert [(e.event_type, e.outcome, e.mfa) for e in events] == [
        ("mfa_challenge", "success", False),  # the password step
        ("mfa_challenge", "success", True),  # is_second_factor
        ("logon", "success", True),
    ]
    assert as_plain(events[2]) == {
        "provider": "google",
        "provider_event_id": "-4567890123456789012:login_success",
        "occurred_at": "2024-05-01T10:00:00.123000+00:00",
        "provider_event_type": "login_success",
        "event_type": "logon",
        "outcome": "success",
        "actor_id": PROFILE,
        "actor_login": "dana.lee@example.com",
        "actor_display_name": "",
        "actor_kind": "human",
        "session_key": "",  # Google gives no session id for logins
        "session_keys": {},
        "token_kind": "browser_session",
        "ip": "198.51.100.23",
        "asn": 5089,
        "as_org": "",
        "country": "GB",
        "city": "",
        "lat": None,
        "lon": None,
        "anonymizer": False,
        "user_agent": "",
        "device_id": "",
        "client_app": "",
        "interactive": None,
        "auth_methods": ("google_password", "password", "idv_preregistered_phone"),
        "mfa": True,
        "status_detail": "",
        "high_value_action": "",
        "risk": {},
        "target": {},
    }


def test_splitting_does_not_alter_the_original_activity():
    activity = load_fixture("google", "activity_three_events.json")
    split(activity)[0]["events"][0]["name"] = "changed"
    assert activity["events"][0]["name"] == "login_challenge"
    assert len(activity["events"]) == 3


def test_activities_page_with_session_cookie_warning_and_token_grant():
    cookie, grant = (
        parse_record("google", r)
        for r in split_records("google", fixture_bytes("google", "page.json"))
    )
    assert (cookie.event_type, cookie.provider_event_type, cookie.risk, cookie.target) == (
        "risk_signal",
        "user_signed_out_due_to_suspicious_session_cookie",
        {"reasons": ["user_signed_out_due_to_suspicious_session_cookie"]},
        {"affected_email": "dana.lee@example.com"},
    )
    assert as_plain(grant) == {
        "provider": "google",
        # uniqueQualifier sent as a JSON number
        "provider_event_id": "2718281828459045235:authorize",
        "occurred_at": "2024-05-01T12:45:10.500000+00:00",
        "provider_event_type": "authorize",
        "event_type": "token_issued",
        "outcome": "success",
        "actor_id": PROFILE,
        "actor_login": "dana.lee@example.com",
        "actor_display_name": "",
        "actor_kind": "human",
        "session_key": f"grant:1234567890-abcdefg.apps.googleusercontent.com:{PROFILE}",
        "session_keys": {"client_id": "1234567890-abcdefg.apps.googleusercontent.com"},
        "token_kind": "oauth_grant",
        "ip": "203.0.113.77",
        "asn": None,
        "as_org": "",
        "country": "",
        "city": "",
        "lat": None,
        "lon": None,
        "anonymizer": False,
        "user_agent": "",
        "device_id": "",
        "client_app": "Mail Merge Pro",
        "interactive": None,
        "auth_methods": (),
        "mfa": None,
        "status_detail": "",
        "high_value_action": "",
        "risk": {},
        "target": {
            "client_id": "1234567890-abcdefg.apps.googleusercontent.com",
            "app": "Mail Merge Pro",
            "client_type": "WEB",
            "scopes": ["https://mail.google.com/", "openid"],
        },
    }


def test_flattened_export_matches_the_api_shape_of_the_same_event():
    flat_success, programmatic, failure = (
        parse_record("google", r)
        for r in split_records("google", fixture_bytes("google", "flattened.json"))
    )
    api_success = parse_record(
        "google", split(load_fixture("google", "activity_three_events.json"))[2]
    )
    same = (
        "provider_event_id",
        "occurred_at",
        "event_type",
        "outcome",
        "actor_id",
        "actor_login",
        "ip",
        "auth_methods",
        "mfa",
        "session_key",
    )
    assert {f: getattr(flat_success, f) for f in same} == {f: getattr(api_success, f) for f in same}
    # epoch-ms id.time, a service account without profileId, Google's own warning
    assert programmatic.occurred_at.isoformat() == "2024-05-01T12:40:00+00:00"
    assert (programmatic.actor_id, programmatic.actor_kind, programmatic.event_type) == (
        "svc-backup@corp-project.iam.gserviceaccount.com",
        "service_account",
        "risk_signal",
    )
    assert (failure.outcome, failure.status_detail, failure.risk) == (
        "failure",
        "login_failure_invalid_password",
        {"suspicious": True, "reasons": ["is_suspicious"]},
    )


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("logout", [], ("logoff", "success")),
        (
            "login_verification",
            [{"name": "login_challenge_status", "value": "Challenge Failed"}],
            ("mfa_challenge", "failure"),
        ),
        ("login_challenge", [], ("mfa_challenge", "challenge")),
        ("suspicious_login", [], ("risk_signal", "unknown")),
        ("account_disabled_hijacked", [], ("risk_signal", "unknown")),
        ("password_edit", [], ("credential_change", "success")),
        ("2sv_disable", [], ("credential_change", "success")),
        ("recovery_phone_edit", [], ("credential_change", "success")),
        ("email_forwarding_out_of_domain", [], ("other", "unknown")),
    ],
)
def test_login_event_mapping(name, params, expected):
    activity = load_fixture("google", "activity_three_events.json")
    activity["events"] = [{"name": name, "parameters": params}]
    event = parse_record("google", activity)
    assert (event.event_type, event.outcome) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("authorize", "token_issued"), ("revoke", "token_revoked"), ("request", "token_refresh")],
)
def test_token_event_mapping(name, expected):
    record = {
        "id": {"time": "2024-05-01T12:00:00Z", "uniqueQualifier": "7", "applicationName": "token"},
        "actor": {"email": "dana.lee@example.com", "profileId": PROFILE},
        "events": [{"name": name, "parameters": [{"name": "client_id", "value": "c-1"}]}],
    }
    event = parse_record("google", record)
    assert (event.event_type, event.session_key, event.token_kind) == (
        expected,
        f"grant:c-1:{PROFILE}",
        "oauth_grant",
    )


def test_api_key_caller_is_an_api_key_identity():
    record = {
        "id": {"time": "2024-05-01T12:00:00Z", "uniqueQualifier": "8", "applicationName": "token"},
        "actor": {"callerType": "KEY", "key": "SYSTEM"},
        "events": [{"name": "request", "parameters": []}],
    }
    event = parse_record("google", record)
    assert (event.actor_id, event.actor_kind, event.session_key) == ("SYSTEM", "api_key", "")


@pytest.mark.parametrize(
    "case", load_fixture("google", "quarantine.json"), ids=lambda c: c["reason"]
)
def test_quarantined_events_say_why(case):
    with pytest.raises(QuarantineError) as caught:
        parse_record("google", case["record"])
    assert caught.value.reason == case["reason"]
