"""``setup`` brings an older database's tables up to the declared columns, or says it cannot."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain.errors import SchemaMigrationError
from optaic_activity.projections.database import add_missing_columns


def columns_of(runtime: Runtime, table: str) -> set[str]:
    return {str(c["name"]) for c in sa.inspect(runtime.engine).get_columns(table)}


def test_setup_adds_the_outbox_column_a_database_created_before_it_lacks(
    runtime: Runtime,
) -> None:
    with runtime.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE activity_outbox DROP COLUMN delivered_channels")
    assert "delivered_channels" not in columns_of(runtime, "activity_outbox")

    runtime.projections.setup()
    runtime.projections.setup()  # idempotent

    assert "delivered_channels" in columns_of(runtime, "activity_outbox")


def grown(*extra: sa.Column[object]) -> sa.Table:
    return sa.Table("t_grown", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), *extra)


def test_nullable_and_defaulted_columns_are_added_in_place_any_other_is_refused(
    runtime: Runtime,
) -> None:
    original = grown()
    original.create(runtime.engine)
    with runtime.engine.begin() as conn:
        conn.execute(original.insert().values(id=1))

    addable = grown(
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False, server_default="plain"),
    )
    with runtime.engine.begin() as conn:
        add_missing_columns(conn, addable)
    with runtime.engine.connect() as conn:
        assert tuple(conn.execute(sa.select(addable)).one()) == (1, None, "plain")

    required = grown(sa.Column("required", sa.Integer, nullable=False))
    refused = pytest.raises(SchemaMigrationError, match=r"t_grown\.required .* needs a migration")
    with refused, runtime.engine.begin() as conn:
        add_missing_columns(conn, required)
    assert "required" not in columns_of(runtime, "t_grown")
