"""Entra sign-ins → NormalizedEvent from Graph, Azure Monitor and Log Analytics shapes."""

import pytest

from sessions_app.ingest import QuarantineError, parse_record, split_records

from .helpers import as_plain, fixture_bytes, load_fixture

DANA = {
    "actor_id": "d7b3c1e2-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
    "actor_login": "dana.lee@contoso.com",
    "actor_display_name": "Dana Lee",
    "actor_kind": "human",
}
SID = "1f5e3c2a-9b8d-4e7f-a6c5-d4b3a2918070"
EDGE_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80"
)


def records(name: str) -> list[dict]:
    return split_records("entra", fixture_bytes("entra", name))


def test_graph_interactive_sign_in_with_mfa():
    event = parse_record("entra", load_fixture("entra", "graph_interactive.json"))
    assert as_plain(event) == {
        "provider": "entra",
        "provider_event_id": "66ea54eb-6301-4ee5-be62-ff5a759b0100",
        "occurred_at": "2024-05-01T10:00:00+00:00",
        "provider_event_type": "interactiveUser",
        "event_type": "logon",
        "outcome": "success",
        **DANA,  # the UPN is lower-cased
        "session_key": SID,
        "session_keys": {
            "session_id": SID,
            "unique_token_identifier": "ZXhhbXBsZXRva2VuaWQx",
            "correlation_id": "7a1d1b2c-3e4f-4a5b-9c6d-7e8f9a0b1c2d",
            "original_request_id": "66ea54eb-6301-4ee5-be62-ff5a759b0100",
        },
        "token_kind": "browser_session",
        "ip": "198.51.100.23",
        "asn": 5089,
        "as_org": "",
        "country": "GB",
        "city": "London",
        "lat": 51.5164,
        "lon": -0.093,
        "anonymizer": False,
        "user_agent": EDGE_UA,
        "device_id": "",
        "client_app": "Office 365 Exchange Online",
        "interactive": True,
        "auth_methods": ("Password", "Mobile app notification"),
        "mfa": True,
        "status_detail": "",  # Graph's "Other." on a success is not a failure reason
        "high_value_action": "",
        "risk": {"conditional_access": "success"},
        "target": {
            "app_id": "00000002-0000-0ff1-ce00-000000000000",
            "app": "Office 365 Exchange Online",
            "resource_id": "00000002-0000-0ff1-ce00-000000000000",
            "resource": "Office 365 Exchange Online",
            "client_app_used": "Browser",
            "token_protection": "unbound",
        },
    }


def test_graph_page_non_interactive_replay_with_id_protection_risk():
    replay, service_principal, managed_identity = (
        parse_record("entra", r) for r in records("graph_page.json")
    )
    assert as_plain(replay) == {
        "provider": "entra",
        "provider_event_id": "8c0b1f2e-0001-4a5b-9c6d-7e8f9a0b1c2d",
        "occurred_at": "2024-05-01T10:12:44+00:00",
        "provider_event_type": "nonInteractiveUser",
        "event_type": "token_refresh",
        "outcome": "success",
        **DANA,
        "session_key": SID,
        "session_keys": {"session_id": SID, "unique_token_identifier": "ZXhhbXBsZXRva2VuaWQy"},
        "token_kind": "refresh_token",
        "ip": "203.0.113.77",
        "asn": 9009,  # sent as a string
        "as_org": "",
        "country": "NL",
        "city": "Amsterdam",
        "lat": 52.37,
        "lon": 4.89,
        "anonymizer": True,
        "user_agent": "python-requests/2.31.0",
        "device_id": "",
        "client_app": "Microsoft Graph",
        "interactive": False,
        "auth_methods": ("Previously satisfied",),
        "mfa": False,
        "status_detail": "",
        "high_value_action": "",
        "risk": {
            "level": "high",
            "aggregated_level": "high",
            "state": "atRisk",
            "reasons": ["anomalousToken", "anonymizedIPAddress"],
        },
        "target": {
            "app_id": "00000003-0000-0000-c000-000000000000",
            "app": "Microsoft Graph",
            "incoming_token_type": "refreshToken",
        },
    }
    assert (
        service_principal.actor_id,
        service_principal.actor_kind,
        service_principal.token_kind,
        service_principal.event_type,
        service_principal.session_key,
    ) == (
        "e2a9c8b7-aaaa-bbbb-cccc-ddddeeeeffff",
        "service_account",
        "access_token",
        "token_issued",
        "credential:5e6f7a8b-0000-1111-2222-333344445555",
    )
    assert (managed_identity.actor_kind, managed_identity.ip, managed_identity.session_key) == (
        "workload",
        None,
        "",
    )
    assert managed_identity.provider_event_type == "managedIdentity"


