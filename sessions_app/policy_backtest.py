"""Backtest a draft session-lifetime policy before saving it (reads only).

Two questions, answered by identity class (identity kind):

1. **Last 30 days**: which sessions would the draft have flagged, and for what — a use after
   the overall lifetime, a use on another device or in another client (user-agent string:
   an upper bound of the detector's parsed browser/OS comparison) after an idle gap longer
   than the inactivity limit, a high-value action without a fresh authentication, a use from a
   country outside the allowed list, a use from another device than the session started on
   (when device binding is on)?
2. **Now**: which active sessions, still in use within the idle limit, are open longer than
   the lifetime since their last authentication (quiet sessions were expired by the IdP)?

The draft only counts for the sessions it would govern: it takes its place among the other
enabled policies with the precedence of ``sessions_app.policies`` (most specific, then
priority, then id; an unsaved draft sorts after saved policies), so a session held by a more
specific policy is not counted. The semantics are those of the detectors
``session_policy_violation`` and ``high_value_without_reauth``: a successful logon or MFA
resets both clocks, failed and ending events are not uses, and the detectors' configured
tolerance and grace are added to the limits.

On PostgreSQL everything is one set-based pass over the window's events (window functions for
the previous use and the last authentication) into a temporary table that the summaries read.
The sessions are split into ``GOVERN_BACKTEST_PARALLEL`` shards by id, run side by side on
their own connections, so the sort — most of the cost — uses every core.
Other databases (the embedded SQLite demo) run ``backtest_python``, the same rules in Python.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from .choices import EventType, IdentityKind, Outcome, SessionStatus
from .models import Identity, Session, SessionLifetimePolicy, TelemetryEvent
from .policies import PolicyResolver, precedence_key

WINDOW = timedelta(days=30)
SAMPLE_SIZE = 25
KINDS = ("lifetime", "idle", "reauth", "country", "device")
KIND_LABELS = {
    "lifetime": "used past the lifetime",
    "idle": "resumed after idle limit",
    "reauth": "high-value action without re-auth",
    "country": "used from a country not allowed",
    "device": "used from another device",
}
AUTH_TYPES = (EventType.LOGON, EventType.MFA_CHALLENGE)
NOT_USE_TYPES = (
    EventType.LOGOFF,
    EventType.SESSION_REVOKED,
    EventType.TOKEN_REVOKED,
    EventType.SESSION_EXPIRED,
    EventType.RISK_SIGNAL,
)


@dataclass
class ClassRow:
    """Backtest figures for one identity class."""

    identity_kind: str
    label: str
    sessions_in_scope: int = 0
    flagged_sessions: int = 0
    flagged_identities: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    active_now: int = 0
    violating_now: int = 0


@dataclass
class SampleRow:
    session_id: int
    session_key: str
    identity_id: int
    identity_name: str
    identity_kind: str
    kinds: list[str]
    violating_now: bool


@dataclass
class BacktestResult:
    """What the draft would have flagged since ``since`` and what violates it at ``now``."""

    since: datetime
    now: datetime
    classes: list[ClassRow]
    samples: list[SampleRow]
    seconds: float = 0.0

    @property
    def totals(self) -> ClassRow:
        total = ClassRow(identity_kind="", label="All identities")
        for row in self.classes:
            total.sessions_in_scope += row.sessions_in_scope
            total.flagged_sessions += row.flagged_sessions
            total.flagged_identities += row.flagged_identities
            total.active_now += row.active_now
            total.violating_now += row.violating_now
            for kind in KINDS:
                total.by_kind[kind] += row.by_kind[kind]
        return total


def _tolerances() -> tuple[int, int]:
    """The detectors' configured slack: (lifetime/idle tolerance, re-auth grace) in seconds."""
    from alerts_app.detectors import REGISTRY
    from alerts_app.models import DetectorConfig

    configs = {c.detector_id: c.params for c in DetectorConfig.objects.all()}
    lifetime = REGISTRY["session_policy_violation"].validate_params(
        configs.get("session_policy_violation")
    )
    reauth = REGISTRY["high_value_without_reauth"].validate_params(
        configs.get("high_value_without_reauth")
    )
    return int(lifetime["tolerance_s"]), int(reauth["grace_s"])


def _competitors(draft: SessionLifetimePolicy) -> list[SessionLifetimePolicy]:
    others = SessionLifetimePolicy.objects.filter(enabled=True).select_related("source")
    if draft.pk:
        others = others.exclude(pk=draft.pk)
    return list(others)


