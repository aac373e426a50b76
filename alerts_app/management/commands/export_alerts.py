"""Write alerts as JSON Lines for SIEM forwarding and audits."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from alerts_app.management.commands.detect import parse_since
from alerts_app.models import Alert


def alert_record(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "detector": alert.detector_id,
        "detector_version": alert.detector_version,
        "title": alert.title,
        "severity": alert.severity,
        "score": alert.score,
        "factors": alert.factors,
        "stage": alert.stage,
        "resolution": alert.resolution,
        "identity": {
            "id": alert.identity_id,
            "login": alert.identity.login,
            "kind": alert.identity.kind,
        },
        "session_key": alert.session.session_key if alert.session else None,
        "source": alert.source.name if alert.source else None,
        "first_seen": alert.first_seen_at.isoformat(),
        "last_seen": alert.last_seen_at.isoformat(),
        "occurrences": alert.occurrences,
        "summary": alert.summary,
        "evidence": alert.evidence,
        "controls": {
            "owasp_nhi": alert.owasp_nhi,
            "nist_csf": alert.nist_csf,
            "mitre_attack": alert.mitre_attack,
        },
    }


class Command(BaseCommand):
    help = "Export alerts as JSON Lines (one alert per line) to stdout or --output."

    def add_arguments(self, parser):
        parser.add_argument("--since", help="Alerts last seen since (ISO 8601).")
        parser.add_argument("--output", help="File to write (default: standard output).")

    def handle(self, *args, since: str | None, output: str | None, **options):
        alerts = Alert.objects.select_related("identity", "session", "source").order_by("pk")
        since_at = parse_since(since)
        if since_at:
            alerts = alerts.filter(last_seen_at__gte=since_at)
        handle = open(output, "w", encoding="utf-8") if output else None  # noqa: SIM115
        count = 0
        try:
            for alert in alerts.iterator(chunk_size=1000):
                line = json.dumps(alert_record(alert), default=str, sort_keys=True)
                if handle is not None:
                    handle.write(line + "\n")
                else:
                    self.stdout.write(line)
                count += 1
        finally:
            if handle is not None:
                handle.close()
        self.stderr.write(f"Exported {count} alerts.")
