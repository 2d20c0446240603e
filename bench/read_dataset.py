"""Read models at size, written straight into their tables (not through the event store).

One big tenant holds most of the audit log (a few small tenants share the tables), with a
resource tree a few levels deep, many actors (a few very active), action names from the
catalog (a few very common), runs of activities sharing a correlation id and one long
workflow spread over the whole history. One principal, the ``reader``, has an inbox row
for nearly every activity of the tenant in every state (`InboxStates`): the oldest half
archived (done) but a few, the rest read but the newest share, of which half is unseen,
a few snoozed. ``bench.reads`` times the GETs
over it; ``tests/integration/api/test_query_plans.py`` checks their plans on a smaller one.

The hash columns hold random hex: no read checks the chain (``activity audit verify``
would fail on these rows, by design of the chain).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.domain import CATALOG
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.database import create_indexes, drop_indexes
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.upsert import RawJSON, insert_many, to_json
from optaic_activity.projections.watchers import resources, role_bindings

VISIBILITIES = ("resource",) * 12 + ("scope",) * 3 + ("tenant",) * 4 + ("private",)
COMMON_ACTIONS = ("resource.updated", "experiment.run_completed", "dataset.previewed")
"""Most activities are one of these (the rest spread over the whole catalog)."""
SMALL_TENANTS = 9
OTHER_TENANTS_SHARE = 0.05
ROOTS = 20
MAX_DEPTH = 6
ROWS_PER_RESOURCE = 100
ACTORS = 2000
WORKFLOW_ROWS = 40
"""Activities of the one long workflow (its correlation id), spread over the history."""
UNREAD_SHARE = 0.05
"""The newest share of the reader's inbox is unread; the older rows were read."""
UNSEEN_SHARE = 0.025
"""The newest share of the reader's inbox is unseen (the rest of the unread was seen)."""
ARCHIVED_SHARE = 0.5
"""The oldest share of the reader's inbox is archived (done), but one row in `KEPT_EVERY`."""
KEPT_EVERY = 997
SNOOZED_EVERY = 499
"""One row in this many of the reader's not archived rows is snoozed (a month ahead); both
primes, so that hardly a kept row is snoozed too."""
CHUNK = 50_000
SPAN = timedelta(days=365)


@dataclass
class Dataset:
    """What a read can be asked about: ids the filters pick, and the tables' sizes."""

    tenant_id: UUID
    reader: UUID
    """Holds roles on a few subtrees; has an inbox row for nearly every activity."""
    busy_actor: UUID
    """One of the most active actors (a few percent of the tenant's rows)."""
    quiet_actor: UUID
    """An actor of a few hundred rows."""
    subtree: UUID
    """A resource below a root with a few percent of the tenant's activities under it."""
    leaf: UUID
    """A resource with a few activities of its own."""
    workflow: UUID
    small_tenant: UUID
    """One of the small tenants sharing the tables (about 0.5% of the rows)."""
    light_reader: UUID
    """Someone with an inbox of about 1% of the reader's."""
    day: tuple[datetime, datetime]
    """One day in the middle of the history (a time-window filter)."""
    archived_below: int = 0
    """Rows of the reader's below this position are archived (all but a few)."""
    audit_rows: int = 0
    inbox_rows: int = 0
    resources: int = 0
    paths: dict[UUID, str] = field(default_factory=dict, repr=False)


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def _skewed(rng: random.Random, n: int, power: float) -> int:
    """An index in [0, n): the low ones much likelier (a few busy actors, hot resources)."""
    return min(n - 1, int(n * rng.random() ** power))


@dataclass
class _Tree:
    ids: list[UUID]
    paths: dict[UUID, str]
    roots: dict[UUID, UUID]
    parents: dict[UUID, UUID | None]
    owners: dict[UUID, UUID]


