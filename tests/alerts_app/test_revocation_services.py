"""Revocation requests, approvals, idempotent execution against the fake Okta org."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import override_settings

from alerts_app.models import (
    AttemptOutcome,
    Containment,
    Revocation,
    RevocationAttempt,
    RevocationStatus,
    Stage,
)
from alerts_app.revocation import services
from alerts_app.revocation.tasks import revocation_execute
from sessions_app.connectors.base import TOKEN_CACHE
from sessions_app.models import AuditEvent, Session
from tests.fakes.okta import fake_okta  # noqa: F401 - fixture

from .revocation_helpers import (
    OKTA_USER,
    alert_on,
    identity_at,
    okta_source,
    run_to_end,
    session_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()


@pytest.fixture
def okta(fake_okta):  # noqa: F811 - the imported fixture
    fake_okta.sessions["102abcSESSION"] = OKTA_USER
    fake_okta.sessions["102other"] = OKTA_USER
    source = okta_source(fake_okta)
    identity = identity_at(source)
    session = session_of(identity, source)
    return fake_okta, source, identity, session


def test_session_revocation_calls_okta_once_and_contains_the_alert(okta, analyst):
    fake, _source, identity, session = okta
    alert = alert_on(session)
    revocation = services.revocation_request(
        scope="session",
        identity=identity,
        session=session,
        alert=alert,
        reason="replay",
        actor=analyst,
    )
    assert revocation.status == RevocationStatus.APPROVED  # standard identity, one session
    assert not revocation.approval_required

    run_to_end(revocation)

    assert revocation.status == RevocationStatus.SUCCEEDED
    assert [r.path for r in fake.revocation_requests()] == ["/api/v1/sessions/102abcSESSION"]
    assert fake.requests[-1].header("Authorization") == "SSWS okta-api-token"
    assert fake.revoked == [{"session": "102abcSESSION"}]
    session.refresh_from_db()
    assert session.status == "revoked" and session.revoked_at is not None
    alert.refresh_from_db()
    assert alert.stage == Stage.CONTAINED
    assert revocation.containment == Containment.PENDING
    assert revocation.effective_at > revocation.completed_at
    attempt = RevocationAttempt.objects.get(revocation=revocation)
    assert (attempt.method, attempt.status_code, attempt.outcome) == ("DELETE", 204, "success")
    verbs = list(AuditEvent.objects.order_by("id").values_list("verb", flat=True))
    assert verbs[-4:] == [
        "revocation.request",
        "revocation.execute",
        "revocation.complete",
        "alert.transition",
    ]


def test_identity_wide_revocation_uses_revoke_user_sessions_with_oauth_tokens(okta, analyst):
    fake, source, identity, session = okta
    other = session_of(identity, source, key="102other")
    revocation = services.revocation_request(
        scope="identity_all", identity=identity, reason="stolen laptop", actor=analyst
    )
    run_to_end(revocation)
    [call] = fake.revocation_requests()
    assert call.path == f"/api/v1/users/{OKTA_USER}/sessions"
    assert call.query == {"oauthTokens": "true"}
    assert set(revocation.session_ids) == {session.pk, other.pk}
    assert set(Session.objects.values_list("status", flat=True)) == {"revoked"}


def test_the_same_request_twice_calls_the_provider_once(okta, analyst):
    fake, _source, identity, session = okta
    first = services.revocation_request(
        scope="session",
        identity=identity,
        session=session,
        reason="r",
        actor=analyst,
        idempotency_key="a" * 32,
    )
    again = services.revocation_request(
        scope="session",
        identity=identity,
        session=session,
        reason="r",
        actor=analyst,
        idempotency_key="a" * 32,
    )
    # A double submit with a fresh key hits the one-in-flight constraint instead.
    double = services.revocation_request(
        scope="session", identity=identity, session=session, reason="r", actor=analyst
    )
    assert first.pk == again.pk == double.pk
    assert Revocation.objects.count() == 1
    # Redelivered tasks: the second and third passes find nothing left to call.
    revocation_execute(first.pk)
    revocation_execute(first.pk)
    revocation_execute(first.pk)
    assert len(fake.revocation_requests()) == 1


def test_a_worker_holding_the_lease_keeps_others_out(okta, analyst):
    fake, _source, identity, session = okta
    revocation = services.revocation_request(
        scope="session", identity=identity, session=session, reason="r", actor=analyst
    )
    from django.utils import timezone

    assert services._claim(revocation.pk, timezone.now()) is not None
    result = services.revocation_run(revocation_id=revocation.pk)
    assert not result.claimed
    assert fake.revocation_requests() == []


def test_request_is_queued_on_commit_only(okta, analyst, django_capture_on_commit_callbacks):
    _fake, _source, identity, session = okta
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.revocation_request(
            scope="session", identity=identity, session=session, reason="r", actor=analyst
        )
    assert len(callbacks) == 1


def test_privileged_identity_needs_a_second_person(okta, analyst, manager, admin_user):
    fake, source, _identity, _session = okta
    boss = identity_at(source, provider_id="00uboss", tier="privileged", login="boss")
    fake.users.add("00uboss")
    session = session_of(boss, source, key="102boss")
    fake.sessions["102boss"] = "00uboss"
    revocation = services.revocation_request(
        scope="session", identity=boss, session=session, reason="replay", actor=analyst
    )
    assert revocation.status == RevocationStatus.PENDING_APPROVAL
    assert "Privileged identity" in revocation.approval_reasons[0]
    from alerts_app.models import Notification

    # Approvers are told; the requester (who may not approve) is not.
    asked = set(Notification.objects.filter(kind="approval").values_list("recipient", flat=True))
    assert asked == {manager.pk, admin_user.pk}
    # Nothing runs while it waits.
    assert not services.revocation_run(revocation_id=revocation.pk).claimed
    with pytest.raises(PermissionDenied):  # analysts may not approve
        services.revocation_approve(revocation=revocation, actor=analyst)
    services.revocation_approve(revocation=revocation, actor=manager, note="confirmed by phone")
    revocation.refresh_from_db()
    assert revocation.status == RevocationStatus.APPROVED
    assert revocation.approved_by == manager
    with pytest.raises(ValueError):
        services.revocation_approve(revocation=revocation, actor=admin_user)
    run_to_end(revocation)
    assert revocation.status == RevocationStatus.SUCCEEDED
    assert AuditEvent.objects.filter(verb="revocation.approve", actor=manager).exists()


def test_requester_cannot_approve_their_own_request(okta, admin_user):
    _fake, source, _identity, _session = okta
    glass = identity_at(source, provider_id="00uglass", tier="break_glass", login="glass")
    revocation = services.revocation_request(
        scope="identity_all", identity=glass, reason="drill", actor=admin_user
    )
    assert revocation.status == RevocationStatus.PENDING_APPROVAL
    with pytest.raises(PermissionDenied, match="own"):
        services.revocation_approve(revocation=revocation, actor=admin_user)
    with pytest.raises(PermissionDenied, match="own"):
        services.revocation_reject(revocation=revocation, actor=admin_user, reason="no")


def test_rejection_is_recorded_and_calls_nothing(okta, analyst, manager):
    fake, source, _identity, _session = okta
    boss = identity_at(source, provider_id="00uboss", tier="privileged", login="boss")
    revocation = services.revocation_request(
        scope="identity_all", identity=boss, reason="replay?", actor=analyst
    )
    with pytest.raises(ValueError, match="reason"):
        services.revocation_reject(revocation=revocation, actor=manager, reason=" ")
    services.revocation_reject(revocation=revocation, actor=manager, reason="known VPN egress")
    revocation.refresh_from_db()
    assert revocation.status == RevocationStatus.REJECTED
    assert (revocation.rejected_by, revocation.rejection_reason) == (manager, "known VPN egress")
    assert not services.revocation_run(revocation_id=revocation.pk).claimed
    assert fake.revocation_requests() == []
    assert AuditEvent.objects.filter(verb="revocation.reject").count() == 1


@override_settings(GOVERN_BULK_REVOCATION_APPROVAL_OVER=2)
def test_bulk_revocation_over_the_threshold_needs_approval(okta, analyst):
    _fake, source, identity, _session = okta
    for n in range(2):
        session_of(identity, source, key=f"102bulk{n}")
    preview = services.revocation_preview(scope="identity_all", identity=identity)
    assert len(preview.sessions) == 3
    assert preview.needs_approval and "Bulk revocation of 3 sessions" in preview.approval_reasons[0]
    revocation = services.revocation_request(
        scope="identity_all", identity=identity, reason="r", actor=analyst
    )
    assert revocation.status == RevocationStatus.PENDING_APPROVAL


def test_system_request_that_needs_approval_waits_for_a_human(okta, manager):
    _fake, source, _identity, _session = okta
    boss = identity_at(source, provider_id="00uboss", tier="privileged", login="boss")
    revocation = services.revocation_request(
        scope="identity_all", identity=boss, reason="policy: max lifetime", actor=None
    )
    assert revocation.requested_by is None and revocation.requested_by_label == "system:policy"
    assert revocation.status == RevocationStatus.PENDING_APPROVAL
    services.revocation_approve(revocation=revocation, actor=manager)
    assert Revocation.objects.get().status == RevocationStatus.APPROVED


def test_bad_requests_are_refused_with_a_clear_message(okta, analyst, manager):
    _fake, source, identity, session = okta
    with pytest.raises(ValueError, match="reason"):
        services.revocation_request(
            scope="session", identity=identity, session=session, reason="  ", actor=analyst
        )
    with pytest.raises(ValueError, match="needs the session"):
        services.revocation_request(scope="session", identity=identity, reason="r", actor=analyst)
    with pytest.raises(ValueError, match="scope"):
        services.revocation_request(
            scope="everything", identity=identity, reason="r", actor=analyst
        )
    with pytest.raises(PermissionDenied):  # managers approve, they do not request
        services.revocation_request(
            scope="session", identity=identity, session=session, reason="r", actor=manager
        )
    unlinked = identity_at(source, provider_id="x", login="bob")
    unlinked.links.all().delete()
    with pytest.raises(ValueError, match="Nothing can be revoked"):
        services.revocation_request(
            scope="identity_all", identity=unlinked, reason="r", actor=analyst
        )
    assert Revocation.objects.count() == 0


def test_preview_says_what_survives(okta):
    _fake, _source, identity, session = okta
    preview = services.revocation_preview(scope="identity_all", identity=identity)
    [target] = preview.targets
    assert target.plan.action == "okta.revoke_user_sessions"
    assert any("refresh and access tokens" in r for r in target.plan.revokes)
    assert any("applications created themselves" in s for s in target.plan.survives)
    single = services.revocation_preview(scope="session", identity=identity, session=session)
    assert single.targets[0].plan.action == "okta.revoke_session"
    assert [s.pk for s in single.sessions] == [session.pk]


def test_retries_on_429_then_succeeds_and_records_every_attempt(okta, analyst):
    fake, _source, identity, session = okta
    fake.fail_next(
        429,
        {"X-Rate-Limit-Reset": "0", "Retry-After": "3"},
        {"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"},
        path="/api/v1/sessions/",
    )
    fake.fail_next(503, body={"errorSummary": "Service unavailable"}, path="/api/v1/sessions/")
    revocation = services.revocation_request(
        scope="session", identity=identity, session=session, reason="r", actor=analyst
    )
    results = run_to_end(revocation)
    assert [r.retry_in is not None for r in results] == [True, True, False]
    assert results[0].retry_in >= 3  # never sooner than Retry-After
    assert revocation.status == RevocationStatus.SUCCEEDED
    attempts = list(revocation.attempts.order_by("number"))
    assert [(a.status_code, a.outcome) for a in attempts] == [
        (429, AttemptOutcome.RETRYABLE),
        (503, AttemptOutcome.RETRYABLE),
        (204, AttemptOutcome.SUCCESS),
    ]
    assert attempts[0].response_headers["retry-after"] == "3"
    assert "E0000047" in attempts[0].response_body


def test_other_4xx_fails_without_retry(okta, analyst):
    fake, _source, identity, session = okta
    del fake.sessions["102abcSESSION"]  # Okta answers 404 E0000007
    alert = alert_on(session)
    revocation = services.revocation_request(
        scope="session", identity=identity, session=session, alert=alert, reason="r", actor=analyst
    )
    results = run_to_end(revocation)
    assert len(results) == 1 and results[0].retry_in is None
    assert revocation.status == RevocationStatus.FAILED
    assert revocation.containment == Containment.NOT_APPLICABLE
    [attempt] = revocation.attempts.all()
    assert (attempt.status_code, attempt.outcome) == (404, AttemptOutcome.FAILED)
    assert "E0000007" in attempt.response_body
    session.refresh_from_db()
    alert.refresh_from_db()
    assert session.status == "active" and alert.stage == Stage.NEW


def test_gives_up_after_the_last_retry(okta, analyst):
    fake, _source, identity, session = okta
    fake.fail_next(500, path="/api/v1/sessions/", times=services.MAX_ATTEMPTS)
    revocation = services.revocation_request(
        scope="session", identity=identity, session=session, reason="r", actor=analyst
    )
    run_to_end(revocation)
    assert revocation.status == RevocationStatus.FAILED
    assert revocation.attempts.count() == services.MAX_ATTEMPTS
    assert "Gave up after 6 attempts" in revocation.targets.get().last_error


def test_timeouts_are_retried(okta, analyst):
    fake, _source, identity, session = okta
    revocation = services.revocation_request(
        scope="session", identity=identity, session=session, reason="r", actor=analyst
    )
    fake.stop()  # connection refused: nothing answers on that port now
    result = services.revocation_run(revocation_id=revocation.pk)
    assert result.retry_in is not None
    attempt = revocation.attempts.get()
    assert attempt.outcome == AttemptOutcome.RETRYABLE and attempt.status_code is None
    assert "could not connect" in attempt.error


def test_backoff_grows_with_jitter_and_respects_retry_after():
    delays = [services.backoff_seconds(n) for n in range(1, 8)]
    for n, delay in enumerate(delays, start=1):
        step = min(services.BACKOFF_CAP_SECONDS, services.BACKOFF_BASE_SECONDS * 2 ** (n - 1))
        assert step / 2 <= delay <= step
    assert services.backoff_seconds(1, retry_after=42) >= 42
    assert len({services.backoff_seconds(5) for _ in range(20)}) > 1  # jitter
