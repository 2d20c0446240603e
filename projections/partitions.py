"""Projection partitions: one of N runners of a projection, each owning a disjoint set of tenants.

Every read model is tenant-scoped, so a projection can be split by tenant: partition
``K/N`` owns the tenants whose id, as a 128-bit integer, is ``K`` modulo ``N``. That is a
pure function of the tenant id, so every process agrees without talking to the others.
Each partition reads the whole log (it is one log), skips the other partitions' events
after parsing only their tenant id, and keeps its own tracking row (``NAME@K/N``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.domain.errors import InvalidPartitionError
from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.database import clear

_SPEC = re.compile(r"(\d{1,6})/(\d{1,6})")


@dataclass(frozen=True)
class Partition:
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            msg = f"partition {self.index}/{self.count}: expected K/N with 0 <= K < N"
            raise InvalidPartitionError(msg)

    @classmethod
    def parse(cls, text: str) -> Partition:
        """``K/N``, as ``--partition`` takes it: ``0/1`` is the whole projection."""
        match = _SPEC.fullmatch(text.strip())
        if match is None:
            msg = f"{text!r} is not a partition: expected K/N with 0 <= K < N (e.g. 0/2)"
            raise InvalidPartitionError(msg)
        return cls(int(match[1]), int(match[2]))

    @property
    def whole(self) -> bool:
        return self.count == 1

    def owns(self, tenant_id: UUID) -> bool:
        return tenant_id.int % self.count == self.index

    def tracking_name(self, projection: str) -> str:
        """The tracking row's key: the projection's own name when unpartitioned."""
        return projection if self.whole else f"{projection}@{self}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Partition(0, 1)


def of_tracking_name(projection: str, name: str) -> Partition | None:
    """The partition a tracking row's key names for ``projection`` (None: another's row)."""
    if name == projection:
        return WHOLE
    prefix, _, spec = name.partition("@")
    if prefix != projection or not spec:
        return None
    try:
        return Partition.parse(spec)
    except InvalidPartitionError:
        return None


def check_layout(projection: str, partition: Partition, names: Iterable[str]) -> None:
    """Refuse a partition whose count differs from the tracking rows that applied something.

    A ``0/3`` runner beside ``0/2`` and ``1/2`` would apply again, from position 0, events
    of tenants they already applied; the count changes through a new generation
    (docs/projections.md, "Blue/green") instead.
    """
    counts = {p.count for name in names if (p := of_tracking_name(projection, name)) is not None}
    if counts - {partition.count}:
        msg = (
            f"projection {projection!r} is tracked in {sorted(counts)} partition(s) here, not "
            f"{partition.count}: build the new partitioning in a new generation and switch to it"
        )
        raise InvalidPartitionError(msg)


def all_partitions(count: int) -> list[Partition]:
    return [Partition(index, count) for index in range(count)]


def clear_partition(conn: sa.Connection, partition: Partition, *tables: sa.Table) -> None:
    """Delete the partition's tenants' rows of ``tables`` (every row when it is whole).

    Other partitions' rows stay: their runners go on writing beside this rebuild. No other
    runner writes this partition's tenants (it would hold this tracking row), so the
    tenants found here are all there are.
    """
    if partition.whole:
        clear(conn, *tables)
        return
    backend = backend_for(conn)
    for table in tables:
        tenants = _owned(conn.execute(sa.select(table.c.tenant_id).distinct()).scalars(), partition)
        if not tenants:
            continue
        for condition, params in backend.in_conditions(table.c.tenant_id, tenants):
            conn.execute(table.delete().where(condition), params)


def _owned(tenants: Iterable[UUID], partition: Partition) -> list[UUID]:
    return [tenant for tenant in tenants if partition.owns(tenant)]
