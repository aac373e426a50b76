"""File import: JSON arrays, JSON Lines or one JSON document, optionally gzip-compressed.

Used by ``manage.py import_events`` and by the admins' upload on a source page.

Reads JSON arrays, JSON Lines or a single JSON document (each optionally gzip-compressed),
streaming: arrays are parsed element by element and lines one by one, so a 1 GB export never
sits in memory. Records go to ``ingest_batches`` in batches of ``--batch-size`` (one
transaction each, parsed ahead in worker processes). Lines that aren't JSON are quarantined,
not fatal. Prints exactly one line: ``read N, imported N, duplicates N, quarantined N``.
Exits non-zero only when an input is unusable as a whole (missing, unreadable, not JSON).
"""

from __future__ import annotations

import gzip
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import orjson
from django.conf import settings

from govern.audit import audit_log
from sessions_app.ingest.prepare import JsonLine, split_value
from sessions_app.models import Source
from sessions_app.services import IngestResult, RejectedInput, ingest_batches


class ImportInputError(ValueError):
    """The input is unusable as a whole (missing, unreadable, not JSON at all)."""


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
    """Every record in ``path``: dicts, ``RejectedInput`` for parts that aren't usable, and
    for JSON Lines a ``JsonLine`` per line, decoded and split where the batch is parsed
    (``ingest_batches``).

    Raises ``ImportInputError`` when the file as a whole isn't JSON, JSON Lines or a JSON array.
    """
    try:
        stream = io.BufferedReader(open_input(path), buffer_size=1024 * 1024)  # type: ignore[arg-type]
        first = _first_byte(stream)
    except OSError as exc:
        raise ImportInputError(f"{path}: cannot read: {exc}") from exc
    if first == b"":
        return
    if first == b"[":
        yield from _array_records(stream, path, fmt)
    elif first == b"{":
        yield from _object_or_lines(stream, path, fmt)
    else:
        raise ImportInputError(f"{path}: not JSON, JSON Lines or a JSON array")


def _array_records(stream: BinaryIO, path: Path, fmt: str) -> Iterator[Any]:
    count = 0
    try:
        for count, item in enumerate(ijson.items(stream, "item", use_float=True), start=1):
            yield from split_value(fmt, item, f"element {count}")
    except ijson.JSONError as exc:
        if count == 0:
            raise ImportInputError(f"{path}: not a valid JSON array: {exc}") from exc
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
            raise ImportInputError(f"{path}: not valid JSON or JSON Lines: {exc}") from exc
        yield from split_value(fmt, document, path.name)
        return
    # Split where the batch is parsed, like the lines after it: a batch of JsonLine items
    # only goes to a parse process whole.
    yield JsonLine(1, first_line)
    for number, line in enumerate(stream, start=2):
        if line.strip():  # decoded and split where the batch is parsed (split_line)
            yield JsonLine(number, line)


def import_paths(
    *,
    source: Source,
    paths: list[Path],
    fmt: str,
    batch_size: int = 2000,
    workers: int | None = None,
) -> IngestResult:
    """Import every record of ``paths`` into ``source`` in batches; counts only, no ids.

    Batches go through ``ingest_batches`` (one transaction each, parsed ahead in ``workers``
    processes; its default when None, in this process when 0). Raises ``ImportInputError``
    before importing anything if a path is missing, and when a file turns out unusable as a
    whole (batches already stored stay stored: re-importing is harmless, duplicates add
    nothing).
    """
    for path in paths:
        if not path.is_file():
            raise ImportInputError(f"{path}: no such file")
    batches = _batches((r for path in paths for r in iter_records(path, fmt)), batch_size)
    # Only counts are reported; don't accumulate millions of ids over a big import.
    return ingest_batches(source=source, batches=batches, fmt=fmt, workers=workers, keep_ids=False)


def _batches(records: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def source_import_upload(
    *, source: Source, upload: Any, fmt: str, actor: Any, client_ip: str | None = None
) -> IngestResult:
    """Import an admin's uploaded file (Django ``UploadedFile``) into ``source``; audited.

    The upload is spooled to a temporary file and streamed like ``import_events`` does, so its
    size is bounded by ``GOVERN_IMPORT_MAX_BYTES``, not by memory.
    """
    limit = int(getattr(settings, "GOVERN_IMPORT_MAX_BYTES", 100 * 1024 * 1024))
    if upload.size > limit:
        raise ImportInputError(
            f"{upload.name} is {upload.size:,} bytes; uploads are limited to {limit:,} bytes. "
            "Use manage.py import_events for larger files."
        )
    with tempfile.TemporaryDirectory(prefix="govern-import-") as folder:
        path = Path(folder) / "upload"
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        # Parsed in the web process itself: a request does not start worker processes.
        result = import_paths(source=source, paths=[path], fmt=fmt, workers=0)
    audit_log(
        actor=actor,
        verb="source.import",
        obj=source,
        after={"file": upload.name[:200], "format": fmt, "summary": result.summary()},
        client_ip=client_ip,
    )
    return result
