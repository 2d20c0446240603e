"""Every read the API issues is served by an index, on tables big enough for it to matter.

An 80,000-row audit log and a 70,000-row inbox for one principal (``bench.read_dataset``:
the benchmark's distributions, smaller), ANALYZEd as autovacuum would. Each query shape
of ``bench.reads`` (every filter, page one and a deep keyset page) is executed under
``EXPLAIN (ANALYZE, FORMAT JSON)``: no sequential scan of the audit log or the inbox, no
sort of a large share of the tenant (the keyset order comes from an index) and, the check
that catches a missing index whatever plan replaces it, the scans read about a page of
rows (at most three times sqrt(page * tenant rows), see ``BUDGET_FACTOR``), not the tenant.
The second test drops each read index in turn (in a transaction it
rolls back) and requires that some shape then fails the first test's check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from bench.read_dataset import Dataset, build
from bench.reads import Shape, deep_cursor, shapes
from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.notifications import notifications
from optaic_activity.settings import Settings
from tests.support.plans import PlanFacts, explain_read

ROWS = 80_000
DEEP = 10_000
"""Rows before the deep page (page 101 of the audit log, 201 of the inbox)."""
BUDGET_FACTOR = 3
"""A read's scans may touch at most this many times sqrt(page * tenant rows), plus what it
counts: a walk in position order that filters reads page/f rows for a filter matching a
share f of the tenant, reading every match then sorting reads f * rows; the cheaper of
the two never reads more than sqrt(page * rows). A missing index reads the tenant."""
SORT_SHARE = 0.05
"""Nor sort more than this share of them (a top-N sort of a few hundred is fine)."""
READ_INDEXES = sorted(
    index.name
    for table in (audit_log, notifications)
    for index in table.indexes
    if not index.unique and index.name is not None
)

REPLACEABLE = {
    "ix_audit_tenant_position": "a small tenant's page: ix_audit_tenant_time, then a sort of it",
    "ix_audit_tenant_visibility": "no feed branch walks it: the member's ways are one OR",
    "ix_notifications_inbox": "the inbox pages: the key walk, or ix_notifications_unread",
}
"""Indexes whose loss another index hides on this data (measured, docs/projections.md)."""

postgres_only = pytest.mark.parametrize(
    "backend_name", [pytest.param("postgres", marks=pytest.mark.postgres)]
)


@dataclass(frozen=True)
class Loaded:
    runtime: Runtime
    data: Dataset
    shapes: list[Shape]


@pytest.fixture
def loaded(store_settings: Settings) -> Iterator[Loaded]:
    runtime = bootstrap(store_settings)
    runtime.projections.setup()
    try:
        data = build(runtime.engine, rows=ROWS)
        found = []
        with runtime.engine.connect() as conn:
            for shape in shapes(data):
                found.append(shape)
                cursor = deep_cursor(conn, shape, DEEP)
                if cursor is not None:
                    found.append(shape.deep_page(cursor))
        yield Loaded(runtime, data, found)
    finally:
        runtime.close()


def problems(conn: sa.Connection, shape: Shape, tenant_rows: int) -> list[str]:
    result = shape.read(conn, shape.limit, shape.cursor)
    counted = result[1] if isinstance(result, tuple) else 0  # the inbox's unread count
    facts: PlanFacts = explain_read(conn, lambda c: shape.read(c, shape.limit, shape.cursor))
    found = [f"sequential scan of {table}" for table in facts.seq_scans]
    found += [
        f"sort of ~{rows:.0f} rows by {key}"
        for rows, key in facts.sorts
        if rows > SORT_SHARE * tenant_rows
    ]
    if facts.rows_read > BUDGET_FACTOR * math.sqrt((shape.limit + 1) * tenant_rows) + counted:
        found.append(f"{facts.rows_read} rows read (indexes {sorted(facts.indexes)})")
    return found


@postgres_only
def test_every_read_of_the_api_reads_about_a_page(loaded: Loaded) -> None:
    assert loaded.data.audit_rows > 0.9 * ROWS
    assert sum(shape.deep for shape in loaded.shapes) >= 8, "deep pages of most shapes"
    with loaded.runtime.engine.connect() as conn:
        failing = {
            shape.name: found
            for shape in loaded.shapes
            if (found := problems(conn, shape, loaded.data.audit_rows))
        }
    assert not failing, "\n".join(f"{name}: {found}" for name, found in failing.items())


@postgres_only
def test_dropping_any_read_index_fails_the_plan_check(loaded: Loaded) -> None:
    assert len(READ_INDEXES) >= 9
    unnoticed: list[str] = []
    noticed: list[str] = []
    with loaded.runtime.engine.connect() as conn:
        for index in READ_INDEXES:
            with conn.begin() as transaction:
                conn.exec_driver_sql(f"DROP INDEX {index}")
                failed = any(problems(conn, s, loaded.data.audit_rows) for s in loaded.shapes)
                (noticed if failed else unnoticed).append(index)
                transaction.rollback()
    assert set(unnoticed) <= set(REPLACEABLE), f"no read noticed the loss of {unnoticed}"
    assert len(noticed) >= len(READ_INDEXES) - len(REPLACEABLE)


@postgres_only
def test_the_apis_read_connections_plan_each_statement_for_its_values(loaded: Loaded) -> None:
    """psycopg prepares a statement run five times; a generic plan then ignores the values
    (a feed page: 320 ms against 15 ms at a million rows). The API's reads plan each time."""
    from optaic_activity.api.deps import guarded_reads

    with guarded_reads(loaded.runtime) as conn:
        mode = conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one()
    assert mode == "force_custom_plan"


