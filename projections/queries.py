"""Reads: the audit log (filters, keyset pagination), a principal's feed and inbox.

Every query is scoped by tenant; an id from another tenant simply matches nothing.
Pages are newest first; ``next_cursor`` is opaque and resumes after the last item.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.domain.errors import InvalidCursorError
from optaic_activity.domain.inbox import DEFAULT_STATE, InboxFilter
from optaic_activity.domain.preferences import validate_patterns
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.backends.glob import parse_glob
from optaic_activity.projections.inbox_states import Counts, counts, filter_conditions, owned_by
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.personal_view import reveal_items
from optaic_activity.projections.watchers import resources, role_bindings

MAX_LIMIT = 1000
OR_CHUNK = 500


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


MAX_MATCHED_ACTIONS = 500
"""Beyond this many of a tenant's action names matching a glob, the glob filters the rows."""
MAX_BRANCHES = 32
"""A page is the newest of at most this many branches, each read through its own index."""


def _matched_actions(
    conn: sa.Connection, tenant_id: UUID, action: str
) -> list[str] | sa.ColumnElement[bool]:
    """The tenant's action names matching the fnmatch glob ``action`` (an empty list if
    none does: the page is empty, no need to ask), or, past ``MAX_MATCHED_ACTIONS`` of
    them, the glob itself as a condition on the rows.

    The glob is matched against the tenant's distinct action names (a catalogue's worth,
    found by a loose scan of ``ix_audit_tenant_action``: one index seek per name). A glob
    that matches no name costs those seeks only, however large the tenant.
    """
    [pattern] = validate_patterns([action])
    glob = parse_glob(pattern)
    backend = backend_for(conn)
    if glob.matches_nothing:
        return []
    if glob.literal is not None:
        return [glob.literal]
    t = audit_log.c

    def after(previous: sa.ColumnElement[Any] | None) -> sa.ScalarSelect[Any]:
        query = sa.select(t.action).where(t.tenant_id == tenant_id)
        if previous is not None:
            query = query.where(t.action > previous)
        return query.order_by(t.action).limit(1).scalar_subquery()

    names = sa.select(after(None).label("action")).cte("action_names", recursive=True)
    names = names.union_all(sa.select(after(names.c.action)).where(names.c.action.is_not(None)))
    matched = (
        conn.execute(
            sa.select(names.c.action)
            .where(names.c.action.is_not(None), backend.glob_condition(names.c.action, glob))
            .limit(MAX_MATCHED_ACTIONS + 1)
        )
        .scalars()
        .all()
    )
    if len(matched) > MAX_MATCHED_ACTIONS:
        return backend.glob_condition(audit_log.c.action, glob)
    return list(matched)


def _action_matches(
    conn: sa.Connection, tenant_id: UUID, action: str
) -> sa.ColumnElement[bool] | None:
    """The tenant's activities whose action matches the glob ``action`` (rows selected by
    name through ``ix_audit_tenant_action``); None if no action of the tenant matches."""
    matched = _matched_actions(conn, tenant_id, action)
    if not isinstance(matched, list):
        return matched
    return audit_log.c.action.in_(matched) if matched else None


def _action_branches(
    matched: list[str] | sa.ColumnElement[bool], *, fan_out: int = 1
) -> list[sa.ColumnElement[bool]]:
    """The glob as alternatives for a page to read one by one: one per matched name, each
    in position order through ``ix_audit_tenant_action`` (an ``IN`` list there is read in
    name order, all of it, then sorted), or a single condition if there would be more than
    ``MAX_BRANCHES`` of them (times ``fan_out``, the caller's own branches). Empty: no
    action of the tenant matches. ``matched``: what `_matched_actions` found."""
    if not isinstance(matched, list):
        return [matched]
    if len(matched) * fan_out > MAX_BRANCHES:
        return [audit_log.c.action.in_(matched)]
    return [audit_log.c.action == name for name in matched]


def _subtree_ids(conn: sa.Connection, tenant_id: UUID, anchors: list[str]) -> sa.Select[Any]:
    """Resource ids under any of the given materialised paths (the anchors included).

    One SELECT per ``OR_CHUNK`` anchors: SQLite refuses an expression over 1000 deep,
    which a flat OR of a thousand anchors is.
    """
    backend = backend_for(conn)
    selects = [
        sa.select(resources.c.resource_id).where(
            resources.c.tenant_id == tenant_id,
            sa.or_(*[backend.prefix_condition(resources.c.path, p) for p in chunk]),
        )
        for chunk in (anchors[i : i + OR_CHUNK] for i in range(0, len(anchors), OR_CHUNK))
    ]
    if len(selects) == 1:
        return selects[0]
    union = sa.union_all(*selects).subquery()
    return sa.select(union.c.resource_id)


MAX_LISTED_IDS = 2000
"""Up to this many resource ids, a filter on them is one literal list (`_resource_in`)."""


