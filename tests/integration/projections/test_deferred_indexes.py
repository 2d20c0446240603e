"""A rebuild loads its rows without the projection's query indexes, and always gets them back."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from bench.projections import write_history
from optaic_activity.bootstrap import Runtime
from optaic_activity.projections.audit_log import AuditLogProjection, audit_log, verify_chain
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.database import metadata
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.service import ProjectionService


def index_names(runtime: Runtime, table: sa.Table) -> set[str]:
    return {str(ix["name"]) for ix in sa.inspect(runtime.engine).get_indexes(table.name)}


def declared(table: sa.Table) -> set[str]:
    return {str(ix.name) for ix in table.indexes}


class FailingAuditLog(AuditLogProjection):
    """The audit log, failing at its third batch (as a crash or a bad event would)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches = 0

    def apply(self, conn: sa.Connection, batch: Sequence[StoredActivity]) -> None:
        self.batches += 1
        if self.batches == 3:
            raise RuntimeError("stopped mid-rebuild")
        super().apply(conn, batch)


def test_a_rebuild_ends_with_every_declared_index_in_place(runtime: Runtime) -> None:
    write_history(runtime.app, 120, seed=3)
    runtime.projections.rebuild()
    for table in metadata.sorted_tables:
        assert declared(table) <= index_names(runtime, table), table.name


def test_a_rebuild_that_stops_half_way_leaves_its_indexes_to_the_next_setup(
    runtime: Runtime,
) -> None:
    head = write_history(runtime.app, 120, seed=3)
    failing = ProjectionService(
        runtime.app,
        runtime.engine,
        config=ProjectionConfig(batch_size=20),
        projections=[FailingAuditLog()],
    )
    with pytest.raises(RuntimeError, match="mid-rebuild"):
        failing.rebuild()
    assert AuditLogProjection.deferred_indexes
    assert not declared(audit_log) & index_names(runtime, audit_log)
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == 40

    runtime.projections.setup()  # what `activity projections run` and `serve` do first
    assert declared(audit_log) <= index_names(runtime, audit_log)
    runtime.projections.catch_up(["audit_log"])
    with runtime.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == head
        tenants = conn.execute(sa.select(audit_log.c.tenant_id).distinct()).scalars().all()
        assert all(verify_chain(conn, tenant).intact for tenant in tenants)
