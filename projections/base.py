"""What the generic runner needs from a projection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import sqlalchemy as sa

from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.partitions import Partition


class Projection(Protocol):
    name: str
    """Stable: the tracking row is keyed by it (renaming needs a migration)."""
    version: int
    """Bump when the projection's logic changes; the runner then refuses to run until rebuilt."""
    partition: Partition
    """The tenants this instance owns (``WHOLE``: all): ``load`` and ``reset`` touch only
    theirs, and the runner hands ``apply`` only their activities."""

    @property
    def deferred_indexes(self) -> Sequence[sa.Index]:
        """Indexes a rebuild drops first and creates once caught up (loading rows into a
        table is several times faster without them); ``load`` and ``apply`` must not need them.
        """

    def load(self, conn: sa.Connection) -> None:
        """(Re)load any in-memory state from the tables, as of the tracked position (the
        partition's tenants' state only: the others' rows are other runners' to write)."""

    def reset(self, conn: sa.Connection) -> None:
        """Delete what the projection derived for the partition's tenants, before a rebuild
        from position 0."""

    def apply(self, conn: sa.Connection, batch: Sequence[StoredActivity]) -> None:
        """Write the rows for ``batch`` (in log order) on ``conn``; never commit."""
