"""The generic, batched, exactly-once projection runner.

Each batch: read up to N notifications after the tracked position, apply them
to the read models, write the new position, commit, all in ONE transaction of
the read models' database. A crash at any instant leaves either the whole batch
or none of it; restarting continues from the committed position.

Gap safety: eventsourcing issues notification ids in commit order (a table lock on
PostgreSQL, one writer at a time on SQLite), so reading "after my position" never
skips an event that commits later with a lower id.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy as sa
from eventsourcing.persistence import ApplicationRecorder
from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import ProjectionVersionError
from optaic_activity.projections.backends import Wakeup
from optaic_activity.projections.base import Projection
from optaic_activity.projections.config import DEFAULT_BATCH_SIZE
from optaic_activity.projections.database import create_indexes, drop_indexes
from optaic_activity.projections.events import FilteredDecoder, StoredActivity, decode_notifications
from optaic_activity.projections.outages import (
    TRANSIENT_DB_ERRORS,
    Outage,
    retry_while_unavailable,
)
from optaic_activity.projections.tracking import read_position, write_position

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchResult:
    count: int
    """Activities applied."""
    position: int
    read: int = -1
    """Events read from the log (-1: as many as applied); more than ``count`` when some
    belonged to other partitions."""

    @property
    def events(self) -> int:
        return self.count if self.read < 0 else self.read


@dataclass(frozen=True)
class Batch:
    """A slice of the log: this partition's activities in it, and where it ends."""

    activities: list[StoredActivity]
    last: int
    """The position of the slice's last event, this partition's or not."""
    size: int
    """Events in the slice."""


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        *,
        engine: Engine,
        recorder: ApplicationRecorder,
        decode: FilteredDecoder,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.projection = projection
        self.engine = engine
        self.recorder = recorder
        self.decode = decode
        self.batch_size = batch_size
        self._loaded_at: int | None = None
        self.tracking_name = projection.partition.tracking_name(projection.name)
        """The tracking row's key: one row per partition."""

    @property
    def name(self) -> str:
        return self.projection.name

    def _ensure_loaded(self, conn: sa.Connection, position: int) -> None:
        # In-memory state is valid only if this runner wrote the tracked position itself;
        # if another runner moved it (or a batch failed), reload from the tables, which
        # the tracking row's lock makes consistent with that position.
        if self._loaded_at != position:
            self.projection.load(conn)
            self._loaded_at = position

    def position(self) -> int:
        with self.engine.connect() as conn:
            return read_position(conn, self.tracking_name)[0]

    def read(self, after: int) -> Batch:
        """The next batch of the log after ``after``, this partition's activities decoded."""
        notifications = self.recorder.select_notifications(
            start=after, limit=self.batch_size, inclusive_of_start=False
        )
        last = notifications[-1].id if notifications else after
        return Batch(decode_notifications(notifications, self.decode), last, len(notifications))

    def run_batch(self, read_ahead: ReadAhead[Batch] | None = None) -> BatchResult:
        """Apply the next batch, or nothing; return how many activities were applied.

        With ``read_ahead``, the batch after this one is read while this one is applied.
        """
        try:
            with self.engine.begin() as conn:
                position, version = read_position(conn, self.tracking_name, for_update=True)
                if version is not None and version != self.projection.version:
                    msg = (
                        f"projection {self.tracking_name!r} tables are version {version}, code is "
                        f"{self.projection.version}: run `activity projections rebuild {self.name}`"
                    )
                    raise ProjectionVersionError(msg)
                self._ensure_loaded(conn, position)
                batch = read_ahead.take(position) if read_ahead else self.read(position)
                if not batch.size:
                    return BatchResult(0, position, 0)
                last = batch.last
                if read_ahead and batch.size == self.batch_size:
                    read_ahead.start(last)
                if batch.activities:
                    self.projection.apply(conn, batch.activities)
                write_position(conn, self.tracking_name, last, self.projection.version)
            self._loaded_at = last
            return BatchResult(len(batch.activities), last, batch.size)
        except BaseException:
            # The transaction rolled back; in-memory state may be ahead of the tables.
            self._loaded_at = None
            raise

    def catch_up(self, *, on_batch: Callable[[BatchResult], None] | None = None) -> int:
        """Apply every committed activity; return how many."""
        total = 0
        with ReadAhead(self.read) as read_ahead:
            while True:
                result = self.run_batch(read_ahead)
                total += result.count
                if on_batch is not None and result.events:
                    on_batch(result)
                if result.events < self.batch_size:
                    return total

    def rebuild(self, *, on_batch: Callable[[BatchResult], None] | None = None) -> int:
        """Forget everything derived and replay the log from the start.

        The projection's deferred indexes are dropped for the replay and created again
        once it has caught up; if the rebuild stops before that, the next ``setup``
        (``create_tables``) creates them.
        """
        with self.engine.begin() as conn:
            read_position(conn, self.tracking_name, for_update=True)
            self.projection.reset(conn)
            if self.projection.partition.whole:
                # Other partitions' runners keep writing (and reading) beside a partition's
                # rebuild: it keeps the indexes.
                drop_indexes(conn, self.projection.deferred_indexes)
            write_position(conn, self.tracking_name, 0, self.projection.version)
        self._loaded_at = None
        total = self.catch_up(on_batch=on_batch)
        with self.engine.begin() as conn:
            read_position(conn, self.tracking_name, for_update=True)
            create_indexes(conn, self.projection.deferred_indexes)
        return total