def _resource_in(conn: sa.Connection, ids: sa.Select[Any]) -> sa.ColumnElement[bool]:
    """The audit rows whose resource is one of ``ids`` (a query of resource ids).

    Where the backend tests a literal list by hashing (PostgreSQL), up to ``MAX_LISTED_IDS``
    ids are read first and passed as one: a semi-join to the tree instead looks each row's
    resource up, one index probe per row a page walks past. A larger set is most of the
    tree, whose rows a walk meets at once: it stays a subquery.
    """
    backend = backend_for(conn)
    column = audit_log.c.resource_id
    if backend.hashes_listed_values:
        found = conn.execute(ids.limit(MAX_LISTED_IDS + 1)).scalars().all()
        if len(found) <= MAX_LISTED_IDS:
            return backend.listed_values(column, found)
    return column.in_(ids)


def _page(
    conn: sa.Connection,
    query: sa.Select[Any],
    position: sa.ColumnElement[Any],
    limit: int,
    cursor: str | None,
) -> Page:
    """One statement: every filter is in ``query``, so the database stops after a page."""
    limit = max(1, min(limit, MAX_LIMIT))
    after = decode_cursor(cursor)
    bounded = query if after is None else query.where(position < after)
    rows = conn.execute(bounded.order_by(position.desc()).limit(limit + 1)).mappings().all()
    items = [dict(row) for row in rows[:limit]]
    reveal_items(conn, items)
    more = len(rows) > limit
    return Page(items, encode_cursor(int(items[-1]["position"])) if more else None)


def _newest_of(
    conn: sa.Connection,
    tenant_id: UUID,
    common: list[sa.ColumnElement[bool]],
    branches: list[sa.ColumnElement[bool]],
    limit: int,
    cursor: str | None,
) -> Page:
    """The page of audit rows meeting ``common`` and any of ``branches``: each branch is
    cut at a page (by its own index, in position order), the page is the newest of their
    union, read by position."""
    if len(branches) == 1:
        query = sa.select(audit_log).where(*common, branches[0])
        return _page(conn, query, audit_log.c.position, limit, cursor)
    after = decode_cursor(cursor)
    bounded = common if after is None else [*common, audit_log.c.position < after]
    per_branch = max(1, min(limit, MAX_LIMIT)) + 1
    cut = [
        sa.select(audit_log.c.position)
        .where(*bounded, condition)
        .order_by(audit_log.c.position.desc())
        .limit(per_branch)
        .subquery()
        for condition in branches
    ]
    union = sa.union(*(sa.select(branch.c.position) for branch in cut)).subquery()
    # The newest page of positions, not all of them: the planner then reads the rows by
    # key, rather than walking the table backwards to meet the positions one by one.
    newest = sa.select(union.c.position).order_by(union.c.position.desc()).limit(per_branch)
    query = sa.select(audit_log).where(
        audit_log.c.tenant_id == tenant_id, audit_log.c.position.in_(newest)
    )
    return _page(conn, query, audit_log.c.position, limit, cursor)


MAX_WINDOW_ROWS = 20_000
"""Up to this many rows in a time window, a page reads the window by its positions."""


def _time_window(
    conn: sa.Connection, tenant_id: UUID, since: datetime | None, until: datetime | None
) -> list[sa.ColumnElement[bool]]:
    """``since <= occurred_at < until``, and for a window of at most ``MAX_WINDOW_ROWS``
    rows its first and last positions too (read from ``ix_audit_tenant_time`` alone).

    Why: PostgreSQL, taking the window's rows to be spread over the whole log, walks the
    position index back from the newest row to the window (116 ms a day a year back at a
    million rows). Bounded by position, the walk starts at the window's newest row. The
    time conditions stay: positions and times are nearly monotonic, not exactly.
    """
    t = audit_log.c
    window = [t.tenant_id == tenant_id]
    if since is not None:
        window.append(t.occurred_at >= since)
    if until is not None:
        window.append(t.occurred_at < until)
    sample = sa.select(t.position).where(*window).limit(MAX_WINDOW_ROWS + 1).subquery()
    first, last, count = conn.execute(
        sa.select(sa.func.min(sample.c.position), sa.func.max(sample.c.position), sa.func.count())
    ).one()
    if count == 0:
        return [*window[1:], sa.false()]
    if count > MAX_WINDOW_ROWS:
        return window[1:]
    return [*window[1:], t.position >= first, t.position <= last]


def audit_conditions(
    conn: sa.Connection, tenant_id: UUID, filters: AuditFilter | None = None
) -> list[sa.ColumnElement[bool]]:
    """The filters as conditions on the audit log (the action glob exactly, in SQL)."""
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
            conditions.append(
                audit_log.c.resource_id == f.resource_id
                if anchor is None
                else _resource_in(conn, _subtree_ids(conn, tenant_id, [anchor]))
            )
        else:
            conditions.append(audit_log.c.resource_id == f.resource_id)
    if f.correlation_id is not None:
        conditions.append(audit_log.c.correlation_id == f.correlation_id)
    if f.since is not None or f.until is not None:
        conditions += _time_window(conn, tenant_id, f.since, f.until)
    if f.action:
        matches = _action_matches(conn, tenant_id, f.action)
        # No action name of the tenant matches: a condition no row meets, read through no index.
        conditions.append(matches if matches is not None else sa.false())
    return conditions


