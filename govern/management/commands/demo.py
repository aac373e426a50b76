"""`make demo`: migrate, seed the demo organisation once, run web + worker + beat together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from alerts_app.tasks import on_events_ingested
from sessions_app.models import Identity
from sessions_app.signals import events_ingested

DETECT_ON_INGEST = "alerts_app.detect_on_ingest"  # dispatch_uid used by alerts_app.apps

DEMO_LOGINS = (
    ("analyst", "analyst-demo-pass", "Analyst"),
    ("manager", "manager-demo-pass", "Manager"),
    ("admin", "admin-demo-pass", "Admin"),
)


class Command(BaseCommand):
    help = "Run govern with demo data: web server, Celery worker and Celery beat. Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("GOVERN_DEMO_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--no-seed", action="store_true", help="Skip seeding demo data.")

    def handle(self, *args, addr: str, no_seed: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not no_seed and not Identity.objects.exists():
            self.stdout.write("Seeding the demo organisation (first run only, a few minutes)…")
            # Detect once over the whole organisation after seeding, rather than queueing a
            # detection task per ingested batch for the worker to repeat later.
            events_ingested.disconnect(dispatch_uid=DETECT_ON_INGEST)
            try:
                call_command("seed_demo")
            finally:
                events_ingested.connect(on_events_ingested, dispatch_uid=DETECT_ON_INGEST)
            self.stdout.write("Running detection over the demo organisation…")
            call_command("detect")
        python = sys.executable
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        commands = [
            [python, "manage.py", "runserver", addr, "--noreload"],
            [
                python,
                "-m",
                "celery",
                "-A",
                "govern",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--hostname=demo@%h",
            ],
            [
                python,
                "-m",
                "celery",
                "-A",
                "govern",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                schedule,
            ],
        ]
        procs = [subprocess.Popen(cmd, env=env) for cmd in commands]  # noqa: S603
        time.sleep(1.5)
        self.stdout.write(self.style.SUCCESS(f"\ngovern is running at http://{addr}/"))
        for username, password, role in DEMO_LOGINS:
            self.stdout.write(f"  {role:<8} {username} / {password}")
        self.stdout.write("Press Ctrl-C to stop the web server, worker and beat.\n")
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
            failed = [cmd[2:4] for cmd, p in zip(commands, procs, strict=True) if p.poll()]
            if failed:
                self.stderr.write(f"A process stopped unexpectedly: {failed}; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT if os.name != "nt" else signal.SIGTERM)
            deadline = time.monotonic() + 10
            for p in procs:
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