B = TypeVar("B")


class ReadAhead(Generic[B]):
    """Reads and decodes the next batch on a worker thread while the current one is applied.

    The database's share of a batch (reading the log, inserting rows, committing) then
    overlaps the runner's Python work (docs/performance.md, "Projections"). A batch read
    ahead is used only if it starts exactly at the tracked position the next transaction
    locks; otherwise it is dropped and read again. Reading after any position never skips
    an event (notification ids are in commit order), so a batch read early is a prefix of
    what a later read would give; the rest comes in the next batch.
    """

    def __init__(self, read: Callable[[int], B]) -> None:
        self._read = read
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="projection-read-ahead")
        self._pending: tuple[int, Future[B]] | None = None

    def start(self, after: int) -> None:
        self._pending = (after, self._pool.submit(self._read, after))

    def take(self, after: int) -> B:
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == after:
            return pending[1].result()  # a failed read raises here, in the batch's transaction
        return self._read(after)

    def __enter__(self) -> ReadAhead[B]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pending = None
        self._pool.shutdown(wait=True, cancel_futures=True)


def follow(
    runners: list[ProjectionRunner],
    *,
    stop: threading.Event,
    wakeup: Wakeup,
    on_batch: Callable[[str, BatchResult], None] | None = None,
    max_consecutive_failures: int | None = None,
    retry_max_seconds: float = 10.0,
    outage: Outage | None = None,
) -> None:
    """Keep every runner caught up until ``stop`` is set.

    A lost connection or a lock timeout rolls the batch back; the same batch is tried
    again after a backoff, for as long as the database stays away (one log line when the
    outage starts, one when it ends), or until ``max_consecutive_failures`` in a row when
    that is set. Anything else propagates: the runner stops rather than skip a batch.
    """

    def run_all() -> bool:
        busy = False
        for runner in runners:
            result = runner.run_batch(read_ahead[runner.name])
            if result.events:
                busy = True
                if on_batch is not None:
                    on_batch(runner.name, result)
        return busy

    database = outage or Outage("projections: the database", log)
    # A backlog (after downtime, say) is worked through with the next batch read ahead,
    # as catch_up does; a runner that keeps up reads nothing ahead (its batches are short).
    with contextlib.ExitStack() as stack:
        read_ahead = {
            runner.name: stack.enter_context(ReadAhead(runner.read)) for runner in runners
        }
        while not stop.is_set():
            try:
                busy = retry_while_unavailable(
                    run_all,
                    outage=database,
                    stop=stop,
                    cap_seconds=retry_max_seconds,
                    max_failures=max_consecutive_failures,
                )
            except TRANSIENT_DB_ERRORS:
                if stop.is_set():
                    return  # asked to stop while the database was away: nothing to finish
                raise
            if not busy:
                wakeup.wait(stop)
