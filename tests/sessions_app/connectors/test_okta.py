"""Okta System Log connector against the local fake Okta org."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sessions_app.connectors.base import ConnectorError, parse_time
from sessions_app.connectors.okta import OktaConnector
from tests.fakes.server import rsa_keypair

API_TOKEN = "okta-api-token"


def make(fake, clock, sleeper, *, secrets=None, **settings) -> OktaConnector:
    return OktaConnector(
        settings={"base_url": fake.url, **settings},
        secrets=secrets if secrets is not None else {"api_token": API_TOKEN},
        now=clock,
        sleep=sleeper,
    )


def oauth(fake, clock, sleeper, *, client_id="0oa-govern", key="okta", **settings):
    private, _ = rsa_keypair(key)
    return make(
        fake,
        clock,
        sleeper,
        secrets={"private_key": private},
        auth_method="oauth",
        client_id=client_id,
        key_id="kid-1",
        **settings,
    )


def drain(connector, cursor=None):
    """Fetch pages until ``more`` is false; return (pages, last cursor)."""
    pages, cursor = [], cursor or {}
    while True:
        page = connector.fetch_page(cursor)
        pages.append(page)
        cursor = page.cursor
        if not page.more:
            return pages, cursor


def test_first_poll_starts_at_lookback_and_follows_next_links(fake_okta, clock, sleeper):
    now = clock()
    fake_okta.add_events(1, start=now - timedelta(hours=3))  # older than the look-back
    wanted = fake_okta.add_events(5, start=now - timedelta(minutes=30))
    connector = make(fake_okta, clock, sleeper, page_limit=2)

    pages, cursor = drain(connector)

    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [p.more for p in pages] == [True, True, False]
    assert [r["uuid"] for p in pages for r in p.records] == [e["uuid"] for e in wanted]
    first, *rest = fake_okta.log_requests()
    since = parse_time(first.query["since"])
    assert abs((now - timedelta(hours=1) - since).total_seconds()) < 5
    assert first.query["limit"] == "2"
    assert first.header("Authorization") == f"SSWS {API_TOKEN}"
    assert all("after" in r.query and "since" not in r.query for r in rest)
    assert cursor["watermark"] == wanted[-1]["published"]
    assert cursor["next_url"].startswith(fake_okta.url)


def test_empty_page_means_caught_up_and_keeps_the_next_link(fake_okta, clock, sleeper):
    fake_okta.add_events(2, start=clock() - timedelta(minutes=5))
    connector = make(fake_okta, clock, sleeper, page_limit=2)
    _, cursor = drain(connector)

    empty = connector.fetch_page(cursor)
    assert empty.records == []
    assert empty.more is False
    assert empty.cursor["next_url"]
    assert empty.cursor["watermark"] == cursor["watermark"]

    late = fake_okta.add_events(1, start=clock())
    after = connector.fetch_page(empty.cursor)
    assert [r["uuid"] for r in after.records] == [late[0]["uuid"]]


def test_cursor_of_page_k_resumes_at_page_k_plus_one(fake_okta, clock, sleeper):
    events = fake_okta.add_events(6, start=clock() - timedelta(minutes=10))
    first = make(fake_okta, clock, sleeper, page_limit=2).fetch_page({})
    # A new connector (next poll, another worker) continues from the persisted cursor.
    second = make(fake_okta, clock, sleeper, page_limit=2).fetch_page(first.cursor)
    assert [r["uuid"] for r in first.records + second.records] == [e["uuid"] for e in events[:4]]


def test_watermark_restarts_the_query_when_no_next_link(fake_okta, clock, sleeper):
    start = clock() - timedelta(days=2)
    events = fake_okta.add_events(3, start=start, step=timedelta(hours=1))
    watermark = events[1]["published"]
    page = make(fake_okta, clock, sleeper).fetch_page({"watermark": watermark})
    assert len(page.records) == 2
    assert parse_time(fake_okta.log_requests()[0].query["since"]) == parse_time(watermark)


def test_next_link_of_another_org_is_not_followed(fake_okta, clock, sleeper):
    fake_okta.add_events(1, start=clock() - timedelta(minutes=1))
    cursor = {"next_url": "https://old-org.okta.com/api/v1/logs?after=x", "watermark": None}
    page = make(fake_okta, clock, sleeper).fetch_page(cursor)
    assert len(page.records) == 1
    assert "since" in fake_okta.log_requests()[0].query


def test_rate_limit_headers_are_reported(fake_okta, clock, sleeper):
    fake_okta.rate_limit, fake_okta.rate_remaining = 120, 100
    page = make(fake_okta, clock, sleeper).fetch_page({})
    assert page.rate_limit["limit"] == 120
    assert page.rate_limit["remaining"] == 99
    assert parse_time(page.rate_limit["reset_at"]) > clock() - timedelta(seconds=1)


def test_stops_paging_when_the_budget_share_is_used(fake_okta, clock, sleeper):
    fake_okta.add_events(10, start=clock() - timedelta(minutes=10))
    fake_okta.rate_limit, fake_okta.rate_remaining = 100, 52
    connector = make(fake_okta, clock, sleeper, page_limit=1, budget_share=0.5)

    pages, _ = drain(connector)

    # Remaining after each request: 51, 50 (still >= 100 x 50 %), 49 (< 50: stop this run).
    assert [p.rate_limit["remaining"] for p in pages] == [51, 50, 49]
    assert [p.more for p in pages] == [True, True, False]


def test_429_raises_rate_limited_with_wait_until_reset(fake_okta, clock, sleeper):
    now = clock.freeze()
    fake_okta.rate_remaining = 0
    fake_okta.rate_reset = int(now.timestamp()) + 42
    with pytest.raises(ConnectorError) as caught:
        make(fake_okta, clock, sleeper).fetch_page({})
    assert caught.value.kind == "rate_limited"
    assert caught.value.retry_after == pytest.approx(42, abs=1)
    assert sleeper.calls == []


def test_short_429_is_waited_out_in_place(fake_okta, clock, sleeper):
    now = clock.freeze()
    fake_okta.add_events(1, start=now - timedelta(minutes=1))
    reset = str(int(now.timestamp()) + 2)
    fake_okta.fail_next(429, {"X-Rate-Limit-Reset": reset}, {"errorCode": "E0000047"})
    page = make(fake_okta, clock, sleeper).fetch_page({})
    assert len(page.records) == 1
    assert sleeper.calls == [pytest.approx(2, abs=1)]


@pytest.mark.parametrize(("headers", "expected"), [({}, None), ({"Retry-After": "120"}, 120.0)])
def test_server_errors(fake_okta, clock, sleeper, headers, expected):
    fake_okta.fail_next(503, headers, "upstream connect error")
    with pytest.raises(ConnectorError) as caught:
        make(fake_okta, clock, sleeper).fetch_page({})
    assert caught.value.kind == "server"
    assert caught.value.retry_after == expected
    assert "503" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "needle"), [("<html>maintenance</html>", "maintenance"), ({"uuid": 1}, "array")]
)
def test_malformed_bodies(fake_okta, clock, sleeper, body, needle):
    fake_okta.fail_next(200, {}, body)
    with pytest.raises(ConnectorError) as caught:
        make(fake_okta, clock, sleeper).fetch_page({})
    assert caught.value.kind == "malformed"
    assert needle in str(caught.value)


def test_invalid_api_token(fake_okta, clock, sleeper):
    secret = "00-revoked-token-value"
    with pytest.raises(ConnectorError) as caught:
        make(fake_okta, clock, sleeper, secrets={"api_token": secret}).fetch_page({})
    assert caught.value.kind == "auth"
    assert "invalid, expired or revoked" in str(caught.value)
    assert secret not in str(caught.value)


def test_unreachable_host_is_a_network_error(clock, sleeper):
    connector = OktaConnector(
        settings={"base_url": "http://127.0.0.1:9"},
        secrets={"api_token": "x"},
        now=clock,
        sleep=sleeper,
    )
    with pytest.raises(ConnectorError) as caught:
        connector.fetch_page({})
    assert caught.value.kind == "network"


@pytest.mark.parametrize(
    ("settings", "secrets", "needle"),
    [
        ({}, {"api_token": "x"}, "base_url"),
        ({"base_url": "acme.okta.com"}, {"api_token": "x"}, "http(s) URL"),
        ({"base_url": "https://acme.okta.com"}, {}, "api_token"),
        ({"base_url": "https://acme.okta.com", "auth_method": "oauth"}, {}, "client_id"),
        (
            {"base_url": "https://acme.okta.com", "page_limit": "5000"},
            {"api_token": "x"},
            "page_limit",
        ),
    ],
)
def test_configuration_errors(settings, secrets, needle):
    with pytest.raises(ConnectorError) as caught:
        OktaConnector(settings=settings, secrets=secrets)
    assert caught.value.kind == "config"
    assert needle in str(caught.value)


def test_oauth_private_key_jwt_token_is_cached_until_near_expiry(fake_okta, clock, sleeper):
    _, public = rsa_keypair("okta")
    fake_okta.register_client("0oa-govern", public)
    fake_okta.add_events(1, start=clock() - timedelta(minutes=1))
    connector = oauth(fake_okta, clock, sleeper)

    assert len(connector.fetch_page({}).records) == 1
    oauth(fake_okta, clock, sleeper).fetch_page({})  # next poll, new connector: cached
    assert len(fake_okta.token_requests()) == 1
    token_form = fake_okta.token_requests()[0].form
    assert token_form["scope"] == "okta.logs.read"
    assert token_form["grant_type"] == "client_credentials"
    assert fake_okta.log_requests()[0].header("Authorization").startswith("Bearer ")


def test_oauth_token_close_to_expiry_is_not_reused(fake_okta, clock, sleeper):
    _, public = rsa_keypair("okta")
    fake_okta.register_client("0oa-govern", public)
    fake_okta.token_lifetime = 45  # already inside the 60 s refresh margin when issued
    oauth(fake_okta, clock, sleeper).fetch_page({})
    oauth(fake_okta, clock, sleeper).fetch_page({})
    assert len(fake_okta.token_requests()) == 2
    # Each assertion is single-use (fresh jti), or Okta would refuse the second one.
    jtis = {r.form["client_assertion"] for r in fake_okta.token_requests()}
    assert len(jtis) == 2


def test_oauth_refreshes_once_when_the_token_was_expired_early(fake_okta, clock, sleeper):
    _, public = rsa_keypair("okta")
    fake_okta.register_client("0oa-govern", public)
    connector = oauth(fake_okta, clock, sleeper)
    connector.fetch_page({})
    fake_okta.expire_tokens()

    connector.fetch_page({})

    assert len(fake_okta.token_requests()) == 2
    statuses = [r.header("Authorization")[:7] for r in fake_okta.log_requests()]
    assert statuses == ["Bearer ", "Bearer ", "Bearer "]


def test_oauth_missing_scope(fake_okta, clock, sleeper):
    _, public = rsa_keypair("okta")
    fake_okta.register_client("0oa-govern", public, scopes=("okta.users.read",))
    with pytest.raises(ConnectorError) as caught:
        oauth(fake_okta, clock, sleeper).fetch_page({})
    assert caught.value.kind == "auth"
    assert "Missing scope okta.logs.read" in str(caught.value)


def test_oauth_wrong_key_is_refused(fake_okta, clock, sleeper):
    _, public = rsa_keypair("okta")
    fake_okta.register_client("0oa-govern", public)
    with pytest.raises(ConnectorError) as caught:
        oauth(fake_okta, clock, sleeper, key="other").fetch_page({})
    assert caught.value.kind == "auth"
    assert "client assertion" in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)


def test_test_connection_reports_budget(fake_okta, clock, sleeper):
    message = make(fake_okta, clock, sleeper).test_connection()
    assert "System Log readable" in message
    assert "999/1000" in message


def test_timestamps_from_fake_are_parsed():
    assert parse_time("2024-05-01T10:00:00.123Z") == datetime(
        2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC
    )
