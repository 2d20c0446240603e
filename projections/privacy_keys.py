"""The personal-data key store and the legal holds: their own tables, not read models.

Keys must be destroyable and events are immutable, so keys are not derived from events:
they live in ``activity_privacy_keys``, on the same database, created by migration 0005,
and no rebuild touches them. A key row keeps its id, tenant, subject and times forever;
erasing overwrites the wrapped key with NULL and records ``destroyed_at``. A subject may
hold several keys over time (personal data recorded after an erasure gets a new key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.projections.database import metadata
from optaic_activity.projections.privacy_crypto import DataKey, Keyring

WHOLE_TENANT = UUID(int=0)
"""The subject of a hold on a whole tenant."""

privacy_keys = sa.Table(
    "activity_privacy_keys",
    metadata,
    sa.Column("kid", sa.Uuid, primary_key=True),
    sa.Column("tenant_id", sa.Uuid, nullable=False),
    sa.Column("subject_id", sa.Uuid, nullable=False),
    sa.Column("master_key_id", sa.String(128), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_privacy_keys_subject", "tenant_id", "subject_id"),
)

privacy_holds = sa.Table(
    "activity_privacy_holds",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("subject_id", sa.Uuid, primary_key=True),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
)


def _now() -> datetime:
    return datetime.now(UTC)


class KeyStore:
    """Data keys of subjects: made on first use, opened at read time, destroyed on erasure."""

    def __init__(self, engine: Engine, keyring: Keyring) -> None:
        self.engine = engine
        self.keyring = keyring

    def seal(self, tenant_id: UUID, subject_id: UUID, values: list[Any]) -> list[dict[str, Any]]:
        """The domain's ``Sealer``: each value sealed under the subject's live data key."""
        key = self.live_key(tenant_id, subject_id)
        return [key.seal(value) for value in values]

    def live_key(self, tenant_id: UUID, subject_id: UUID) -> DataKey:
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(privacy_keys)
                .where(
                    privacy_keys.c.tenant_id == tenant_id,
                    privacy_keys.c.subject_id == subject_id,
                    privacy_keys.c.wrapped_key.is_not(None),
                )
                .order_by(privacy_keys.c.created_at.desc())
                .limit(1)
            ).one_or_none()
            if row is not None:
                return self._open(row)
            # Two writers may both make one: harmless, every key of a subject is erased.
            kid = uuid4()
            key, wrapped = self.keyring.new_data_key(tenant_id, subject_id, kid)
            conn.execute(
                privacy_keys.insert().values(
                    kid=kid,
                    tenant_id=tenant_id,
                    subject_id=subject_id,
                    master_key_id=self.keyring.key_id,
                    wrapped_key=wrapped,
                    created_at=_now(),
                )
            )
            return key

    def keys(self, conn: sa.Connection, kids: Iterable[UUID]) -> dict[UUID, DataKey | None]:
        """The keys of ``kids`` (``None``: destroyed); a kid not returned was never made."""
        wanted = sorted(set(kids), key=str)
        if not wanted:
            return {}
        rows = conn.execute(sa.select(privacy_keys).where(privacy_keys.c.kid.in_(wanted)))
        return {row.kid: None if row.wrapped_key is None else self._open(row) for row in rows}

    def _open(self, row: sa.Row[Any]) -> DataKey:
        return self.keyring.unwrap(
            bytes(row.wrapped_key), row.master_key_id, row.tenant_id, row.subject_id, row.kid
        )

    def rewrap(self) -> int:
        """Wrap every live data key under the current master key (rotation); returns how many."""
        count = 0
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(privacy_keys).where(
                    privacy_keys.c.wrapped_key.is_not(None),
                    privacy_keys.c.master_key_id != self.keyring.key_id,
                )
            ).all()
            for row in rows:
                key = self._open(row)
                conn.execute(
                    privacy_keys.update()
                    .where(privacy_keys.c.kid == row.kid)
                    .values(
                        wrapped_key=self.keyring.wrap(
                            key.secret, key.tenant_id, key.subject_id, key.kid
                        ),
                        master_key_id=self.keyring.key_id,
                    )
                )
                count += 1
        return count


@dataclass(frozen=True)
class Hold:
    tenant_id: UUID
    subject_id: UUID
    reason: str
    placed_at: datetime

    @property
    def whole_tenant(self) -> bool:
        return self.subject_id == WHOLE_TENANT


def holds_on(conn: sa.Connection, tenant_id: UUID, subject_id: UUID) -> list[Hold]:
    """The holds that cover ``subject_id`` in ``tenant_id``: the tenant's own and the subject's."""
    rows = conn.execute(
        sa.select(privacy_holds).where(
            privacy_holds.c.tenant_id == tenant_id,
            privacy_holds.c.subject_id.in_([WHOLE_TENANT, subject_id]),
        )
    )
    return [Hold(r.tenant_id, r.subject_id, r.reason, r.placed_at) for r in rows]


def subject_keys(conn: sa.Connection, tenant_id: UUID, subject_id: UUID) -> list[sa.Row[Any]]:
    return list(
        conn.execute(
            sa.select(privacy_keys.c.kid, privacy_keys.c.destroyed_at)
            .where(privacy_keys.c.tenant_id == tenant_id, privacy_keys.c.subject_id == subject_id)
            .order_by(privacy_keys.c.created_at)
        )
    )


def destroy_keys(conn: sa.Connection, tenant_id: UUID, subject_id: UUID) -> list[UUID]:
    """Destroy the subject's live keys; returns their ids."""
    live = [
        row.kid
        for row in conn.execute(
            sa.select(privacy_keys.c.kid).where(
                privacy_keys.c.tenant_id == tenant_id,
                privacy_keys.c.subject_id == subject_id,
                privacy_keys.c.wrapped_key.is_not(None),
            )
        )
    ]
    if live:
        conn.execute(
            privacy_keys.update()
            .where(privacy_keys.c.kid.in_(live))
            .values(wrapped_key=None, destroyed_at=_now())
        )
    return live


def place_hold(conn: sa.Connection, tenant_id: UUID, subject_id: UUID, reason: str) -> bool:
    """Place a hold; ``False`` if one was already there (it is kept as it was)."""
    exists = conn.execute(
        sa.select(privacy_holds.c.tenant_id).where(
            privacy_holds.c.tenant_id == tenant_id, privacy_holds.c.subject_id == subject_id
        )
    ).first()
    if exists is not None:
        return False
    conn.execute(
        privacy_holds.insert().values(
            tenant_id=tenant_id, subject_id=subject_id, reason=reason, placed_at=_now()
        )
    )
    return True


def release_hold(conn: sa.Connection, tenant_id: UUID, subject_id: UUID) -> bool:
    """Release a hold; ``False`` if there was none."""
    result = conn.execute(
        privacy_holds.delete().where(
            privacy_holds.c.tenant_id == tenant_id, privacy_holds.c.subject_id == subject_id
        )
    )
    return bool(result.rowcount)