def backtest(
    draft: SessionLifetimePolicy, *, now: datetime | None = None, window: timedelta = WINDOW
) -> BacktestResult:
    """Backtest an unsaved (or edited, not yet saved) policy instance."""
    now = now or timezone.now()
    started = timezone.now()
    if connection.vendor == "postgresql":
        result = _backtest_sql(draft, now=now, since=now - window)
    else:
        result = backtest_python(draft, now=now, window=window)
    result.seconds = (timezone.now() - started).total_seconds()
    return result


# ---------------------------------------------------------------------------- PostgreSQL


_SQL = """
CREATE TEMP TABLE policy_backtest ON COMMIT DROP AS
WITH cand AS MATERIALIZED (
    SELECT s.id, s.identity_id, i.kind, i.privilege_tier, i.department, s.source_id,
           s.status, s.revoked_at, s.ended_at, s.last_seen_at,
           hashtext(NULLIF(s.first_device_id, '')) AS first_device_h,
           COALESCE(s.authenticated_at, s.first_seen_at) AS started_at
    FROM sessions_app_session s
    JOIN sessions_app_identity i ON i.id = s.identity_id
    WHERE (s.last_seen_at >= %(since)s OR s.status = %(active)s)
      AND s.first_seen_at <= %(now)s
      AND (%(d_kind)s = '' OR i.kind = %(d_kind)s)
      AND (%(d_tier)s = '' OR i.privilege_tier = %(d_tier)s)
      AND (%(d_dept)s = '' OR i.department = %(d_dept)s)
      AND (%(d_source)s::bigint IS NULL OR s.source_id = %(d_source)s::bigint)
      {session_shard}
),
-- The window's uses, reduced before the sort to what the checks compare: device and client
-- (user-agent) as 32-bit hashes packed into one bigint (0 = not reported), the country test
-- and the application bits already evaluated. OFFSET 0 keeps the planner from carrying the
-- text columns through the sort. A hash collision could hide one change: an upper bound
-- that is off by less than one in four billion.
uses AS (
    SELECT e.session_id, e.occurred_at, e.id,
           (COALESCE(hashtext(NULLIF(e.device_id, '')), 0)::bigint << 32)
             | (COALESCE(hashtext(NULLIF(e.user_agent, '')), 0)::bigint & 4294967295) AS ctx,
           e.high_value_action <> '' AS high_value,
           (e.event_type = ANY(%(auth)s) AND e.outcome = %(success)s) AS is_auth,
           (%(check_countries)s AND e.country <> ''
            AND NOT (e.country = ANY(%(countries)s::text[]))) AS bad_country,
           {apps_expr} AS apps
    FROM sessions_app_telemetryevent e
    WHERE e.occurred_at >= %(since)s AND e.occurred_at <= %(now)s
      AND e.outcome <> %(failure)s
      AND e.event_type <> ALL(%(not_use)s)
      AND e.session_id IS NOT NULL
      {event_shard}
    OFFSET 0
),
-- One pass over all the window's uses, sorted once. Restricting it to the candidate
-- sessions first (IN / join) makes the planner loop over per-session index scans, which is
-- ten times slower than sorting every use; the final join keeps the candidates.
seq AS (
    SELECT session_id, occurred_at, ctx, high_value, is_auth, bad_country, apps,
           lag(occurred_at) OVER w AS prev_at,
           lag(ctx) OVER w AS prev_ctx,
           max(occurred_at) FILTER (WHERE is_auth) OVER w AS auth_at
    FROM uses
    -- (occurred_at, id) is unique: the frame ends at the current row, and the window
    -- functions share one pass.
    WINDOW w AS (PARTITION BY session_id ORDER BY occurred_at, id ROWS UNBOUNDED PRECEDING)
),
-- An event is past the lifetime when it is later than both (session start + limit) and
-- (last authentication before it + limit); the session start is the same for all its
-- events, so the latest event past the second bound decides, compared with the first.
-- Idle: resumed after the limit on another device or in another client, each compared
-- only when both uses report it (a zero half of the packed context is "not reported").
flags AS (
    SELECT session_id,
           max(occurred_at) FILTER (WHERE is_auth) AS last_auth,
           max(occurred_at) FILTER (
             WHERE auth_at IS NULL OR occurred_at > auth_at + %(lifetime_limit)s
           ) AS lifetime_at,
           max(occurred_at) FILTER (
             WHERE high_value AND (auth_at IS NULL OR occurred_at > auth_at + %(reauth_limit)s)
           ) AS reauth_at,
           max(occurred_at) AS last_use,
           bool_or(NOT is_auth AND occurred_at > prev_at + %(idle_limit)s::interval
                   AND ((ctx >> 32 <> 0 AND prev_ctx >> 32 <> 0 AND ctx >> 32 <> prev_ctx >> 32)
                        OR (ctx & 4294967295 <> 0 AND prev_ctx & 4294967295 <> 0
                            AND ctx & 4294967295 <> prev_ctx & 4294967295))) AS idle,
           bool_or(bad_country) AS country,
           {device_agg},
           bit_or(apps) AS apps
    FROM seq GROUP BY session_id
)
SELECT c.id AS session_id, c.identity_id, c.kind,
       COALESCE(f.lifetime_at > c.started_at + %(lifetime_limit)s, false) AS lifetime,
       COALESCE(f.idle, false) AS idle,
       COALESCE(f.reauth_at > c.started_at + %(reauth_limit)s, false) AS reauth,
       COALESCE(f.country, false) AS country,
       COALESCE(%(device_binding)s AND c.first_device_h IS NOT NULL
                AND (f.device_min <> c.first_device_h OR f.device_max <> c.first_device_h),
                false) AS device,
       (c.status = %(active)s AND c.revoked_at IS NULL AND c.ended_at IS NULL) AS active,
       (c.status = %(active)s AND c.revoked_at IS NULL AND c.ended_at IS NULL
        AND %(now)s - GREATEST(c.started_at, f.last_auth) > %(lifetime_limit)s
        AND %(now)s - COALESCE(f.last_use, c.last_seen_at) <= %(alive)s
       ) AS violating_now
FROM cand c LEFT JOIN flags f ON f.session_id = c.id
WHERE (%(d_app_bit)s = 0 OR (COALESCE(f.apps, 0) & %(d_app_bit)s) <> 0)
  {precedes}
"""

