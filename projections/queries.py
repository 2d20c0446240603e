"""Reads: the audit log (filters, keyset pagination), a principal's feed and inbox.

Every query is scoped by tenant; an id from another tenant simply matches nothing.
Pages are newest first; ``next_cursor`` is opaque and resumes after the last item.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.domain.errors import InvalidCursorError
from optaic_activity.domain.preferences import validate_patterns
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.watchers import resources, role_bindings

MAX_LIMIT = 1000


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("p"):
            raise ValueError(text)
        return int(text[1:])
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidCursorError(f"cursor {cursor[:40]!r} is not valid") from None


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class AuditFilter:
    actor_principal_id: UUID | None = None
    resource_id: UUID | None = None
    include_descendants: bool = False
    action: str | None = None
    """An fnmatch glob over action names, e.g. ``promotion.*``."""
    since: datetime | None = None
    until: datetime | None = None
    correlation_id: UUID | None = None


def _like_of_glob(glob: str) -> str:
    """A LIKE pattern matching a superset of the glob (brackets become one-char wildcards)."""
    out, in_set = [], False
    for char in glob:
        if in_set:
            in_set = char != "]"
            continue
        if char == "[":
            in_set = True
            out.append("_")
        elif char in "%_\\":
            out.append("\\" + char)
        else:
            out.append({"*": "%", "?": "_"}.get(char, char))
    return "".join(out)


def _subtree_ids(conn: sa.Connection, tenant_id: UUID, anchors: list[str]) -> sa.Select[Any]:
    """Resource ids under any of the given materialised paths (the anchors included)."""
    return sa.select(resources.c.resource_id).where(
        resources.c.tenant_id == tenant_id,
        sa.or_(*[resources.c.path.startswith(p, autoescape=True) for p in anchors]),
    )


def _page(
    conn: sa.Connection,
    query: sa.Select[Any],
    position: sa.ColumnElement[Any],
    limit: int,
    cursor: str | None,
    glob: str | None,
) -> Page:
    limit = max(1, min(limit, MAX_LIMIT))
    after = decode_cursor(cursor)
    items: list[dict[str, Any]] = []
    while True:
        bounded = query if after is None else query.where(position < after)
        rows = conn.execute(bounded.order_by(position.desc()).limit(limit + 1)).mappings().all()
        for row in rows[:limit]:
            after = int(row["position"])
            if glob is None or fnmatch.fnmatchcase(row["action"], glob):
                items.append(dict(row))
                if len(items) == limit:
                    more = len(rows) > limit or row is not rows[-1]
                    return Page(items, encode_cursor(after) if more else None)
        if len(rows) <= limit:
            return Page(items, None)


def audit_conditions(
    conn: sa.Connection, tenant_id: UUID, filters: AuditFilter | None = None
) -> tuple[list[sa.ColumnElement[bool]], str | None]:
    """The filters as conditions on the audit log, and the action glob rows must still match
    (the LIKE condition is a superset of it)."""
    f = filters or AuditFilter()
    conditions: list[sa.ColumnElement[bool]] = [audit_log.c.tenant_id == tenant_id]
    if f.actor_principal_id is not None:
        conditions.append(audit_log.c.actor_principal_id == f.actor_principal_id)
    if f.resource_id is not None:
        if f.include_descendants:
            anchor = conn.execute(
                sa.select(resources.c.path).where(
                    resources.c.tenant_id == tenant_id, resources.c.resource_id == f.resource_id
                )
            ).scalar_one_or_none()
            ids = [f.resource_id] if anchor is None else None
            conditions.append(
                audit_log.c.resource_id.in_(
                    ids if ids else _subtree_ids(conn, tenant_id, [anchor or ""])
                )
            )
        else:
            conditions.append(audit_log.c.resource_id == f.resource_id)
    if f.correlation_id is not None:
        conditions.append(audit_log.c.correlation_id == f.correlation_id)
    if f.since is not None:
        conditions.append(audit_log.c.occurred_at >= f.since)
    if f.until is not None:
        conditions.append(audit_log.c.occurred_at < f.until)
    glob = None
    if f.action:
        [glob] = validate_patterns([f.action])
        conditions.append(audit_log.c.action.like(_like_of_glob(glob), escape="\\"))
    return conditions, glob


def query_audit(
    conn: sa.Connection,
    tenant_id: UUID,
    filters: AuditFilter | None = None,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    conditions, glob = audit_conditions(conn, tenant_id, filters)
    query = sa.select(audit_log).where(*conditions)
    return _page(conn, query, audit_log.c.position, limit, cursor, glob)


def iter_audit(
    conn: sa.Connection,
    tenant_id: UUID,
    filters: AuditFilter | None = None,
    *,
    page_size: int = 500,
) -> Iterator[dict[str, Any]]:
    """Every matching entry, newest first, page by page (for streaming exports)."""
    cursor: str | None = None
    while True:
        page = query_audit(conn, tenant_id, filters, limit=page_size, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _anchors(conn: sa.Connection, tenant_id: UUID, principal_id: UUID) -> list[tuple[str, UUID]]:
    """(path, root) of each resource the principal holds a role on (owning counts as owner)."""
    bound = sa.select(role_bindings.c.resource_id).where(
        role_bindings.c.tenant_id == tenant_id,
        role_bindings.c.principal_id == principal_id,
        role_bindings.c.active.is_(True),
    )
    rows = conn.execute(
        sa.select(resources.c.path, resources.c.root_id).where(
            resources.c.tenant_id == tenant_id,
            sa.or_(resources.c.owner_id == principal_id, resources.c.resource_id.in_(bound)),
        )
    ).all()
    paths = sorted({(row.path, row.root_id) for row in rows})
    # An anchor under another anchor adds nothing: keep the outermost ones.
    kept: list[tuple[str, UUID]] = []
    for path, root in paths:
        if not any(path.startswith(k) for k, _ in kept):
            kept.append((path, root))
    return kept


def query_feed(
    conn: sa.Connection,
    tenant_id: UUID,
    principal_id: UUID,
    *,
    action: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """What ``principal_id`` may see, by each activity's visibility, against current access."""
    anchors = _anchors(conn, tenant_id, principal_id)
    visible = [audit_log.c.actor_principal_id == principal_id]
    if anchors:
        roots = sorted({root for _, root in anchors}, key=str)
        in_scope = sa.select(resources.c.resource_id).where(
            resources.c.tenant_id == tenant_id, resources.c.root_id.in_(roots)
        )
        visible += [
            audit_log.c.visibility == "tenant",
            sa.and_(audit_log.c.visibility == "scope", audit_log.c.resource_id.in_(in_scope)),
            sa.and_(
                audit_log.c.visibility == "resource",
                audit_log.c.resource_id.in_(_subtree_ids(conn, tenant_id, [p for p, _ in anchors])),
            ),
        ]
    query = sa.select(audit_log).where(audit_log.c.tenant_id == tenant_id, sa.or_(*visible))
    glob = None
    if action:
        [glob] = validate_patterns([action])
        query = query.where(audit_log.c.action.like(_like_of_glob(glob), escape="\\"))
    return _page(conn, query, audit_log.c.position, limit, cursor, glob)


def query_inbox(
    conn: sa.Connection,
    tenant_id: UUID,
    principal_id: UUID,
    *,
    unread_only: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    query = sa.select(notifications).where(
        notifications.c.tenant_id == tenant_id, notifications.c.principal_id == principal_id
    )
    if unread_only:
        query = query.where(notifications.c.read_at.is_(None))
    return _page(conn, query, notifications.c.position, limit, cursor, None)


def unread_count(conn: sa.Connection, tenant_id: UUID, principal_id: UUID) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(
                notifications.c.tenant_id == tenant_id,
                notifications.c.principal_id == principal_id,
                notifications.c.read_at.is_(None),
            )
        ).scalar_one()
    )