def _tree(rng: random.Random, count: int, owners: list[UUID]) -> _Tree:
    ids: list[UUID] = []
    paths: dict[UUID, str] = {}
    roots: dict[UUID, UUID] = {}
    parents: dict[UUID, UUID | None] = {}
    depth: dict[UUID, int] = {}
    owner_of: dict[UUID, UUID] = {}
    for index in range(count):
        rid = _uuid(rng)
        parent = None if index < ROOTS else ids[_skewed(rng, len(ids), 1.5)]
        if parent is not None and depth[parent] >= MAX_DEPTH:
            parent = parents[parent]
        depth[rid] = 1 if parent is None else depth[parent] + 1
        paths[rid] = (paths[parent] if parent else "/") + f"{rid}/"
        roots[rid] = rid if parent is None else roots[parent]
        parents[rid] = parent
        owner_of[rid] = owners[_skewed(rng, len(owners), 2)]
        ids.append(rid)
    return _Tree(ids, paths, roots, parents, owner_of)


def _resource_rows(tenant: UUID, tree: _Tree) -> list[dict[str, Any]]:
    return [
        {
            "resource_id": rid,
            "tenant_id": tenant,
            "resource_type": "folder",
            "name": f"r{index}",
            "parent_id": tree.parents[rid],
            "owner_id": tree.owners[rid],
            "root_id": tree.roots[rid],
            "path": tree.paths[rid],
            "deleted": False,
        }
        for index, rid in enumerate(tree.ids)
    ]


