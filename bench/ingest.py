"""Ingestion benchmark: the real pipeline against a plain binary COPY of the same rows.

    DEBUG=true .venv/bin/python bench/ingest.py [--events 200000] [--batch 2000] [--rounds 3]

Generates N realistic Okta System Log events (about 2 KB each, deterministic seed), then

1. **pipeline**: JSON line bytes → ``orjson.loads`` → the real Okta parser, normalisation,
   partitions, identity/session upserts, lifecycle, rollups, source health, into a freshly
   migrated ``govern_bench`` PostgreSQL database, in batches, run two ways:
   ``ingest_batches`` (what ``manage.py import_events`` runs, on a JSON Lines file of the
   events: lines are decoded and parsed ahead in worker processes, or in a thread where
   processes may not be started, while batches are written; the output says which) and
   one ``ingest_records`` call per batch (what a poll or webhook delivery runs: decode,
   parse, then write);
2. **raw COPY**: the same rows, already parsed and converted (not timed), binary-COPYed into
   a standalone table made afresh with the same columns, compression and indexes (not
   partitioned).

Raw COPY and the pipelines take turns, ``--rounds`` times. Prints, per round, events/s for
each, the ratios, and the CPU time per event of this process, of its PostgreSQL backend
(read from /proc, so the database must run on this machine) and of the parse processes
(their rusage once the import has ended); then the medians over the rounds, the ratio being
the median of the rounds' ratios (each a raw COPY and a pipeline run back to back).
``BENCH_DATABASE_URL`` overrides the database (default: govern_bench on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project root instead of bench/: a sibling script there (e.g. queue.py) must not shadow
# a standard-library module that psycopg imports.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/govern_bench"
SEED = 20261128

USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
]
PLACES = [
    ("London", "England", "United Kingdom", 51.5164, -0.093, 5089, "virgin media"),
    ("Manchester", "England", "United Kingdom", 53.48, -2.24, 2856, "british telecom"),
    ("Berlin", "Berlin", "Germany", 52.52, 13.40, 3320, "deutsche telekom ag"),
    ("New York", "New York", "United States", 40.71, -74.0, 7922, "comcast cable"),
    ("Ashburn", "Virginia", "United States", 39.04, -77.49, 16509, "amazon.com, inc."),
]
EVENT_TYPES = [
    ("user.session.start", "core.user_auth.login_success", 3),
    ("user.authentication.sso", "app.auth.sso", 10),
    ("user.session.access_admin_app", "", 1),
    ("user.authentication.auth_via_mfa", "core.user.factor.attempt_success", 2),
    ("user.session.end", "core.user_auth.logout_success", 1),
]


def generate(count: int) -> list[bytes]:
    """``count`` Okta events as compact JSON lines, about 2 KB each, in time order."""
    import orjson

    rng = random.Random(SEED)
    kinds = [k for k, _, w in EVENT_TYPES for _ in range(w)]
    legacy = {k: legacy for k, legacy, _ in EVENT_TYPES}
    start = datetime(2026, 10, 20, tzinfo=UTC)
    actors = 20_000
    sessions: dict[int, tuple[str, int]] = {}
    lines = []
    for n in range(count):
        actor = (
            min(int(rng.paretovariate(1.2)) - 1, actors - 1)
            if rng.random() < 0.5
            else rng.randrange(actors)
        )
        if actor not in sessions or rng.random() < 0.08:
            sessions[actor] = (f"102{rng.getrandbits(96):024x}", rng.randrange(len(PLACES)))
        session_id, place_index = sessions[actor]
        city, state, country, lat, lon, asn, as_org = PLACES[place_index]
        event_type = kinds[rng.randrange(len(kinds))]
        published = start + timedelta(seconds=n * 2_592_000 / count)
        ip = f"198.51.{place_index * 40 + actor % 40}.{actor % 250 + 1}"
        event = {
            "actor": {
                "id": f"00u{actor:017d}",
                "type": "User",
                "alternateId": f"user{actor}@example.com",
                "displayName": f"User {actor}",
                "detailEntry": None,
            },
            "client": {
                "userAgent": {
                    "rawUserAgent": USER_AGENTS[actor % len(USER_AGENTS)],
                    "os": "Mac OS X",
                    "browser": "CHROME",
                },
                "zone": "null",
                "device": "Computer",
                "id": None,
                "ipAddress": ip,
                "geographicalContext": {
                    "city": city,
                    "state": state,
                    "country": country,
                    "postalCode": "EC1A",
                    "geolocation": {"lat": lat, "lon": lon},
                },
            },
            "device": None,
            "authenticationContext": {
                "authenticationProvider": None,
                "credentialProvider": None,
                "credentialType": None,
                "issuer": None,
                "interface": None,
                "authenticationStep": 0,
                "rootSessionId": f"idxRoot{session_id[3:20]}",
                "externalSessionId": session_id,
            },
            "displayMessage": "User login to Okta",
            "eventType": event_type,
            "outcome": {"result": "SUCCESS", "reason": None},
            "published": published.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "securityContext": {
                "asNumber": asn,
                "asOrg": as_org,
                "isp": as_org,
                "domain": "example.net",
                "isProxy": False,
            },
            "severity": "INFO",
            "debugContext": {
                "debugData": {
                    "requestId": f"{rng.getrandbits(128):032x}",
                    "dtHash": f"{rng.getrandbits(256):064x}",
                    "requestUri": "/idp/idx/authenticators/poll",
                    "threatSuspected": "false",
                    "url": "/idp/idx/authenticators/poll?",
                    "behaviors": "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP="
                    "NEGATIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, "
                    "New City=NEGATIVE}",
                    "risk": "{level=LOW}",
                    "factor": "SIGNED_NONCE",
                }
            },
            "legacyEventType": legacy[event_type],
            "transaction": {"type": "WEB", "id": f"{rng.getrandbits(96):024x}", "detail": {}},
            "uuid": f"{rng.getrandbits(32):08x}-{n >> 16 & 0xFFFF:04x}-4{n & 0xFFF:03x}-8000-"
            f"{rng.getrandbits(48):012x}",
            "version": "0",
            "request": {
                "ipChain": [
                    {
                        "ip": ip,
                        "geographicalContext": {"city": city, "country": country},
                        "version": "V4",
                        "source": None,
                    }
                ]
            },
            "target": [
                {
                    "id": f"0oa{actor % 50:017d}",
                    "type": "AppInstance",
                    "alternateId": "Example App",
                    "displayName": "Example App",
                    "detailEntry": {"signOnModeType": "SAML_2_0"},
                }
            ],
        }
        lines.append(orjson.dumps(event))
    return lines


def setup_django(database_url: str) -> None:
    import psycopg

    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govern.settings")
    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE sessions_app_telemetryevent, sessions_app_session, sessions_app_identitylink,"
            " sessions_app_identity, sessions_app_eventdailycount, sessions_app_quarantinedevent,"
            " bench_raw_copy CASCADE"
        )
        cursor.execute("DELETE FROM sessions_app_source WHERE name = 'bench-okta'")
        cursor.execute("CHECKPOINT")


def backend_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend process."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:  # the database runs elsewhere
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU seconds used by this process's finished children (the parse processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pipeline(
    lines: list[bytes], batch: int, mode: str
) -> tuple[float, float, float, float, dict]:
    """(wall s, client CPU s, backend CPU s, parse processes' CPU s, counts) of ingesting
    ``lines`` one way.

    ``stream``: ``import_paths`` of a JSON Lines file holding them, as ``manage.py
    import_events`` runs it (``ingest_batches``, parsing in worker processes where it may);
    ``batch``: each batch decoded here and given to one ``ingest_records`` call.
    """
    import orjson

    from sessions_app.imports import import_paths
    from sessions_app.models import Source
    from sessions_app.services import IngestResult, ingest_records

    source = Source.objects.create(name="bench-okta", kind="okta")
    total = IngestResult()
    with tempfile.TemporaryDirectory(prefix="govern-bench-") as folder:
        path = Path(folder) / "events.jsonl"
        if mode == "stream":
            path.write_bytes(b"\n".join(lines) + b"\n")
        server0, children0 = backend_cpu(), children_cpu()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if mode == "stream":
            total = import_paths(source=source, paths=[path], fmt="okta", batch_size=batch)
        else:
            for start in range(0, len(lines), batch):
                records = [orjson.loads(line) for line in lines[start : start + batch]]
                result = ingest_records(source=source, records=records)
                total.read += result.read
                total.imported += result.imported
                total.quarantined += result.quarantined
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    counts = {"read": total.read, "imported": total.imported, "quarantined": total.quarantined}
    return wall, cpu, backend_cpu() - server0, children_cpu() - children0, counts


def prepare_copy_rows(lines: list[bytes], batch: int) -> list[tuple]:
    """The rows the pipeline writes, computed without timing (parser + coercion)."""
    import orjson

    from sessions_app.services import _prepare

    prepared = []
    for start in range(0, len(lines), batch):  # a batch at a time: parsed dicts are large
        chunk, _ = _prepare(
            "okta", [orjson.loads(line) for line in lines[start : start + batch]], None
        )
        for p in chunk:
            p.event.raw = {}
        prepared.extend(chunk)
    now = datetime.now(UTC)
    rows = []
    for pk, p in enumerate(prepared, start=1):
        e = p.event
        rows.append(
            (
                pk, 1, e.provider_event_id, e.occurred_at, now, e.provider_event_type,
                e.event_type, e.outcome, 1, 1, e.session_key, p.ip, e.asn, e.as_org,
                e.country, e.city, e.lat, e.lon, bool(e.anonymizer), e.user_agent,
                e.device_id, e.client_app, e.high_value_action, e.mfa, p.details, p.raw,
            )
        )  # fmt: skip
    return rows


def run_copy(rows: list[tuple], batch: int) -> tuple[float, float, float]:
    from django.db import connection, transaction
    from psycopg.types.json import set_json_dumps

    from sessions_app.services import _EVENT_COLUMNS

    names = ", ".join(name for name, _ in _EVENT_COLUMNS)
    types = [kind for _, kind in _EVENT_COLUMNS]
    server0 = backend_cpu()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for start in range(0, len(rows), batch):
        with transaction.atomic(), connection.cursor() as wrapper:
            cursor = wrapper.cursor
            set_json_dumps(lambda value: value, cursor)
            with cursor.copy(f"COPY bench_raw_copy ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in rows[start : start + batch]:
                    copy.write_row(row)
    return time.perf_counter() - wall0, time.process_time() - cpu0, backend_cpu() - server0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument(
        "--modes",
        default="stream,batch",
        help="pipelines to run: stream (ingest_batches), batch (ingest_records per batch)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="raw COPY and each pipeline are measured this many times, taking turns; the "
        "ratio given is the median of the rounds' ratios",
    )
    args = parser.parse_args()

    setup_django(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    from django.db import connection

    with connection.cursor() as cursor:
        # Made afresh every run, so its indexes are always those of the real table now.
        cursor.execute("DROP TABLE IF EXISTS bench_raw_copy")
        cursor.execute(
            "CREATE TABLE bench_raw_copy (LIKE sessions_app_telemetryevent "
            "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE "
            "INCLUDING COMPRESSION)"
        )
    t0 = time.perf_counter()
    lines = generate(args.events)
    mean = sum(map(len, lines)) / len(lines)
    took = time.perf_counter() - t0
    print(f"generated {len(lines):,} Okta events, mean {mean:,.0f} B, in {took:.1f} s")
    rows = prepare_copy_rows(lines, args.batch)
    n = args.events
    modes = args.modes.split(",")
    labels = {"stream": "ingest_batches", "batch": "ingest_records"}
    if "stream" in modes:
        from sessions_app.services import bulk_parse_workers

        workers = bulk_parse_workers()
        how = f"{workers} parse process(es)" if workers else "a thread (no processes here)"
        print(f"ingest_batches: import_events of a JSON Lines file, parsing in {how}")

    def report(name: str, wall: float, cpu: float, server: float, parse: float = 0.0) -> float:
        parsing = f", parse processes {parse / n * 1e6:.0f} µs" if parse else ""
        print(
            f"{name:17s}: {n / wall:8,.0f} events/s  ({wall:.1f} s; CPU per event: client "
            f"{cpu / n * 1e6:.0f} µs, PostgreSQL backend {server / n * 1e6:.0f} µs{parsing})"
        )
        return n / wall

    # Rounds take turns (raw COPY, then each pipeline) so that a slow spell of this shared
    # machine, or the first round's cold WAL files, weighs on both sides of a ratio alike.
    rates: dict[str, list[float]] = {"raw COPY": [], **{labels[m]: [] for m in modes}}
    ratios: dict[str, list[float]] = {labels[m]: [] for m in modes}
    for number in range(1, args.rounds + 1):
        print(f"round {number} of {args.rounds}")
        reset()
        copy_rate = report("raw COPY", *run_copy(rows, args.batch))
        rates["raw COPY"].append(copy_rate)
        for mode in modes:
            reset()
            wall, cpu, server, parse, counts = run_pipeline(lines, args.batch, mode)
            assert counts["imported"] == n, counts
            label = labels[mode]
            rate = report(label, wall, cpu, server, parse)
            print(f"{'':17s}  = {rate / copy_rate:.0%} of raw COPY ({counts})")
            rates[label].append(rate)
            ratios[label].append(rate / copy_rate)
    print(f"median of {args.rounds} round(s):")
    for label, values in rates.items():
        line = f"{label:17s}: {statistics.median(values):8,.0f} events/s"
        if label in ratios:
            each = " · ".join(f"{ratio:.0%}" for ratio in ratios[label])
            line += f"  = {statistics.median(ratios[label]):.0%} of raw COPY (rounds: {each})"
        print(line)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"peak RSS : {usage.ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
