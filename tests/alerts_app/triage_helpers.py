"""Builders for triage tests: identities, sessions, events and alerts in the real database."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from django.utils import timezone

from alerts_app.models import Alert, Stage
from alerts_app.selectors import sla_due_times
from sessions_app.models import Identity, Owner, Session, Source, TelemetryEvent
from sessions_app.partitions import ensure_partitions

_seq = itertools.count(1)


def owner(name: str = "Platform SRE", **kwargs) -> Owner:
    return Owner.objects.get_or_create(name=name, defaults=kwargs)[0]


def identity(kind: str = "human", login: str | None = None, **kwargs) -> Identity:
    login = login or f"user{next(_seq)}@example.com"
    if kind != "human":
        kwargs.setdefault("owner", owner())
    return Identity.objects.create(
        kind=kind, display_name=login.split("@")[0], login=login, **kwargs
    )


def source() -> Source:
    return Source.objects.get_or_create(name="okta-test", defaults={"kind": "okta"})[0]


def session(ident: Identity, key: str | None = None, **kwargs) -> Session:
    now = timezone.now()
    return Session.objects.create(
        source=source(),
        session_key=key or f"sess{next(_seq)}",
        identity=ident,
        first_seen_at=kwargs.pop("first_seen_at", now - timedelta(hours=1)),
        last_seen_at=kwargs.pop("last_seen_at", now),
        **kwargs,
    )


def event(sess: Session, at: datetime, **kwargs) -> TelemetryEvent:
    ensure_partitions(at, at)
    values = {
        "source": sess.source,
        "provider_event_id": f"ev{next(_seq)}",
        "occurred_at": at,
        "received_at": at,
        "provider_event_type": "user.session.access",
        "event_type": "session_activity",
        "outcome": "success",
        "identity_id": sess.identity_id,
        "session": sess,
        "session_key": sess.session_key,
        "details": {},
        "raw": {},
    }
    values.update(kwargs)
    return TelemetryEvent.objects.create(**values)


def alert(
    ident: Identity | None = None,
    *,
    severity: str = "high",
    stage: str = Stage.NEW,
    detector_id: str = "impossible_travel",
    sess: Session | None = None,
    evidence: dict | None = None,
    title: str = "Impossible travel",
    **kwargs,
) -> Alert:
    ident = ident or identity()
    now = timezone.now()
    ack_due, contain_due = sla_due_times(severity=severity, identity_kind=ident.kind, start=now)
    values = {
        "ack_due_at": ack_due,
        "contain_due_at": contain_due,
        "first_seen_at": now - timedelta(minutes=30),
        "last_seen_at": now,
        "response_owner": ident.owner,
    }
    values.update(kwargs)
    return Alert.objects.create(
        detector_id=detector_id,
        dedup_key=f"{detector_id}|test|{next(_seq)}",
        title=title,
        summary=f"{title} for {ident.login}.",
        severity=severity,
        score={"low": 20, "medium": 45, "high": 70, "critical": 90}[severity],
        identity=ident,
        session=sess,
        stage=stage,
        evidence=evidence or {},
        owasp_nhi=["NHI7:2025"],
        nist_csf=["DE.CM-03"],
        **values,
    )
