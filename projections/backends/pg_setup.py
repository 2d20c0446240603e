"""eventsourcing's PostgreSQL tables, created by one process at a time.

Processes starting together on a fresh database (a runner per partition, the API beside
the notifier) race in ``CREATE TABLE``/``CREATE INDEX IF NOT EXISTS``, and PostgreSQL answers
the loser with "tuple concurrently updated". An advisory lock held for the creating
transaction lets one of them create and the others find everything there.
"""

from __future__ import annotations

import contextlib

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from psycopg import Cursor
from psycopg.errors import DuplicateObject
from psycopg.rows import DictRow
from psycopg.sql import SQL

SETUP_LOCK = 0x6F70_7461_6963_01
"""The advisory lock key of table creation ("optaic" and 1): any constant unique to it."""


LOCK = SQL("SELECT pg_advisory_xact_lock(%s)")


class SerialSetupRecorder(PostgresApplicationRecorder):
    """eventsourcing's application recorder, creating its types and tables under the lock."""

    def create_table(self) -> None:
        # eventsourcing's own steps, each transaction taking the lock first: a type created
        # by another process at the same moment is then a DuplicateObject (suppressed, as
        # eventsourcing does), never a unique violation in pg_type.
        for statement in self.sql_create_statements:
            if "CREATE TYPE" in statement.as_string():
                with (
                    self.datastore.transaction(commit=True) as curs,
                    contextlib.suppress(DuplicateObject),
                ):
                    curs.execute(LOCK, (SETUP_LOCK,), prepare=False)
                    curs.execute(statement, prepare=False)
        with self.datastore.transaction(commit=True) as curs:
            self._create_table(curs)
        self.datastore.register_type_adapters()

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        curs.execute(LOCK, (SETUP_LOCK,), prepare=False)
        super()._create_table(curs)


class SerialSetupFactory(PostgresFactory):
    """eventsourcing's PostgreSQL persistence, its tables created under the setup lock."""

    application_recorder_class = SerialSetupRecorder
