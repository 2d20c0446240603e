"""The stores a benchmark runs on: a SQLite file and a PostgreSQL server of its own."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from optaic_activity.settings import Settings


@contextmanager
def databases(backends: list[str]) -> Iterator[list[tuple[str, Settings]]]:
    from tests.support.services import PostgresServer

    with tempfile.TemporaryDirectory() as tmp:
        found: list[tuple[str, Settings]] = []
        if "sqlite" in backends:
            found.append(
                ("SQLite", Settings(database_url=f"sqlite:///{Path(tmp) / 'bench.sqlite'}"))
            )
        if "postgres" not in backends:
            yield found
            return
        with PostgresServer() as server:
            found.append(("PostgreSQL", Settings(database_url=server.create_database("bench"))))
            yield found
