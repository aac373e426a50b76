"""Backtest correctness on constructed sessions and events, hand-computed; SQL = Python."""

from datetime import UTC, datetime, timedelta

import pytest

from sessions_app.models import Identity, Session, SessionLifetimePolicy, Source, TelemetryEvent
from sessions_app.partitions import ensure_partitions
from sessions_app.policy_backtest import backtest, backtest_python

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture
def data(db):
    ensure_partitions(NOW - timedelta(days=40), NOW)
    okta = Source.objects.create(name="okta", kind="okta")
    n = iter(range(1, 1000))

    def identity(login, kind="human", tier="standard", department=""):
        return Identity.objects.create(
            kind=kind, display_name=login, login=login, privilege_tier=tier, department=department
        )

    def session(who, key, *, auth, last, device="", status="active", ended=None):
        return Session.objects.create(
            source=okta,
            session_key=key,
            identity=who,
            authenticated_at=auth,
            first_seen_at=auth,
            last_seen_at=last,
            first_device_id=device,
            status=status,
            ended_at=ended,
        )

    def events(s, rows):
        TelemetryEvent.objects.bulk_create(
            TelemetryEvent(
                source=okta,
                provider_event_id=f"e{next(n)}",
                occurred_at=at,
                received_at=at,
                provider_event_type=etype,
                event_type=etype,
                outcome=extra.get("outcome", "success"),
                identity_id=s.identity_id,
                session=s,
                session_key=s.session_key,
                country=extra.get("country", "DE"),
                user_agent=extra.get("ua", ""),
                device_id=extra.get("device", s.first_device_id),
                high_value_action=extra.get("hv", ""),
                client_app=extra.get("app", ""),
                details={},
                raw={},
            )
            for at, etype, extra in rows
        )

    dana, erin = identity("dana"), identity("erin", tier="privileged")
    gina, frank = identity("gina"), identity("frank", department="Finance")
    svc = identity("svc-backup", kind="service_account")
    # S1: uses past 8 h, a stale high-value action; idle gaps of 1 h (same device: not
    # reported) and 8 h (back on another device: reported, and breaks device binding).
    s1 = session(dana, "s1", auth=NOW - 10 * H, last=NOW - 20 * M, device="d1")
    events(
        s1,
        [
            (NOW - 10 * H, "logon", {}),
            (NOW - 9 * H, "sso", {}),
            (NOW - 1 * H, "sso", {"device": "d9"}),
            (NOW - 20 * M, "privileged_action", {"hv": "admin_console", "device": "d9"}),
        ],
    )
    # S2: a use from FR on another device; re-auth by MFA right before a high-value action.
    s2 = session(erin, "s2", auth=NOW - 3 * H, last=NOW - 160 * M, device="d2")
    events(
        s2,
        [
            (NOW - 3 * H, "logon", {}),
            (NOW - 170 * M, "sso", {"country": "FR", "device": "d3"}),
            (NOW - 165 * M, "mfa_challenge", {}),
            (NOW - 160 * M, "privileged_action", {"hv": "policy_change"}),
        ],
    )
    # S3: a service account — outside a draft scoped to humans.
    s3 = session(svc, "s3", auth=NOW - 20 * H, last=NOW - 10 * M)
    events(s3, [(NOW - 20 * H, "logon", {}), (NOW - 10 * M, "sso", {})])
    # S4: ended 35 days ago, its events are outside the window.
    s4 = session(
        dana,
        "s4",
        auth=NOW - 36 * 24 * H,
        last=NOW - 35 * 24 * H,
        status="ended",
        ended=NOW - 35 * 24 * H,
    )
    events(s4, [(NOW - 36 * 24 * H, "logon", {}), (NOW - 35 * 24 * H, "sso", {})])
    # S5: Finance has its own, more specific policy.
    s5 = session(frank, "s5", auth=NOW - 20 * H, last=NOW - 1 * H)
    events(s5, [(NOW - 20 * H, "logon", {}), (NOW - 1 * H, "sso", {})])
    # S6: the failed attempt in the middle is not a use, so the gap is 100 min, and the
    # session came back in another client; it has ended since.
    s6 = session(gina, "s6", auth=NOW - 2 * H, last=NOW - 20 * M, status="ended", ended=NOW)
    events(
        s6,
        [
            (NOW - 2 * H, "logon", {"ua": "Mozilla/5.0 Chrome/131"}),
            (NOW - 1 * H, "sso", {"outcome": "failure", "ua": "curl/8.1.2"}),
            (NOW - 20 * M, "sso", {"ua": "curl/8.1.2"}),
        ],
    )
    SessionLifetimePolicy.objects.create(
        name="Finance",
        identity_kind="human",
        department="Finance",
        max_lifetime_s=24 * 3600,
        reauth_window_s=3600,
    )
    return {"s1": s1, "s2": s2, "s3": s3, "s5": s5, "s6": s6, "okta": okta}


