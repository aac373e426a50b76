"""Microsoft Graph sign-in connector against the local fake Graph and token endpoint."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from sessions_app.connectors.base import ConnectorError, parse_time
from sessions_app.connectors.entra import EntraConnector
from tests.fakes.graph import signin
from tests.fakes.server import rsa_keypair

CLIENT_ID = "app-1"
SECRET = "graph-client-secret-value"
THUMBPRINT = hashlib.sha1(b"govern test certificate").hexdigest()  # noqa: S324 - a fixture id


def make(fake, clock, sleeper, *, secrets=None, **settings) -> EntraConnector:
    return EntraConnector(
        settings={
            "tenant_id": fake.tenant_id,
            "client_id": CLIENT_ID,
            "graph_base": fake.url,
            "login_base": fake.url,
            **settings,
        },
        secrets=secrets if secrets is not None else {"client_secret": SECRET},
        now=clock,
        sleep=sleeper,
    )


@pytest.fixture
def graph(fake_graph):
    fake_graph.register_client(CLIENT_ID, secret=SECRET)
    return fake_graph


def drain(connector, cursor=None):
    pages, cursor = [], cursor or {}
    while True:
        page = connector.fetch_page(cursor)
        pages.append(page)
        cursor = page.cursor
        if not page.more:
            return pages, cursor


def filters(fake) -> list[str]:
    return [r.query.get("$filter", "") for r in fake.signin_requests()]


def test_interactive_only_pages_v1_and_advances_watermark_after_last_page(graph, clock, sleeper):
    now = clock()
    records = [signin(now - timedelta(minutes=m)) for m in (50, 40, 30, 20, 10)]
    graph.signins.extend(records)
    connector = make(graph, clock, sleeper, event_types=["interactiveUser"], page_size=2)

    pages, cursor = drain(connector)

    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [p.more for p in pages] == [True, True, False]
    assert {r["id"] for p in pages for r in p.records} == {r["id"] for r in records}
    # Mid-round cursors keep the old watermark: a crash re-reads the round, never skips.
    assert pages[0].cursor["watermarks"] == {}
    assert pages[1].cursor["watermarks"] == {}
    assert parse_time(cursor["watermarks"]["interactiveUser"]) == parse_time(
        records[-1]["createdDateTime"]
    )
    requests = graph.signin_requests()
    assert {r.path for r in requests} == {"/v1.0/auditLogs/signIns"}
    first_filter = requests[0].query["$filter"]
    assert first_filter.startswith("createdDateTime ge ")
    assert "signInEventTypes" not in first_filter
    assert "$skiptoken" in requests[1].query


def test_next_cycle_filters_from_watermark_minus_overlap(graph, clock, sleeper):
    newest = clock() - timedelta(minutes=5)
    graph.signins.append(signin(newest))
    connector = make(graph, clock, sleeper, event_types=["interactiveUser"])
    _, cursor = drain(connector)

    drain(connector, cursor)

    since = filters(graph)[-1].removeprefix("createdDateTime ge ")
    assert parse_time(since) == (newest - timedelta(minutes=15)).replace(microsecond=0)


def test_cursor_of_page_k_resumes_at_page_k_plus_one(graph, clock, sleeper):
    now = clock()
    graph.signins.extend(signin(now - timedelta(minutes=m)) for m in range(1, 7))
    first = make(graph, clock, sleeper, event_types=["interactiveUser"], page_size=2)
    page1 = first.fetch_page({})
    page2 = make(graph, clock, sleeper, event_types=["interactiveUser"], page_size=2).fetch_page(
        page1.cursor
    )
    newest_first = sorted(graph.signins, key=lambda r: r["createdDateTime"], reverse=True)
    assert [r["id"] for r in page1.records + page2.records] == [r["id"] for r in newest_first[:4]]


def test_event_types_round_robin_on_beta(graph, clock, sleeper):
    now = clock()
    by_type = {
        t: signin(now - timedelta(minutes=3), t)
        for t in ("interactiveUser", "nonInteractiveUser", "servicePrincipal")
    }
    graph.signins.extend(by_type.values())
    connector = make(graph, clock, sleeper)  # default: all three types

    pages, cursor = drain(connector)

    assert [p.more for p in pages] == [True, True, False]
    assert [p.records[0]["id"] for p in pages] == [r["id"] for r in by_type.values()]
    assert {r.path for r in graph.signin_requests()} == {"/beta/auditLogs/signIns"}
    assert [f.split(" and ", 1)[1] for f in filters(graph)] == [
        f"signInEventTypes/any(t: t eq '{t}')" for t in by_type
    ]
    assert set(cursor["watermarks"]) == set(by_type)


def test_late_verdict_repoll_every_nth_cycle(graph, clock, sleeper):
    now = clock()
    flagged_later = signin(now - timedelta(hours=30), riskState="atRisk")
    graph.signins.append(flagged_later)
    graph.signins.append(signin(now - timedelta(minutes=2)))
    connector = make(graph, clock, sleeper, event_types=["interactiveUser"], late_verdict_every=2)

    first_cycle, cursor = drain(connector)
    assert all(flagged_later["id"] not in {r["id"] for r in p.records} for p in first_cycle)
    watermark = cursor["watermarks"]["interactiveUser"]

    second_cycle, cursor = drain(connector, cursor)

    late_filters = [f for f in filters(graph) if "riskState" in f]
    assert [f.rsplit(" and ", 1)[1] for f in late_filters] == [
        "riskState eq 'atRisk'",
        "riskState eq 'confirmedCompromised'",
    ]
    since = parse_time(late_filters[0].split()[2])
    assert abs((now - timedelta(hours=48) - since).total_seconds()) < 5
    late_ids = {r["id"] for p in second_cycle for r in p.records}
    assert flagged_later["id"] in late_ids
    # Late rounds never move the watermark (they read the past on purpose).
    assert cursor["watermarks"]["interactiveUser"] == watermark
    assert len(second_cycle) == 3 and second_cycle[-1].more is False

    drain(connector, cursor)  # third cycle: no re-poll
    assert len([f for f in filters(graph) if "riskState" in f]) == 2


def test_late_verdict_repoll_without_states_rereads_the_window(graph, clock, sleeper):
    graph.signins.append(signin(clock() - timedelta(hours=40)))
    connector = make(
        graph,
        clock,
        sleeper,
        event_types=["interactiveUser"],
        late_verdict_every=1,
        late_verdict_risk_states=[],
    )
    pages, _ = drain(connector)
    assert len(pages) == 2
    assert len(pages[1].records) == 1
    assert "riskState" not in filters(graph)[1]


def test_429_with_retry_after(graph, clock, sleeper):
    graph.fail_next(
        429, {"Retry-After": "30"}, {"error": {"code": "TooManyRequests"}}, path="/v1.0"
    )
    with pytest.raises(ConnectorError) as caught:
        make(graph, clock, sleeper, event_types=["interactiveUser"]).fetch_page({})
    assert caught.value.kind == "rate_limited"
    assert caught.value.retry_after == 30
    assert sleeper.calls == []


def test_short_retry_after_is_honoured_in_place(graph, clock, sleeper):
    graph.signins.append(signin(clock() - timedelta(minutes=1)))
    graph.fail_next(429, {"Retry-After": "2"}, {"error": {"code": "TooManyRequests"}}, path="/v1.0")
    page = make(graph, clock, sleeper, event_types=["interactiveUser"]).fetch_page({})
    assert len(page.records) == 1
    assert sleeper.calls == [2.0]


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (503, {"Retry-After": "60"}, 60.0),
        (504, {}, None),
        (500, {}, None),
    ],
)
def test_server_errors(graph, clock, sleeper, status, headers, expected):
    graph.fail_next(
        status,
        headers,
        {"error": {"code": "ServiceUnavailable", "message": "Try again later"}},
        path="/v1.0",
    )
    with pytest.raises(ConnectorError) as caught:
        make(graph, clock, sleeper, event_types=["interactiveUser"]).fetch_page({})
    assert caught.value.kind == "server"
    assert caught.value.retry_after == expected
    assert "Try again later" in str(caught.value)


@pytest.mark.parametrize("body", ["not json at all", {"values": []}, {"value": ["x"]}])
def test_malformed_bodies(graph, clock, sleeper, body):
    graph.fail_next(200, {}, body, path="/v1.0")
    with pytest.raises(ConnectorError) as caught:
        make(graph, clock, sleeper, event_types=["interactiveUser"]).fetch_page({})
    assert caught.value.kind == "malformed"


def test_wrong_client_secret(graph, clock, sleeper):
    wrong = "definitely-not-the-secret"
    with pytest.raises(ConnectorError) as caught:
        make(graph, clock, sleeper, secrets={"client_secret": wrong}).fetch_page({})
    assert caught.value.kind == "auth"
    assert "secret or certificate was not accepted" in str(caught.value)
    assert "AADSTS7000215" in str(caught.value)
    assert wrong not in str(caught.value)


def test_missing_permission(fake_graph, clock, sleeper):
    fake_graph.register_client(CLIENT_ID, secret=SECRET, roles=())
    with pytest.raises(ConnectorError) as caught:
        make(fake_graph, clock, sleeper).fetch_page({})
    assert caught.value.kind == "auth"
    assert "AuditLog.Read.All" in str(caught.value)


def test_certificate_client_assertion(fake_graph, clock, sleeper):
    private, public = rsa_keypair("entra")
    fake_graph.register_client(CLIENT_ID, public_key=public, thumbprint=THUMBPRINT)
    fake_graph.signins.append(signin(clock() - timedelta(minutes=1)))
    connector = make(
        fake_graph,
        clock,
        sleeper,
        secrets={"private_key": private},
        certificate_thumbprint=THUMBPRINT.upper(),
        event_types=["interactiveUser"],
    )
    assert len(connector.fetch_page({}).records) == 1
    form = fake_graph.token_requests()[0].form
    assert "client_secret" not in form
    assert form["scope"] == "https://graph.microsoft.com/.default"


def test_certificate_with_wrong_thumbprint_is_refused(fake_graph, clock, sleeper):
    private, public = rsa_keypair("entra")
    fake_graph.register_client(CLIENT_ID, public_key=public, thumbprint=THUMBPRINT)
    connector = make(
        fake_graph,
        clock,
        sleeper,
        secrets={"private_key": private},
        certificate_thumbprint="ab" * 20,
    )
    with pytest.raises(ConnectorError) as caught:
        connector.fetch_page({})
    assert caught.value.kind == "auth"


def test_token_is_cached_and_refreshed_once_after_expiry(graph, clock, sleeper):
    connector = make(graph, clock, sleeper, event_types=["interactiveUser"])
    connector.fetch_page({})
    make(graph, clock, sleeper, event_types=["interactiveUser"]).fetch_page({})
    assert len(graph.token_requests()) == 1

    graph.expire_tokens()
    connector.fetch_page({})
    assert len(graph.token_requests()) == 2
    assert len(graph.signin_requests()) == 4  # the refused request was retried once


@pytest.mark.parametrize(
    ("settings", "secrets", "needle"),
    [
        ({"client_id": "a"}, {"client_secret": "s"}, "tenant_id"),
        ({"tenant_id": "t", "client_id": "a"}, {}, "client secret or a certificate"),
        (
            {"tenant_id": "t", "client_id": "a", "event_types": ["bogus"]},
            {"client_secret": "s"},
            "bogus",
        ),
        ({"tenant_id": "t", "client_id": "a"}, {"private_key": "k"}, "thumbprint"),
    ],
)
def test_configuration_errors(settings, secrets, needle):
    with pytest.raises(ConnectorError) as caught:
        EntraConnector(settings=settings, secrets=secrets)
    assert caught.value.kind == "config"
    assert needle in str(caught.value)


def test_test_connection(graph, clock, sleeper):
    message = make(graph, clock, sleeper).test_connection()
    assert "sign-in logs readable" in message
    assert "beta" in message
