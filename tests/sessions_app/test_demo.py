"""The demo organisation: volumes, determinism, embedded scenarios, benign traffic, seeding.

The pure generator is tested at full scale (no database: a few seconds); the database path
runs ``seed_demo`` at a small scale through the real ingestion pipeline.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from sessions_app.demo import DETECTORS, ENTRA, GOOGLE, OKTA, SOURCE_NAMES, build_plan
from sessions_app.demo.agents import ATTACK_AGENTS
from sessions_app.demo.networks import NETWORKS
from sessions_app.models import Identity, IdentityLink, Owner, Session, Source, TelemetryEvent

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
HOSTING_ASNS = {n.asn for n in NETWORKS.values() if n.kind == "hosting"}
ANONYMIZER_ASNS = {n.asn for n in NETWORKS.values() if n.anonymizer}
ATTACK_UAS = set(ATTACK_AGENTS.values())


@pytest.fixture(scope="module")
def plan():
    return build_plan(7, NOW, 30, 1.0)


@pytest.fixture(scope="module")
def raw(plan):
    """Rendered vendor JSON per source, with the id ingestion stores for each event."""
    out = {}
    for source in SOURCE_NAMES:
        records = list(plan.events(source))
        out[source] = [(_event_id(source, r), r) for r in records]
    return out


@pytest.fixture(scope="module")
def scenario_ids(plan):
    return {i for s in plan.scenarios for i in s.event_ids}


def _event_id(source: str, record: dict) -> str:
    if source == OKTA:
        return record["uuid"]
    if source == ENTRA:
        return record["id"]
    return f"{record['id']['uniqueQualifier']}:{record['events'][0]['name']}"


def _time(source: str, record: dict) -> datetime:
    text = {OKTA: lambda r: r["published"], ENTRA: lambda r: r["createdDateTime"]}.get(
        source, lambda r: r["id"]["time"]
    )(record)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _okta_session(r: dict) -> str:
    return r["authenticationContext"]["externalSessionId"] or ""


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(h))


# --------------------------------------------------------------------------- volumes


def test_full_scale_volumes(plan):
    identities = plan.identities
    nhis = [i for i in identities if not i.is_human]
    assert len(identities) >= 500
    assert len(nhis) >= 100
    assert all(i.owner for i in nhis)
    assert {i.kind for i in nhis} == {
        "service_account",
        "api_key",
        "oauth_app",
        "workload",
        "ai_agent",
    }
    tiers = [i.privilege_tier for i in identities]
    assert tiers.count("break_glass") == 2
    assert 3 <= tiers.count("privileged") <= 20
    assert len({i.login for i in identities}) == len(identities)
    owners = {o.name: o for o in plan.owners}
    assert {"Platform SRE", "Data Engineering", "IT Operations", "Security Engineering"} <= set(
        owners
    )
    assert all(o.email and o.chat_webhook_url.startswith("https://") for o in owners.values())
    assert {i.owner for i in nhis} <= set(owners)
    assert [s.name for s in plan.sources] == [OKTA, ENTRA, GOOGLE]
    assert plan.event_count >= 100_000
    assert len(plan.session_keys(OKTA)) + len(plan.session_keys(ENTRA)) >= 5_000
    first = min(e.at for events in plan.planned.values() for e in events)
    last = max(e.at for events in plan.planned.values() for e in events)
    assert NOW - timedelta(days=30) <= first < NOW - timedelta(days=29)
    assert NOW - timedelta(hours=2) < last < NOW


def test_events_are_in_time_order_with_unique_ids(raw):
    for source, records in raw.items():
        times = [_time(source, r) for _, r in records]
        assert times == sorted(times)
        assert len({i for i, _ in records}) == len(records)


def test_humans_keep_office_hours_and_quieter_weekends(plan):
    humans = {i.key: i for i in plan.identities if i.is_human}
    starts = [
        e for e in plan.planned[OKTA] if e.name == "user.session.start" and e.identity.key in humans
    ]
    weekend = [e for e in starts if e.at.weekday() >= 5]
    assert len(weekend) < len(starts) * 0.05
    berlin = [e for e in starts if e.network.city == "Berlin"]
    local_hours = [(e.at + timedelta(hours=1)).hour for e in berlin if e.at.weekday() < 5]
    assert sum(7 <= h <= 11 for h in local_hours) > 0.9 * len(local_hours)


def test_browsers_update_within_the_window(plan):
    versions = {
        e.agent.raw.split("Chrome/")[1].split(".")[0]
        for e in plan.planned[OKTA]
        if e.identity.is_human and "Chrome/" in e.agent.raw
    }
    assert len(versions) >= 2


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_plan_other_seed_other_plan():
    one = build_plan(11, NOW, 20, 0.1)
    two = build_plan(11, NOW, 20, 0.1)
    other = build_plan(12, NOW, 20, 0.1)
    assert one.digest() == two.digest()
    assert one.scenarios_json() == two.scenarios_json()
    assert one.digest() != other.digest()


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="days"):
        build_plan(1, NOW, 5, 1.0)
    with pytest.raises(ValueError, match="timezone"):
        build_plan(1, NOW.replace(tzinfo=None), 30, 1.0)


# --------------------------------------------------------------------------- scenarios


def test_every_scenario_kind_is_embedded_and_recorded(plan, raw):
    ids = {source: {i for i, _ in records} for source, records in raw.items()}
    expected = set(DETECTORS)
    assert {d for s in plan.scenarios for d in s.detectors} == expected
    logins = {i.login for i in plan.identities}
    for s in plan.scenarios:
        assert set(s.detectors) <= expected, s.key
        assert s.source in SOURCE_NAMES
        assert s.identity_login in logins
        assert s.malicious_event_ids and set(s.malicious_event_ids) <= set(s.event_ids)
        assert set(s.event_ids) <= ids[s.source], s.key
        assert NOW - timedelta(days=30) < s.at < NOW
    written = orjson.loads(plan.scenarios_json())
    assert [w["key"] for w in written] == [s.key for s in plan.scenarios]


def _scenario(plan, key):
    return next(s for s in plan.scenarios if s.key == key)


def _records(raw, source, event_ids):
    wanted = set(event_ids)
    return [r for i, r in raw[source] if i in wanted]


def test_cookie_replay_is_shaped_like_the_attack(plan, raw):
    s = _scenario(plan, "okta-cookie-replay")
    (sid,) = s.session_keys
    in_session = [r for _, r in raw[OKTA] if _okta_session(r) == sid]
    bad = _records(raw, OKTA, s.malicious_event_ids)
    assert {r["securityContext"]["asNumber"] for r in bad} == {9009}
    assert {r["client"]["geographicalContext"]["city"] for r in bad} == {"Bucharest"}
    assert {r["client"]["userAgent"]["rawUserAgent"] for r in bad} <= ATTACK_UAS
    assert len({r["debugContext"]["debugData"]["dtHash"] for r in in_session}) == 2
    mfa = next(r for r in in_session if r["eventType"] == "user.authentication.auth_via_mfa")
    assert mfa["securityContext"]["asNumber"] == 3320
    first_bad = min(_time(OKTA, r) for r in bad)
    assert timedelta(minutes=35) < first_bad - _time(OKTA, mfa) < timedelta(minutes=45)
    # the victim keeps using the session while the attacker does: concurrent use
    victim_times = [_time(OKTA, r) for r in in_session if r not in bad]
    assert any(t > first_bad for t in victim_times)


def test_entra_token_replay_shares_the_session_id(plan, raw):
    s = _scenario(plan, "entra-token-replay")
    (sid,) = s.session_keys
    in_session = [r for _, r in raw[ENTRA] if r["sessionId"] == sid]
    assert {r["autonomousSystemNumber"] for r in in_session} == {2856, 14061}
    assert len({r["deviceDetail"]["deviceId"] for r in in_session}) == 2


def test_impossible_travel_is_faster_than_a_plane(plan, raw):
    for key, source in (("okta-impossible-travel", OKTA), ("google-impossible-travel", GOOGLE)):
        s = _scenario(plan, key)
        logins = [
            r
            for i, r in raw[source]
            if i in set(s.event_ids)
            and (
                r.get("eventType") == "user.session.start"
                or (source == GOOGLE and r["events"][0]["name"] == "login_success")
            )
        ]
        assert len(logins) == 2
        first, second = sorted(logins, key=lambda r: _time(source, r))
        hours = (_time(source, second) - _time(source, first)).total_seconds() / 3600
        if source == OKTA:
            a = first["client"]["geographicalContext"]["geolocation"]
            b = second["client"]["geographicalContext"]["geolocation"]
            km = _km((a["lat"], a["lon"]), (b["lat"], b["lon"]))
            assert not second["securityContext"]["isProxy"]
        else:
            km = _km((52.52, 13.405), (1.29, 103.85))
            assert second["networkInfo"]["regionCode"] == "SG"
        assert km > 5000 and km / hours > 900


def test_use_after_revocation(plan, raw):
    s = _scenario(plan, "okta-use-after-revocation")
    (sid,) = s.session_keys
    in_session = [r for _, r in raw[OKTA] if _okta_session(r) == sid]
    cleared = next(_time(OKTA, r) for r in in_session if r["eventType"] == "user.session.clear")
    later = [_time(OKTA, r) for r in in_session if _time(OKTA, r) > cleared]
    assert later and min(later) - cleared > timedelta(minutes=5)


def test_nhi_new_context_after_a_long_baseline(plan, raw):
    s = _scenario(plan, "entra-nhi-new-context")
    mine = [r for _, r in raw[ENTRA] if r["servicePrincipalName"] == s.identity_login]
    bad = set(s.malicious_event_ids)
    baseline = [r for r in mine if r["id"] not in bad]
    assert len({r["autonomousSystemNumber"] for r in baseline}) == 1
    assert {r["autonomousSystemNumber"] for r in mine if r["id"] in bad} == {14061}
    span = _time(ENTRA, baseline[-1]) - _time(ENTRA, baseline[0])
    assert s.at - _time(ENTRA, baseline[0]) > timedelta(days=14) and span > timedelta(days=14)
    assert s.session_keys == (f"credential:{baseline[0]['servicePrincipalCredentialKeyId']}",)


def test_human_use_of_a_service_account(plan, raw):
    s = _scenario(plan, "entra-human-use-of-service-account")
    identity = next(i for i in plan.identities if i.login == s.identity_login)
    assert identity.kind == "service_account"
    mine = [r for _, r in raw[ENTRA] if r["userPrincipalName"] == s.identity_login]
    interactive = [r for r in mine if r["isInteractive"]]
    assert len(interactive) == 1
    assert interactive[0]["authenticationRequirement"] == "multiFactorAuthentication"
    assert "Mobile app notification" in interactive[0]["authenticationMethodsUsed"]
    assert all(r["authenticationProtocol"] == "ropc" for r in mine if r["id"] not in s.event_ids)


def test_overlong_session(plan, raw):
    s = _scenario(plan, "okta-overlong-session")
    (sid,) = s.session_keys
    times = [_time(OKTA, r) for _, r in raw[OKTA] if _okta_session(r) == sid]
    assert max(times) - min(times) > timedelta(days=5)
    starts = [r for _, r in raw[OKTA] if _okta_session(r) == sid]
    assert sum(r["eventType"] == "user.session.start" for r in starts) == 1


def test_stale_high_value_action(plan, raw):
    s = _scenario(plan, "okta-stale-admin-grant")
    (sid,) = s.session_keys
    in_session = [r for _, r in raw[OKTA] if _okta_session(r) == sid]
    mfa = next(_time(OKTA, r) for r in in_session if "auth_via_mfa" in r["eventType"])
    grant = next(r for r in in_session if r["eventType"] == "user.account.privilege.grant")
    assert _time(OKTA, grant) - mfa > timedelta(hours=10)
    identity = next(i for i in plan.identities if i.login == s.identity_login)
    assert identity.privilege_tier == "privileged"


def test_idp_risk_verdicts(plan, raw):
    okta = _records(raw, OKTA, _scenario(plan, "okta-itp-risk").malicious_event_ids)
    assert okta[0]["eventType"] == "user.risk.detect"
    assert okta[0]["securityContext"]["risk"]["level"] == "HIGH"
    entra = _records(raw, ENTRA, _scenario(plan, "entra-anomalous-token").malicious_event_ids)
    assert entra[0]["riskEventTypes_v2"] == ["anomalousToken"]


# --------------------------------------------------------------------------- benign traffic


def test_benign_sessions_never_change_device_and_network_together(plan, raw, scenario_ids):
    scenario_sessions = {k for s in plan.scenarios for k in s.session_keys}
    okta: dict[str, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for event_id, r in raw[OKTA]:
        sid = _okta_session(r)
        if sid and sid not in scenario_sessions and event_id not in scenario_ids:
            okta[sid][0].add(r["securityContext"]["asNumber"])
            okta[sid][1].add(r["debugContext"]["debugData"].get("dtHash"))
    assert okta
    assert not [k for k, (asns, devices) in okta.items() if len(asns) > 1 and len(devices) > 1]
    assert any(len(asns) > 1 for asns, _ in okta.values())  # Wi-Fi → cellular does happen
    entra: dict[str, tuple[set, set]] = defaultdict(lambda: (set(), set()))
    for event_id, r in raw[ENTRA]:
        sid = r["sessionId"]
        if sid and sid not in scenario_sessions and event_id not in scenario_ids:
            entra[sid][0].add(r["autonomousSystemNumber"])
            entra[sid][1].add((r["deviceDetail"]["deviceId"], r["userAgent"].split("/")[0]))
    assert not [k for k, (asns, devices) in entra.items() if len(asns) > 1 and len(devices) > 1]


def test_benign_travel_is_possible(plan, raw, scenario_ids):
    """Successive successful logins per person never imply more than 800 km/h over 500 km."""
    logins = defaultdict(list)
    for event_id, r in raw[OKTA]:
        if r["eventType"] == "user.session.start" and event_id not in scenario_ids:
            geo = r["client"]["geographicalContext"]["geolocation"]
            if not r["securityContext"]["isProxy"]:
                logins[r["actor"]["alternateId"]].append((_time(OKTA, r), (geo["lat"], geo["lon"])))
    for event_id, r in raw[ENTRA]:
        if r["isInteractive"] and event_id not in scenario_ids and r["userPrincipalName"]:
            geo = r["location"]["geoCoordinates"]
            if r["autonomousSystemNumber"] not in ANONYMIZER_ASNS:
                logins[r["userPrincipalName"]].append(
                    (_time(ENTRA, r), (geo["latitude"], geo["longitude"]))
                )
    travelled = 0
    for events in logins.values():
        events.sort()
        for (t1, p1), (t2, p2) in itertools.pairwise(events):
            km = _km(p1, p2)
            if km >= 500:
                travelled += 1
                hours = max((t2 - t1).total_seconds() / 3600, 1e-6)
                assert km / hours < 800, (t1, p1, t2, p2)
    assert travelled >= 2  # some people do travel


def test_benign_traffic_has_no_attack_markers(plan, raw, scenario_ids):
    for source, records in raw.items():
        for event_id, r in records:
            if event_id in scenario_ids:
                continue
            if source == OKTA:
                assert r["eventType"] not in ("user.session.clear", "user.risk.detect")
                assert r["securityContext"]["asNumber"] not in HOSTING_ASNS
                assert r["client"]["userAgent"]["rawUserAgent"] not in ATTACK_UAS
            elif source == ENTRA:
                assert r["riskEventTypes_v2"] == []
                assert r["autonomousSystemNumber"] not in HOSTING_ASNS
                assert r["userAgent"] not in ATTACK_UAS
            else:
                assert r["networkInfo"]["ipAsn"][0] not in HOSTING_ASNS


def test_benign_browser_sessions_are_short_and_admin_actions_fresh(plan, raw, scenario_ids):
    scenario_sessions = {k for s in plan.scenarios for k in s.session_keys}
    spans: dict[str, list[datetime]] = defaultdict(list)
    mfa_at: dict[str, datetime] = {}
    for event_id, r in raw[OKTA]:
        sid = _okta_session(r)
        if not sid or sid in scenario_sessions or event_id in scenario_ids:
            continue
        at = _time(OKTA, r)
        spans[sid].append(at)
        if r["eventType"] == "user.authentication.auth_via_mfa":
            mfa_at[sid] = at
        if r["eventType"] in ("user.session.access_admin_app", "user.account.privilege.grant"):
            assert at - mfa_at[sid] < timedelta(minutes=30)
    assert max(max(t) - min(t) for t in spans.values()) < timedelta(hours=12)


def test_benign_machines_stay_in_their_region_at_a_fixed_cadence(plan, scenario_ids):
    by_identity = defaultdict(list)
    for events in plan.planned.values():
        for e in events:
            if not e.identity.is_human and e.event_id not in scenario_ids:
                by_identity[e.identity.key].append(e)
    assert len(by_identity) >= 100
    for events in by_identity.values():
        assert len({e.network.asn for e in events}) == 1
        assert len({e.ip for e in events}) == 1
        assert all(e.name != "interactiveUser" for e in events)
        gaps = {round((b.at - a.at).total_seconds() / 60) for a, b in itertools.pairwise(events)}
        assert len(gaps) <= 2  # the interval, give or take the sub-second jitter


# --------------------------------------------------------------------------- database


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.mark.django_db(transaction=True)
def test_seed_demo_through_ingestion(var_dir, capsys):
    args = ["--seed", "3", "--scale", "0.05", "--now", NOW.isoformat()]
    call_command("seed_demo", *args)
    plan = build_plan(3, NOW, 30, 0.05)

    assert set(Source.objects.values_list("name", "enabled")) == {
        (OKTA, False),
        (ENTRA, False),
        (GOOGLE, False),
    }
    # Ingestion found every pre-created identity by its link: nothing was duplicated.
    assert Identity.objects.count() == len(plan.identities)
    assert IdentityLink.objects.count() == sum(len(i.provider_ids) for i in plan.identities)
    assert not Identity.objects.exclude(kind="human").filter(owner__isnull=True).exists()
    assert Identity.objects.filter(privilege_tier="break_glass").count() == 2
    svc = Identity.objects.get(
        login=_scenario(plan, "entra-human-use-of-service-account").identity_login
    )
    assert svc.kind == "service_account" and svc.owner is not None
    assert TelemetryEvent.objects.count() == plan.event_count
    assert Owner.objects.filter(email__endswith="@northwind.example").count() == len(plan.owners)
    for s in plan.scenarios:
        for key in s.session_keys:
            session = Session.objects.get(source__name=s.source, session_key=key)
            assert session.identity.login == s.identity_login
        stored = TelemetryEvent.objects.filter(
            source__name=s.source, provider_event_id__in=s.malicious_event_ids
        ).count()
        assert stored == len(s.malicious_event_ids), s.key
    revoked = Session.objects.get(
        session_key=_scenario(plan, "okta-use-after-revocation").session_keys[0]
    )
    assert revoked.revoked_at is not None
    users = get_user_model().objects
    for username, role in (("analyst", "Analyst"), ("manager", "Manager"), ("admin", "Admin")):
        user = users.get(username=username)
        assert user.check_password(f"{username}-demo-pass")
        assert user.groups.filter(name=role).exists()
    written = orjson.loads((var_dir / "demo_scenarios.json").read_bytes())
    assert written == orjson.loads(plan.scenarios_json())
    assert "okta-cookie-replay" in capsys.readouterr().out

    # Running again without --reset changes nothing and says why.
    counts = (Identity.objects.count(), Session.objects.count(), TelemetryEvent.objects.count())
    call_command("seed_demo", *args)
    assert "already seeded" in capsys.readouterr().out
    after = (Identity.objects.count(), Session.objects.count(), TelemetryEvent.objects.count())
    assert after == counts

    # --reset rebuilds the same organisation from scratch.
    call_command("seed_demo", *args, "--reset")
    assert (
        Identity.objects.count(),
        Session.objects.count(),
        TelemetryEvent.objects.count(),
    ) == counts
    assert users.filter(username__in=["analyst", "manager", "admin"]).count() == 3
