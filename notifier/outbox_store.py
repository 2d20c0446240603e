"""The notifier's side of the outbox table: claims, leases, outcomes and the dead letters.

Only the delivery columns are written here (status, attempts, next_attempt_at, last_error,
lease_owner, lease_until, sent_at); the content columns belong to the projection.

Claiming is one short transaction: select due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent workers take disjoint rows without waiting on each other; under
SQLite's ``BEGIN IMMEDIATE`` the whole database is locked instead), then stamp them with a
lease and count the attempt. Nothing is held open while publishing: the lease alone keeps
other workers off, and when it runs out (the worker crashed or hangs) the rows are due again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from notifier.message import OutboxRow
from projections.outbox import DEAD, PENDING, SENT, outbox

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; everything stored here is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Claim:
    rows: list[OutboxRow]
    """Rows now leased to the claimer, attempts counted."""
    exhausted: list[OutboxRow]
    """Rows that were due but had used up their attempts: dead-lettered by this claim."""


@dataclass(frozen=True)
class Retry:
    position: int
    next_attempt_at: datetime
    error: str


@dataclass(frozen=True)
class DeadLetter:
    position: int
    error: str


@dataclass(frozen=True)
class DeadRow:
    position: int
    activity_id: str
    action: str
    attempts: int
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class Backlog:
    pending: int
    dead: int
    oldest_pending_created_at: datetime | None


_DUE_COLUMNS = (
    outbox.c.position,
    outbox.c.activity_id,
    outbox.c.correlation_id,
    outbox.c.action,
    outbox.c.recipients,
    outbox.c.channels,
    outbox.c.message,
    outbox.c.attempts,
    outbox.c.last_error,
)


class OutboxStore:
    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    # -- the worker's cycle ------------------------------------------------------------------

    def claim(self, owner: str, limit: int, lease: timedelta, max_attempts: int) -> Claim:
        """Lease up to ``limit`` due rows to ``owner`` in one statement, counting the attempt.

        A due row that already used ``max_attempts`` claims without an outcome (its workers
        kept dying or hanging on it) is dead-lettered by the same statement instead.
        """
        now = self.clock()
        due = (
            sa.select(outbox.c.position)
            .where(
                outbox.c.status == PENDING,
                outbox.c.next_attempt_at <= now,
                sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
            )
            .order_by(outbox.c.position)
            .limit(limit)
            # PostgreSQL: rows another worker is claiming right now are skipped, not waited
            # for. SQLite ignores it (BEGIN IMMEDIATE already serializes claimers).
            .with_for_update(skip_locked=True)
        )
        spent = outbox.c.attempts >= max_attempts
        gave_up = sa.literal(f"gave up after {max_attempts} attempts without an outcome") + (
            sa.func.coalesce(sa.literal(": ") + outbox.c.last_error, sa.literal(""))
        )
        claim = (
            outbox.update()
            .where(outbox.c.position.in_(due.scalar_subquery()))
            .values(
                status=sa.case((spent, DEAD), else_=outbox.c.status),
                last_error=sa.case((spent, gave_up), else_=outbox.c.last_error),
                lease_owner=sa.case((spent, None), else_=owner),
                lease_until=sa.case((spent, None), else_=now + lease),
                attempts=sa.case((spent, outbox.c.attempts), else_=outbox.c.attempts + 1),
            )
            .returning(*_DUE_COLUMNS, outbox.c.status)
        )
        with self.engine.begin() as conn:
            records = list(conn.execute(claim).mappings())
        # RETURNING has no order; the outbox's is the position's.
        records.sort(key=lambda record: int(record["position"]))
        return Claim(
            rows=[_row(r) for r in records if r["status"] == PENDING],
            exhausted=[_row(r) for r in records if r["status"] == DEAD],
        )

    def settle(
        self,
        owner: str,
        sent: Sequence[int],
        retries: Sequence[Retry],
        dead: Sequence[DeadLetter],
    ) -> int:
        """Record a batch's outcomes in one transaction; returns rows whose lease was lost.

        Every update is conditioned on the lease still being ours: if it ran out and another
        worker took the row, that worker's outcome is the one that counts.
        """
        now = self.clock()
        mine = sa.and_(outbox.c.lease_owner == owner, outbox.c.status == PENDING)
        touched = 0
        with self.engine.begin() as conn:
            if sent:
                touched += conn.execute(
                    outbox.update()
                    .where(outbox.c.position.in_(list(sent)), mine)
                    .values(status=SENT, sent_at=now, lease_owner=None, lease_until=None)
                ).rowcount
            if retries:
                touched += conn.execute(
                    outbox.update()
                    .where(outbox.c.position == sa.bindparam("p"), mine)
                    .values(
                        next_attempt_at=sa.bindparam("at"),
                        last_error=sa.bindparam("error"),
                        lease_owner=None,
                        lease_until=None,
                    ),
                    [{"p": r.position, "at": r.next_attempt_at, "error": r.error} for r in retries],
                ).rowcount
            if dead:
                touched += conn.execute(
                    outbox.update()
                    .where(outbox.c.position == sa.bindparam("p"), mine)
                    .values(
                        status=DEAD,
                        last_error=sa.bindparam("error"),
                        lease_owner=None,
                        lease_until=None,
                    ),
                    [{"p": d.position, "error": d.error} for d in dead],
                ).rowcount
        return len(sent) + len(retries) + len(dead) - touched

    def release(
        self,
        owner: str,
        positions: Iterable[int] | None,
        error: str | None,
        *,
        refund_attempt: bool = True,
    ) -> int:
        """Give leased rows back, due at once. ``positions`` None: every row ``owner`` holds.

        ``refund_attempt``: the rows were not really tried (shutdown, a misconfigured
        publisher), so they must not move closer to the dead letters. A row that crashed its
        worker is no such row: its attempt counts, or a poison row would never die.
        """
        condition = sa.and_(outbox.c.lease_owner == owner, outbox.c.status == PENDING)
        if positions is not None:
            condition = sa.and_(condition, outbox.c.position.in_(list(positions)))
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if refund_attempt:
            values["attempts"] = sa.case((outbox.c.attempts > 0, outbox.c.attempts - 1), else_=0)
        if error is not None:
            values["last_error"] = error
        with self.engine.begin() as conn:
            return conn.execute(outbox.update().where(condition).values(**values)).rowcount

    # -- dead letters -----------------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[DeadRow]:
        query = (
            sa.select(
                outbox.c.position,
                outbox.c.activity_id,
                outbox.c.action,
                outbox.c.attempts,
                outbox.c.last_error,
                outbox.c.created_at,
            )
            .where(outbox.c.status == DEAD)
            .order_by(outbox.c.position)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                DeadRow(
                    position=record.position,
                    activity_id=str(record.activity_id),
                    action=record.action,
                    attempts=record.attempts,
                    last_error=record.last_error,
                    created_at=as_utc(record.created_at),
                )
                for record in conn.execute(query)
            ]

    def retry_dead(self, positions: Sequence[int] | None) -> int:
        """Put dead letters back in line (all of them when ``positions`` is None).

        Attempts start over; last_error stays as the record of why the row died.
        """
        condition = outbox.c.status == DEAD
        if positions is not None:
            condition = sa.and_(condition, outbox.c.position.in_(list(positions)))
        with self.engine.begin() as conn:
            return conn.execute(
                outbox.update()
                .where(condition)
                .values(
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=self.clock(),
                    lease_owner=None,
                    lease_until=None,
                )
            ).rowcount

    # -- metrics ----------------------------------------------------------------------------

    def backlog(self) -> Backlog:
        query = sa.select(
            sa.func.count().filter(outbox.c.status == PENDING),
            sa.func.count().filter(outbox.c.status == DEAD),
            sa.func.min(outbox.c.created_at).filter(outbox.c.status == PENDING),
        )
        with self.engine.connect() as conn:
            pending, dead, oldest = conn.execute(query).one()
        return Backlog(
            pending=int(pending),
            dead=int(dead),
            oldest_pending_created_at=as_utc(oldest) if oldest is not None else None,
        )


def _row(record: Any) -> OutboxRow:
    return OutboxRow(
        position=int(record["position"]),
        activity_id=record["activity_id"],
        correlation_id=record["correlation_id"],
        action=record["action"],
        recipients=record["recipients"],
        channels=record["channels"],
        message=record["message"],
        attempts=int(record["attempts"]),
        last_error=record["last_error"],
    )
