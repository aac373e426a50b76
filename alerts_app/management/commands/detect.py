"""Run detection synchronously over stored events (back-fills, re-runs after tuning)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts_app import engine
from alerts_app.models import Alert, DetectorState
from sessions_app.models import Identity, Session

BATCH = 500
SHOWN = 25  # new alerts listed, strongest first


def parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise CommandError(f"--since must be an ISO 8601 date or time, not {value!r}.")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


class Command(BaseCommand):
    help = "Run every enabled detector over stored events and print what was found."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="Only sessions/identities seen since (ISO 8601).")
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="Drop persisted detector state first and rebuild it from the event history.",
        )

    def handle(self, *args, since: str | None, rebuild: bool, **options):
        since_at = parse_since(since)
        if rebuild:
            deleted, _ = DetectorState.objects.all().delete()
            self.stdout.write(f"Dropped {deleted} detector state rows; rebuilding from events.")
        sessions = Session.objects.order_by("pk")
        identities = Identity.objects.order_by("pk")
        if since_at:
            sessions = sessions.filter(last_seen_at__gte=since_at)
            identities = identities.filter(last_seen_at__gte=since_at)
        total = engine.DetectionResult()
        session_ids = list(sessions.values_list("pk", flat=True))
        for i in range(0, len(session_ids), BATCH):
            total.merge(engine.detect_sessions(session_ids[i : i + BATCH]))
        identity_ids = list(identities.values_list("pk", flat=True))
        for i in range(0, len(identity_ids), BATCH):
            total.merge(engine.detect_identities(identity_ids[i : i + BATCH]))
        self.stdout.write(
            f"Evaluated {total.sessions} sessions and {total.identities} identities: "
            f"{len(total.created)} new alerts, {len(total.updated)} updated, "
            f"{len(total.reopened)} re-opened."
        )
        created = Alert.objects.filter(pk__in=total.created).order_by("-score", "pk")
        for alert in created[:SHOWN]:
            self.stdout.write(
                f"  #{alert.pk} [{alert.severity}] {alert.detector_id}: {alert.summary}"
            )
        if len(total.created) > SHOWN:
            self.stdout.write(f"  … and {len(total.created) - SHOWN} more (see the alert queue).")
