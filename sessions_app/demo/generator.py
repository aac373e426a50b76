"""Build the demo organisation deterministically: ``build_plan(seed, now, days, scale)``.

Pure: no database, no clock, no network. The same arguments give the same plan, byte for
byte (``DemoPlan.digest``). Benign traffic follows people's office hours in their time zone,
quieter weekends, laptops and phones with stable device hashes, browsers that update every
four weeks, some business travel with plausible flight times, corporate VPN and privacy-relay
use, Wi-Fi to cellular switches; machine identities call in from one cloud region at a fixed
cadence with long-lived credentials. Then ``scenarios`` embeds the attacks, each recorded as a
``DemoScenario`` naming the detectors that should find it. Benign traffic deliberately avoids
every scenario's pattern (see tests/sessions_app/test_demo.py), so those detectors have
exactly these to find.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .agents import MACHINE_AGENTS, UserAgent, browser_agent, machine_agent, mobile_agent
from .catalog import (
    CITY_PEOPLE,
    DEPARTMENTS,
    DOMAIN,
    ENTRA_BACKGROUND_APPS,
    ENTRA_INTERACTIVE_APPS,
    ENTRA_MOBILE_APP,
    NHI_ENVIRONMENTS,
    NHI_FAMILIES,
    NHI_TARGETS,
    OWNERS,
)
from .networks import HOME_CITIES, NETWORKS, Network, distance_km
from .plan import (
    ENTRA,
    GOOGLE,
    OKTA,
    DemoIdentity,
    DemoPlan,
    DemoSource,
    Device,
    PlannedEvent,
)
from .vendors import ENTRA_TENANT_ID, GOOGLE_CUSTOMER_ID, OKTA_ORG, behaviors_text

HUMANS_AT_SCALE_1 = 390
PRIVILEGED_AT_SCALE_1 = 8
MIN_HUMANS = 16  # enough people in every home city for the scenarios at tiny scales
MIN_DAYS = 16  # the NHI scenario needs a baseline of more than 14 days

_BASE62 = string.digits + string.ascii_letters


def okta_id(rng: random.Random, prefix: str) -> str:
    """An Okta object id: a three-letter type prefix and 17 base62 characters."""
    return prefix + "".join(rng.choices(_BASE62, k=17))


def guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


def okta_session_id(rng: random.Random) -> str:
    """An Identity Engine session id (``idx`` + 22 base62)."""
    return "idx" + "".join(rng.choices(_BASE62, k=22))


def device_hash(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def google_qualifier(rng: random.Random) -> str:
    return str(rng.getrandbits(63) - (1 << 62))


@dataclass(slots=True)
class Stay:
    """Where a person is between two flights (UTC bounds)."""

    arrive: datetime
    leave: datetime
    city: str  # a HOME_CITIES key or "Singapore"


@dataclass(slots=True)
class Person:
    """A human's habits: places, devices, hours. Only the generator sees these."""

    identity: DemoIdentity
    city: str
    tz: ZoneInfo
    department: str
    apps: tuple[str, ...]
    on_google: bool
    laptop: Device
    phone: Device | None
    home_ip: str
    office_ip: str
    remote_weekdays: frozenset[int]
    start_hour: float
    habit: str  # "", "vpn" (corporate, same city), "relay" (Private Relay), "nordvpn"
    privileged: bool
    vacation: frozenset[date] = frozenset()
    stays: list[Stay] = field(default_factory=list)


@dataclass(slots=True)
class Machine:
    """A non-human identity's fixed deployment: region, address, cadence, credential."""

    identity: DemoIdentity
    source: str
    network: Network
    ip: str
    agent: UserAgent
    interval: timedelta
    phase: timedelta
    credential: str  # Okta API token id / Entra credential key id / '' for managed identities
    app: tuple[str, str]
    resource: tuple[str, str]


