"""PostgreSQL group commit: saves arriving together share one transaction and one commit.

eventsourcing's recorder takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` in every save's
transaction, so that notification ids are issued in commit order; concurrent writers then
queue on the lock, one commit each. Here the writers of one process queue in memory
instead: the first becomes the leader, takes everyone queued (up to ``max_group_events``),
and records them in one transaction under one table lock; while it commits, the next
arrivals queue, and the first of them leads the next group. No writer waits for a timer:
a group is whoever arrived during the previous commit.

What eventsourcing guarantees still holds:

- **Ids in commit order, gap-free.** The ids of a group are issued inside one transaction
  holding the table lock (other processes' groups, and bare eventsourcing writers, take
  the same lock), so a reader "after my position" never skips an event.
- **Optimistic concurrency per save.** The group is inserted and committed in one
  pipelined round trip; on a unique violation that transaction is rolled back, a new one
  takes the lock, the keys already stored are read (under the lock, so nothing changes
  meanwhile), and the group is decided save by save in arrival order:
  a save that reuses a stored or an earlier save's (aggregate, version) fails alone with
  eventsourcing's ``IntegrityError``; the others are inserted and committed.
- **All or nothing per save.** A failure of the transaction itself (connection lost,
  lock timeout) fails every save of the group with eventsourcing's error; none of them
  is half-saved.

``POSTGRES_ENABLE_DB_FUNCTIONS`` (no table lock) is refused here as in the application.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.abc import Query
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier

from optaic_activity.projections.backends.pg_setup import SerialSetupFactory, SerialSetupRecorder

DEFAULT_MAX_GROUP_EVENTS = 1000
Key = tuple[Any, int]


def _as_bytes(statement: Query, conn: psycopg.Connection[DictRow]) -> bytes:
    if isinstance(statement, Composable):
        return statement.as_bytes(conn)
    if isinstance(statement, str):
        return statement.encode(conn.info.encoding)
    if isinstance(statement, bytes):
        return statement
    msg = f"cannot render {type(statement).__name__} once"
    raise TypeError(msg)


class _Save:
    """One caller's ``insert_events``: its events, and what it gets back."""

    __slots__ = ("error", "events", "ids", "lead", "wakeup")

    def __init__(self, events: Sequence[StoredEvent]) -> None:
        self.events = events
        # A held lock as a one-shot signal: acquiring and releasing a C lock costs a fraction
        # of threading.Event's Condition (a Python object, built and waited on per save).
        self.wakeup = threading.Lock()
        self.wakeup.acquire()
        self.lead = False
        self.ids: list[int] | None = None
        self.error: BaseException | None = None

    def wait(self) -> None:
        """Until ``wake``: the leader took this save and finished, or handed over the lead."""
        self.wakeup.acquire()

    def wake(self) -> None:
        """Like ``Event.set``: a save woken twice without a wait between stays woken once
        (only the caller's own thread acquires, so the check does not race a release)."""
        if self.wakeup.locked():
            self.wakeup.release()

    def event_keys(self) -> list[Key]:
        return [(e.originator_id, e.originator_version) for e in self.events]

    def result(self) -> list[int]:
        if self.error is not None:
            raise self.error
        assert self.ids is not None
        return self.ids