# Only built when device binding is on: the device halves of the packed context.
_DEVICE_AGG = """min(ctx >> 32) FILTER (WHERE ctx >> 32 <> 0) AS device_min,
           max(ctx >> 32) FILTER (WHERE ctx >> 32 <> 0) AS device_max"""
_NO_DEVICE_AGG = "NULL::bigint AS device_min, NULL::bigint AS device_max"
# Applications named by the competing policies become bits of one integer per session.
_APPS_EXPR = """CASE e.client_app {cases} ELSE 0::bigint END"""
_NO_APPS_EXPR = "0::bigint"

# A competing policy that matches the session and comes first in precedence takes it.
_PRECEDES = """
  AND NOT EXISTS (
    SELECT 1 FROM (VALUES {rows}) p(kind, tier, source_id, app_bit, dept)
    WHERE (p.kind = '' OR p.kind = c.kind)
      AND (p.tier = '' OR p.tier = c.privilege_tier)
      AND (p.dept = '' OR p.dept = c.department)
      AND (p.source_id IS NULL OR p.source_id = c.source_id)
      AND (p.app_bit = 0 OR (COALESCE(f.apps, 0) & p.app_bit) <> 0)
  )
"""

# The shard predicates, on the session's id in both places so a session's uses stay together.
_SESSION_SHARD = "AND s.id %% %(shards)s = %(shard)s"
_EVENT_SHARD = "AND e.session_id %% %(shards)s = %(shard)s"

_FLAGGED = "(lifetime OR idle OR reauth OR country OR device)"

_SUMMARY = f"""
SELECT kind, count(*), count(*) FILTER (WHERE {_FLAGGED}),
       array_agg(DISTINCT identity_id) FILTER (WHERE {_FLAGGED}),
       count(*) FILTER (WHERE lifetime), count(*) FILTER (WHERE idle),
       count(*) FILTER (WHERE reauth), count(*) FILTER (WHERE country),
       count(*) FILTER (WHERE device),
       count(*) FILTER (WHERE active), count(*) FILTER (WHERE violating_now)
FROM policy_backtest GROUP BY kind ORDER BY kind
"""

