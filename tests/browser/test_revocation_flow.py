"""Browser: an analyst asks to revoke a privileged user's session, a manager approves it in a
second browser, a real Celery worker calls the fake Okta org exactly once, the alert shows
Contained, and a later replay of the session re-opens it (verified containment failed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from alerts_app.models import Alert, Containment, Revocation, RevocationTarget, Stage
from sessions_app.models import Session
from sessions_app.services import ingest_records
from tests.alerts_app.okta_events import BUCHAREST, CURL, okta_event
from tests.alerts_app.revocation_helpers import alert_on, okta_source
from tests.fakes.okta import FakeOkta

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Playwright's sync API keeps an event loop in this thread; Django's ORM calls made from the
# test body are still synchronous, which Django only allows when told so.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
ACTOR, KEY = "00upriya", "102PRIVSESSION"


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def worker(tmp_path):
    """A real Celery worker on the test database and the suite's broker."""
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)")
    from govern.celery import app

    app.control.purge()  # leftovers from earlier runs must not reach this database
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": _database_url(),
        "GOVERN_SECRETS_KEY": settings.GOVERN_SECRETS_KEY,
        "GOVERN_VAR_DIR": str(tmp_path),
    }
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "govern", "worker", "--pool=solo",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info",
            "-n", f"browser-{time.monotonic_ns()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    yield log
    if process.poll() is None:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


@pytest.fixture
def browser(chromium):
    """The session's Chromium (tests/browser/conftest.py): one Playwright per process."""
    return chromium


@pytest.fixture
def okta():
    with FakeOkta() as fake:
        fake.users.add(ACTOR)
        fake.sessions[KEY] = ACTOR
        yield fake


def _login(browser, live_server, username: str, password: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def test_request_approve_contain_and_replay(browser, live_server, worker, okta, analyst, manager):
    source = okta_source(okta)
    start = timezone.now() - timedelta(hours=1)
    login = dict(session=KEY, actor=ACTOR, login="priya@example.com")
    ingest_records(
        source=source,
        records=[
            okta_event(at=start, event_type="user.session.start", **login),
            okta_event(at=start + timedelta(minutes=5), **login),
        ],
    )
    session = Session.objects.get(session_key=KEY)
    identity = session.identity
    identity.privilege_tier = "privileged"
    identity.save(update_fields=["privilege_tier"])
    alert = alert_on(session)

    # The analyst asks from the alert; a privileged identity needs a second person.
    ana = _login(browser, live_server, "ana", "pw-ana")
    ana.goto(f"{live_server.url}/alerts/{alert.pk}/")
    ana.click("text=Revoke this session")
    assert "/api/v1/sessions/102PRIVSESSION" in ana.content()
    ana.fill("textarea[name=reason]", "Session token replayed from a hosting ASN")
    ana.click("button:has-text('Request revocation')")
    ana.wait_for_selector('[data-status="pending_approval"]')
    revocation = Revocation.objects.get()
    assert okta.revocation_requests() == []

    # The manager approves in a second browser context.
    max_ = _login(browser, live_server, "max", "pw-max")
    max_.goto(f"{live_server.url}/revocations/{revocation.pk}/")
    max_.fill("textarea[name=note]", "Confirmed with the on-call lead")
    max_.click("button:has-text('Approve and revoke')")

    # The analyst's page picks up the result by polling, without a reload.
    ana.wait_for_selector('[data-status="succeeded"]', timeout=60_000)
    assert len(okta.revocation_requests()) == 1
    assert okta.revocation_requests()[0].path == f"/api/v1/sessions/{KEY}"
    ana.goto(f"{live_server.url}/alerts/{alert.pk}/")
    assert ana.inner_text("[data-stage]") == "Contained"

    # Later, the stolen token is replayed beyond Okta's propagation grace.
    revocation.refresh_from_db()
    assert revocation.containment == Containment.PENDING
    earlier = timezone.now() - timedelta(minutes=10)  # as if the revocation were 10 min old
    RevocationTarget.objects.filter(revocation=revocation).update(completed_at=earlier)
    ingest_records(
        source=source,
        records=[
            okta_event(
                at=timezone.now() - timedelta(minutes=1), where=BUCHAREST, ua=CURL,
                dt_hash="dt-attacker", **login,
            )
        ],
    )  # fmt: skip
    _wait_for(
        lambda: Alert.objects.get(pk=alert.pk).stage == Stage.IN_PROGRESS,
        60,
        "the worker to re-open the alert",
    )
    ana.goto(f"{live_server.url}/alerts/{alert.pk}/")
    assert ana.inner_text("[data-stage]") == "In progress"
    revocation.refresh_from_db()
    assert revocation.containment == Containment.FAILED
    assert len(okta.revocation_requests()) == 1
