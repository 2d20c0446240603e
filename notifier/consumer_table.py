"""Second delivery mode: Centrifugo's own PostgreSQL consumer drains a table we write.

Centrifugo v6 (``consumers`` of type ``postgresql``, ``internal/consuming/postgresql.go``)
polls a table with the columns ``id BIGSERIAL PRIMARY KEY, method TEXT NOT NULL, payload
BYTEA NOT NULL, partition INTEGER NOT NULL``: per partition, under an advisory lock, it
selects rows in ``id`` order, dispatches each as a server API command (``method`` names
it, ``payload`` is the command's JSON request) and deletes what it processed in the same
transaction. A broadcast whose channel answered "internal error" is retried by it (rows
stay), any other error is logged and the row dropped.

Here an outbox row becomes ``broadcast`` commands (the same broadcasts, data and
idempotency keys as the API mode), written in the caller's transaction
(`write_consumer_commands`, for a projection) or moved from the outbox by
`ConsumerTableRelay`, which marks the outbox rows sent in that same transaction: the
hand-over to Centrifugo is exactly once, and a projection rebuild, which never resets
delivery columns, never writes a command twice.

Partitions: ``crc32(resource_id) % num_partitions``, stable across processes and
releases (unlike ``hash()``), so the activities of one resource keep their order.
"""

from __future__ import annotations

import json
import logging
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from optaic_activity.domain.errors import ConfigurationError, MalformedOutboxRowError
from optaic_activity.notifier.backoff import RetryDelays
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.message import plan
from optaic_activity.notifier.metrics import NotifierMetrics
from optaic_activity.notifier.outbox_store import Clock, utc_now
from optaic_activity.notifier.report import DeliveryCounts
from optaic_activity.projections.backends import require_postgresql
from optaic_activity.projections.outages import (
    TRANSIENT_DB_ERRORS,
    Outage,
    retry_while_unavailable,
)
from optaic_activity.projections.outbox import DEAD, PENDING, SENT, OutboxRow, fetch_due, outbox

log = logging.getLogger(__name__)

DEFAULT_TABLE_NAME = "centrifugo_outbox"
BROADCAST = "broadcast"

consumer_metadata = sa.MetaData()
"""Kept apart from the read models' metadata: the table exists only in this mode."""


def consumer_table(
    name: str = DEFAULT_TABLE_NAME, metadata: sa.MetaData = consumer_metadata
) -> sa.Table:
    """The table layout Centrifugo's PostgreSQL consumer reads (same name: same Table)."""
    if name in metadata.tables:
        return metadata.tables[name]
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
    )


def create_consumer_table(engine: Engine, name: str = DEFAULT_TABLE_NAME) -> sa.Table:
    require_postgresql(
        engine, "Centrifugo's consumer reads PostgreSQL only; this is not PostgreSQL"
    )
    table = consumer_table(name)
    table.create(engine, checkfirst=True)
    return table


def partition_for(key: str, partitions: int) -> int:
    if partitions < 1:
        raise ConfigurationError("partitions must be >= 1")
    return zlib.crc32(key.encode()) % partitions


@dataclass(frozen=True)
class ConsumerCommand:
    method: str
    payload: bytes
    partition: int


def consumer_commands(row: OutboxRow, partitions: int) -> list[ConsumerCommand]:
    """The commands that deliver ``row``; MalformedOutboxRowError if it breaks the contract."""
    delivery = plan(row)
    partition = partition_for(str(row.message["resource_id"]), partitions)
    return [
        ConsumerCommand(
            method=BROADCAST,
            payload=json.dumps(
                {
                    "channels": list(broadcast.channels),
                    "data": dict(broadcast.data),
                    "idempotency_key": broadcast.idempotency_key,
                },
                separators=(",", ":"),
            ).encode(),
            partition=partition,
        )
        for broadcast in delivery.broadcasts
    ]


def write_consumer_commands(
    conn: Connection,
    commands: Iterable[ConsumerCommand],
    *,
    table: sa.Table | None = None,
    notify_channel: str | None = None,
) -> int:
    """Insert commands in ``conn``'s transaction; NOTIFY ``notify_channel`` per partition.

    ``notify_channel`` is the consumer's ``partition_notification_channel``: it wakes
    Centrifugo at commit instead of at its next poll.
    """
    target = table if table is not None else consumer_table()
    pending = list(commands)
    if not pending:
        return 0
    conn.execute(
        target.insert(),
        [{"method": c.method, "payload": c.payload, "partition": c.partition} for c in pending],
    )
    if notify_channel:
        for partition in sorted({command.partition for command in pending}):
            conn.execute(sa.select(sa.func.pg_notify(notify_channel, str(partition))))
    return len(pending)


