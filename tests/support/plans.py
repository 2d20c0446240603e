"""Query plans of the reads the API issues: which statements a read sends, how each is run.

``statements`` records what a query function sends; ``full_scans`` reads the text plan
(both stores); ``PlanFacts`` reads PostgreSQL's ``EXPLAIN (ANALYZE, FORMAT JSON)``: the
rows each big table's scans touched, sequential scans and sorts, so that a test can say
"a page reads about a page" and a missing index fails it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from optaic_activity.projections.backends import PostgresBackend, backend_for

READ_TABLES = ("activity_audit_log", "activity_notifications")
"""The tables that grow with the history: a read must never walk one of them."""


def statements(run: Callable[[sa.Connection], object], conn: sa.Connection) -> list[Any]:
    """The queries (text, parameters) ``run`` sends on ``conn``."""
    sent: list[Any] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):  # not BEGIN, SET
            sent.append((statement, parameters))

    sa.event.listen(conn, "before_cursor_execute", record)
    try:
        run(conn)
    finally:
        sa.event.remove(conn, "before_cursor_execute", record)
    return sent


def full_scans(
    conn: sa.Connection, statement: str, parameters: Any, tables: Sequence[str] = READ_TABLES
) -> list[str]:
    """The plan's lines that read a whole audit or inbox table rather than an index."""
    if isinstance(backend_for(conn), PostgresBackend):
        plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)]
        return [line for line in plan if "Seq Scan on" in line and any(t in line for t in tables)]
    plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    return [
        line
        for line in plan
        if line.startswith("SCAN") and any(t in line for t in tables) and "USING" not in line
    ]


@dataclass
class PlanFacts:
    """What one PostgreSQL statement's executed plan did to the big tables."""

    rows_read: int = 0
    """Rows the scans of the big tables returned or filtered out, over all their loops."""
    seq_scans: list[str] = field(default_factory=list)
    sorts: list[tuple[float, str]] = field(default_factory=list)
    """Each Sort fed by a big table: (the rows the planner expected it to sort, its key)."""
    indexes: set[str] = field(default_factory=set)
    text: str = ""

    def add(self, other: PlanFacts) -> None:
        self.rows_read += other.rows_read
        self.seq_scans += other.seq_scans
        self.sorts += other.sorts
        self.indexes |= other.indexes
        self.text += other.text


def explain(
    conn: sa.Connection, statement: str, parameters: Any, tables: Sequence[str] = READ_TABLES
) -> PlanFacts:
    """Run ``statement`` under ``EXPLAIN (ANALYZE, FORMAT JSON)`` (PostgreSQL) and sum up."""
    [[document]] = conn.exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
    ).all()
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    facts = PlanFacts(text=json.dumps(plan, indent=1) + "\n")
    for node in _nodes(plan):
        relation = node.get("Relation Name")
        if relation not in tables:
            continue
        loops = node.get("Actual Loops", 1)
        touched = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        facts.rows_read += round((touched + node.get("Rows Removed by Index Recheck", 0)) * loops)
        if node["Node Type"] == "Seq Scan":
            facts.seq_scans.append(str(relation))
        if "Index Name" in node:
            facts.indexes.add(node["Index Name"])
    for node in _nodes(plan):
        if node["Node Type"] == "Sort" and _reads(node, tables):
            facts.sorts.append((node["Plan Rows"], ", ".join(node.get("Sort Key", []))))
    for node in _nodes(plan):
        # A bitmap's index is named on its Bitmap Index Scan, under the table's heap scan.
        if node["Node Type"] == "Bitmap Heap Scan" and node.get("Relation Name") in tables:
            facts.indexes |= {n["Index Name"] for n in _nodes(node) if "Index Name" in n}
    return facts


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _reads(plan: dict[str, Any], tables: Sequence[str]) -> bool:
    return any(node.get("Relation Name") in tables for node in _nodes(plan))


def explain_read(
    conn: sa.Connection, run: Callable[[sa.Connection], object], tables: Sequence[str] = READ_TABLES
) -> PlanFacts:
    """Every statement ``run`` sends, executed again under EXPLAIN ANALYZE, summed up."""
    total = PlanFacts()
    for statement, parameters in statements(run, conn):
        total.add(explain(conn, statement, parameters, tables))
    return total
