"""Disconnect the live connections of principals who lost their last role in a tenant.

The routing projection writes a revocation row (projections/revocations.py) when a role
binding's revoke leaves its principal with no role in the tenant; `disconnect_revoked`
calls Centrifugo's ``disconnect`` API for that principal's connection user in that tenant
(``<tenant_id>.<principal_id>``: their sessions in other tenants stay) and marks the row
done. A row is done once: a rebuild keeps its state (the outbox pattern), so nobody is
disconnected again by one. Two workers may both disconnect the same user before either
marks the row; disconnecting twice ends the same connections, so that is harmless.

The code is terminal (4500-4999: client SDKs do not reconnect on their own).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.notifier.channels import connection_user
from optaic_activity.notifier.failures import Failure
from optaic_activity.projections.revocations import DONE, PENDING, revocations

DISCONNECT_CODE = 4503
DISCONNECT_REASON = "access revoked"
BATCH = 100
MAX_ATTEMPTS = 10
"""Attempts before a revocation is given up (left ``dead``, its last error kept)."""
DEAD = "dead"


@runtime_checkable
class Disconnects(Protocol):
    """A publisher that can end a user's live connections."""

    def disconnect(self, user: str, code: int, reason: str) -> Failure | None: ...


def disconnect_revoked(
    engine: Engine,
    publisher: object,
    *,
    limit: int = BATCH,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Disconnect the users of up to ``limit`` pending revocations; how many were done.

    A publisher that cannot disconnect (no `Disconnects`) leaves every row pending.
    """
    if not isinstance(publisher, Disconnects):
        return 0
    with engine.connect() as conn:
        pending = conn.execute(
            sa.select(
                revocations.c.position,
                revocations.c.tenant_id,
                revocations.c.principal_id,
                revocations.c.attempts,
            )
            .where(revocations.c.status == PENDING)
            .order_by(revocations.c.position)
            .limit(limit)
        ).all()
    done = 0
    for position, tenant_id, principal_id, attempts in pending:
        failure = publisher.disconnect(
            connection_user(tenant_id, principal_id), DISCONNECT_CODE, DISCONNECT_REASON
        )
        if failure is None:
            values: dict[str, object] = {
                "status": DONE,
                "attempts": attempts + 1,
                "done_at": clock(),
                "last_error": None,
            }
            done += 1
        else:
            status = DEAD if attempts + 1 >= MAX_ATTEMPTS else PENDING
            values = {"status": status, "attempts": attempts + 1, "last_error": failure.error}
        with engine.begin() as conn:
            conn.execute(
                revocations.update().where(revocations.c.position == position).values(**values)
            )
    return done


def follow_revocations(
    engine: Engine, publisher: object, stop: threading.Event, *, poll_interval: float
) -> None:
    """`disconnect_revoked` until ``stop`` is set, waiting ``poll_interval`` when idle."""
    while not stop.is_set():
        if disconnect_revoked(engine, publisher) < BATCH:
            stop.wait(poll_interval)