@postgres_only
def test_a_time_window_read_by_positions_returns_exactly_the_window(loaded: Loaded) -> None:
    """The window's position range narrows the walk; the rows are the time filter's own."""
    from optaic_activity.projections.queries import AuditFilter, iter_audit

    since, until = loaded.data.day
    tenant = loaded.data.tenant_id
    t = audit_log.c
    with loaded.runtime.engine.connect() as conn:
        expected = (
            conn.execute(
                sa.select(t.position)
                .where(t.tenant_id == tenant, t.occurred_at >= since, t.occurred_at < until)
                .order_by(t.position.desc())
            )
            .scalars()
            .all()
        )
        found = [
            row["position"]
            for row in iter_audit(conn, tenant, AuditFilter(since=since, until=until), page_size=7)
        ]
    assert expected, "the day holds rows"
    assert found == expected


def page_of(shape: Shape) -> Callable[[sa.Connection], object]:
    return lambda conn: shape.read(conn, shape.limit, shape.cursor)


FEED_TREE_INDEXES = {"ix_watch_resources_tenant_owner", "ix_watch_resources_tenant_path"}
"""The caller's owned resources, and their subtrees as ranges of paths."""


@postgres_only
def test_the_feed_resolves_the_callers_subtrees_once_by_the_trees_indexes(loaded: Loaded) -> None:
    """The caller's anchors, trees and subtrees are resolved inside the page's statement:
    by index, and once per statement (no lookup in the tree per audit row walked), so the
    tree's rows read over all loops stay within twice the tree, whatever the page walks."""
    feeds = [shape for shape in loaded.shapes if shape.path == "/activities"]
    assert len(feeds) >= 4, "the feed and the feed with a glob, page one and deep"
    tree = ("watch_resources",)
    with loaded.runtime.engine.connect() as conn:
        for shape in feeds:
            read = page_of(shape)
            facts = explain_read(conn, read, tree)
            assert facts.indexes >= FEED_TREE_INDEXES, (shape.name, sorted(facts.indexes))
            assert facts.rows_read <= 2 * loaded.data.resources, (shape.name, facts.rows_read)
            conn.rollback()
            with conn.begin() as transaction:
                conn.exec_driver_sql("DROP INDEX ix_watch_resources_tenant_path")
                without = explain_read(conn, read, tree)
                transaction.rollback()
            assert "ix_watch_resources_tenant_path" not in without.indexes
            assert without.seq_scans, f"{shape.name}: the subtrees read without their index"
