"""``manage.py import_events --source NAME --format okta|entra|google|json PATH...``

Reads JSON arrays, JSON Lines or a single JSON document (each optionally gzip-compressed),
streaming: arrays are parsed element by element and lines one by one, so a 1 GB export never
sits in memory. Records go to ``ingest_records`` in batches of ``--batch-size`` (one
transaction each). Lines that aren't JSON are quarantined, not fatal. Prints exactly one
line: ``read N, imported N, duplicates N, quarantined N``. Exits non-zero only when an input
is unusable as a whole (missing, unreadable, not JSON at all).
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import orjson
from django.core.management.base import BaseCommand, CommandError

from sessions_app.choices import SourceKind
from sessions_app.ingest import PROVIDERS, split_records
from sessions_app.ingest.schema import QuarantineError
from sessions_app.models import Source
from sessions_app.services import IngestResult, RejectedInput, ingest_records, source_create

GZIP_MAGIC = b"\x1f\x8b"


def open_input(path: Path) -> BinaryIO:
    """The file's bytes, transparently un-gzipped (by magic number, not by name)."""
    raw = path.open("rb")
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    raw.seek(0)
    return raw


def _first_byte(stream: io.BufferedReader) -> bytes:
    head = stream.peek(64 * 1024).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1]


def iter_records(path: Path, fmt: str) -> Iterator[Any]:
    """Every record in ``path``: dicts, or ``RejectedInput`` for parts that aren't usable.

    Raises ``CommandError`` when the file as a whole isn't JSON, JSON Lines or a JSON array.
    """
    try:
        stream = io.BufferedReader(open_input(path), buffer_size=1024 * 1024)  # type: ignore[arg-type]
        first = _first_byte(stream)
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc}") from exc
    if first == b"":
        return
    if first == b"[":
        yield from _array_records(stream, path, fmt)
    elif first == b"{":
        yield from _object_or_lines(stream, path, fmt)
    else:
        raise CommandError(f"{path}: not JSON, JSON Lines or a JSON array")


def _split(fmt: str, value: Any, where: str) -> list[Any]:
    try:
        return split_records(fmt, value)
    except QuarantineError as exc:
        return [RejectedInput(orjson.dumps(value).decode(), f"{where}: {exc.reason}")]


def _array_records(stream: BinaryIO, path: Path, fmt: str) -> Iterator[Any]:
    count = 0
    try:
        for count, item in enumerate(ijson.items(stream, "item", use_float=True), start=1):
            yield from _split(fmt, item, f"element {count}")
    except ijson.JSONError as exc:
        if count == 0:
            raise CommandError(f"{path}: not a valid JSON array: {exc}") from exc
        # A truncated export: keep what was read, and say where it broke.
        yield RejectedInput("", f"{path.name}: JSON array broken after element {count}: {exc}")


def _object_or_lines(stream: io.BufferedReader, path: Path, fmt: str) -> Iterator[Any]:
    first_line = stream.readline()
    try:
        first = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        first = None
    if first is None:
        # A single pretty-printed document (e.g. {"value": [...]} from Graph): it has to be
        # read whole, as nothing in it can be used before its end.
        rest = first_line + stream.read()
        try:
            document = orjson.loads(rest)
        except orjson.JSONDecodeError as exc:
            raise CommandError(f"{path}: not valid JSON or JSON Lines: {exc}") from exc
        yield from _split(fmt, document, path.name)
        return
    yield from _split(fmt, first, "line 1")
    for number, line in enumerate(stream, start=2):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            text = line.decode(errors="replace").rstrip("\r\n")
            yield RejectedInput(text, f"line {number} is not JSON: {exc}")
            continue
        yield from _split(fmt, value, f"line {number}")


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
        total = IngestResult()
        for path in paths:
            batch: list[Any] = []
            for record in iter_records(path, fmt):
                batch.append(record)
                if len(batch) >= batch_size:
                    total.add(_ingest(target, batch, fmt))
                    batch = []
            if batch:
                total.add(_ingest(target, batch, fmt))
        self.stdout.write(total.summary())


def _ingest(source: Source, batch: list[Any], fmt: str) -> IngestResult:
    result = ingest_records(source=source, records=batch, fmt=fmt)
    # Only counts are reported; don't accumulate millions of ids over a big import.
    result.event_ids, result.session_ids, result.identity_ids = [], [], []
    return result
