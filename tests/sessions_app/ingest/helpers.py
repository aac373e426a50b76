"""Helpers for the parser tests: fixture loading and a comparable view of a NormalizedEvent."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def load_fixture(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / name).read_text())


def fixture_bytes(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def as_plain(event) -> dict[str, Any]:
    """Every field but ``raw``, with datetimes as ISO text, for whole-record comparison."""
    data = dataclasses.asdict(event)
    data.pop("raw")
    data["occurred_at"] = event.occurred_at.isoformat()
    return data
