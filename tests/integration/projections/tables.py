"""Reading the read models back, for comparisons: whole-table snapshots, inboxes, outbox rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.digests import digest_members, digest_rules, digests
from optaic_activity.projections.directory import directory
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.outbox import DELIVERY_COLUMNS, DERIVED_COLUMNS, outbox
from optaic_activity.projections.tracking import tracking
from optaic_activity.projections.watchers import (
    preferences,
    resources,
    role_bindings,
    subscriptions,
    tenant_preferences,
)

Rows = list[tuple[Any, ...]]

DERIVED_TABLES = (
    audit_log,
    resources,
    role_bindings,
    subscriptions,
    preferences,
    tenant_preferences,
    notifications,
    digest_rules,
    digests,
    digest_members,
    directory,
)
"""Every read-model table whose rows are a pure function of the log (all columns)."""

OUTBOX_CONTENT = DERIVED_COLUMNS
"""The outbox columns the projection derives (the rest is the notifier's delivery state)."""

OUTBOX_DELIVERY = ("position", *DELIVERY_COLUMNS)
"""The notifier's delivery state: status, attempts, next attempt, error, lease, sent..."""


def rows(conn: sa.Connection, table: sa.Table, columns: Iterable[str] | None = None) -> Rows:
    selected = [table.c[name] for name in columns] if columns is not None else list(table.c)
    query = sa.select(*selected).order_by(*table.primary_key.columns)
    return [tuple(row) for row in conn.execute(query)]


def snapshot(engine: Engine) -> dict[str, Rows]:
    """Every derived row, the outbox content and the tracked positions, in key order."""
    with engine.connect() as conn:
        taken = {table.name: rows(conn, table) for table in DERIVED_TABLES}
        taken["activity_outbox (content)"] = rows(conn, outbox, OUTBOX_CONTENT)
        taken["projection_tracking"] = rows(conn, tracking, ("name", "position", "version"))
        return taken


def delivery_state(engine: Engine) -> Rows:
    with engine.connect() as conn:
        return rows(conn, outbox, OUTBOX_DELIVERY)


def inbox(engine: Engine, positions: Iterable[int]) -> dict[int, dict[UUID, list[str]]]:
    """Recipients and reasons of each activity, from its inbox rows ({} when it has none)."""
    wanted = list(positions)
    found: dict[int, dict[UUID, list[str]]] = {p: {} for p in wanted}
    with engine.connect() as conn:
        query = sa.select(
            notifications.c.position, notifications.c.principal_id, notifications.c.reasons
        ).where(notifications.c.position.in_(wanted))
        for position, principal, reasons in conn.execute(query):
            found[position][principal] = reasons
    return found


def outbox_recipients(engine: Engine, positions: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The ``recipients`` column of each activity's outbox row (absent: no row)."""
    with engine.connect() as conn:
        query = sa.select(outbox.c.position, outbox.c.recipients).where(
            outbox.c.position.in_(list(positions))
        )
        return {row.position: row.recipients for row in conn.execute(query)}


def as_outbox(recipients: dict[UUID, list[str]]) -> list[dict[str, Any]]:
    """What the outbox must hold for these recipients: sorted by principal id."""
    return [
        {"principal_id": str(p), "reasons": reasons}
        for p, reasons in sorted(recipients.items(), key=lambda item: str(item[0]))
    ]