class GroupCommitRecorder(SerialSetupRecorder):
    """eventsourcing's PostgreSQL application recorder, committing concurrent saves together."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.max_group_events = DEFAULT_MAX_GROUP_EVENTS
        self.before_group: Callable[[GroupCommitRecorder], None] | None = None
        """Called by each leader before it takes its group (tests hold it to form a group)."""
        self.group_sizes: Counter[int] = Counter()
        """Saves per committed group -> how many such groups (only leaders write it)."""
        self._queue: deque[_Save] = deque()
        self._mutex = threading.Lock()
        self._leading = False
        table = SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        self._begin: list[Query] = [
            SQL("BEGIN"),
            *self.lock_table_statements,
            SQL("NOTIFY {0}").format(Identifier(self.channel_name)),
        ]
        self._stored_keys = SQL(
            "SELECT t.originator_id, t.originator_version FROM {table} AS t"
            " JOIN unnest(%s::{id_type}[], %s::bigint[]) AS k(originator_id, originator_version)"
            " ON t.originator_id = k.originator_id"
            " AND t.originator_version = k.originator_version"
        ).format(table=table, id_type=Identifier(self.datastore.originator_id_type))
        self._rendered: tuple[list[bytes], bytes] | None = None

    def _statements(self, conn: psycopg.Connection[DictRow]) -> tuple[list[bytes], bytes]:
        """The group's opening statements and the insert, rendered once: psycopg would
        otherwise compose each ``SQL`` object to bytes again at every execute."""
        if self._rendered is None:
            begin = [_as_bytes(statement, conn) for statement in self._begin]
            self._rendered = begin, _as_bytes(self.insert_events_statement, conn)
        return self._rendered

    def pending(self) -> int:
        """Saves queued and not yet taken by a leader."""
        with self._mutex:
            return len(self._queue)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.datastore.enable_db_functions:
            msg = "POSTGRES_ENABLE_DB_FUNCTIONS drops the table lock and lets readers skip events"
            raise ProgrammingError(msg)
        if not stored_events or kwargs.get("tracking") is not None:
            # Nothing to group (or a process application's tracking record): as eventsourcing.
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        save = _Save(stored_events)
        with self._mutex:
            self._queue.append(save)
            lead = not self._leading
            self._leading = True
        if not lead:
            save.wait()
            if not save.lead:
                return save.result()
        self._lead()
        return save.result()

    def _lead(self) -> None:
        group: list[_Save] = []
        try:
            if self.before_group is not None:
                self.before_group(self)
            group = self._take_group()
            self._commit(group)
            self.group_sizes[len(group)] += 1
        except BaseException as error:
            for save in group:
                if save.ids is None and save.error is None:
                    save.error = error
            raise
        finally:
            with self._mutex:
                if self._queue:
                    # Hand over: the longest waiter leads the next group.
                    self._queue[0].lead = True
                    self._queue[0].wake()
                else:
                    self._leading = False
            for save in group:
                save.wake()

    def _take_group(self) -> list[_Save]:
        group: list[_Save] = []
        events = 0
        with self._mutex:
            while self._queue and (
                not group or events + len(self._queue[0].events) <= self.max_group_events
            ):
                save = self._queue.popleft()
                save.lead = False
                group.append(save)
                events += len(save.events)
        return group

    def _commit(self, group: list[_Save]) -> None:
        with self.datastore.get_connection() as conn:
            assert conn.autocommit
            begin, insert = self._statements(conn)
            try:
                if not self._commit_pipelined(conn, begin, insert, self._decide(group, set())):
                    # A key was taken by an earlier writer: decide again, save by save,
                    # knowing the stored keys (read under the lock, so they stay true).
                    with conn.cursor() as curs:
                        for statement in begin:
                            curs.execute(statement)
                        accepted = self._decide(group, stored=self._stored(curs, group))
                        if accepted:
                            curs.execute(insert, (self._rows(accepted),))
                            self._hand_out(curs.fetchall(), accepted)
                        curs.execute("COMMIT")
            except BaseException:
                # The whole group fails with the transaction's error, saved or refused alike.
                with contextlib.suppress(psycopg.Error):
                    if conn.info.transaction_status != psycopg.pq.TransactionStatus.UNKNOWN:
                        conn.execute("ROLLBACK")
                for save in group:
                    save.ids = None
                    save.error = None
                raise

    def _commit_pipelined(
        self,
        conn: psycopg.Connection[DictRow],
        begin: list[bytes],
        insert_statement: bytes,
        accepted: list[_Save],
    ) -> bool:
        """Lock, insert and commit in one round trip; False: a unique violation, nothing saved.

        The usual case. On an error the server skips the rest of the pipeline (the COMMIT
        too), so a conflict costs only this attempt.
        """
        if not accepted:
            return True
        conflict = False
        try:
            with conn.pipeline() as pipeline, conn.cursor() as prefix, conn.cursor() as insert:
                for statement in begin:
                    prefix.execute(statement)
                insert.execute(insert_statement, (self._rows(accepted),))
                prefix.execute("COMMIT")
                pipeline.sync()
                self._hand_out(insert.fetchall(), accepted)
        except (psycopg.errors.UniqueViolation, psycopg.errors.PipelineAborted):
            # psycopg raises the violation, or "aborted" for a statement after it: either
            # way the server skipped the COMMIT, so nothing of the group is stored.
            conflict = True
        if conflict:
            conn.execute("ROLLBACK")
            for save in accepted:
                save.ids = None
        return not conflict

    @staticmethod
    def _decide(group: list[_Save], stored: set[Key]) -> list[_Save]:
        """The saves that can be recorded, in arrival order; the others get their error."""
        taken = set(stored)
        accepted = []
        for save in group:
            save.error = None
            keys = save.event_keys()
            clash = [key for key in keys if key in taken]
            if clash or len(set(keys)) < len(keys):
                save.error = IntegrityError(
                    "duplicate key value violates unique constraint: "
                    f"(originator_id, originator_version)={clash[0] if clash else keys}"
                    " already exists"
                )
                continue
            taken.update(keys)
            accepted.append(save)
        return accepted

    def _stored(self, curs: Cursor[DictRow], group: list[_Save]) -> set[Key]:
        keys = [key for save in group for key in save.event_keys()]
        curs.execute(self._stored_keys, ([k[0] for k in keys], [k[1] for k in keys]))
        return {(row["originator_id"], row["originator_version"]) for row in curs.fetchall()}

    def _rows(self, accepted: list[_Save]) -> list[Any]:
        return [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for save in accepted
            for e in save.events
        ]

    @staticmethod
    def _hand_out(rows: list[DictRow], accepted: list[_Save]) -> None:
        ids = [row["notification_id"] for row in rows]
        expected = sum(len(save.events) for save in accepted)
        if len(ids) != expected:
            msg = f"Couldn't get all notification IDs (got {len(ids)}, expected {expected})"
            raise ProgrammingError(msg)
        # RETURNING gives the ids in insertion order, as eventsourcing's recorder relies on.
        start = 0
        for save in accepted:
            save.ids = ids[start : start + len(save.events)]
            start += len(save.events)


class GroupCommitFactory(SerialSetupFactory):
    """eventsourcing's PostgreSQL persistence, with the group-committing recorder."""

    GROUP_COMMIT_MAX_EVENTS = "GROUP_COMMIT_MAX_EVENTS"
    application_recorder_class = GroupCommitRecorder

    def application_recorder(self) -> GroupCommitRecorder:
        recorder = super().application_recorder()
        assert isinstance(recorder, GroupCommitRecorder)
        configured = self.env.get(self.GROUP_COMMIT_MAX_EVENTS)
        if configured:
            recorder.max_group_events = int(configured)
        return recorder
