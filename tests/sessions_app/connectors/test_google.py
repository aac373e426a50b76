"""Google Reports connector against the local fake token endpoint and Reports API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sessions_app.connectors.base import ConnectorError, parse_time
from sessions_app.connectors.google import GoogleConnector
from tests.fakes.google import activity, google_error

ADMIN = "admin@example.com"


def make(fake, clock, sleeper, *, key_json=None, **settings) -> GoogleConnector:
    return GoogleConnector(
        settings={"admin_email": ADMIN, "api_base": fake.url, **settings},
        secrets={"service_account_json": key_json or fake.service_account()},
        now=clock,
        sleep=sleeper,
    )


def drain(connector, cursor=None):
    pages, cursor = [], cursor or {}
    while True:
        page = connector.fetch_page(cursor)
        pages.append(page)
        cursor = page.cursor
        if not page.more:
            return pages, cursor


def test_pages_with_page_token_and_fixed_start_time(fake_google, clock, sleeper):
    now = clock()
    old = activity(now - timedelta(hours=3))
    recent = [activity(now - timedelta(minutes=m)) for m in (50, 40, 30, 20, 10)]
    fake_google.activities["login"] = [old, *recent]
    connector = make(fake_google, clock, sleeper, page_size=2)

    pages, cursor = drain(connector)

    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert [p.more for p in pages] == [True, True, False]
    assert {r["id"]["uniqueQualifier"] for p in pages for r in p.records} == {
        r["id"]["uniqueQualifier"] for r in recent
    }
    requests = fake_google.report_requests()
    assert len({r.query["startTime"] for r in requests}) == 1
    start = parse_time(requests[0].query["startTime"])
    assert abs((now - timedelta(hours=1) - start).total_seconds()) < 5
    assert "pageToken" not in requests[0].query and "pageToken" in requests[1].query
    assert requests[0].query["maxResults"] == "2"
    assert pages[0].cursor["watermarks"] == {}
    assert cursor["watermarks"]["login"] == recent[-1]["id"]["time"]


def test_next_cycle_overlaps_by_an_hour(fake_google, clock, sleeper):
    newest = activity(clock() - timedelta(minutes=5))
    fake_google.activities["login"] = [newest]
    connector = make(fake_google, clock, sleeper)
    _, cursor = drain(connector)

    page = connector.fetch_page(cursor)

    start = parse_time(fake_google.report_requests()[-1].query["startTime"])
    assert start == parse_time(newest["id"]["time"]) - timedelta(hours=1)
    assert [r["id"] for r in page.records] == [newest["id"]]  # re-read, deduped downstream


def test_cursor_of_page_k_resumes_at_page_k_plus_one(fake_google, clock, sleeper):
    now = clock()
    fake_google.activities["login"] = [activity(now - timedelta(minutes=m)) for m in range(6)]
    key = fake_google.service_account()
    page1 = make(fake_google, clock, sleeper, key_json=key, page_size=2).fetch_page({})
    page2 = make(fake_google, clock, sleeper, key_json=key, page_size=2).fetch_page(page1.cursor)
    newest_first = sorted(
        fake_google.activities["login"], key=lambda a: a["id"]["time"], reverse=True
    )
    assert [r["id"] for r in page1.records + page2.records] == [a["id"] for a in newest_first[:4]]


def test_empty_report_has_no_items_key(fake_google, clock, sleeper):
    connector = make(fake_google, clock, sleeper)
    page = connector.fetch_page({})
    assert page.records == []
    assert page.more is False

    # A quiet stream keeps its window anchored instead of drifting with the clock, so a
    # login that shows up late (Google's login data lags) is still inside the next window.
    clock.advance(minutes=10)
    connector.fetch_page(page.cursor)
    first, second = (r.query["startTime"] for r in fake_google.report_requests())
    assert first == second


def test_token_application_is_a_second_round_when_enabled(fake_google, clock, sleeper):
    now = clock()
    fake_google.activities["login"] = [activity(now - timedelta(minutes=1))]
    fake_google.activities["token"] = [
        activity(now - timedelta(minutes=2), name="authorize", application="token")
    ]
    pages, cursor = drain(make(fake_google, clock, sleeper, include_token_events=True))
    assert [p.records[0]["id"]["applicationName"] for p in pages] == ["login", "token"]
    assert [p.more for p in pages] == [True, False]
    assert set(cursor["watermarks"]) == {"login", "token"}


def test_signed_jwt_bearer_grant_and_token_cache(fake_google, clock, sleeper):
    key = fake_google.service_account()
    make(fake_google, clock, sleeper, key_json=key).fetch_page({})
    make(fake_google, clock, sleeper, key_json=key).fetch_page({})
    assert len(fake_google.token_requests()) == 1
    form = fake_google.token_requests()[0].form
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"

    fake_google.expire_tokens()
    make(fake_google, clock, sleeper, key_json=key).fetch_page({})
    assert len(fake_google.token_requests()) == 2


def test_missing_domain_wide_delegation(fake_google, clock, sleeper):
    key = fake_google.service_account(delegated=())
    with pytest.raises(ConnectorError) as caught:
        make(fake_google, clock, sleeper, key_json=key).fetch_page({})
    assert caught.value.kind == "auth"
    assert "Domain-wide delegation" in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)


def test_unknown_admin(fake_google, clock, sleeper):
    with pytest.raises(ConnectorError) as caught:
        make(fake_google, clock, sleeper, admin_email="nobody@example.com").fetch_page({})
    assert caught.value.kind == "auth"
    assert "Invalid email or User ID" in str(caught.value)


def test_key_signed_by_another_key_is_refused(fake_google, clock, sleeper):
    key = json.loads(fake_google.service_account())
    other = json.loads(
        fake_google.service_account("other@proj.iam.gserviceaccount.com", key_name="other")
    )
    key["private_key"] = other["private_key"]
    with pytest.raises(ConnectorError) as caught:
        make(fake_google, clock, sleeper, key_json=json.dumps(key)).fetch_page({})
    assert caught.value.kind == "auth"
    assert "Invalid JWT Signature" in str(caught.value)


def test_quota_403_is_rate_limited(fake_google, clock, sleeper):
    fake_google.fail_next(
        403,
        {},
        google_error(403, "Quota exceeded", "PERMISSION_DENIED", "rateLimitExceeded"),
        path="/admin/",
    )
    with pytest.raises(ConnectorError) as caught:
        make(fake_google, clock, sleeper).fetch_page({})
    assert caught.value.kind == "rate_limited"


def test_429_with_retry_after(fake_google, clock, sleeper):
    fake_google.fail_next(
        429,
        {"Retry-After": "90"},
        google_error(429, "Slow down", "RESOURCE_EXHAUSTED"),
        path="/admin/",
    )
    with pytest.raises(ConnectorError) as caught:
        make(fake_google, clock, sleeper).fetch_page({})
    assert caught.value.kind == "rate_limited"
    assert caught.value.retry_after == 90


def test_server_error(fake_google, clock, sleeper):
    fake_google.fail_next(502, {}, "<html>Bad Gateway</html>", path="/admin/")
    with pytest.raises(ConnectorError) as caught:
        make(fake_google, clock, sleeper).fetch_page({})
    assert caught.value.kind == "server"
    assert caught.value.retry_after is None


@pytest.mark.parametrize("body", ["<html>", [], {"items": {"a": 1}}, {"items": [1]}])
def test_malformed_bodies(fake_google, clock, sleeper, body):
    fake_google.fail_next(200, {}, body, path="/admin/")
    with pytest.raises(ConnectorError) as caught:
        make(fake_google, clock, sleeper).fetch_page({})
    assert caught.value.kind == "malformed"


@pytest.mark.parametrize(
    ("key_json", "needle"),
    [
        ("not json", "not valid JSON"),
        (json.dumps({"client_email": "x@y"}), "private_key"),
    ],
)
def test_bad_key_files(fake_google, key_json, needle):
    with pytest.raises(ConnectorError) as caught:
        GoogleConnector(settings={"admin_email": ADMIN}, secrets={"service_account_json": key_json})
    assert caught.value.kind == "config"
    assert needle in str(caught.value)


def test_test_connection(fake_google, clock, sleeper):
    message = make(fake_google, clock, sleeper).test_connection()
    assert f"impersonating {ADMIN}" in message