def draft(**kw):
    values = {
        "name": "Draft",
        "max_lifetime_s": 8 * 3600,
        "idle_timeout_s": 30 * 60,
        "reauth_window_s": 15 * 60,
        "allowed_countries": ["DE"],
        "device_binding": True,
        "priority": 100,
    }
    return SessionLifetimePolicy(**{**values, **kw})


def as_dict(result):
    return {
        "classes": [
            (
                r.identity_kind,
                r.sessions_in_scope,
                r.flagged_sessions,
                r.flagged_identities,
                r.by_kind,
                r.active_now,
                r.violating_now,
            )
            for r in result.classes
        ],
        "samples": [(s.session_key, s.kinds, s.violating_now) for s in result.samples],
    }


def test_hand_computed_figures_for_a_draft_scoped_to_humans(data):
    result = backtest(draft(identity_kind="human"), now=NOW)
    assert [r.identity_kind for r in result.classes] == ["human"]
    human = result.classes[0]
    assert human.sessions_in_scope == 3  # s1, s2, s6 (s4 too old, s5 held by Finance)
    assert human.flagged_sessions == 3 and human.flagged_identities == 3
    assert human.by_kind == {"lifetime": 1, "idle": 2, "reauth": 1, "country": 1, "device": 2}
    # s2 is quiet for 160 min (the IdP has expired it); s1 is still used, 10 h after sign-in.
    assert human.active_now == 2 and human.violating_now == 1
    samples = {s.session_key: s for s in result.samples}
    assert samples["s1"].kinds == ["lifetime", "idle", "reauth", "device"]
    assert samples["s1"].violating_now
    assert samples["s2"].kinds == ["country", "device"] and not samples["s2"].violating_now
    assert samples["s6"].kinds == ["idle"] and not samples["s6"].violating_now
    assert result.seconds >= 0


def test_unscoped_draft_sees_every_class_but_not_what_finance_governs(data):
    result = backtest(draft(), now=NOW)
    classes = {r.identity_kind: r for r in result.classes}
    assert set(classes) == {"human", "service_account"}
    svc = classes["service_account"]
    assert (svc.sessions_in_scope, svc.flagged_sessions, svc.by_kind["lifetime"]) == (1, 1, 1)
    assert svc.violating_now == 1  # 20 h since sign-in, 8 h allowed
    assert "s5" not in {s.session_key for s in result.samples}


def test_an_edited_policy_replaces_its_saved_self(data):
    finance = SessionLifetimePolicy.objects.get(name="Finance")
    finance.max_lifetime_s = 8 * 3600  # the draft of an edit keeps the policy's id
    result = backtest(finance, now=NOW)
    assert [
        (r.identity_kind, r.sessions_in_scope, r.by_kind["lifetime"]) for r in result.classes
    ] == [("human", 1, 1)]