def query_audit(
    conn: sa.Connection,
    tenant_id: UUID,
    filters: AuditFilter | None = None,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    f = filters or AuditFilter()
    # The action first: a glob no action of the tenant matches answers without the rest.
    branches = _action_branches(_matched_actions(conn, tenant_id, f.action)) if f.action else None
    if branches == []:
        return Page([], None)
    common = audit_conditions(conn, tenant_id, replace(f, action=None))
    if branches is None:
        return _page(conn, sa.select(audit_log).where(*common), audit_log.c.position, limit, cursor)
    return _newest_of(conn, tenant_id, common, branches, limit, cursor)


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


def _bound_resources(tenant_id: UUID, principal_id: UUID) -> sa.Select[Any]:
    return sa.select(role_bindings.c.resource_id).where(
        role_bindings.c.tenant_id == tenant_id,
        role_bindings.c.principal_id == principal_id,
        role_bindings.c.active.is_(True),
    )


def is_member(conn: sa.Connection, tenant_id: UUID, principal_id: UUID) -> bool:
    """Whether the principal holds a role in the tenant: an active role binding or an owned
    resource, as the feed's ``tenant`` visibility and the disconnect on revoke count members."""
    owned = sa.select(resources.c.resource_id).where(
        resources.c.tenant_id == tenant_id, resources.c.owner_id == principal_id
    )
    query = sa.select(sa.or_(owned.exists(), _bound_resources(tenant_id, principal_id).exists()))
    return bool(conn.execute(query).scalar())


def _anchors(conn: sa.Connection, tenant_id: UUID, principal_id: UUID) -> list[tuple[str, UUID]]:
    """(path, root) of each resource the principal holds a role on (owning counts as owner)."""
    bound = _bound_resources(tenant_id, principal_id)
    rows = conn.execute(
        sa.select(resources.c.path, resources.c.root_id).where(
            resources.c.tenant_id == tenant_id,
            sa.or_(resources.c.owner_id == principal_id, resources.c.resource_id.in_(bound)),
        )
    ).all()
    paths = sorted({(row.path, row.root_id) for row in rows})
    # An anchor under another anchor adds nothing: keep the outermost ones. Sorted, a
    # subtree's paths follow its root's at once: only the last kept anchor can hold one.
    kept: list[tuple[str, UUID]] = []
    for path, root in paths:
        if not kept or not path.startswith(kept[-1][0]):
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
    """What ``principal_id`` may see, by each activity's visibility, against current access.

    One branch per way of seeing an activity, each served by its own index and cut at a
    page; the page is the newest of their union.
    """
    # The action first: a glob no action of the tenant matches answers without the rest.
    matched = _matched_actions(conn, tenant_id, action) if action else None
    if isinstance(matched, list) and not matched:
        return Page([], None)
    anchors = _anchors(conn, tenant_id, principal_id)
    visible: list[sa.ColumnElement[bool]] = [audit_log.c.actor_principal_id == principal_id]
    if anchors:
        roots = sorted({root for _, root in anchors}, key=str)
        in_scope = sa.select(resources.c.resource_id).where(
            resources.c.tenant_id == tenant_id, resources.c.root_id.in_(roots)
        )
        visible += [
            audit_log.c.visibility == "tenant",
            sa.and_(audit_log.c.visibility == "scope", _resource_in(conn, in_scope)),
            sa.and_(
                audit_log.c.visibility == "resource",
                _resource_in(conn, _subtree_ids(conn, tenant_id, [p for p, _ in anchors])),
            ),
        ]
    branches = visible
    if matched is not None:
        names = _action_branches(matched, fan_out=len(visible))
        branches = [sa.and_(seen, name) for seen in visible for name in names]
    common = [audit_log.c.tenant_id == tenant_id]
    return _newest_of(conn, tenant_id, common, branches, limit, cursor)


def query_inbox(
    conn: sa.Connection,
    tenant_id: UUID,
    principal_id: UUID,
    *,
    unread_only: bool = False,
    filters: InboxFilter | None = None,
    now: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """The principal's notifications, newest first, keyset-paged; ``filters`` narrow them
    (their state by default ``inbox``: not archived, not snoozed at ``now``).

    ``unread_only`` is the older spelling of ``state="unread"``.
    """
    f = filters or InboxFilter()
    if f.state is None:
        f = replace(f, state="unread" if unread_only else DEFAULT_STATE)
    # UTC: SQLite compares stored times as text, written in UTC.
    conditions = filter_conditions(conn, f, (now or datetime.now(UTC)).astimezone(UTC))
    query = sa.select(notifications).where(*owned_by(tenant_id, principal_id), *conditions)
    return _page(conn, query, notifications.c.position, limit, cursor)


def inbox_counts(conn: sa.Connection, tenant_id: UUID, principal_id: UUID) -> Counts:
    """Unread and unseen (archived ones left out), over the principal's whole inbox."""
    return counts(conn, tenant_id, principal_id)


def unread_count(conn: sa.Connection, tenant_id: UUID, principal_id: UUID) -> int:
    return counts(conn, tenant_id, principal_id).unread
