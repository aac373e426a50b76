"""Browser: an analyst signs in, filters the queue, opens an alert, assigns it to herself,
comments with a mention, closes it as a false positive with a reason; the counters update,
the history shows every step, and the map draws from our own static files only. Keyboard
triage (j/k, a, Enter) is exercised on the queue."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from alerts_app.models import Alert, Comment, Stage
from tests.alerts_app import triage_helpers as h

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue(analyst, admin_user):
    analyst.email = "ana@example.com"
    analyst.save()
    person = h.identity(login="priya@example.com")
    sess = h.session(person, key="102PRIYASESSION")
    start = timezone.now() - timedelta(hours=2)
    places = [
        ("203.0.113.5", 3320, "Deutsche Telekom", "DE", "Berlin", 52.52, 13.40),
        ("185.181.60.7", 9009, "M247", "RO", "Bucharest", 44.43, 26.10),
    ]
    for i in range(6):
        ip, asn, org, country, city, lat, lon = places[0 if i < 3 else 1]
        h.event(
            sess, start + timedelta(minutes=10 * i), ip=ip, asn=asn, as_org=org,
            country=country, city=city, lat=lat, lon=lon,
            user_agent="Mozilla/5.0" if i < 3 else "curl/8.4",
        )  # fmt: skip
    target = h.alert(person, sess=sess, severity="high", title="Session replayed from new network")
    others = [
        h.alert(h.identity(kind="service_account"), severity="critical", title="NHI new context"),
        h.alert(severity="low", title="Idle session"),
        h.alert(severity="medium", title="Concurrent reuse"),
    ]
    return {"target": target, "others": others}


def count(page, name: str) -> int:
    return int(page.text_content(f'[data-count="{name}"]'))


def test_analyst_triages_an_alert_end_to_end(
    new_page, login, screenshot, live_server, analyst, admin_user, queue
):
    page = new_page()
    host = urlsplit(live_server.url).netloc
    foreign = []
    page.on("request", lambda r: urlsplit(r.url).netloc != host and foreign.append(r.url))

    login(page, "ana", "pw-ana")
    page.goto(f"{live_server.url}/alerts/")
    assert count(page, "new") == 4 and count(page, "mine") == 0
    assert page.locator("#queue tbody tr[data-href]").count() == 4

    # Filter: severity high. HTMX swaps the results and pushes the URL; no full reload.
    page.evaluate("window.__same_document = true")
    with page.expect_response(lambda r: "/alerts/?" in r.url and "severity=high" in r.url):
        page.select_option("#queue-filters select[name=severity]", "high")
    page.wait_for_function("document.querySelectorAll('#queue tbody tr[data-href]').length === 1")
    assert "severity=high" in page.url
    assert page.evaluate("window.__same_document") is True
    screenshot(page, "queue")

    target = queue["target"]
    page.click(f"#alert-row-{target.pk} a >> nth=1")
    page.wait_for_url(f"**/alerts/{target.pk}/")
    assert "Session replayed from new network" in page.text_content("h1")
    assert page.locator("#alert-map .geo").count() == 1  # the map drew its world
    page.wait_for_selector(
        "#alert-map path.countries, #alert-map .countries path", state="attached"
    )
    assert page.locator("td.changed").count() >= 2  # network and place changed mid-session

    page.click("#assign-me")
    page.wait_for_function("document.querySelector('[data-assignee]').textContent.trim() === 'ana'")

    page.fill(
        "textarea[name=text]", "Bucharest + curl: looks like the QA lab. @ada can you confirm?"
    )
    page.click("#comments button[type=submit]")
    page.wait_for_selector("#comments .mention")
    assert page.text_content("#comments .mention") == "@ada"

    page.click("#transition summary")
    page.select_option("select[name=target]", "closed")
    page.select_option("select[name=resolution]", "false_positive")
    page.fill("#transition textarea[name=reason]", "QA lab replay test, confirmed by the lab")
    page.click("#transition button[type=submit]")
    page.wait_for_function("document.querySelector('[data-stage]').textContent === 'Closed'")
    history = page.text_content("#history")
    for step in ("assigned", "commented", "transition", "QA lab replay test"):
        assert step in history
    screenshot(page, "detail")

    page.goto(f"{live_server.url}/alerts/")
    assert count(page, "new") == 3 and count(page, "mine") == 0
    assert page.locator(f"#alert-row-{target.pk}").count() == 0  # closed leaves the queue
    assert not foreign, f"requests left the server: {foreign}"

    alert = Alert.objects.get(pk=target.pk)
    assert (alert.stage, alert.resolution, alert.assignee) == (
        Stage.CLOSED,
        "false_positive",
        analyst,
    )
    assert list(Comment.objects.get(alert=alert).mentions.all()) == [admin_user]


def test_keyboard_moves_assigns_and_opens(new_page, login, live_server, analyst, queue):
    page = new_page()
    login(page, "ana", "pw-ana")
    page.goto(f"{live_server.url}/alerts/?ordering=-score")
    page.keyboard.press("j")
    first = page.locator("#queue tbody tr.cursor")
    assert first.count() == 1
    row_id = first.get_attribute("id")
    page.keyboard.press("a")
    page.wait_for_function(
        f"document.querySelector('#{row_id} [data-col=assignee]').textContent.trim() === 'ana'"
    )
    page.wait_for_function("document.querySelector('[data-count=mine]').textContent === '1'")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.locator("#queue tbody tr.cursor").get_attribute("id") == row_id
    page.keyboard.press("Enter")
    pk = row_id.rsplit("-", 1)[1]
    page.wait_for_url(f"**/alerts/{pk}/")
    assert Alert.objects.get(pk=pk).assignee == analyst