def test_azure_monitor_export_reads_properties_and_envelope():
    challenge, revoked = (parse_record("entra", r) for r in records("azure_monitor.json"))
    assert as_plain(challenge) == {
        "provider": "entra",
        "provider_event_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "occurred_at": "2024-05-01T10:00:00.123456+00:00",  # 7 digits truncated
        "provider_event_type": "interactiveUser",
        "event_type": "mfa_challenge",
        "outcome": "challenge",
        **DANA,
        "session_key": SID,
        "session_keys": {
            "session_id": SID,
            "correlation_id": "9b8a7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
        },
        "token_kind": "browser_session",
        "ip": "198.51.100.23",
        "asn": None,
        "as_org": "",
        "country": "GB",
        "city": "London",
        "lat": 51.5164,
        "lon": -0.093,
        "anonymizer": False,
        "user_agent": (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
        ),
        "device_id": "3f2e1d0c-aaaa-bbbb-cccc-111122223333",
        "client_app": "OfficeHome",
        "interactive": True,
        "auth_methods": (),
        "mfa": None,
        "status_detail": "50074: Strong Authentication is required.",
        "high_value_action": "",
        "risk": {"conditional_access": "notApplied"},
        # The export's own resourceId (/tenants/…/Microsoft.aadiam) is not the sign-in's.
        "target": {
            "app_id": "4765445b-32c6-49b0-83e6-1d93765276ca",
            "app": "OfficeHome",
            "client_app_used": "Browser",
        },
    }
    # No createdDateTime in properties: the envelope's time and category stand in.
    assert revoked.occurred_at.isoformat() == "2024-05-01T19:30:00.999999+00:00"
    assert (revoked.event_type, revoked.outcome, revoked.token_kind) == (
        "token_refresh",
        "failure",
        "refresh_token",
    )
    assert revoked.ip == "203.0.113.77"  # from callerIpAddress
    assert revoked.risk == {"revoked_token_presented": True}
    assert revoked.status_detail.startswith("50133: ")


def test_log_analytics_columns_match_the_graph_shape_of_the_same_sign_in():
    """PascalCase columns, JSON-string dynamic columns, "0" result, 7-digit space-separated time."""
    analytics, service_principal = (parse_record("entra", r) for r in records("log_analytics.json"))
    graph = parse_record("entra", load_fixture("entra", "graph_interactive.json"))
    same = (
        "provider_event_id",
        "event_type",
        "outcome",
        "actor_id",
        "actor_login",
        "session_key",
        "token_kind",
        "ip",
        "asn",
        "country",
        "city",
        "lat",
        "lon",
        "user_agent",
        "interactive",
        "auth_methods",
        "mfa",
        "client_app",
    )
    assert {f: getattr(analytics, f) for f in same} == {f: getattr(graph, f) for f in same}
    assert analytics.occurred_at.isoformat() == "2024-05-01T10:00:00.123456+00:00"
    assert (
        service_principal.actor_kind,
        service_principal.outcome,
        service_principal.country,
        service_principal.status_detail,
    ) == ("service_account", "failure", "RU", "7000215: Invalid client secret provided.")


@pytest.mark.parametrize(
    ("code", "event_type", "outcome"),
    [
        (0, "logon", "success"),
        ("0", "logon", "success"),
        (50126, "logon", "failure"),
        (50074, "mfa_challenge", "challenge"),
        (50076, "mfa_challenge", "challenge"),
        (500121, "mfa_challenge", "failure"),
        (50140, "logon", "challenge"),
        (53003, "logon", "failure"),
    ],
)
def test_error_codes(code, event_type, outcome):
    record = load_fixture("entra", "graph_interactive.json")
    record["status"] = {"errorCode": code, "failureReason": "x"}
    event = parse_record("entra", record)
    assert (event.event_type, event.outcome) == (event_type, outcome)


def test_missing_status_is_unknown_outcome_and_missing_objects_are_tolerated():
    record = {
        "id": "s-1",
        "createdDateTime": "2024-05-01T10:00:00Z",
        "userId": "u-1",
        "location": None,
        "deviceDetail": None,
    }
    event = parse_record("entra", record)
    assert (event.outcome, event.country, event.device_id, event.interactive) == (
        "unknown",
        "",
        "",
        True,
    )


@pytest.mark.parametrize(
    "case", load_fixture("entra", "quarantine.json"), ids=lambda c: c["reason"]
)
def test_quarantined_sign_ins_say_why(case):
    with pytest.raises(QuarantineError) as caught:
        parse_record("entra", case["record"])
    assert caught.value.reason == case["reason"]
