"""The notifier's side of the outbox table: claims, leases, outcomes and the dead letters.

Only the delivery columns are written here (status, attempts, next_attempt_at, last_error,
lease_owner, lease_until, sent_at, delivered_channels); the content columns belong to the
projection.

Claiming is one short transaction: select due rows (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent workers take disjoint rows without waiting on each other; under
SQLite's ``BEGIN IMMEDIATE`` the whole database is locked instead), then stamp them with a
lease and count the attempt. Nothing is held open while publishing: the lease alone keeps
other workers off, and when it runs out (the worker crashed or hangs) the rows are due again.

Settling is one transaction too: one statement marks every delivered row sent (on
PostgreSQL with a single array parameter, ``position = ANY(:positions)``), one
``executemany`` records the retries, one the dead letters.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.outbox import (
    DEAD,
    PENDING,
    ROW_COLUMNS,
    SENT,
    OutboxRow,
    decode_row,
    outbox,
    select_due,
)

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
    delivered_channels: Collection[str] | None = None
    """Every channel delivered so far (earlier attempts included); None: none."""


@dataclass(frozen=True)
class DeadLetter:
    position: int
    error: str
    delivered_channels: Collection[str] | None = None
    """As for `Retry`: a dead letter put back by ``dlq retry`` skips these channels."""


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


_STATUS_AT = len(ROW_COLUMNS)


def _claim_statement() -> sa.Update:
    """The claim, built once: every call only binds its parameters."""
    now = sa.bindparam("now", type_=outbox.c.next_attempt_at.type)
    due = select_due(outbox.c.position, now=now, limit=sa.bindparam("limit", type_=sa.Integer))
    spent = outbox.c.attempts >= sa.bindparam("max_attempts", type_=sa.Integer)
    gave_up = sa.bindparam("gave_up", type_=sa.Text) + (
        sa.func.coalesce(sa.literal(": ") + outbox.c.last_error, sa.literal(""))
    )
    return (
        outbox.update()
        .where(outbox.c.position.in_(due.scalar_subquery()))
        .values(
            status=sa.case((spent, DEAD), else_=outbox.c.status),
            last_error=sa.case((spent, gave_up), else_=outbox.c.last_error),
            lease_owner=sa.case(
                (spent, None), else_=sa.bindparam("owner", type_=outbox.c.lease_owner.type)
            ),
            lease_until=sa.case(
                (spent, None),
                else_=sa.bindparam("lease_until", type_=outbox.c.lease_until.type),
            ),
            attempts=sa.case((spent, outbox.c.attempts), else_=outbox.c.attempts + 1),
        )
        .returning(*ROW_COLUMNS, outbox.c.status)
    )


_CLAIM = _claim_statement()


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
        parameters = {
            "now": now,
            "lease_until": now + lease,
            "owner": owner,
            "limit": limit,
            "max_attempts": max_attempts,
            "gave_up": f"gave up after {max_attempts} attempts without an outcome",
        }
        with self.engine.begin() as conn:
            # RETURNING has no order; the outbox's is the position's.
            records = sorted(conn.execute(_CLAIM, parameters).all(), key=_position)
        rows: list[OutboxRow] = []
        exhausted: list[OutboxRow] = []
        for record in records:
            (rows if record[_STATUS_AT] == PENDING else exhausted).append(decode_row(record))
        return Claim(rows=rows, exhausted=exhausted)

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
        if not (sent or retries or dead):
            return 0
        with self.engine.begin() as conn:
            touched = self._settle(conn, owner, self.clock(), sent, retries, dead)
        return len(sent) + len(retries) + len(dead) - touched

    def _settle(
        self,
        conn: Connection,
        owner: str,
        now: datetime,
        sent: Sequence[int],
        retries: Sequence[Retry],
        dead: Sequence[DeadLetter],
    ) -> int:
        mine = sa.and_(outbox.c.lease_owner == owner, outbox.c.status == PENDING)
        touched = 0
        if sent:
            done = {"status": SENT, "sent_at": now, "lease_owner": None, "lease_until": None}
            statement = outbox.update().where(mine).values(done)
            touched += backend_for(conn).update_in(conn, statement, outbox.c.position, sent)
        if retries:
            touched += _settle_each(
                conn,
                mine,
                {"next_attempt_at": sa.bindparam("at")},
                [{"at": r.next_attempt_at, **_outcome(r)} for r in retries],
            )
        if dead:
            touched += _settle_each(conn, mine, {"status": DEAD}, [_outcome(d) for d in dead])
        return touched

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


_DELIVERED_TYPE = sa.JSON(none_as_null=True)  # None: SQL NULL, not JSON null


def _position(record: Any) -> int:
    return int(record[0])


def _delivered(channels: Collection[str] | None) -> list[str] | None:
    return sorted(channels) if channels else None


def _outcome(row: Retry | DeadLetter) -> dict[str, Any]:
    return {
        "p": row.position,
        "error": row.error,
        "delivered": _delivered(row.delivered_channels),
    }


def _settle_each(
    conn: Connection,
    mine: sa.ColumnElement[bool],
    values: dict[str, Any],
    parameters: list[dict[str, Any]],
) -> int:
    """One ``executemany``: each row (``p``) gets ``values``, its error and delivered
    channels, and loses its lease; returns the rows still ``mine``."""
    statement = (
        outbox.update()
        .where(outbox.c.position == sa.bindparam("p"), mine)
        .values(
            **values,
            last_error=sa.bindparam("error"),
            delivered_channels=sa.bindparam("delivered", type_=_DELIVERED_TYPE),
            lease_owner=None,
            lease_until=None,
        )
    )
    return int(conn.execute(statement, parameters).rowcount)
