"""The attacks embedded in the demo organisation, each recorded as a ``DemoScenario``.

``plan_scenarios`` runs before benign traffic is generated: it picks each victim and keeps
their benign traffic a day clear of the scenario, so the only unusual thing about a victim's
data is the scenario itself. It returns builders that emit the scenario's events afterwards.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from .agents import ATTACK_AGENTS, browser_agent, machine_agent
from .catalog import AZURE_MANAGEMENT, AZURE_PORTAL, ENTRA_GRAPH, ENTRA_INTERACTIVE_APPS
from .generator import (
    Generator,
    Machine,
    Person,
    _city_network,
    _mfa_details,
    _previously_satisfied,
    device_hash,
    guid,
    okta_session_id,
    provider_event_id,
)
from .networks import NETWORKS
from .plan import ENTRA, GOOGLE, OKTA, DemoScenario, Device
from .vendors import behaviors_text

Builder = Callable[[], DemoScenario]

_ATTACKER_BEHAVIORS = behaviors_text(
    {
        "New Geo-Location": "POSITIVE",
        "New Device": "POSITIVE",
        "New IP": "POSITIVE",
        "New State": "POSITIVE",
        "New Country": "POSITIVE",
        "New City": "POSITIVE",
    }
)


class _Picker:
    """Hands out distinct victims, preferring the requested home city."""

    def __init__(self, gen: Generator):
        self.gen = gen
        self.used: set[str] = set()

    def person(
        self, city: str | None = None, *, privileged: bool = False, google: bool = False
    ) -> Person:
        pool = [
            p
            for p in self.gen.people
            if p.identity.key not in self.used
            and p.privileged == privileged
            and (p.on_google or not google)
        ]
        for person in pool:
            if city is None or person.city == city:
                return self._take(person)
        if not pool:
            raise ValueError("not enough people for the demo scenarios; raise --scale")
        return self._take(pool[0])

    def machine(self, kinds: tuple[str, ...], source: str) -> Machine:
        for kind in kinds:
            for machine in self.gen.machines:
                if (
                    machine.identity.kind == kind
                    and machine.source == source
                    and machine.identity.key not in self.used
                ):
                    self.used.add(machine.identity.key)
                    return machine
        raise ValueError(f"no {'/'.join(kinds)} identity at {source} for the demo scenarios")

    def _take(self, person: Person) -> Person:
        self.used.add(person.identity.key)
        return person


def plan_scenarios(gen: Generator) -> list[Builder]:
    """Reserve victims and quiet windows now; return builders that emit the events later."""
    pick = _Picker(gen)
    builders: list[Builder] = []
    rng = gen.rng_for("scenarios")

    def reserve(person: Person, lo: datetime, hi: datetime) -> None:
        gen.exclude(person.identity, lo, hi)

    # (a) Okta session cookie replayed from Bucharest 40 minutes after MFA in Berlin.
    victim_a = pick.person("Berlin")
    t_a = gen.local_weekday(victim_a, 3, time(9, 5))
    reserve(victim_a, t_a, t_a + timedelta(hours=9))
    builders.append(lambda: _cookie_replay_okta(gen, victim_a, t_a, rng))

    # (a') Entra refresh-token replay: same sessionId from a DigitalOcean droplet.
    victim_a2 = pick.person("London")
    t_a2 = gen.local_weekday(victim_a2, 10, time(8, 50))
    reserve(victim_a2, t_a2, t_a2 + timedelta(hours=9))
    builders.append(lambda: _token_replay_entra(gen, victim_a2, t_a2, rng))

    # (b) Impossible travel at Okta: London, then Singapore one hour later.
    victim_b = pick.person("London")
    t_b = gen.local_weekday(victim_b, 5, time(8, 40))
    reserve(victim_b, t_b, t_b + timedelta(hours=9))
    builders.append(lambda: _impossible_travel_okta(gen, victim_b, t_b, rng))

    # (b') Impossible travel at Google Workspace: Berlin, then Singapore 55 minutes later.
    victim_b2 = pick.person("Berlin", google=True)
    t_b2 = gen.local_weekday(victim_b2, 11, time(9, 10))
    reserve(victim_b2, t_b2, t_b2 + timedelta(hours=2))
    builders.append(lambda: _impossible_travel_google(gen, victim_b2, t_b2, rng))

    # (c) Okta session used after the user cleared all sessions.
    victim_c = pick.person("New York")
    t_c = gen.local_weekday(victim_c, 7, time(9, 0))
    reserve(victim_c, t_c, t_c + timedelta(hours=9))
    builders.append(lambda: _use_after_revocation_okta(gen, victim_c, t_c, rng))

    # (d) Entra service principal credential used from a new ASN after a month of stability.
    machine_d = pick.machine(("oauth_app", "ai_agent"), ENTRA)
    t_d = (gen.now - timedelta(days=2)).replace(hour=3, minute=17, second=0)
    builders.append(lambda: _nhi_new_context(gen, machine_d, t_d, rng))

    # (e) A person signs in interactively, with MFA, as an Entra service account.
    machine_e = pick.machine(("service_account",), ENTRA)
    person_e = pick.person("Berlin")  # whose desk it happens at (their own traffic stays benign)
    t_e = gen.local_weekday(person_e, 9, time(10, 20))
    builders.append(lambda: _human_use_of_nhi(gen, machine_e, person_e, t_e, rng))

    # (f) One browser session kept alive for five and a half days.
    victim_f = pick.person("San Francisco")
    t_f = gen.local_weekday(victim_f, 13, time(8, 45))
    while t_f.astimezone(victim_f.tz).weekday() != 0:  # start on a Monday
        t_f -= timedelta(days=1)
    reserve(victim_f, t_f, t_f + timedelta(days=6))
    builders.append(lambda: _overlong_session_okta(gen, victim_f, t_f, rng))

    # (g) Admin grants a privilege ten and a half hours after authenticating.
    victim_g = pick.person("Berlin", privileged=True)
    t_g = gen.local_weekday(victim_g, 4, time(8, 10))
    reserve(victim_g, t_g, t_g + timedelta(hours=11))
    builders.append(lambda: _high_value_without_reauth(gen, victim_g, t_g, rng))

    # (h) IdP risk verdicts: Okta ITP session-hijack suspicion; Entra anomalousToken.
    victim_h = pick.person("Tokyo")
    t_h = gen.local_weekday(victim_h, 6, time(9, 0))
    reserve(victim_h, t_h, t_h + timedelta(hours=9))
    builders.append(lambda: _okta_risk_detect(gen, victim_h, t_h, rng))

    victim_h2 = pick.person("New York")
    t_h2 = gen.local_weekday(victim_h2, 8, time(9, 15))
    reserve(victim_h2, t_h2, t_h2 + timedelta(hours=9))
    builders.append(lambda: _entra_anomalous_token(gen, victim_h2, t_h2, rng))
    return builders


def _scenario(key, title, detectors, source, identity, sessions, at, cap, bad, description):
    return DemoScenario(
        key=key,
        title=title,
        detectors=tuple(detectors),
        source=source,
        identity_login=identity.login,
        session_keys=tuple(sessions),
        at=at,
        event_ids=cap.ids,
        malicious_event_ids=tuple(provider_event_id(e) for e in bad if e is not None),
        description=description,
    )


def _attacker_device(rng: random.Random) -> Device:
    return Device("attacker", "linux", "UNKNOWN", device_hash(rng), "", "", False, 0)


# ---------------------------------------------------------------------- (a) cookie replay
def _cookie_replay_okta(gen: Generator, victim: Person, t0: datetime, rng) -> DemoScenario:
    office = _city_network(victim.city, "office")
    day = t0.astimezone(victim.tz).date()
    sid = okta_session_id(rng)
    attacker_net = NETWORKS["m247-bucharest"]
    attacker_ip = attacker_net.address(rng)
    attacker_ua = machine_agent(ATTACK_AGENTS["python-requests"])
    attacker_device = _attacker_device(rng)
    bad = []
    with gen.capture() as cap:
        gen._okta_session(
            victim,
            t0,
            t0 + timedelta(hours=8, minutes=20),
            office,
            victim.office_ip,
            day,
            rng,
            session=sid,
            logout=True,
            sso_count=6,
            tether=False,
        )
        hit = t0 + timedelta(minutes=40)
        bad.append(
            gen.emit(
                OKTA,
                hit,
                "policy.evaluate_sign_on",
                victim.identity,
                attacker_net,
                attacker_ip,
                attacker_ua,
                rng,
                device=attacker_device,
                session=sid,
                outcome="ALLOW",
                reason="Sign-on policy evaluation resulted in ALLOW",
                behaviors=_ATTACKER_BEHAVIORS,
            )
        )
        for k, app in enumerate(["Salesforce", "GitHub Enterprise", "Box", "Workday", "Snowflake"]):
            bad.append(
                gen.emit(
                    OKTA,
                    hit + timedelta(seconds=25 + 38 * k),
                    "user.authentication.sso",
                    victim.identity,
                    attacker_net,
                    attacker_ip,
                    attacker_ua,
                    rng,
                    device=attacker_device,
                    session=sid,
                    app=gen.okta_app(app),
                )
            )
        # The victim keeps working in the same session meanwhile: concurrent use.
        agent = browser_agent(
            victim.laptop.browser, victim.laptop.platform, day, victim.laptop.lag_days
        )
        for minutes in (44, 52, 63):
            gen.emit(
                OKTA,
                t0 + timedelta(minutes=minutes),
                "user.authentication.sso",
                victim.identity,
                office,
                victim.office_ip,
                agent,
                rng,
                device=victim.laptop,
                session=sid,
                app=gen.okta_app(victim.apps[0]),
            )
        bad.append(
            gen.emit(
                OKTA,
                t0 + timedelta(minutes=71),
                "user.authentication.sso",
                victim.identity,
                attacker_net,
                attacker_ip,
                attacker_ua,
                rng,
                device=attacker_device,
                session=sid,
                app=gen.okta_app("AWS IAM Identity Center"),
            )
        )
    return _scenario(
        "okta-cookie-replay",
        "Okta session cookie replayed from M247 Bucharest 40 minutes after MFA in Berlin",
        ["session_context_change", "concurrent_session_reuse"],
        OKTA,
        victim.identity,
        [sid],
        t0 + timedelta(minutes=40),
        cap,
        bad,
        "Same externalSessionId, new dtHash, python-requests from AS9009 while the user "
        "keeps working from the Berlin office (AS3320).",
    )


def _token_replay_entra(gen: Generator, victim: Person, t0: datetime, rng) -> DemoScenario:
    office = _city_network(victim.city, "office")
    day = t0.astimezone(victim.tz).date()
    sid = guid(rng)
    attacker_net = NETWORKS["digitalocean-frankfurt"]
    attacker_ip = attacker_net.address(rng)
    attacker_ua = machine_agent(ATTACK_AGENTS["curl"])
    bad = []
    with gen.capture() as cap:
        gen._entra_session(
            victim,
            t0,
            t0 + timedelta(hours=8),
            office,
            victim.office_ip,
            day,
            rng,
            session=sid,
            refresh_minutes=(50, 70),
        )
        hit = t0 + timedelta(hours=2, minutes=15)
        for k in range(3):
            at = hit + timedelta(minutes=4 * k)
            bad.append(
                gen.emit(
                    ENTRA,
                    at,
                    "nonInteractiveUser",
                    victim.identity,
                    attacker_net,
                    attacker_ip,
                    attacker_ua,
                    rng,
                    device=None,
                    session=sid,
                    app=ENTRA_INTERACTIVE_APPS[0],
                    resource=ENTRA_GRAPH,
                    mfa=True,
                    incoming_type="refreshToken",
                    protocol="none",
                    auth_details=_previously_satisfied(at),
                )
            )
    return _scenario(
        "entra-token-replay",
        "Entra session token replayed with curl from DigitalOcean Frankfurt",
        ["session_context_change", "concurrent_session_reuse"],
        ENTRA,
        victim.identity,
        [sid],
        hit,
        cap,
        bad,
        "Non-interactive sign-ins on the user's sessionId from AS14061 with no device, while "
        "the user's managed laptop keeps refreshing from the London office (AS2856).",
    )


# ---------------------------------------------------------------------- (b) impossible travel
def _impossible_travel_okta(gen: Generator, victim: Person, t0: datetime, rng) -> DemoScenario:
    home = _city_network(victim.city, "home")
    day = t0.astimezone(victim.tz).date()
    far = NETWORKS["singapore-isp"]
    far_ip = far.address(rng)
    stranger = Device("sg-laptop", "windows", "CHROME", device_hash(rng), "", "", False, 0)
    agent = browser_agent("CHROME", "windows", day, 0)
    bad = []
    with gen.capture() as cap:
        sid = gen._okta_session(
            victim,
            t0,
            t0 + timedelta(hours=8),
            home,
            victim.home_ip,
            day,
            rng,
            logout=True,
            tether=False,
        )
        at = t0 + timedelta(hours=1)
        sid2 = okta_session_id(rng)
        bad.append(
            gen.emit(
                OKTA,
                at,
                "user.session.start",
                victim.identity,
                far,
                far_ip,
                agent,
                rng,
                device=stranger,
                session=sid2,
                auth_provider="OKTA_AUTHENTICATION_PROVIDER",
                credential_provider="OKTA_CREDENTIAL_PROVIDER",
                credential_type="PASSWORD",
            )
        )
        bad.append(
            gen.emit(
                OKTA,
                at + timedelta(seconds=21),
                "user.authentication.auth_via_mfa",
                victim.identity,
                far,
                far_ip,
                agent,
                rng,
                device=stranger,
                session=sid2,
                auth_provider="FACTOR_PROVIDER",
                credential_provider="OKTA_CREDENTIAL_PROVIDER",
                credential_type="OTP",
                factor="OKTA_VERIFY_PUSH",
            )
        )
        bad.append(
            gen.emit(
                OKTA,
                at + timedelta(seconds=22),
                "policy.evaluate_sign_on",
                victim.identity,
                far,
                far_ip,
                agent,
                rng,
                device=stranger,
                session=sid2,
                outcome="ALLOW",
                reason="Sign-on policy evaluation resulted in ALLOW",
                behaviors=_ATTACKER_BEHAVIORS,
            )
        )
        bad.append(
            gen.emit(
                OKTA,
                at + timedelta(minutes=3),
                "user.authentication.sso",
                victim.identity,
                far,
                far_ip,
                agent,
                rng,
                device=stranger,
                session=sid2,
                app=gen.okta_app("Salesforce"),
            )
        )
    return _scenario(
        "okta-impossible-travel",
        "Successful Okta logins from London and Singapore one hour apart",
        ["impossible_travel"],
        OKTA,
        victim.identity,
        [sid, sid2],
        at,
        cap,
        bad,
        "10,900 km in one hour (BT AS2856 London, then SingNet AS3758 Singapore), no VPN.",
    )


def _impossible_travel_google(gen: Generator, victim: Person, t0: datetime, rng) -> DemoScenario:
    office = _city_network(victim.city, "office")
    far = NETWORKS["singapore-mobile"]
    bad = []
    with gen.capture() as cap:
        gen._google_login(victim, t0, office, victim.office_ip, rng)
        at = t0 + timedelta(minutes=55)
        agent = browser_agent("CHROME", "windows", at.date(), 0)
        bad.append(
            gen.emit(
                GOOGLE,
                at,
                "login_success",
                victim.identity,
                far,
                far.address(rng),
                agent,
                rng,
                login_type="google_password",
                challenge=["password", "google_authenticator"],
                suspicious=False,
            )
        )
    return _scenario(
        "google-impossible-travel",
        "Google Workspace logins from Berlin and Singapore 55 minutes apart",
        ["impossible_travel"],
        GOOGLE,
        victim.identity,
        [],
        at,
        cap,
        bad,
        "login_success from Deutsche Telekom (AS3320) Berlin, then StarHub (AS4657) Singapore.",
    )


# ---------------------------------------------------------------------- (c) use after revocation
def _use_after_revocation_okta(gen: Generator, victim: Person, t0: datetime, rng) -> DemoScenario:
    office = _city_network(victim.city, "office")
    day = t0.astimezone(victim.tz).date()
    ip = victim.office_ip
    agent = browser_agent(
        victim.laptop.browser, victim.laptop.platform, day, victim.laptop.lag_days
    )
    bad = []
    with gen.capture() as cap:
        sid = gen._okta_session(
            victim,
            t0,
            t0 + timedelta(hours=2, minutes=20),
            office,
            ip,
            day,
            rng,
            logout=False,
            sso_count=3,
            tether=False,
        )
        cleared = t0 + timedelta(hours=2, minutes=30)
        gen.emit(
            OKTA,
            cleared,
            "user.session.clear",
            victim.identity,
            office,
            ip,
            agent,
            rng,
            device=victim.laptop,
            session=sid,
            target=victim.identity,
        )
        # The user signs in again (a new session) — that part is normal …
        gen._okta_session(
            victim,
            cleared + timedelta(minutes=6),
            t0 + timedelta(hours=8),
            office,
            ip,
            day,
            rng,
            logout=True,
            sso_count=4,
            tether=False,
        )
        # … but the cleared session key keeps being accepted.
        for minutes, app in ((25, "Slack"), (70, "Atlassian Cloud")):
            bad.append(
                gen.emit(
                    OKTA,
                    cleared + timedelta(minutes=minutes),
                    "user.authentication.sso",
                    victim.identity,
                    office,
                    ip,
                    agent,
                    rng,
                    device=victim.laptop,
                    session=sid,
                    app=gen.okta_app(app),
                )
            )
    return _scenario(
        "okta-use-after-revocation",
        "Okta session used 25 minutes after user.session.clear",
        ["use_after_revocation"],
        OKTA,
        victim.identity,
        [sid],
        cleared + timedelta(minutes=25),
        cap,
        bad,
        "The user cleared all sessions after reporting a phish; SSO events keep arriving on "
        "the cleared externalSessionId.",
    )


# ---------------------------------------------------------------------- (d) NHI new context
def _nhi_new_context(gen: Generator, machine: Machine, t0: datetime, rng) -> DemoScenario:
    new_net = NETWORKS["digitalocean-frankfurt"]
    ip = new_net.address(rng)
    agent = machine_agent(ATTACK_AGENTS["python-requests"])
    bad = []
    with gen.capture() as cap:
        for k in range(4):
            bad.append(
                gen.machine_call(
                    machine,
                    t0 + timedelta(minutes=6 * k, seconds=k),
                    rng,
                    network=new_net,
                    ip=ip,
                    agent=agent,
                )
            )
    return _scenario(
        "entra-nhi-new-context",
        f"Service principal {machine.identity.login} used from DigitalOcean Frankfurt",
        ["nhi_new_context"],
        ENTRA,
        machine.identity,
        [f"credential:{machine.credential}"],
        t0,
        cap,
        bad,
        f"After {gen.days - 2} days only from {machine.network.as_org} "
        f"(AS{machine.network.asn}, {machine.network.city}), the same credential signs in from "
        "AS14061 with python-requests.",
    )


# ---------------------------------------------------------------------- (e) human uses an NHI
def _human_use_of_nhi(
    gen: Generator, machine: Machine, person: Person, t0: datetime, rng
) -> DemoScenario:
    office = _city_network(person.city, "office")
    ip = person.office_ip
    day = t0.astimezone(person.tz).date()
    agent = browser_agent("CHROME", "windows", day, 0)
    browser = Device("browser", "windows", "CHROME", device_hash(rng), "", "", False, 0)
    sid = guid(rng)
    ident = machine.identity
    bad = []
    with gen.capture() as cap:
        bad.append(
            gen.emit(
                ENTRA,
                t0,
                "interactiveUser",
                ident,
                office,
                ip,
                agent,
                rng,
                device=browser,
                session=sid,
                app=AZURE_PORTAL,
                resource=AZURE_MANAGEMENT,
                mfa=True,
                protocol="none",
                methods=["Password", "Mobile app notification"],
                auth_details=_mfa_details(t0),
            )
        )
        for minutes in (9, 26):
            at = t0 + timedelta(minutes=minutes)
            bad.append(
                gen.emit(
                    ENTRA,
                    at,
                    "nonInteractiveUser",
                    ident,
                    office,
                    ip,
                    agent,
                    rng,
                    device=browser,
                    session=sid,
                    app=AZURE_PORTAL,
                    resource=AZURE_MANAGEMENT,
                    mfa=True,
                    protocol="none",
                    auth_details=_previously_satisfied(at),
                )
            )
    return _scenario(
        "entra-human-use-of-service-account",
        f"Interactive browser sign-in with MFA prompt as {ident.login}",
        ["human_use_of_nhi", "nhi_new_context"],
        ENTRA,
        ident,
        [sid],
        t0,
        cap,
        bad,
        "The service account normally signs in non-interactively (ROPC) from "
        f"{machine.network.as_org}; here someone signs in to the Azure Portal with Chrome and "
        "approves an MFA prompt from the Berlin office.",
    )


# ---------------------------------------------------------------------- (f) overlong session
def _overlong_session_okta(gen: Generator, victim: Person, t0: datetime, rng) -> DemoScenario:
    home = _city_network(victim.city, "home")
    ip = victim.home_ip
    bad = []
    with gen.capture() as cap:
        first_day = t0.astimezone(victim.tz).date()
        sid = gen._okta_session(
            victim,
            t0,
            t0 + timedelta(hours=8),
            home,
            ip,
            first_day,
            rng,
            logout=False,
            sso_count=4,
            tether=False,
        )
        limit = t0 + timedelta(hours=24)
        for d in range(1, 6):
            day = first_day + timedelta(days=d)
            agent = browser_agent(
                victim.laptop.browser, victim.laptop.platform, day, victim.laptop.lag_days
            )
            hours = (9, 11, 14, 16) if d < 5 else (9, 10.5)
            for h in hours:
                local = datetime.combine(day, time(0), victim.tz) + timedelta(
                    hours=h, minutes=rng.uniform(0, 50)
                )
                event = gen.emit(
                    OKTA,
                    local.astimezone(UTC),
                    "user.authentication.sso",
                    victim.identity,
                    home,
                    ip,
                    agent,
                    rng,
                    device=victim.laptop,
                    session=sid,
                    app=gen.okta_app(rng.choice(victim.apps)),
                )
                if event is not None and event.at > limit:
                    bad.append(event)
    return _scenario(
        "okta-overlong-session",
        "One Okta browser session kept alive for five and a half days",
        ["session_policy_violation"],
        OKTA,
        victim.identity,
        [sid],
        limit,
        cap,
        bad,
        "A single externalSessionId from the same laptop and home connection, Monday morning "
        "to Saturday, never re-authenticated: far over the 24 h AAL2 limit.",
    )


# ---------------------------------------------------------------------- (g) stale admin action
def _high_value_without_reauth(gen: Generator, victim: Person, t0: datetime, rng) -> DemoScenario:
    office = _city_network(victim.city, "office")
    ip = victim.office_ip
    day = t0.astimezone(victim.tz).date()
    agent = browser_agent(
        victim.laptop.browser, victim.laptop.platform, day, victim.laptop.lag_days
    )
    target = next(p.identity for p in gen.people if not p.privileged)
    bad = []
    with gen.capture() as cap:
        sid = okta_session_id(rng)
        # A normal working day in one session, without the usual early admin-console visit.
        gen._okta_session(
            victim,
            t0,
            t0 + timedelta(hours=10),
            office,
            ip,
            day,
            rng,
            session=sid,
            logout=False,
            sso_count=5,
            admin_console=False,
            tether=False,
        )
        at = t0 + timedelta(hours=10, minutes=30)
        bad.append(
            gen.emit(
                OKTA,
                at,
                "user.session.access_admin_app",
                victim.identity,
                office,
                ip,
                agent,
                rng,
                device=victim.laptop,
                session=sid,
            )
        )
        bad.append(
            gen.emit(
                OKTA,
                at + timedelta(minutes=3),
                "user.account.privilege.grant",
                victim.identity,
                office,
                ip,
                agent,
                rng,
                device=victim.laptop,
                session=sid,
                target=target,
                privilege="Super administrator",
            )
        )
    return _scenario(
        "okta-stale-admin-grant",
        "Super-administrator grant 10.5 hours after the admin last authenticated",
        ["high_value_without_reauth"],
        OKTA,
        victim.identity,
        [sid],
        at,
        cap,
        bad,
        "Admin console access and a privilege grant in a session whose MFA is 10.5 hours "
        "old, with no step-up.",
    )


# ---------------------------------------------------------------------- (h) IdP verdicts
def _okta_risk_detect(gen: Generator, victim: Person, t0: datetime, rng) -> DemoScenario:
    office = _city_network(victim.city, "office")
    ip = victim.office_ip
    day = t0.astimezone(victim.tz).date()
    agent = browser_agent(
        victim.laptop.browser, victim.laptop.platform, day, victim.laptop.lag_days
    )
    bad = []
    with gen.capture() as cap:
        sid = gen._okta_session(
            victim, t0, t0 + timedelta(hours=8), office, ip, day, rng, logout=True, tether=False
        )
        at = t0 + timedelta(hours=2, minutes=20)
        bad.append(
            gen.emit(
                OKTA,
                at,
                "user.risk.detect",
                victim.identity,
                office,
                ip,
                agent,
                rng,
                device=victim.laptop,
                session=sid,
                severity="WARN",
                target=victim.identity,
                risk="{reasons=Associated sessionId is suspected to be hijacked, level=HIGH}",
                security_risk={
                    "level": "HIGH",
                    "reasons": ["Anomalous Device"],
                    "detectionName": "Suspected Session Hijacking",
                    "issuer": "OKTA",
                    "previousLevel": "LOW",
                },
            )
        )
    return _scenario(
        "okta-itp-risk",
        "Okta ITP: associated session suspected to be hijacked (HIGH)",
        ["idp_risk_verdict"],
        OKTA,
        victim.identity,
        [sid],
        at,
        cap,
        bad,
        "user.risk.detect with level HIGH on the user's session; nothing else in the "
        "telemetry looks unusual.",
    )


def _entra_anomalous_token(gen: Generator, victim: Person, t0: datetime, rng) -> DemoScenario:
    office = _city_network(victim.city, "office")
    ip = victim.office_ip
    day = t0.astimezone(victim.tz).date()
    agent = browser_agent(
        victim.laptop.browser, victim.laptop.platform, day, victim.laptop.lag_days
    )
    bad = []
    with gen.capture() as cap:
        sid = gen._entra_session(victim, t0, t0 + timedelta(hours=8), office, ip, day, rng)
        at = t0 + timedelta(hours=2, minutes=25)
        app, resource = (
            ("Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c"),
            ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"),
        )
        bad.append(
            gen.emit(
                ENTRA,
                at,
                "nonInteractiveUser",
                victim.identity,
                office,
                ip,
                agent,
                rng,
                device=victim.laptop,
                session=sid,
                app=app,
                resource=resource,
                mfa=True,
                protocol="none",
                auth_details=_previously_satisfied(at),
                risk_events=["anomalousToken"],
                risk_level="high",
            )
        )
    return _scenario(
        "entra-anomalous-token",
        "Entra ID Protection: anomalousToken (high) on a non-interactive sign-in",
        ["idp_risk_verdict"],
        ENTRA,
        victim.identity,
        [sid],
        at,
        cap,
        bad,
        "riskEventTypes_v2 = [anomalousToken], riskLevelDuringSignIn = high, riskState = "
        "atRisk, from the user's usual office network and managed laptop.",
    )
