from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.unit.notifier.factories import FakeClock, sqlite_outbox_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite database holding just the outbox table."""
    engine = sqlite_outbox_engine(str(tmp_path / "outbox.sqlite"))
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