_SAMPLES = f"""
SELECT b.session_id, s.session_key, b.identity_id, i.display_name, b.kind,
       b.lifetime, b.idle, b.reauth, b.country, b.device, b.violating_now
FROM policy_backtest b
JOIN sessions_app_session s ON s.id = b.session_id
JOIN sessions_app_identity i ON i.id = b.identity_id
WHERE b.violating_now OR {_FLAGGED}
ORDER BY b.violating_now DESC,
         b.lifetime::int + b.idle::int + b.reauth::int + b.country::int + b.device::int DESC,
         b.session_id
LIMIT %(limit)s
"""


def backtest_statement(
    draft: SessionLifetimePolicy, *, now: datetime, since: datetime, shards: int = 1
) -> tuple[str, dict]:
    """The statement that fills the ``policy_backtest`` temporary table, and its parameters.

    With ``shards`` > 1 the statement covers the sessions whose id is ``%(shard)s`` modulo
    ``shards`` (the caller sets ``shard``), so the shards can run side by side.

    Only the enabled policies that come before the draft in precedence can take a session
    from it; they are inlined as a VALUES list (there are few policies).
    """
    tolerance, grace = _tolerances()
    draft_key = precedence_key(draft)
    competitors = _competitors(draft)
    preceding = [p for p in competitors if precedence_key(p) < draft_key]
    apps = sorted({p.client_app for p in [*preceding, draft] if p.client_app})[:63]

    def app_bit(app: str) -> int:
        return 1 << apps.index(app) if app else 0

    params: dict = {
        "since": since,
        "now": now,
        "failure": Outcome.FAILURE,
        "success": Outcome.SUCCESS,
        "active": SessionStatus.ACTIVE,
        "not_use": list(NOT_USE_TYPES),
        "auth": list(AUTH_TYPES),
        "d_kind": draft.identity_kind or "",
        "d_tier": draft.privilege_tier or "",
        "d_dept": draft.department or "",
        "d_source": draft.source_id,
        **{f"app{n}": app for n, app in enumerate(apps)},
        "d_app_bit": app_bit(draft.client_app),
        "lifetime_limit": timedelta(seconds=draft.max_lifetime_s + tolerance),
        "idle_limit": (
            timedelta(seconds=draft.idle_timeout_s + tolerance)
            if draft.idle_timeout_s is not None
            else None
        ),
        "reauth_limit": timedelta(seconds=draft.reauth_window_s + grace),
        "alive": timedelta(seconds=draft.idle_timeout_s or draft.max_lifetime_s or 3600),
        "check_countries": bool(draft.allowed_countries),
        "countries": list(draft.allowed_countries or []),
        "device_binding": bool(draft.device_binding),
    }
    rows = []
    for n, policy in enumerate(preceding):
        rows.append(
            f"(%(k{n})s::text, %(t{n})s::text, %(s{n})s::bigint, %(a{n})s::bigint, %(g{n})s::text)"
        )
        params.update(
            {
                f"k{n}": policy.identity_kind or "",
                f"t{n}": policy.privilege_tier or "",
                f"s{n}": policy.source_id,
                f"a{n}": app_bit(policy.client_app),
                f"g{n}": policy.department or "",
            }
        )
    precedes = _PRECEDES.format(rows=", ".join(rows)) if rows else ""
    apps_expr = (
        _APPS_EXPR.format(
            cases=" ".join(f"WHEN %(app{n})s THEN {1 << n}::bigint" for n in range(len(apps)))
        )
        if apps
        else _NO_APPS_EXPR
    )
    statement = _SQL.format(
        precedes=precedes,
        device_agg=_DEVICE_AGG if draft.device_binding else _NO_DEVICE_AGG,
        apps_expr=apps_expr,
        session_shard=_SESSION_SHARD if shards > 1 else "",
        event_shard=_EVENT_SHARD if shards > 1 else "",
    )
    params["shards"] = shards
    return statement, params


def backtest_shards() -> int:
    """How many sessions shards the PostgreSQL backtest runs side by side."""
    return max(1, int(settings.GOVERN_BACKTEST_PARALLEL))