class Generator:
    """Holds the random state and the growing event lists while a plan is built."""

    def __init__(self, seed: int, now: datetime, days: int, scale: float):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if days < MIN_DAYS:
            raise ValueError(f"days must be at least {MIN_DAYS} (scenarios need a baseline)")
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.seed = seed
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.days = days
        self.scale = scale
        self.start = self.now - timedelta(days=days)
        self.rng = random.Random(f"govern-demo:{seed}")
        self.events: dict[str, list[PlannedEvent]] = {OKTA: [], ENTRA: [], GOOGLE: []}
        self.people: list[Person] = []
        self.machines: list[Machine] = []
        self.identities: list[DemoIdentity] = []
        self.excluded: dict[str, list[tuple[datetime, datetime]]] = {}
        self.okta_apps: dict[str, str] = {}
        self.office_ips: dict[str, list[str]] = {}
        self._capture: list[PlannedEvent] | None = None

    # ------------------------------------------------------------------ primitives
    def rng_for(self, *parts: object) -> random.Random:
        return random.Random(":".join(["govern-demo", str(self.seed), *map(str, parts)]))

    def emit(
        self,
        source: str,
        at: datetime,
        name: str,
        identity: DemoIdentity,
        network: Network,
        ip: str,
        agent: UserAgent,
        rng: random.Random,
        *,
        device: Device | None = None,
        session: str = "",
        **extra,
    ) -> PlannedEvent | None:
        """Add one event; events outside the window are dropped (returns None)."""
        if at < self.start or at >= self.now:
            return None
        event_id = google_qualifier(rng) if source == GOOGLE else guid(rng)
        event = PlannedEvent(
            at=at.replace(microsecond=(at.microsecond // 1000) * 1000),
            source=source,
            event_id=event_id,
            name=name,
            identity=identity,
            network=network,
            ip=ip,
            agent=agent,
            device=device,
            session=session,
            extra=extra,
        )
        self.events[source].append(event)
        if self._capture is not None:
            self._capture.append(event)
        return event

    def okta_app(self, name: str) -> tuple[str, str]:
        if name not in self.okta_apps:
            self.okta_apps[name] = okta_id(self.rng_for("app", name), "0oa")
        return name, self.okta_apps[name]

    # ------------------------------------------------------------------ organisation
    def build_identities(self) -> None:
        humans = max(MIN_HUMANS, round(HUMANS_AT_SCALE_1 * self.scale))
        privileged = max(2, round(PRIVILEGED_AT_SCALE_1 * self.scale))
        rng = self.rng_for("people")
        cities = _weighted_cycle({c: w for c, (w, _, _) in CITY_PEOPLE.items()})
        departments = _weighted_cycle({d: w for d, (w, _, _) in DEPARTMENTS.items()})
        logins: set[str] = set()
        for i in range(humans):
            city = cities[i % len(cities)]
            _, given, family = CITY_PEOPLE[city]
            first, last = rng.choice(given), rng.choice(family)
            base = f"{_ascii(first)}.{_ascii(last)}".lower()
            login = f"{base}@{DOMAIN}"
            n = 2
            while login in logins:
                login = f"{base}{n}@{DOMAIN}"
                n += 1
            logins.add(login)
            step = max(1, humans // privileged)
            is_admin = i % step == 3 and i // step < privileged
            department = (
                ("IT" if i % 2 else "Security")
                if is_admin
                else departments[(i * 7) % len(departments)]
            )
            _, apps, google = DEPARTMENTS[department]
            key = f"h{i:04d}"
            prng = self.rng_for("person", key)
            provider_ids = {OKTA: okta_id(prng, "00u"), ENTRA: guid(prng)}
            if google:
                provider_ids[GOOGLE] = str(prng.randrange(10**20, 10**21))
            identity = DemoIdentity(
                key=key,
                kind="human",
                display_name=f"{first} {last}",
                login=login,
                privilege_tier="privileged" if is_admin else "standard",
                department=department,
                owner="IT Operations"
                if is_admin and department == "IT"
                else ("Security Engineering" if is_admin else None),
                provider_ids=provider_ids,
                home_city=city,
            )
            self.identities.append(identity)
            self.people.append(self._person(identity, prng, apps, google, is_admin))
        for n in (1, 2):
            prng = self.rng_for("breakglass", n)
            self.identities.append(
                DemoIdentity(
                    key=f"bg{n}",
                    kind="human",
                    display_name=f"Break-glass admin {n}",
                    login=f"breakglass-{n:02d}@{DOMAIN}",
                    privilege_tier="break_glass",
                    department="IT",
                    owner="Identity & Access",
                    provider_ids={OKTA: okta_id(prng, "00u"), ENTRA: guid(prng)},
                    home_city="Berlin",
                )
            )
        self._machines()

    def _person(
        self, identity: DemoIdentity, rng: random.Random, apps, google: bool, admin: bool
    ) -> Person:
        city = identity.home_city
        places = HOME_CITIES[city]
        tz = ZoneInfo(NETWORKS[places["office"]].tz)
        platform = rng.choices(["windows", "mac"], [55, 45])[0]
        browser = rng.choices(
            ["CHROME", "EDGE", "FIREFOX", "SAFARI"],
            [55, 25, 8, 12] if platform == "mac" else [60, 32, 8, 0],
        )[0]
        laptop = Device(
            key=f"{identity.key}-laptop",
            platform=platform,
            browser=browser,
            dt_hash=device_hash(rng),
            device_id=guid(rng),
            display_name="NW-"
            + ("LT" if platform == "windows" else "MB")
            + f"-{rng.randrange(1000, 9999)}",
            managed=True,
            lag_days=rng.randrange(0, 7),
        )
        phone = None
        if rng.random() < 0.45:
            phone_platform = rng.choice(["ios", "ios", "android"])
            phone = Device(
                key=f"{identity.key}-phone",
                platform=phone_platform,
                browser="APP",
                dt_hash=device_hash(rng),
                device_id=guid(rng),
                display_name=f"{identity.display_name.split()[0]}'s "
                + ("iPhone" if phone_platform == "ios" else "Pixel"),
                managed=False,
                lag_days=rng.randrange(0, 10),
            )
        office_pool = self.office_ips.setdefault(
            city,
            [NETWORKS[places["office"]].address(self.rng_for("office", city, k)) for k in range(4)],
        )
        habit = ""
        roll = rng.random()
        if places["vpn"] and roll < 0.25:
            habit = "vpn"
        elif browser == "SAFARI" and roll < 0.6:
            habit = "relay"
        elif city == "Berlin" and roll < 0.05 and not admin:
            habit = "nordvpn"
        vacation: set[date] = set()
        if rng.random() < 0.15:
            first = (self.start + timedelta(days=rng.randrange(2, max(3, self.days - 6)))).date()
            vacation = {first + timedelta(days=k) for k in range(rng.randrange(3, 8))}
        return Person(
            identity=identity,
            city=city,
            tz=tz,
            department=identity.department,
            apps=apps,
            on_google=google,
            laptop=laptop,
            phone=phone,
            home_ip=NETWORKS[places["home"]].address(rng),
            office_ip=rng.choice(office_pool),
            remote_weekdays=frozenset(rng.sample(range(5), rng.choice([0, 1, 2, 2, 3]))),
            start_hour=rng.uniform(7.6, 9.8),
            habit=habit,
            privileged=admin,
            vacation=frozenset(vacation),
        )

    def _machines(self) -> None:
        per_kind: dict[str, list[tuple[str, tuple]]] = {}
        for env in NHI_ENVIRONMENTS:
            for family in NHI_FAMILIES:
                for base in family[1]:
                    per_kind.setdefault(family[0], []).append((f"{base}-{env}", family))
        for kind, target in NHI_TARGETS.items():
            count = max(1, round(target * self.scale))
            for name, family in per_kind[kind][:count]:
                self._machine(kind, name, family)

    def _machine(self, kind: str, name: str, family: tuple) -> None:
        _, _, owner, platform, network_keys, agent_key = family
        rng = self.rng_for("nhi", name)
        network = NETWORKS[rng.choice(network_keys)]
        source = OKTA if platform == "okta" else ENTRA
        app = (name, guid(rng))
        resource = ("Microsoft Graph", "00000003-0000-0000-c000-000000000000")
        if kind == "api_key":
            provider_id = okta_id(rng, "00u")
            login = f"svc-{name}@{DOMAIN}"
            display = f"Okta API token · {name}"
            credential = okta_id(rng, "00T")
        elif source == OKTA:  # OAuth service app (client credentials)
            provider_id = okta_id(rng, "0oa")
            login = provider_id
            display = name
            credential = provider_id
        elif kind == "service_account":
            provider_id = guid(rng)
            login = f"{name}@{DOMAIN}"
            display = f"Service account {name}"
            credential = ""
            resource = rng.choice(
                [
                    ("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"),
                    ("Office 365 SharePoint Online", "00000003-0000-0ff1-ce00-000000000000"),
                    ("Microsoft Graph", "00000003-0000-0000-c000-000000000000"),
                ]
            )
        else:  # Entra service principal: app registration, managed identity or agent
            provider_id = guid(rng)
            login = name
            display = name
            credential = "" if kind == "workload" else guid(rng)
        identity = DemoIdentity(
            key=f"nhi-{name}",
            kind=kind,
            display_name=display,
            login=login,
            privilege_tier="privileged"
            if name.startswith(("okta-terraform", "mi-deploy"))
            else ("standard"),
            department="",
            owner=owner,
            provider_ids={source: provider_id},
            home_city=network.key,
        )
        self.identities.append(identity)
        interval = timedelta(minutes=rng.choice([120, 180, 240, 240, 360, 480]))
        self.machines.append(
            Machine(
                identity=identity,
                source=source,
                network=network,
                ip=network.address(rng),
                agent=machine_agent(MACHINE_AGENTS[agent_key]),
                interval=interval,
                phase=timedelta(seconds=rng.randrange(int(interval.total_seconds()))),
                credential=credential,
                app=app,
                resource=resource,
            )
        )

    # ------------------------------------------------------------------ travel
    def plan_travel(self, exclude: set[str]) -> None:
        """Everyone stays home, except a few people who fly to another office and back."""
        for person in self.people:
            person.stays = [
                Stay(self.start - timedelta(days=2), self.now + timedelta(days=2), person.city)
            ]
        travellers = [p for p in self.people if p.identity.key not in exclude and not p.privileged]
        rng = self.rng_for("travel")
        count = max(2, round(len(self.people) * 0.04))
        for person in rng.sample(travellers, min(count, len(travellers))):
            destination = rng.choice([c for c in [*HOME_CITIES, "Singapore"] if c != person.city])
            depart_day = (self.start + timedelta(days=rng.randrange(3, self.days - 8))).date()
            while depart_day.weekday() >= 5:
                depart_day += timedelta(days=1)
            nights = rng.randrange(2, 5)
            home_tz = person.tz
            dest_tz = ZoneInfo(_city_network(destination, "office").tz)
            leave_home = datetime.combine(depart_day, time(11, 0), home_tz).astimezone(UTC)
            flight = _flight_time(person.city, destination)
            arrive = leave_home + flight
            leave_dest = datetime.combine(
                arrive.astimezone(dest_tz).date() + timedelta(days=nights), time(11, 0), dest_tz
            ).astimezone(UTC)
            back = leave_dest + _flight_time(destination, person.city)
            home = person.stays[0]
            person.stays = [
                Stay(home.arrive, leave_home, person.city),
                Stay(arrive, leave_dest, destination),
                Stay(back, home.leave, person.city),
            ]

    # ------------------------------------------------------------------ humans
    def human_traffic(self) -> None:
        for person in self.people:
            rng = self.rng_for("days", person.identity.key)
            for stay in person.stays:
                tz = ZoneInfo(_city_network(stay.city, "office").tz)
                day = max(stay.arrive, self.start).astimezone(tz).date() - timedelta(days=1)
                last = min(stay.leave, self.now).astimezone(tz).date()
                while day <= last:
                    self._human_day(person, stay, tz, day, rng)
                    day += timedelta(days=1)

    def _human_day(
        self, person: Person, stay: Stay, tz: ZoneInfo, day: date, rng: random.Random
    ) -> None:
        weekend = day.weekday() >= 5
        if weekend:
            if rng.random() >= 0.07:
                return
            start_local = datetime.combine(day, time(10, 0), tz) + timedelta(
                hours=rng.uniform(0, 7)
            )
            length = timedelta(hours=rng.uniform(0.75, 2.0))
        else:
            if day in person.vacation or rng.random() < 0.05:
                return
            start_local = datetime.combine(day, time(0, 0), tz) + timedelta(
                hours=person.start_hour + rng.gauss(0, 0.3)
            )
            length = timedelta(hours=rng.uniform(7.5, 9.5))
        start = start_local.astimezone(UTC)
        end = start + length
        start = max(start, stay.arrive + timedelta(hours=1))
        end = min(end, stay.leave - timedelta(hours=3), self.now - timedelta(minutes=2))
        if start < self.start or end - start < timedelta(minutes=40):
            return
        for lo, hi in self.excluded.get(person.identity.key, ()):
            if start < hi and end > lo:
                return
        network, ip = self._place(person, stay, day, weekend, rng)
        self._okta_session(person, start, end, network, ip, day, rng)
        self._entra_session(person, start, end, network, ip, day, rng)
        if person.on_google and rng.random() < 0.8:
            self._google_login(
                person,
                start + timedelta(minutes=rng.uniform(4, 50)),
                network,
                ip,
                rng,
                logout=end if rng.random() < 0.3 else None,
            )
        if person.phone and not weekend and rng.random() < 0.35:
            self._phone_session(person, stay, start, end, day, rng)

    def _place(
        self, person: Person, stay: Stay, day: date, weekend: bool, rng: random.Random
    ) -> tuple[Network, str]:
        if stay.city != person.city:  # travelling: the local office, else the hotel
            if stay.city in HOME_CITIES and not weekend:
                network = _city_network(stay.city, "office")
                return network, self.office_ips.setdefault(
                    stay.city, [network.address(self.rng_for("office", stay.city, 0))]
                )[0]
            network = _city_network(stay.city, "home")
            return network, network.address(self.rng_for("hotel", person.identity.key, stay.city))
        remote = weekend or day.weekday() in person.remote_weekdays
        if not remote:
            return _city_network(person.city, "office"), person.office_ip
        if person.habit == "vpn":
            network = _city_network(person.city, "vpn")
            return network, network.address(rng)
        if person.habit == "relay":
            network = _city_network(person.city, "relay")
            return network, network.address(rng)
        if person.habit == "nordvpn":
            network = NETWORKS["nordvpn-frankfurt"]
            return network, network.address(rng)
        return _city_network(person.city, "home"), person.home_ip

    def _okta_session(
        self,
        person: Person,
        start: datetime,
        end: datetime,
        network: Network,
        ip: str,
        day: date,
        rng: random.Random,
        *,
        session: str | None = None,
        logout: bool | None = None,
        sso_count: int | None = None,
        admin_console: bool | None = None,
        tether: bool | None = None,
    ) -> str:
        """One laptop browser session at Okta: sign-in with MFA, policy, SSO, maybe logout.

        Left to chance unless given: the session id, the logout, the number of SSO events,
        an early admin-console visit (privileged people, always minutes after MFA) and a
        stretch tethered to the phone's cellular network.
        """
        ident, device = person.identity, person.laptop
        agent = browser_agent(device.browser, device.platform, day, device.lag_days)
        sid = session or okta_session_id(rng)
        common = {"device": device, "session": sid}
        moved = network.city != person.city
        self.emit(
            OKTA,
            start,
            "user.session.start",
            ident,
            network,
            ip,
            agent,
            rng,
            **common,
            auth_provider="OKTA_AUTHENTICATION_PROVIDER",
            credential_provider="OKTA_CREDENTIAL_PROVIDER",
            credential_type="PASSWORD",
        )
        mfa_at = start + timedelta(seconds=rng.uniform(8, 40))
        self.emit(
            OKTA,
            mfa_at,
            "user.authentication.auth_via_mfa",
            ident,
            network,
            ip,
            agent,
            rng,
            **common,
            auth_provider="FACTOR_PROVIDER",
            credential_provider="OKTA_CREDENTIAL_PROVIDER",
            credential_type="OTP",
            factor=rng.choice(["OKTA_VERIFY_PUSH", "SIGNED_NONCE", "SIGNED_NONCE"]),
        )
        changes = {"New City": "POSITIVE", "New IP": "POSITIVE"} if moved else None
        if moved and network.country != NETWORKS[HOME_CITIES[person.city]["office"]].country:
            changes = {**changes, "New Country": "POSITIVE", "New Geo-Location": "POSITIVE"}
        self.emit(
            OKTA,
            mfa_at + timedelta(seconds=1),
            "policy.evaluate_sign_on",
            ident,
            network,
            ip,
            agent,
            rng,
            **common,
            outcome="ALLOW",
            reason="Sign-on policy evaluation resulted in ALLOW",
            behaviors=behaviors_text(changes),
        )
        if admin_console is None:
            admin_console = person.privileged and rng.random() < 0.6
        if admin_console:
            console = mfa_at + timedelta(minutes=rng.uniform(2, 10))
            self.emit(
                OKTA,
                console,
                "user.session.access_admin_app",
                ident,
                network,
                ip,
                agent,
                rng,
                **common,
            )
            if rng.random() < 0.05:
                target = rng.choice(self.people).identity
                if target.key != ident.key:
                    self.emit(
                        OKTA,
                        console + timedelta(minutes=rng.uniform(1, 4)),
                        "user.account.privilege.grant",
                        ident,
                        network,
                        ip,
                        agent,
                        rng,
                        **common,
                        target=target,
                        privilege="Help Desk Administrator",
                    )
        # Tethering: a stretch of the day on the phone's cellular network, same laptop.
        if tether is None:
            tether = (
                not person.privileged
                and network.kind in ("office", "home")
                and (rng.random() < 0.06)
            )
        tethered = None
        if tether and network.city in _CITY_KEYS:
            t0 = start + (end - start) * rng.uniform(0.3, 0.6)
            mobile = _city_network(network.city, "mobile")
            tethered = (
                t0,
                t0 + timedelta(minutes=rng.uniform(30, 90)),
                mobile,
                mobile.address(rng),
            )
        count = sso_count if sso_count is not None else rng.randint(2, 4)
        times = sorted(start + (end - start) * rng.uniform(0.02, 1.0) for _ in range(count))
        for at in times:
            net, addr = network, ip
            if tethered and tethered[0] <= at <= tethered[1]:
                net, addr = tethered[2], tethered[3]
            self.emit(
                OKTA,
                at,
                "user.authentication.sso",
                ident,
                net,
                addr,
                agent,
                rng,
                **common,
                app=self.okta_app(rng.choice(person.apps)),
            )
        if logout if logout is not None else rng.random() < 0.4:
            self.emit(OKTA, end, "user.session.end", ident, network, ip, agent, rng, **common)
        return sid

    def _entra_session(
        self,
        person: Person,
        start: datetime,
        end: datetime,
        network: Network,
        ip: str,
        day: date,
        rng: random.Random,
        *,
        session: str | None = None,
        refresh_minutes: tuple[float, float] = (140, 210),
    ) -> str:
        ident, device = person.identity, person.laptop
        agent = browser_agent(device.browser, device.platform, day, device.lag_days)
        sid = session or guid(rng)
        at = start + timedelta(minutes=rng.uniform(1, 12))
        self.emit(
            ENTRA,
            at,
            "interactiveUser",
            ident,
            network,
            ip,
            agent,
            rng,
            device=device,
            session=sid,
            app=rng.choice(ENTRA_INTERACTIVE_APPS),
            mfa=True,
            protocol="none",
            methods=["Password", "Mobile app notification"],
            auth_details=_mfa_details(at),
        )
        while True:
            at += timedelta(minutes=rng.uniform(*refresh_minutes))
            if at >= end:
                break
            app, resource = rng.choice(ENTRA_BACKGROUND_APPS)
            self.emit(
                ENTRA,
                at,
                "nonInteractiveUser",
                ident,
                network,
                ip,
                agent,
                rng,
                device=device,
                session=sid,
                app=app,
                resource=resource,
                mfa=True,
                incoming_type="primaryRefreshToken" if device.platform == "windows" else "none",
                protocol="none",
                auth_details=_previously_satisfied(at),
            )
        return sid

    def _phone_session(
        self,
        person: Person,
        stay: Stay,
        start: datetime,
        end: datetime,
        day: date,
        rng: random.Random,
    ) -> None:
        """Outlook on the phone: home Wi-Fi, then cellular on the way, same device all along."""
        phone = person.phone
        assert phone is not None
        if stay.city != person.city:
            return
        agent = mobile_agent(phone.platform, day, phone.lag_days)
        sid = guid(rng)
        home = _city_network(person.city, "home")
        mobile = _city_network(person.city, "mobile")
        first = max(
            start - timedelta(minutes=rng.uniform(40, 80)), stay.arrive + timedelta(hours=1)
        )
        steps = [(first, home, person.home_ip)]
        cell_ip = mobile.address(rng)
        steps.append((first + timedelta(minutes=rng.uniform(20, 35)), mobile, cell_ip))
        steps.append((start + (end - start) * rng.uniform(0.4, 0.6), mobile, mobile.address(rng)))
        for at, network, ip in steps:
            self.emit(
                ENTRA,
                at,
                "nonInteractiveUser",
                person.identity,
                network,
                ip,
                agent,
                rng,
                device=phone,
                session=sid,
                app=ENTRA_MOBILE_APP,
                resource=("Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000"),
                mfa=True,
                protocol="none",
                auth_details=_previously_satisfied(at),
            )

    def _google_login(
        self,
        person: Person,
        at: datetime,
        network: Network,
        ip: str,
        rng: random.Random,
        *,
        logout: datetime | None = None,
        login_type: str = "saml",
    ) -> PlannedEvent | None:
        agent = browser_agent(person.laptop.browser, person.laptop.platform, at.date(), 0)
        event = self.emit(
            GOOGLE,
            at,
            "login_success",
            person.identity,
            network,
            ip,
            agent,
            rng,
            login_type=login_type,
            suspicious=False,
        )
        if logout is not None and logout > at:
            self.emit(
                GOOGLE,
                logout,
                "logout",
                person.identity,
                network,
                ip,
                agent,
                rng,
                login_type=login_type,
            )
        return event

    # ------------------------------------------------------------------ machines
    def machine_traffic(self) -> None:
        for machine in self.machines:
            rng = self.rng_for("cadence", machine.identity.key)
            at = self.start + machine.phase
            while at < self.now:
                jitter = timedelta(milliseconds=rng.randrange(0, 2500))
                self.machine_call(machine, at + jitter, rng)
                at += machine.interval

    def machine_call(
        self,
        machine: Machine,
        at: datetime,
        rng: random.Random,
        *,
        network: Network | None = None,
        ip: str | None = None,
        agent: UserAgent | None = None,
    ) -> PlannedEvent | None:
        ident = machine.identity
        network = network or machine.network
        ip = ip or machine.ip
        agent = agent or machine.agent
        if machine.source == OKTA and ident.kind == "api_key":
            target = self.people[rng.randrange(len(self.people))].identity
            return self.emit(
                OKTA,
                at,
                "user.account.update_profile",
                ident,
                network,
                ip,
                agent,
                rng,
                api_token_id=machine.credential,
                target=target,
                credential_type="API_TOKEN",
            )
        if machine.source == OKTA:
            return self.emit(
                OKTA,
                at,
                "app.oauth2.as.token.grant.access_token",
                ident,
                network,
                ip,
                agent,
                rng,
                actor_type="PublicClientApp",
                client_id=machine.credential,
                grant_type="client_credentials",
                scopes="okta.users.read okta.groups.read",
                credential_type="CLIENT_SECRET",
            )
        if ident.kind == "service_account":
            return self.emit(
                ENTRA,
                at,
                "nonInteractiveUser",
                ident,
                network,
                ip,
                agent,
                rng,
                session=guid(self.rng_for("sa-session", ident.key, at.date())),
                app=machine.app,
                resource=machine.resource,
                mfa=False,
                protocol="ropc",
                methods=["Password"],
                auth_details=[_step(at, "Password", "Correct password")],
            )
        if ident.kind == "workload":
            return self.emit(
                ENTRA,
                at,
                "managedIdentity",
                ident,
                network,
                ip,
                agent,
                rng,
                app=machine.app,
                resource=machine.resource,
                msi_resource=f"/subscriptions/{ENTRA_TENANT_ID}/resourceGroups/"
                f"rg-{ident.login}/providers/Microsoft.Compute/virtualMachines/"
                f"vm-{ident.login}",
            )
        extra = {"agent_info": {"agentType": "agenticApp"}} if ident.kind == "ai_agent" else {}
        return self.emit(
            ENTRA,
            at,
            "servicePrincipal",
            ident,
            network,
            ip,
            agent,
            rng,
            session=machine.credential,
            app=machine.app,
            resource=machine.resource,
            credential_type="clientSecret" if ident.kind == "oauth_app" else "certificate",
            **extra,
        )

    # ------------------------------------------------------------------ capture
    def capture(self) -> _Capture:
        return _Capture(self)

    def exclude(self, identity: DemoIdentity, lo: datetime, hi: datetime) -> None:
        """Keep benign traffic of ``identity`` a day clear of a scenario's span."""
        self.excluded.setdefault(identity.key, []).append(
            (lo - timedelta(hours=24), hi + timedelta(hours=24))
        )

    def local_weekday(self, person: Person, days_back: int, at: time) -> datetime:
        """``at`` local time on the weekday ``days_back`` days before now (earlier if weekend)."""
        day = (self.now - timedelta(days=days_back)).astimezone(person.tz).date()
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return datetime.combine(day, at, person.tz).astimezone(UTC)


class _Capture:
    """Collects the events emitted inside a ``with`` block (a scenario's own events)."""

    def __init__(self, gen: Generator):
        self.gen = gen
        self.events: list[PlannedEvent] = []

    def __enter__(self) -> _Capture:
        self.gen._capture = self.events
        return self

    def __exit__(self, *exc) -> None:
        self.gen._capture = None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(provider_event_id(e) for e in self.events)


def provider_event_id(event: PlannedEvent) -> str:
    """The id ingestion stores for the event (Google's is qualifier + event name)."""
    return f"{event.event_id}:{event.name}" if event.source == GOOGLE else event.event_id


def build_plan(seed: int, now: datetime, days: int = 30, scale: float = 1.0) -> DemoPlan:
    """Generate the demo organisation, its traffic for ``days`` before ``now`` and the attacks."""
    from .scenarios import plan_scenarios

    gen = Generator(seed, now, days, scale)
    gen.build_identities()
    scenario_builders = plan_scenarios(gen)  # reserves victims and their quiet windows
    gen.plan_travel(exclude=set(gen.excluded))
    gen.human_traffic()
    gen.machine_traffic()
    scenarios = [build() for build in scenario_builders]
    for events in gen.events.values():
        events.sort(key=lambda e: (e.at, e.event_id))
    return DemoPlan(
        seed=seed,
        now=gen.now,
        days=days,
        scale=scale,
        owners=list(OWNERS),
        sources=demo_sources(),
        identities=gen.identities,
        scenarios=sorted(scenarios, key=lambda s: (s.at, s.key)),
        planned=gen.events,
    )


def demo_sources() -> list[DemoSource]:
    """The three demo tenants. They carry no credentials, so they are created disabled."""
    return [
        DemoSource(
            OKTA,
            "okta",
            {"base_url": f"https://{OKTA_ORG}.okta.com", "demo": True},
        ),
        DemoSource(
            ENTRA,
            "entra",
            {
                "tenant_id": ENTRA_TENANT_ID,
                "base_url": "https://graph.microsoft.com",
                "demo": True,
            },
        ),
        DemoSource(
            GOOGLE,
            "google",
            {
                "customer_id": GOOGLE_CUSTOMER_ID,
                "domain": DOMAIN,
                "base_url": "https://admin.googleapis.com",
                "demo": True,
            },
        ),
    ]


# ---------------------------------------------------------------------- helpers
_CITY_KEYS = {**dict.fromkeys(HOME_CITIES), "Singapore": None}
_SINGAPORE = {"office": "singapore-isp", "home": "singapore-isp", "mobile": "singapore-mobile"}


def _city_network(city: str, role: str) -> Network:
    if city == "Singapore":
        return NETWORKS[_SINGAPORE[role]]
    for name, places in HOME_CITIES.items():
        if name == city or NETWORKS[places["office"]].city == city:
            return NETWORKS[places[role]]
    raise KeyError(city)


def _flight_time(origin: str, destination: str) -> timedelta:
    """Door to door: airport time plus cruising at 750 km/h, never faster than a plane."""
    km = distance_km(_city_network(origin, "office"), _city_network(destination, "office"))
    return timedelta(hours=km / 750 + 0.75)


def _weighted_cycle(weights: dict[str, int]) -> list[str]:
    """A deterministic interleaving in which every key appears in proportion to its weight."""
    total = sum(weights.values())
    credit = dict.fromkeys(weights, 0.0)
    order = []
    for _ in range(total):
        for key, w in weights.items():
            credit[key] += w / total
        best = max(credit, key=lambda k: credit[k])
        credit[best] -= 1
        order.append(best)
    return order


def _ascii(name: str) -> str:
    return name.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")


def _step(at: datetime, method: str, detail: str) -> dict:
    return {
        "authenticationStepDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "authenticationMethod": method,
        "authenticationMethodDetail": None,
        "succeeded": True,
        "authenticationStepResultDetail": detail,
        "authenticationStepRequirement": "",
    }


def _mfa_details(at: datetime) -> list[dict]:
    return [
        _step(at, "Password", "Correct password"),
        _step(at + timedelta(seconds=12), "Mobile app notification", "MFA successfully completed"),
    ]


def _previously_satisfied(at: datetime) -> list[dict]:
    return [
        _step(
            at, "Previously satisfied", "First factor requirement satisfied by claim in the token"
        ),
        _step(at, "Previously satisfied", "MFA requirement satisfied by claim in the token"),
    ]
