"""Browser: a manager opens the compliance report, sees the executive summary and the charts
drawn, changes the period in place (HTMX, URL pushed), drills down from a framework to a
control and its alerts, and downloads the PDF, which parses back with the same figures."""

from __future__ import annotations

import importlib
import io
import os
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.govern import compliance_fixture as fx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def catalogues(db):
    """Earlier transactional tests flush the database, taking the framework catalogues (loaded
    by a data migration) with them: load them again with the migration's own, idempotent code.
    (serialized_rollback would restore them too, but also re-insert the role groups that
    post_migrate re-created, which collides.)"""
    from django.apps import apps

    importlib.import_module("govern.migrations.0002_load_catalogues").load(apps, None)


# Playwright's sync API keeps an event loop in this thread; the ORM calls in the test body are
# synchronous, which Django only allows when told so.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


@pytest.fixture
def browser(chromium):
    """The session's Chromium (tests/browser/conftest.py): one Playwright per process."""
    return chromium


def test_manager_reads_drills_down_and_downloads_the_report(browser, live_server, manager):
    fx.build()
    context = browser.new_context(accept_downloads=True, timezone_id="UTC")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "max")
    page.fill("input[name=password]", "pw-max")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.click("nav >> text=Compliance")
    page.wait_for_url(re.compile(r"/compliance/$"))
    page.fill("input[name=start]", "2026-03-01")
    page.fill("input[name=end]", "2026-03-07")
    page.click("#report button[type=submit]")
    # HTMX swaps the report in place and pushes the period into the URL.
    page.wait_for_url(re.compile(r"start=2026-03-01.*end=2026-03-07"))
    headline = page.locator("[data-testid=headline]")
    assert headline.inner_text().startswith(
        "OWASP NHI Top 10: 3 covered, 3 partial, 0 gaps of 6 controls in scope"
    )
    assert page.locator("[data-testid=mtta]").inner_text() == "1.8 h"
    assert page.locator("[data-testid=sla]").inner_text() == "60%"
    # Every chart was drawn by the vendored plotly.js after the swap.
    page.wait_for_function("document.querySelectorAll('#report .js-plotly-plot').length === 5")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / "compliance_report.png"), full_page=True)

    page.click("[data-testid=frameworks] >> text=OWASP Non-Human Identities Top 10 (2025)")
    page.wait_for_url(re.compile(r"/compliance/owasp-nhi-2025/\?start=2026-03-01"))
    rows = page.locator("[data-testid=controls] tbody tr")
    assert rows.count() == 6  # the risks govern maps to
    page.select_option("select[name=status]", "covered")
    page.click("#controls button[type=submit]")
    page.wait_for_url(re.compile(r"status=covered"))
    assert page.locator("[data-testid=controls] tbody tr").count() == 3
    page.screenshot(path=str(ARTEFACTS / "compliance_framework.png"), full_page=True)

    page.click("text=NHI10:2025")
    page.wait_for_url(re.compile(r"/compliance/controls/\d+/"))
    assert page.locator("[data-testid=control-status] [data-status]").inner_text() == "Covered"
    alerts = page.locator("[data-testid=control-alerts] tbody tr")
    assert alerts.count() == 1 and "human_use_of_nhi on svc-build" in alerts.inner_text()
    page.screenshot(path=str(ARTEFACTS / "compliance_control.png"), full_page=True)

    page.click("main .page-head >> text=OWASP Non-Human Identities Top 10 (2025)")
    page.wait_for_url(re.compile(r"/compliance/owasp-nhi-2025/\?start=2026-03-01&end=2026-03-07$"))
    page.click("text=← All frameworks")
    page.wait_for_url(re.compile(r"/compliance/\?start=2026-03-01"))
    with page.expect_download() as download_info:
        page.click("[data-testid=export-pdf]")
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    reader = PdfReader(io.BytesIO(Path(download.path()).read_bytes()))
    first = re.sub(r"\s+", " ", reader.pages[0].extract_text())
    assert "Period 2026-03-01 to 2026-03-07" in first
    assert "Mean time to acknowledge (MTTA) 1.8 h" in first
    context.close()
