"""Fixtures for connector tests: the vendor fakes, a controllable clock and a clean token cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sessions_app.connectors.base import TOKEN_CACHE
from tests.fakes.google import fake_google  # noqa: F401 - re-exported fixture
from tests.fakes.graph import fake_graph  # noqa: F401 - re-exported fixture
from tests.fakes.okta import fake_okta  # noqa: F401 - re-exported fixture


class Clock:
    """Real time plus an offset the test can advance (the fakes keep using real time)."""

    def __init__(self) -> None:
        self.offset = timedelta()
        self.frozen: datetime | None = None

    def __call__(self) -> datetime:
        return (self.frozen or datetime.now(UTC)) + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += timedelta(**kwargs)

    def freeze(self) -> datetime:
        self.frozen = datetime.now(UTC).replace(microsecond=0)
        return self.frozen


class Sleeper:
    """Records requested sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeper() -> Sleeper:
    return Sleeper()


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    TOKEN_CACHE.clear()
    yield
    TOKEN_CACHE.clear()
