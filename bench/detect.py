"""Detection benchmark: throughput against a read-only baseline, and webhook-to-alert latency.

    DEBUG=true .venv/bin/python bench/detect.py [--events 200000] [--rate 500] [--seconds 30]

1. **Throughput.** Loads N generated Okta events (bench/ingest.py's generator, about 2 KB each)
   into a freshly reset ``govern_bench_detect`` PostgreSQL database through the real
   ingestion, then times, over every session and identity, in batches of 500:
   - the *baseline*: reading the same events and rebuilding them as detector input, nothing
     else (``engine._session_timelines`` / ``engine._identity_timelines``);
   - *detection*: ``engine.detect_sessions`` / ``engine.detect_identities`` — the same reads,
     every enabled detector, and persisting alerts.
   Prints events/s for both and the ratio.
2. **Latency.** Starts a real Celery worker on Redis and the web server, then sends signed
   webhook batches of Okta events (five requests a second) at a sustained ``--rate`` events/s
   for ``--seconds``. About once a second one batch carries a session replay (same session,
   another ASN, device and client). For each replay it measures the time from the webhook
   request to the alert row being visible, and prints p50/p95/max. Target: p95 under 5 s.

``BENCH_DATABASE_URL`` overrides the database; ``BENCH_REDIS_URL`` the broker (default Redis
db 14, flushed at the start).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project root instead of bench/: a sibling script (queue.py) must not shadow the
# standard library's queue module that psycopg and Celery import.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/govern_bench_detect"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
BATCH = 500
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105 - a local benchmark's throwaway secret
PORT = 18761


def _load_ingest_bench():
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE sessions_app_telemetryevent, sessions_app_session, "
            "sessions_app_identitylink, sessions_app_identity, sessions_app_eventdailycount, "
            "sessions_app_quarantinedevent, alerts_app_alert, alerts_app_detectorstate CASCADE"
        )
        cursor.execute("DELETE FROM sessions_app_source WHERE name LIKE 'bench-%%'")


def load_events(lines: list[bytes]) -> None:
    import orjson

    from sessions_app.models import Source
    from sessions_app.services import ingest_records
    from sessions_app.signals import events_ingested

    # Detection is timed below, not while loading.
    events_ingested.receivers.clear()
    source = Source.objects.create(name="bench-okta", kind="okta", enabled=False)
    for i in range(0, len(lines), 2000):
        ingest_records(source=source, records=[orjson.loads(x) for x in lines[i : i + 2000]])


def throughput(count: int) -> None:
    from alerts_app import engine
    from sessions_app.models import Identity, Session

    now = datetime.now(UTC)
    session_ids = list(Session.objects.order_by("pk").values_list("pk", flat=True))
    identity_ids = list(Identity.objects.order_by("pk").values_list("pk", flat=True))

    def batches(ids):
        return [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]

    started = time.perf_counter()
    for ids in batches(session_ids):
        engine._session_timelines(
            list(Session.objects.filter(pk__in=ids).select_related("identity", "source"))
        )
    for ids in batches(identity_ids):
        engine._identity_timelines(list(Identity.objects.filter(pk__in=ids)), now)
    baseline = time.perf_counter() - started

    started = time.perf_counter()
    alerts = 0
    for ids in batches(session_ids):
        alerts += len(engine.detect_sessions(ids, now=now).created)
    for ids in batches(identity_ids):
        alerts += len(engine.detect_identities(ids, now=now).created)
    detection = time.perf_counter() - started

    print(f"sessions {len(session_ids):,}, identities {len(identity_ids):,}, alerts {alerts:,}")
    print(f"baseline (read + rebuild only): {count / baseline:10,.0f} events/s ({baseline:.1f} s)")
    print(
        f"detection (all detectors):      {count / detection:10,.0f} events/s ({detection:.1f} s)"
    )
    print(f"detection / baseline throughput: {baseline / detection:.2f}")


# ------------------------------------------------------------------------------- latency


def okta_event(
    *,
    actor: int,
    session: str,
    ip: str,
    asn: int,
    org: str,
    city: str,
    country: str,
    ua: str,
    dt_hash: str,
    event_type: str,
) -> dict:
    now = datetime.now(UTC)
    return {
        "uuid": str(uuid.uuid4()),
        "published": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventType": event_type,
        "outcome": {"result": "SUCCESS"},
        "actor": {
            "id": f"00ulat{actor:012d}",
            "type": "User",
            "alternateId": f"lat{actor}@example.com",
            "displayName": f"Latency {actor}",
        },
        "client": {
            "ipAddress": ip,
            "userAgent": {"rawUserAgent": ua},
            "geographicalContext": {"city": city, "country": country},
        },
        "securityContext": {"asNumber": asn, "asOrg": org, "isProxy": False},
        "authenticationContext": {"externalSessionId": session},
        "debugContext": {"debugData": {"dtHash": dt_hash}},
    }


CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def home_event(actor: int, session: str, event_type: str = "user.authentication.sso") -> dict:
    return okta_event(
        actor=actor,
        session=session,
        ip=f"81.200.{actor % 250}.{actor % 200 + 1}",
        asn=3320,
        org="Deutsche Telekom AG",
        city="Berlin",
        country="Germany",
        ua=CHROME,
        dt_hash=f"dt-{actor}",
        event_type=event_type,
    )


def replay_event(actor: int, session: str) -> dict:
    return okta_event(
        actor=actor,
        session=session,
        ip="185.181.60.7",
        asn=9009,
        org="M247 Europe SRL",
        city="Bucharest",
        country="Romania",
        ua="python-requests/2.32.3",
        dt_hash=f"dt-thief-{actor}",
        event_type="user.authentication.sso",
    )


def start_processes(env: dict) -> list[subprocess.Popen]:
    python = sys.executable
    worker = subprocess.Popen(
        [
            python,
            "-m",
            "celery",
            "-A",
            "govern",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=WARNING",
            "--hostname=bench-detect@%h",
        ],
        cwd=ROOT,
        env=env,
    )
    web = subprocess.Popen(
        [python, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return [worker, web]


def latency(rate: int, seconds: int, env: dict) -> None:
    import orjson
    import redis
    import requests

    from alerts_app.models import Alert
    from sessions_app.models import Source
    from sessions_app.webhooks import sign

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    source = Source.objects.create(
        name="bench-hook", kind="webhook", settings={"format": "okta"}, enabled=True
    )
    source.set_secrets({"webhook_secret": WEBHOOK_SECRET})
    source.save()
    url = f"http://127.0.0.1:{PORT}/hooks/{source.pk}/"
    procs = start_processes(env)
    http = requests.Session()
    try:
        for _ in range(120):
            try:
                if http.get(f"http://127.0.0.1:{PORT}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        time.sleep(3)  # let the worker connect to the broker

        sent_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        stop = threading.Event()

        def poll() -> None:
            from django.db import connection

            while not stop.is_set() or len(seen_at) < len(sent_at):
                pending = [k for k in list(sent_at) if k not in seen_at]
                if pending:
                    found = Alert.objects.filter(
                        detector_id="session_context_change", session__session_key__in=pending
                    ).values_list("session__session_key", flat=True)
                    now = time.perf_counter()
                    for key in found:
                        seen_at.setdefault(key, now)
                if stop.is_set() and time.perf_counter() > deadline:
                    break
                time.sleep(0.05)
            connection.close()

        deadline = float("inf")
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()

        per_batch = max(1, rate // 5)  # five requests a second
        actor = 0
        waiting: list[tuple[int, str]] = []  # sessions whose owner event is out; replay next
        started = time.perf_counter()
        sent = requests_sent = 0
        tick = 0
        while time.perf_counter() - started < seconds:
            batch = []
            replay_key = None
            if tick % 5 == 3 and waiting:
                owner, key = waiting.pop(0)
                batch.append(replay_event(owner, key))
                replay_key = key
            if tick % 5 == 0:
                actor += 1
                key = f"102lat{uuid.uuid4().hex[:20]}"
                batch.append(home_event(actor, key, "user.session.start"))
                waiting.append((actor, key))
            while len(batch) < per_batch:
                actor += 1
                batch.append(home_event(actor, f"102bg{uuid.uuid4().hex[:20]}"))
            body = orjson.dumps(batch)
            request_started = time.perf_counter()
            response = http.post(
                url,
                data=body,
                timeout=30,
                headers={
                    "Content-Type": "application/json",
                    "X-Govern-Signature": sign(WEBHOOK_SECRET, body),
                },
            )
            if response.status_code != 202:
                raise SystemExit(f"webhook answered {response.status_code}: {response.text[:300]}")
            if replay_key:
                sent_at[replay_key] = request_started
            sent += len(batch)
            requests_sent += 1
            tick += 1
            # Pace to the target rate; a slow server shows up as a lower achieved rate.
            pause = started + tick * 0.2 - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        elapsed = time.perf_counter() - started
        deadline = time.perf_counter() + 30
        stop.set()
        poller.join(timeout=35)

        latencies = sorted(seen_at[k] - sent_at[k] for k in sent_at if k in seen_at)
        print(
            f"sent {sent:,} events in {requests_sent:,} requests over {elapsed:.1f} s "
            f"({sent / elapsed:,.0f} events/s; target {rate:,})"
        )
        print(
            f"replays {len(sent_at)}, alerts seen {len(latencies)}, "
            f"missed {len(sent_at) - len(latencies)}"
        )
        if latencies:
            p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
            print(
                f"webhook -> alert visible: p50 {statistics.median(latencies):.2f} s, "
                f"p95 {p95:.2f} s, max {latencies[-1]:.2f} s (target p95 < 5 s)"
            )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    os.environ["REDIS_URL"] = redis_url
    ingest_bench = _load_ingest_bench()
    ingest_bench.setup_django(database_url)
    reset()
    if not args.skip_throughput:
        lines = ingest_bench.generate(args.events)
        started = time.perf_counter()
        load_events(lines)
        print(f"loaded {len(lines):,} events in {time.perf_counter() - started:.1f} s")
        throughput(len(lines))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "true",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    latency(args.rate, args.seconds, env)


if __name__ == "__main__":
    main()
