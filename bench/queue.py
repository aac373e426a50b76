"""Alert queue and alert detail benchmark: server time per view at 100,000 alerts.

    DEBUG=true .venv/bin/python bench/queue.py [--alerts 100000] [--runs 40] [--reseed]

Seeds, once, into its own PostgreSQL database (``govern_bench_queue``; ``BENCH_DATABASE_URL``
overrides): the demo organisation through ``seed_demo`` (its 100,000+ telemetry events,
identities and sessions), then ``--alerts`` alerts spread over those identities and sessions
(deterministic seed; ~15% open, the rest closed or suppressed, SLA due times, assignees,
escalations). Later runs reuse the data unless ``--reseed``.

Then renders each view through Django's test client (middleware, session, permissions, view,
template: everything the server does except the socket) ``--runs`` times after a warm-up,
and prints p50/p95 in ms. The baseline, measured in the same run, is the bare SQL a queue
page cannot avoid: ``SELECT`` of the same 50 rows with their identity, newest first.
Targets (issue 5): queue views < 150 ms p95, detail < 200 ms p95.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is bench/queue.py: drop its folder from the import path so that the standard
# library's ``queue`` (used by psycopg, Celery…) is not shadowed by this script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/govern_bench_queue"
SEED = 20261128
DETECTORS = [
    ("session_context_change", "Session context changed mid-session"),
    ("impossible_travel", "Impossible travel"),
    ("concurrent_session_reuse", "Concurrent session reuse"),
    ("nhi_new_context", "Non-human identity in a new context"),
    ("human_use_of_nhi", "Human use of a non-human identity"),
    ("use_after_revocation", "Use after revocation"),
    ("session_policy_violation", "Session policy violation"),
    ("idp_risk_verdict", "Identity provider risk verdict"),
    ("high_value_without_reauth", "High-value action without re-authentication"),
]


def setup_django(database_url: str) -> None:
    import psycopg

    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govern.settings")
    # Detection tasks that seeding enqueues go to a throw-away file broker, never run.
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("GOVERN_VAR_DIR", tempfile.mkdtemp(prefix="bench_queue_"))
    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def seed(total: int, reseed: bool) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction

    from alerts_app.models import Alert
    from govern.roles import ANALYST
    from sessions_app.models import Identity, Session

    User = get_user_model()
    if Alert.objects.count() >= total and not reseed:
        print(f"reusing {Alert.objects.count():,} alerts in {connection.settings_dict['NAME']}")
        return
    started = time.monotonic()
    if not Session.objects.exists() or reseed:
        call_command("seed_demo", reset=reseed, verbosity=0)
    print(f"demo organisation seeded in {time.monotonic() - started:.0f} s")
    Alert.objects.all().delete()
    rng = random.Random(SEED)
    analysts = []
    for i in range(8):
        user, _ = User.objects.get_or_create(username=f"bench-analyst-{i}")
        user.groups.add(Group.objects.get(name=ANALYST))
        analysts.append(user)
    identities = list(Identity.objects.values_list("id", "owner_id"))
    sessions_by_identity: dict[int, list[tuple[int, int]]] = {}
    for sid, iid, source_id in Session.objects.values_list("id", "identity_id", "source_id"):
        sessions_by_identity.setdefault(iid, []).append((sid, source_id))
    now = datetime.now(UTC)
    rows = []
    for n in range(total):
        iid, owner_id = rng.choice(identities)
        session = rng.choice(sessions_by_identity.get(iid) or [(None, None)])
        detector, title = rng.choice(DETECTORS)
        severity = rng.choices(["low", "medium", "high", "critical"], [30, 40, 22, 8])[0]
        last = now - timedelta(minutes=rng.randint(0, 60 * 24 * 90))
        roll = rng.random()
        stage = (
            "new" if roll < 0.06 else "in_progress" if roll < 0.12 else "contained"
            if roll < 0.15 else "suppressed" if roll < 0.22 else "closed"
        )  # fmt: skip
        assignee = rng.choice(analysts) if stage not in ("new", "suppressed") else None
        rows.append(
            Alert(
                detector_id=detector,
                dedup_key=f"{detector}|bench|{n}",
                title=title,
                summary=f"{title}: identity #{iid} from AS{rng.randint(1000, 60000)} "
                f"({rng.choice(['NL', 'RO', 'US', 'DE', 'SG'])}), {rng.randint(2, 40)} events.",
                severity=severity,
                score=rng.randint(10, 99),
                factors=[{"label": "new network", "points": 30}],
                evidence={"asn": rng.randint(1000, 60000), "event_ids": [str(n)]},
                identity_id=iid,
                session_id=session[0],
                source_id=session[1],
                first_seen_at=last - timedelta(minutes=rng.randint(1, 120)),
                last_seen_at=last,
                occurrences=rng.randint(1, 30),
                owasp_nhi=["NHI7:2025"],
                nist_csf=["DE.CM-03", "DE.AE-02"],
                mitre_attack=["T1550.004"],
                controls=" NHI7:2025 DE.CM-03 DE.AE-02 T1550.004 ",
                stage=stage,
                resolution="false_positive" if stage == "closed" else "",
                assignee=assignee,
                response_owner_id=owner_id,
                ack_due_at=last + timedelta(hours=rng.choice([1, 8, 72])),
                contain_due_at=last + timedelta(hours=rng.choice([4, 72, 336])),
                acknowledged_at=last + timedelta(minutes=20) if assignee else None,
                escalation_level=1 if rng.random() < 0.02 else 0,
            )
        )
    with transaction.atomic():
        Alert.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE alerts_app_alert"
        ) if not connection.in_atomic_block else None
    print(f"{total:,} alerts seeded in {time.monotonic() - started:.0f} s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up: connection, caches, template loading
    fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    setup_django(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    seed(args.alerts, args.reseed)

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from alerts_app.models import Alert
    from sessions_app.models import TelemetryEvent

    analyst = get_user_model().objects.get(username="bench-analyst-0")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(analyst)

    def baseline() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.*, i.display_name, i.kind FROM alerts_app_alert a "
                "JOIN sessions_app_identity i ON i.id = a.identity_id "
                "WHERE a.stage IN ('new', 'in_progress', 'contained') "
                "ORDER BY a.last_seen_at DESC, a.id DESC LIMIT 50"
            )
            cursor.fetchall()

    busy = (
        TelemetryEvent.objects.filter(session_id__isnull=False)
        .values("session_id")
        .order_by()
        .first()
    )
    detail_alert = (
        Alert.objects.filter(session_id=busy["session_id"]).first()
        if busy
        else Alert.objects.first()
    ) or Alert.objects.filter(session__isnull=False).first()
    views = [
        ("queue: default (open, newest first)", "/alerts/", {}),
        ("queue: htmx partial, default", "/alerts/", {"HTTP_HX_REQUEST": "true"}),
        ("queue: severity=high,critical", "/alerts/?severity=high&severity=critical", {}),
        ("queue: my queue", "/alerts/?assignee=me", {}),
        ("queue: unassigned", "/alerts/?assignee=none", {}),
        ("queue: SLA breaching", "/alerts/?sla=breaching", {}),
        ("queue: non-human identities", "/alerts/?identity_class=non_human", {}),
        ("queue: detector + stage", "/alerts/?detector=impossible_travel&stage=new", {}),
        ("queue: all stages, by score, page 20", "/alerts/?status=all&ordering=-score&page=20", {}),
        ("queue: free text", "/alerts/?q=AS1234", {}),
        ("queue: mapped control", "/alerts/?control=DE.CM-03&severity=critical", {}),
        ("queue: new-alert poll", "/alerts/poll/?after=1", {"HTTP_HX_REQUEST": "true"}),
        ("alert detail", f"/alerts/{detail_alert.pk}/", {}),
    ]
    base = timed(baseline, args.runs)
    b50, b95 = statistics.median(base), percentile(base, 0.95)
    # A second yardstick: the cheapest page of the same server (middleware, session, no
    # template), so a loaded machine shows up in both columns rather than only in ours.
    framework = timed(lambda: client.get("/healthz"), args.runs)
    f50, f95 = statistics.median(framework), percentile(framework, 0.95)
    print(f"\n{Alert.objects.count():,} alerts, {TelemetryEvent.objects.count():,} events; "
          f"{args.runs} runs per view after warm-up\n")  # fmt: skip
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print(f"{'view':44} {'p50 ms':>8} {'p95 ms':>8} {'×base p50':>10}")
    print(f"{'baseline: bare SELECT of the page rows':44} {b50:8.1f} {b95:8.1f} {1:10.1f}")
    print(f"{'baseline: /healthz through Django':44} {f50:8.1f} {f95:8.1f} {f50 / b50:10.1f}")
    failures = []
    for label, url, headers in views:

        def get(url=url, headers=headers) -> None:
            response = client.get(url, **headers)
            assert response.status_code == 200, (url, response.status_code)

        samples = timed(get, args.runs)
        p50, p95 = statistics.median(samples), percentile(samples, 0.95)
        target = 200 if label.startswith("alert detail") else 150
        flag = "" if p95 < target else f"  over {target} ms"
        if flag:
            failures.append(label)
        print(f"{label:44} {p50:8.1f} {p95:8.1f} {p50 / b50:10.1f}{flag}")
    print("\nall views within target" if not failures else f"\nover target: {failures}")


if __name__ == "__main__":
    main()
