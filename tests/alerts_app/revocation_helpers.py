"""Builders shared by the revocation tests: sources pointing at the vendor fakes, identities
linked to them, sessions, alerts, and a loop that runs a revocation the way the task does."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from alerts_app.models import Alert, Revocation
from alerts_app.revocation import services
from sessions_app.models import Identity, IdentityLink, Session, Source

OKTA_USER = "00u1abcd"


def okta_source(fake, *, name: str = "okta-prod") -> Source:
    source = Source(
        name=name, kind="okta", settings={"base_url": fake.url, "auth_method": "api_token"}
    )
    source.set_secrets({"api_token": "okta-api-token"})
    source.save()
    return source


def entra_source(fake, *, name: str = "entra-prod") -> Source:
    fake.register_client(
        "app-1", secret="s3cret", roles=("AuditLog.Read.All", "User.RevokeSessions.All")
    )
    source = Source(
        name=name,
        kind="entra",
        settings={
            "tenant_id": fake.tenant_id,
            "client_id": "app-1",
            "graph_base": fake.url,
            "login_base": fake.url,
        },
    )
    source.set_secrets({"client_secret": "s3cret"})
    source.save()
    return source


def google_source(fake, *, name: str = "google-prod", delegated=None) -> Source:
    from tests.fakes.google import AUDIT_SCOPE, SECURITY_SCOPE

    key = fake.service_account(delegated=delegated or (AUDIT_SCOPE, SECURITY_SCOPE))
    source = Source(
        name=name,
        kind="google",
        settings={"admin_email": "admin@example.com", "api_base": fake.url},
    )
    source.set_secrets({"service_account_json": key})
    source.save()
    return source


def identity_at(
    source: Source, *, provider_id: str = OKTA_USER, tier: str = "standard", login="ana"
) -> Identity:
    identity = Identity.objects.create(
        display_name=login.title(), login=f"{login}@example.com", privilege_tier=tier
    )
    IdentityLink.objects.create(source=source, provider_id=provider_id, identity=identity)
    return identity


def session_of(
    identity: Identity, source: Source, key: str = "102abcSESSION", token_kind="browser_session"
) -> Session:
    now = timezone.now()
    return Session.objects.create(
        source=source,
        session_key=key,
        identity=identity,
        token_kind=token_kind,
        first_seen_at=now - timedelta(hours=1),
        last_seen_at=now - timedelta(minutes=5),
    )


def alert_on(session: Session, *, severity: str = "high") -> Alert:
    now = timezone.now()
    return Alert.objects.create(
        detector_id="concurrent_session_reuse",
        dedup_key=f"concurrent_session_reuse|session:{session.session_key}|{session.pk}",
        title="Session used from two places at once",
        summary="Replay.",
        severity=severity,
        score=80,
        identity=session.identity,
        session=session,
        source=session.source,
        first_seen_at=now,
        last_seen_at=now,
    )


def run_to_end(revocation: Revocation, *, passes: int = 10) -> list[services.RunResult]:
    """Run execution passes as the task would, ignoring the wait between retries."""
    results = []
    for _ in range(passes):
        result = services.revocation_run(revocation_id=revocation.pk)
        results.append(result)
        if result.retry_in is None:
            break
    revocation.refresh_from_db()
    return results