def _chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def build(engine: sa.Engine, *, rows: int, seed: int = 7) -> Dataset:
    """Write ``rows`` audit rows (about as many inbox rows for the reader) and the tree;
    the tables' indexes are dropped for the load and created after it, then ANALYZEd."""
    rng = random.Random(seed)
    actions = [spec.name for spec in CATALOG]
    actors = [_uuid(rng) for _ in range(ACTORS)]
    tenant, reader = _uuid(rng), actors[-1]
    tree = _tree(rng, max(ROOTS * 3, rows // ROWS_PER_RESOURCE), actors[:50])
    others = [(_uuid(rng), [_uuid(rng) for _ in range(5)]) for _ in range(SMALL_TENANTS)]
    start = datetime.now(UTC) - SPAN
    step = SPAN / max(rows, 1)
    workflow = _uuid(rng)
    workflow_every = max(1, rows // WORKFLOW_ROWS)
    counts = {"audit": 0}
    read_below = int(rows * (1 - UNREAD_SHARE))
    states = InboxStates(
        read_below=read_below,
        seen_below=int(rows * (1 - UNSEEN_SHARE)),
        archived_below=int(rows * ARCHIVED_SHARE),
        snoozed_until=datetime.now(UTC) + timedelta(days=30),
    )

    def audit_rows() -> Iterator[dict[str, Any]]:
        correlation = _uuid(rng)
        for position in range(1, rows + 1):
            if rng.random() < OTHER_TENANTS_SHARE:
                tenant_id, owned = others[rng.randrange(SMALL_TENANTS)]
                resource, actor = rng.choice(owned), owned[0]
            else:
                tenant_id = tenant
                resource = tree.ids[_skewed(rng, len(tree.ids), 1.3)]
                actor = actors[_skewed(rng, ACTORS, 3)]
            if rng.random() < 0.35:
                correlation = _uuid(rng)
            action = (
                rng.choice(COMMON_ACTIONS)
                if rng.random() < 0.6
                else actions[rng.randrange(len(actions))]
            )
            if tenant_id == tenant:
                counts["audit"] += 1
            yield {
                "position": position,
                "activity_id": _uuid(rng),
                "tenant_id": tenant_id,
                "actor_principal_id": actor,
                "resource_id": resource,
                "resource_type": "folder",
                "action": action,
                "visibility": VISIBILITIES[rng.randrange(len(VISIBILITIES))],
                "payload": RawJSON(to_json({"name": f"r{position % 997}", "step": position % 7})),
                "delivery_channels": RawJSON('["in_app"]'),
                "correlation_id": workflow if position % workflow_every == 0 else correlation,
                "aggregate_id": resource,
                "aggregate_version": position,
                "occurred_at": start + step * position,
                "prev_hash": f"{rng.getrandbits(256):064x}",
                "hash": f"{rng.getrandbits(256):064x}",
            }

    dataset = Dataset(
        tenant_id=tenant,
        reader=reader,
        busy_actor=actors[3],
        quiet_actor=actors[400],
        subtree=tree.ids[ROOTS + 5],
        leaf=tree.ids[-1],
        workflow=workflow,
        small_tenant=others[0][0],
        light_reader=actors[1],
        day=(start + SPAN / 2, start + SPAN / 2 + timedelta(days=1)),
        resources=len(tree.ids),
        paths=tree.paths,
        archived_below=states.archived_below,
    )
    tables = (audit_log, notifications)
    with engine.begin() as conn:
        for table in tables:
            drop_indexes(conn, table.indexes)
        insert_many(conn, resources, _resource_rows(tenant, tree))
        # The reader's roles: viewer on a few subtrees, as a member of a few teams is.
        bound = [tree.ids[ROOTS + i] for i in range(0, 40, 8)]
        insert_many(
            conn,
            role_bindings,
            [
                {
                    "binding_id": _uuid(rng),
                    "tenant_id": tenant,
                    "resource_id": rid,
                    "principal_id": reader,
                    "role": "viewer",
                    "active": True,
                }
                for rid in bound
            ],
        )
        inbox: list[dict[str, Any]] = []
        for chunk in _chunks(audit_rows()):
            insert_many(conn, audit_log, chunk)
            inbox = [
                _inbox_row(row, reader, read_below, states)
                for row in chunk
                if row["tenant_id"] == tenant
            ]
            # A few other people's inboxes share the table (and its index).
            inbox += [
                _inbox_row(row, actors[i % 10], read_below)
                for i, row in enumerate(chunk[::10])
                if row["tenant_id"] == tenant
            ]
            insert_many(conn, notifications, inbox)
            dataset.inbox_rows += sum(1 for row in inbox if row["principal_id"] == reader)
        for table in tables:
            create_indexes(conn, table.indexes)
    dataset.audit_rows = counts["audit"]
    analyze(engine)
    return dataset


def analyze(engine: sa.Engine) -> None:
    """What autovacuum does after a bulk load: statistics for the planner and, on
    PostgreSQL, the visibility map that lets a count read the index alone."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


@dataclass(frozen=True)
class InboxStates:
    """The reader's inbox states, by position (the other inboxes are only read or unread)."""

    read_below: int
    seen_below: int
    archived_below: int
    snoozed_until: datetime

    def of(self, position: int, occurred: datetime) -> dict[str, Any]:
        archived = position < self.archived_below and position % KEPT_EVERY != 0
        return {
            "seen_at": occurred + timedelta(minutes=30) if position < self.seen_below else None,
            "archived_at": occurred + timedelta(hours=2) if archived else None,
            "snoozed_until": (
                self.snoozed_until if not archived and position % SNOOZED_EVERY == 0 else None
            ),
        }


def _inbox_row(
    activity: dict[str, Any],
    principal: UUID,
    read_below: int,
    states: InboxStates | None = None,
) -> dict[str, Any]:
    occurred: datetime = activity["occurred_at"]
    read = activity["position"] < read_below
    state = (
        states.of(activity["position"], occurred)
        if states is not None
        else {
            "seen_at": occurred + timedelta(minutes=30) if read else None,
            "archived_at": None,
            "snoozed_until": None,
        }
    )
    return {
        **state,
        "position": activity["position"],
        "principal_id": principal,
        "tenant_id": activity["tenant_id"],
        "activity_id": activity["activity_id"],
        "action": activity["action"],
        "resource_id": activity["resource_id"],
        "resource_type": activity["resource_type"],
        "actor_principal_id": activity["actor_principal_id"],
        "reasons": RawJSON('["subscriber"]'),
        "summary": f"folder “r{activity['position'] % 997}”: {activity['action']}",
        "correlation_id": activity["correlation_id"],
        "occurred_at": occurred,
        "read_at": occurred + timedelta(hours=1) if activity["position"] < read_below else None,
    }
