"""`disconnect_revoked`: each pending revocation disconnects its tenant's user once."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.notifier.disconnects import (
    DISCONNECT_CODE,
    MAX_ATTEMPTS,
    disconnect_revoked,
)
from optaic_activity.notifier.failures import Failure, FailureKind
from optaic_activity.projections.database import create_engine
from optaic_activity.projections.revocations import revocations
from tests.unit.notifier.factories import T0, ScriptedPublisher

TENANT, PAT = uuid.uuid4(), uuid.uuid4()


class Disconnecting:
    def __init__(self, failure: Failure | None = None) -> None:
        self.failure = failure
        self.calls: list[tuple[str, int]] = []

    def disconnect(self, user: str, code: int, reason: str) -> Failure | None:
        self.calls.append((user, code))
        return self.failure


def _engine(tmp_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    revocations.create(engine)
    with engine.begin() as conn:
        conn.execute(
            revocations.insert(),
            [{"position": 7, "tenant_id": TENANT, "principal_id": PAT, "created_at": T0}],
        )
    return engine


def _state(engine: Engine) -> tuple[str, int, str | None]:
    with engine.connect() as conn:
        status, attempts, error = conn.execute(
            sa.select(revocations.c.status, revocations.c.attempts, revocations.c.last_error)
        ).one()
    return status, attempts, error


def test_a_pending_revocation_disconnects_the_tenants_user_once(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    publisher = Disconnecting()

    assert disconnect_revoked(engine, publisher) == 1
    assert disconnect_revoked(engine, publisher) == 0

    assert publisher.calls == [(f"{TENANT}.{PAT}", DISCONNECT_CODE)]
    assert _state(engine) == ("done", 1, None)


def test_a_failed_disconnect_is_retried_and_given_up_after_its_attempts(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    publisher = Disconnecting(Failure(FailureKind.TRANSIENT, "centrifugo error 100 (internal)"))

    disconnect_revoked(engine, publisher)
    assert _state(engine) == ("pending", 1, "centrifugo error 100 (internal)")
    for _ in range(MAX_ATTEMPTS):
        disconnect_revoked(engine, publisher)

    assert len(publisher.calls) == MAX_ATTEMPTS
    assert _state(engine)[:2] == ("dead", MAX_ATTEMPTS)


def test_a_publisher_that_cannot_disconnect_leaves_revocations_pending(tmp_path: Path) -> None:
    engine = _engine(tmp_path)

    assert disconnect_revoked(engine, ScriptedPublisher()) == 0
    assert _state(engine) == ("pending", 0, None)
