"""Browser: the main pages load without a failed request or a console error, the sign-in
page and the favicon included."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ["/", "/alerts/", "/identities/?ordering=-last_seen", "/sessions/", "/events/"]


def test_main_pages_load_without_errors(live_server, new_page, login, analyst):
    page = new_page()
    failures: list[str] = []

    def console(message):
        if message.type == "error":
            failures.append(f"console: {message.text}")

    def response(answer):
        if answer.status >= 400:
            failures.append(f"{answer.status} {answer.url}")

    page.on("console", console)
    page.on("response", response)
    page.on("requestfailed", lambda request: failures.append(f"failed {request.url}"))
    login(page, analyst.username, "pw-ana")
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    assert failures == []
