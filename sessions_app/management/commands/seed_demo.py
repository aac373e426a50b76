"""``manage.py seed_demo``: build the demo organisation and ingest its telemetry."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions_app.demo import build_plan
from sessions_app.demo.seed import AlreadySeeded, demo_is_seeded, demo_reset, demo_seed


def _aware(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--now must be an ISO-8601 time, not {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Create a realistic demo organisation (owners, 500+ identities, three IdP sources) and "
        "ingest 30 days of Okta, Entra ID and Google Workspace telemetry with embedded attacks. "
        "Deterministic for a given --seed and --now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")
        parser.add_argument("--days", type=int, default=30, help="Days of history (default 30).")
        parser.add_argument(
            "--scale", type=float, default=1.0, help="Size multiplier (default 1.0)."
        )
        parser.add_argument(
            "--now", type=_aware, default=None, help="End of the history, ISO-8601 (default now)."
        )
        parser.add_argument("--reset", action="store_true", help="Delete previous demo data first.")

    def handle(self, *args, seed: int, days: int, scale: float, now, reset: bool, **options):
        started = time.monotonic()
        if reset:
            counts = demo_reset()
            self.stdout.write(
                "Removed previous demo data: "
                + ", ".join(f"{n} {name}" for name, n in counts.items())
            )
        elif demo_is_seeded():
            self.stdout.write(
                self.style.WARNING(
                    "The demo organisation is already seeded; nothing changed. "
                    "Run with --reset to rebuild it."
                )
            )
            return
        try:
            plan = build_plan(seed, now or datetime.now(UTC), days, scale)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Planned {len(plan.identities)} identities and {plan.event_count:,} events "
            f"({time.monotonic() - started:.1f}s)"
        )
        try:
            seeded = demo_seed(plan=plan, progress=self.stdout.write)
        except AlreadySeeded as exc:
            raise CommandError(f"{exc}; run with --reset") from exc
        result = seeded.result
        self.stdout.write(f"Ingestion: {result.summary()}")
        if seeded.users_created:
            self.stdout.write("Demo logins created: " + ", ".join(seeded.users_created))
        self.stdout.write(f"Embedded scenarios (also in {seeded.scenarios_path}):")
        for s in plan.scenarios:
            self.stdout.write(
                f"  {s.at:%Y-%m-%d %H:%M}Z  {s.key:<36} {s.source:<17} {s.identity_login}  "
                f"→ {', '.join(s.detectors)}"
            )
        self.stdout.write(
            self.style.SUCCESS(f"Demo organisation ready in {time.monotonic() - started:.1f}s")
        )