@dataclass
class RelayReport(DeliveryCounts):
    moved: int = 0
    """Outbox rows handed over to the consumer table (marked sent)."""
    commands: int = 0
    """Broadcast commands written for them."""

    def summary(self) -> str:
        return (
            f"moved {self.moved} rows ({self.commands} commands) to the consumer"
            f" table; {self.retried} to retry, {self.dead} dead"
        )


class ConsumerTableRelay:
    """Moves due outbox rows into the consumer table, one transaction per batch.

    Several relays may run (``FOR UPDATE SKIP LOCKED``); with more than one, activities of
    one resource handled by different relays may reach a partition out of order, so run
    one per database unless the volume needs more.
    """

    def __init__(
        self,
        engine: Engine,
        config: NotifierConfig | None = None,
        *,
        table: sa.Table | None = None,
        notify_channel: str | None = None,
        metrics: NotifierMetrics | None = None,
        clock: Clock = utc_now,
    ) -> None:
        require_postgresql(engine, "the consumer-table mode needs PostgreSQL")
        self.engine = engine
        self.config = config or NotifierConfig()
        self.table = table if table is not None else consumer_table()
        self.notify_channel = notify_channel or self.config.consumer_table_notify_channel or None
        self.metrics = metrics or NotifierMetrics()
        self._clock = clock
        self._delays = RetryDelays(
            self.config.backoff_base_seconds, self.config.backoff_max_seconds
        )
        self.database = Outage("consumer-table relay: the database", log)

    def run_batch(self) -> RelayReport:
        now = self._clock()
        report = RelayReport()
        with self.engine.begin() as conn:
            # A row's delivered channels (reached in the API mode, if the mode was switched
            # mid-retry) are left out of its commands.
            rows = fetch_due(conn, now, self.config.batch_size)
            commands: list[ConsumerCommand] = []
            moved: list[int] = []
            failed: list[dict[str, Any]] = []
            for row in rows:
                try:
                    commands.extend(consumer_commands(row, self.config.consumer_table_partitions))
                    moved.append(row.position)
                except MalformedOutboxRowError as exc:
                    failed.append(self._failure(row, f"malformed outbox row: {exc}", now, report))
            report.commands = write_consumer_commands(
                conn, commands, table=self.table, notify_channel=self.notify_channel
            )
            if moved:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.position.in_(moved))
                    .values(status=SENT, sent_at=now, attempts=outbox.c.attempts + 1)
                )
            if failed:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.position == sa.bindparam("p"))
                    .values(
                        status=sa.bindparam("status"),
                        attempts=outbox.c.attempts + 1,
                        next_attempt_at=sa.bindparam("at"),
                        last_error=sa.bindparam("error"),
                    ),
                    failed,
                )
        report.moved = len(moved)
        self.metrics.sent.inc(len(moved))
        return report

    def _failure(self, row: OutboxRow, error: str, now: Any, report: RelayReport) -> dict[str, Any]:
        attempt = row.attempts + 1
        extra = {"activity_id": str(row.activity_id), "correlation_id": str(row.correlation_id)}
        if attempt >= self.config.max_attempts:
            report.dead += 1
            self.metrics.dead_lettered.labels(cause="max_attempts").inc()
            log.error("outbox row dead-lettered: %s", error, extra=extra)
            return {"p": row.position, "status": DEAD, "at": now, "error": error}
        report.retried += 1
        self.metrics.retried.inc()
        log.warning("outbox row will be retried: %s", error, extra=extra)
        delay: timedelta = self._delays.delay(attempt)
        return {"p": row.position, "status": PENDING, "at": now + delay, "error": error}

    def run(self, stop: threading.Event | None = None, *, follow: bool = True) -> RelayReport:
        stop = stop or threading.Event()
        total = RelayReport()
        while not stop.is_set():
            try:
                # The batch is one transaction: after a lost connection it is tried again whole.
                report = retry_while_unavailable(
                    self.run_batch,
                    outage=self.database,
                    stop=stop,
                    cap_seconds=self.config.db_retry_max_seconds,
                )
            except TRANSIENT_DB_ERRORS:
                if stop.is_set():
                    break
                raise
            total.add(report)
            if report.moved + report.retried + report.dead == 0:
                if not follow:
                    break
                stop.wait(self.config.poll_interval_seconds)
        return total