def test_more_specific_policy_wins_and_priority_breaks_ties(data):
    SessionLifetimePolicy.objects.create(
        name="Privileged",
        identity_kind="human",
        privilege_tier="privileged",
        max_lifetime_s=3600,
        reauth_window_s=600,
    )
    result = backtest(draft(identity_kind="human"), now=NOW)
    assert result.classes[0].sessions_in_scope == 2  # erin's s2 is held by "Privileged"
    # An equally specific enabled policy with a lower priority number keeps the sessions.
    SessionLifetimePolicy.objects.create(
        name="Humans first",
        identity_kind="human",
        priority=1,
        max_lifetime_s=3600,
        reauth_window_s=600,
    )
    assert backtest(draft(identity_kind="human"), now=NOW).classes == []
    assert (
        backtest(draft(identity_kind="human", priority=0), now=NOW).classes[0].sessions_in_scope
        == 2
    )


@pytest.mark.parametrize(
    "kw",
    [
        {"identity_kind": "human"},
        {},
        {"idle_timeout_s": None, "allowed_countries": [], "device_binding": False},
        {"client_app": "Salesforce"},
    ],
)
@pytest.mark.parametrize("shards", [1, 3])
def test_sql_and_python_agree(data, kw, shards, settings):
    settings.GOVERN_BACKTEST_PARALLEL = shards
    TelemetryEvent.objects.filter(session=data["s1"], event_type="sso").update(
        client_app="Salesforce"
    )
    assert as_dict(backtest(draft(**kw), now=NOW)) == as_dict(backtest_python(draft(**kw), now=NOW))


def _second_flagged_session_for_dana(data):
    """Another of dana's sessions, used past the draft's lifetime."""
    s1 = data["s1"]
    s7 = Session.objects.create(
        source=data["okta"],
        session_key="s7",
        identity=s1.identity,
        authenticated_at=NOW - 12 * H,
        first_seen_at=NOW - 12 * H,
        last_seen_at=NOW - 30 * M,
    )
    for n, (at, etype) in enumerate([(NOW - 12 * H, "logon"), (NOW - 30 * M, "sso")]):
        TelemetryEvent.objects.create(
            source=data["okta"],
            provider_event_id=f"s7-{n}",
            occurred_at=at,
            received_at=at,
            provider_event_type=etype,
            event_type=etype,
            outcome="success",
            identity_id=s7.identity_id,
            session=s7,
            session_key="s7",
            country="DE",
            details={},
            raw={},
        )
    return s7


def test_an_identity_flagged_in_two_shards_counts_once(data, settings):
    s7 = _second_flagged_session_for_dana(data)
    shards = next(n for n in range(2, 8) if data["s1"].pk % n != s7.pk % n)
    settings.GOVERN_BACKTEST_PARALLEL = shards
    result = backtest(draft(identity_kind="human"), now=NOW)
    expected = as_dict(backtest_python(draft(identity_kind="human"), now=NOW))
    assert as_dict(result) == expected
    # dana (s1, s7), erin (s2), gina (s6): three people, four sessions
    assert (result.classes[0].flagged_sessions, result.classes[0].flagged_identities) == (4, 3)


def test_shards_run_side_by_side_on_their_own_connections(transactional_db, data, settings):
    """Outside a transaction the shards run concurrently in threads, each on its own
    connection (which sees only committed rows): same figures as the Python rules."""
    from django.db import connection

    _second_flagged_session_for_dana(data)
    settings.GOVERN_BACKTEST_PARALLEL = 3
    assert not connection.in_atomic_block
    for kw in ({"identity_kind": "human"}, {}):
        assert as_dict(backtest(draft(**kw), now=NOW)) == as_dict(
            backtest_python(draft(**kw), now=NOW)
        )


def test_application_scope_counts_sessions_that_used_the_app(data):
    TelemetryEvent.objects.filter(session=data["s1"]).update(client_app="Salesforce")
    result = backtest(draft(client_app="Salesforce"), now=NOW)
    assert [(r.identity_kind, r.sessions_in_scope) for r in result.classes] == [("human", 1)]
