"""``manage.py import_events``: formats, streaming batches, quarantine and re-import."""

from __future__ import annotations

import gzip
from io import StringIO
from pathlib import Path

import orjson
import pytest
from django.core.management import CommandError, call_command

from sessions_app.imports import import_paths
from sessions_app.models import QuarantinedEvent, Session, Source, TelemetryEvent

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def okta_events(count: int) -> list[dict]:
    template = orjson.loads((FIXTURES / "okta" / "session_start.json").read_bytes())
    events = []
    for n in range(count):
        event = orjson.loads(orjson.dumps(template))
        event["uuid"] = f"00000000-0000-4000-8000-{n:012d}"
        event["published"] = f"2026-11-03T10:{n // 60:02d}:{n % 60:02d}.000Z"
        events.append(event)
    return events


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_events", *args, stdout=out)
    return out.getvalue()


def test_jsonl_gz_with_a_broken_line_then_reimport_adds_nothing(tmp_path):
    lines = [orjson.dumps(e) for e in okta_events(5)]
    lines.insert(2, b"this is not json")
    path = tmp_path / "okta.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))

    out = run("--source", "okta-export", "--format", "okta", "--batch-size", "2", str(path))
    assert out == "read 6, imported 5, duplicates 0, quarantined 1\n"
    assert Source.objects.get(name="okta-export").kind == "file"
    assert "line 3 is not JSON" in QuarantinedEvent.objects.get().reason

    again = run("--source", "okta-export", "--format", "okta", str(path))
    assert again == "read 6, imported 0, duplicates 5, quarantined 1\n"
    assert TelemetryEvent.objects.count() == 5
    assert Session.objects.get().event_count == 5


@pytest.mark.parametrize("workers", [1, 0], ids=["parse-process", "in-process"])
def test_json_lines_decode_and_split_alike_in_a_parse_process_or_here(tmp_path, workers):
    events = okta_events(4)
    hook = {"data": {"events": events[2:]}}  # an Okta event hook delivery on one line
    lines = [orjson.dumps(events[0]), orjson.dumps(events[1]), b"{broken", orjson.dumps(hook)]
    lines.append(b'"just a string"')
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    source = Source.objects.create(name="export", kind="file")

    result = import_paths(source=source, paths=[path], fmt="okta", batch_size=2, workers=workers)

    assert (result.read, result.imported, result.quarantined) == (6, 4, 2)
    reasons = sorted(QuarantinedEvent.objects.values_list("reason", flat=True))
    assert reasons[0].startswith("line 3 is not JSON")
    assert reasons[1].startswith("line 5: payload is not valid JSON")


def test_json_array_streams_in_batches(tmp_path):
    path = tmp_path / "okta.json"
    path.write_bytes(orjson.dumps(okta_events(7), option=orjson.OPT_INDENT_2))
    out = run("--source", "arr", "--format", "okta", "--batch-size", "3", str(path))
    assert out == "read 7, imported 7, duplicates 0, quarantined 0\n"


def test_single_document_with_envelope(tmp_path):
    graph = FIXTURES / "entra" / "graph_page.json"
    out = run("--source", "entra-file", "--format", "entra", str(graph))
    read = int(out.split(",")[0].removeprefix("read "))
    assert read >= 1 and out.endswith("quarantined 0\n")
    assert TelemetryEvent.objects.count() == read


def test_missing_file_and_non_json_fail_as_a_whole(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run("--source", "x", "--format", "okta", str(tmp_path / "missing.json"))
    junk = tmp_path / "junk.txt"
    junk.write_text("hello, world\n")
    with pytest.raises(CommandError, match="not JSON"):
        run("--source", "x", "--format", "okta", str(junk))


def test_a_json_line_is_stored_as_its_record_whatever_its_spelling(tmp_path):
    """A line holding one event is stored as the raw copy as read (jsonb gives the same value
    as the decoded record); a NUL still becomes U+FFFD; events of an envelope line are
    stored one by one."""
    first, plain, spaced, with_nul, *hooked = okta_events(6)
    with_nul["client"]["userAgent"]["rawUserAgent"] = "curl\x00/8"
    lines = [
        orjson.dumps(first),
        orjson.dumps(plain),
        orjson.dumps(spaced, option=orjson.OPT_INDENT_2).replace(b"\n", b" ") + b" \r",
        orjson.dumps(with_nul),
        orjson.dumps({"data": {"events": hooked}}),
    ]
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    source = Source.objects.create(name="export", kind="file")

    result = import_paths(source=source, paths=[path], fmt="okta", workers=1)

    assert (result.read, result.imported, result.quarantined) == (6, 6, 0)
    stored = dict(TelemetryEvent.objects.values_list("provider_event_id", "raw"))
    with_nul["client"]["userAgent"]["rawUserAgent"] = "curl\ufffd/8"
    for event in (first, plain, spaced, with_nul, *hooked):
        assert stored[event["uuid"]] == event