def _run_shard(statement: str, params: dict, shard: int) -> tuple[list, list]:
    """Fill the temporary table for one shard and read its summary and samples."""
    with transaction.atomic(), connection.cursor() as cursor:
        # One analytic statement sorting the window's events: let it sort in memory, and
        # skip JIT compilation, which costs more than it saves on a one-off query like this.
        cursor.execute("SELECT current_setting('work_mem'), current_setting('jit')")
        work_mem, jit = cursor.fetchone()
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL jit = off")
        # ON COMMIT DROP does not fire when the caller's transaction is still open (a
        # savepoint here): drop it explicitly too.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.policy_backtest")
        cursor.execute(statement, {**params, "shard": shard})
        cursor.execute(_SUMMARY)
        summary = cursor.fetchall()
        cursor.execute(_SAMPLES, {"limit": SAMPLE_SIZE})
        samples = cursor.fetchall()
        cursor.execute("DROP TABLE pg_temp.policy_backtest")
        cursor.execute(
            "SELECT set_config('work_mem', %s, true), set_config('jit', %s, true)",
            [work_mem, jit],
        )
    return summary, samples


def _run_shard_in_thread(statement: str, params: dict, shard: int) -> tuple[list, list]:
    try:
        return _run_shard(statement, params, shard)
    finally:
        connection.close()  # this thread's own connection


def _backtest_sql(
    draft: SessionLifetimePolicy, *, now: datetime, since: datetime, shards: int | None = None
) -> BacktestResult:
    """Run the statement once per shard of the sessions and merge the shards' figures.

    The shards run side by side on their own connections, one core each, when the caller
    holds no transaction: inside one (a test, or a caller that already wrote something) other
    connections could not see its rows, so the shards run one after the other on this one.
    """
    shards = backtest_shards() if shards is None else max(1, shards)
    statement, params = backtest_statement(draft, now=now, since=since, shards=shards)
    if shards > 1 and not connection.in_atomic_block:
        with ThreadPoolExecutor(max_workers=shards) as pool:
            parts = list(
                pool.map(lambda k: _run_shard_in_thread(statement, params, k), range(shards))
            )
    else:
        parts = [_run_shard(statement, params, k) for k in range(shards)]
    return _merge(parts, since=since, now=now)


def _merge(parts: list[tuple[list, list]], *, since: datetime, now: datetime) -> BacktestResult:
    labels = dict(IdentityKind.choices)
    classes: dict[str, ClassRow] = {}
    identities: dict[str, set[int]] = {}
    for summary, _ in parts:
        for kind, in_scope, flagged, flagged_ids, *by_kind, active, now_n in summary:
            row = classes.setdefault(
                kind, ClassRow(identity_kind=kind, label=labels.get(kind, kind))
            )
            row.sessions_in_scope += in_scope
            row.flagged_sessions += flagged
            for name, n in zip(KINDS, by_kind, strict=True):
                row.by_kind[name] += n
            row.active_now += active
            row.violating_now += now_n
            identities.setdefault(kind, set()).update(flagged_ids or ())
    for kind, row in classes.items():
        row.flagged_identities = len(identities[kind])
    # Each shard sent its first SAMPLE_SIZE in the order below; the first of all of them
    # are among those.
    rows = sorted(
        (r for _, samples in parts for r in samples),
        key=lambda r: (not r[10], -sum(map(bool, r[5:10])), r[0]),
    )[:SAMPLE_SIZE]
    return BacktestResult(
        since=since,
        now=now,
        classes=[classes[kind] for kind in sorted(classes)],
        samples=[
            SampleRow(
                session_id=r[0],
                session_key=r[1],
                identity_id=r[2],
                identity_name=r[3],
                identity_kind=r[4],
                kinds=[k for k, n in zip(KINDS, r[5:10], strict=True) if n],
                violating_now=r[10],
            )
            for r in rows
        ],
    )


# ---------------------------------------------------------------------------- Python


def _context_changed(before: TelemetryEvent, after: TelemetryEvent) -> bool:
    """Resumed on another device or in another client (the idle rule of
    session_policy_violation). The detector compares parsed browser and OS; the backtest
    compares user-agent strings, so a version bump also counts: an upper bound."""
    device_changed = bool(
        before.device_id and after.device_id and before.device_id != after.device_id
    )
    client_changed = bool(
        before.user_agent and after.user_agent and before.user_agent != after.user_agent
    )
    return device_changed or client_changed


