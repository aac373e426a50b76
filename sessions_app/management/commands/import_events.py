"""``manage.py import_events --source NAME --format okta|entra|google|json PATH...``

Reads JSON arrays, JSON Lines or a single JSON document (each optionally gzip-compressed),
streaming: arrays are parsed element by element and lines one by one, so a 1 GB export never
sits in memory. Records go to ``ingest_batches`` in batches of ``--batch-size`` (one
transaction each, parsed ahead in worker processes). Lines that aren't JSON are quarantined,
not fatal. Prints exactly one line: ``read N, imported N, duplicates N, quarantined N``.
Exits non-zero only when an input is unusable as a whole (missing, unreadable, not JSON).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sessions_app.choices import SourceKind
from sessions_app.imports import ImportInputError, import_paths
from sessions_app.ingest import PROVIDERS
from sessions_app.models import Source
from sessions_app.services import source_create


class Command(BaseCommand):
    help = "Import telemetry events from JSON, JSON Lines or .gz files into a source."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument("--source", required=True, help="Source name (created if missing).")
        parser.add_argument("--format", required=True, choices=PROVIDERS, dest="fmt")
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args, paths: list[Path], source: str, fmt: str, batch_size: int, **kw):
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
        target = Source.objects.filter(name=source).first()
        if target is None:
            target = source_create(
                name=source,
                kind=SourceKind.FILE,
                settings={"format": fmt},
                actor=None,
            )
        try:
            total = import_paths(source=target, paths=paths, fmt=fmt, batch_size=batch_size)
        except ImportInputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(total.summary())
