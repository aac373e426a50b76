"""Shared fixtures for browser tests: Debian's Chromium driven by Playwright against
pytest-django's ``live_server``.

Use ``chromium`` (one browser per test session), ``new_page`` (a fresh context and page,
closed after the test; call it twice for two users), ``login`` and ``screenshot`` (saved
under ``test-artifacts/`` at the repository root, git-ignored). Mark tests
``@pytest.mark.browser`` and give them ``transactional_db`` data (the live server runs in
another thread and must see committed rows).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop in this thread; Django's ORM calls made from the
# test body are still synchronous, which Django only allows when told so.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session", autouse=True)
def _live_server_requests_close_their_connections():
    """From the first browser test on, each request of the live server closes its database
    connection when it ends, for the rest of the session (late requests included).

    With the product's ``CONN_MAX_AGE`` (60 s) a request thread keeps its connection, and
    Chromium's keep-alive sockets keep those threads alive until the session ends: the test
    database then could not be dropped ("being accessed by other users")."""
    from django.db import connections

    # The settings dict every thread's connection is made from.
    connections["default"].settings_dict["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium) -> Iterator[Callable]:
    """Factory of pages, each in its own browser context (own cookies); all closed after."""
    contexts = []

    def make(**context_options):
        context = chromium.new_context(viewport={"width": 1400, "height": 1000}, **context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def login(live_server) -> Callable:
    """Sign ``page`` in through the real login form as ``username``/``password``."""

    def sign_in(page, username: str, password: str) -> None:
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)

    return sign_in


@pytest.fixture
def screenshot(request) -> Callable:
    """Save a full-page screenshot as test-artifacts/<test name>-<label>.png; returns the path."""

    def take(page, label: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", f"{request.node.name}-{label}")
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