def backtest_python(
    draft: SessionLifetimePolicy, *, now: datetime | None = None, window: timedelta = WINDOW
) -> BacktestResult:
    """The same backtest, session by session in Python (SQLite, and a check of the SQL)."""
    now = now or timezone.now()
    since = now - window
    tolerance, grace = _tolerances()
    draft_copy = draft
    resolver = PolicyResolver([*_competitors(draft), draft_copy])
    sessions = Session.objects.filter(first_seen_at__lte=now).filter(
        Q(last_seen_at__gte=since) | Q(status=SessionStatus.ACTIVE)
    )
    session_ids = list(sessions.values_list("pk", flat=True))
    events_by_session: dict[int, list[TelemetryEvent]] = {}
    for event in (
        TelemetryEvent.objects.filter(
            session_id__in=session_ids, occurred_at__gte=since, occurred_at__lte=now
        )
        .exclude(outcome=Outcome.FAILURE)
        .exclude(event_type__in=NOT_USE_TYPES)
        .only(
            "id",
            "session_id",
            "occurred_at",
            "event_type",
            "outcome",
            "country",
            "device_id",
            "client_app",
            "high_value_action",
            "user_agent",
        )
        .order_by("session_id", "occurred_at", "id")
    ):
        events_by_session.setdefault(event.session_id, []).append(event)

    rows: dict[str, ClassRow] = {}
    flagged_identities: dict[str, set[int]] = {}
    samples: list[tuple[bool, int, SampleRow]] = []
    labels = dict(IdentityKind.choices)
    for session in Session.objects.filter(pk__in=session_ids).select_related("identity"):
        events = events_by_session.get(session.pk, [])
        apps = {e.client_app for e in events if e.client_app}
        if resolver.for_session(session, apps=apps).policy is not draft_copy:
            continue
        identity: Identity = session.identity
        counts = dict.fromkeys(KINDS, 0)
        started = session.authenticated_at or session.first_seen_at
        clock, previous = started, None
        for event in events:
            is_auth = event.event_type in AUTH_TYPES and event.outcome == Outcome.SUCCESS
            if is_auth:
                clock = max(clock, event.occurred_at)
            age = (event.occurred_at - clock).total_seconds()
            if age > draft.max_lifetime_s + tolerance:
                counts["lifetime"] += 1
            if (
                draft.idle_timeout_s is not None
                and not is_auth
                and previous is not None
                and (event.occurred_at - previous.occurred_at).total_seconds()
                > draft.idle_timeout_s + tolerance
                and _context_changed(previous, event)
            ):
                counts["idle"] += 1
            if event.high_value_action and age > draft.reauth_window_s + grace:
                counts["reauth"] += 1
            if (
                draft.allowed_countries
                and event.country
                and event.country not in draft.allowed_countries
            ):
                counts["country"] += 1
            if (
                draft.device_binding
                and event.device_id
                and session.first_device_id
                and event.device_id != session.first_device_id
            ):
                counts["device"] += 1
            previous = event
        active = (
            session.status == SessionStatus.ACTIVE
            and session.revoked_at is None
            and session.ended_at is None
        )
        last_use = events[-1].occurred_at if events else session.last_seen_at
        alive = (now - last_use).total_seconds() <= (
            draft.idle_timeout_s or draft.max_lifetime_s or 3600
        )
        violating_now = (
            active and alive and (now - clock).total_seconds() > draft.max_lifetime_s + tolerance
        )
        row = rows.setdefault(
            identity.kind, ClassRow(identity_kind=identity.kind, label=labels[identity.kind])
        )
        row.sessions_in_scope += 1
        row.active_now += int(active)
        row.violating_now += int(violating_now)
        kinds = [k for k in KINDS if counts[k]]
        if kinds:
            row.flagged_sessions += 1
            flagged_identities.setdefault(identity.kind, set()).add(identity.pk)
            for kind in kinds:
                row.by_kind[kind] += 1
        if kinds or violating_now:
            samples.append(
                (
                    violating_now,
                    sum(counts.values()),
                    SampleRow(
                        session_id=session.pk,
                        session_key=session.session_key,
                        identity_id=identity.pk,
                        identity_name=identity.display_name,
                        identity_kind=identity.kind,
                        kinds=kinds,
                        violating_now=violating_now,
                    ),
                )
            )
    for kind, ids in flagged_identities.items():
        rows[kind].flagged_identities = len(ids)
    samples.sort(key=lambda s: (not s[0], -len(s[2].kinds), s[2].session_id))
    return BacktestResult(
        since=since,
        now=now,
        classes=[rows[k] for k in sorted(rows)],
        samples=[s[2] for s in samples[:SAMPLE_SIZE]],
    )
