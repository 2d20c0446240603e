"""The stores a benchmark runs on: SQLite files and a PostgreSQL server of its own."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from optaic_activity.settings import Settings


@contextmanager
def databases(backends: list[str], copies: int = 1) -> Iterator[list[tuple[str, Settings]]]:
    """``copies`` fresh databases per backend (each variant of a run gets its own)."""
    from tests.support.services import PostgresServer

    with tempfile.TemporaryDirectory() as tmp:
        found: list[tuple[str, Settings]] = []
        if "sqlite" in backends:
            found += [
                ("SQLite", Settings(database_url=f"sqlite:///{Path(tmp) / f'bench{n}.sqlite'}"))
                for n in range(copies)
            ]
        if "postgres" not in backends:
            yield found
            return
        with PostgresServer() as server:
            found += [
                ("PostgreSQL", Settings(database_url=server.create_database(f"bench{n}")))
                for n in range(copies)
            ]
            yield found
