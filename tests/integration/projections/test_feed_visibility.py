"""The feed against the visibility rules, spelled out in Python, over random worlds.

Each world is a tenant's resource tree (some resources nested under others), role bindings
(active and revoked), owners, a second tenant sharing the tables and activities of every
visibility, some on resources the tree does not know. ``expected`` applies the rules row
by row; the feed, read page by page with small pages, must return exactly those rows,
newest first, with and without an action glob. On PostgreSQL each world runs twice: with
the resolved ids bound as a literal list and, past ``MAX_LISTED_IDS``, as the set the
statement resolves itself (`Backend.in_set`).
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.projections import queries
from optaic_activity.projections.audit_log import audit_log
from optaic_activity.projections.upsert import RawJSON, insert_many
from optaic_activity.projections.watchers import resources, role_bindings
from optaic_activity.settings import Settings

ACTIONS = ("resource.created", "resource.updated", "promotion.approved", "promotion.requested")
VISIBILITIES = ("private", "resource", "scope", "tenant")
GLOBS = (None, "promotion.*", "resource.updated", "*.created", "nothing.*")


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


@dataclass
class World:
    tenant: UUID
    people: list[UUID]
    paths: dict[UUID, str] = field(default_factory=dict)
    roots: dict[UUID, UUID] = field(default_factory=dict)
    owners: dict[UUID, UUID] = field(default_factory=dict)
    bound: set[tuple[UUID, UUID]] = field(default_factory=set)
    """(principal, resource) of the active bindings."""
    rows: list[dict[str, Any]] = field(default_factory=list)


def build(conn: sa.Connection, seed: int) -> World:
    rng = random.Random(seed)
    world = World(tenant=_uuid(rng), people=[_uuid(rng) for _ in range(6)])
    ids: list[UUID] = []
    tree_rows = []
    for index in range(rng.randrange(8, 40)):
        rid = _uuid(rng)
        parent = rng.choice(ids) if ids and index > 2 else None
        world.paths[rid] = (world.paths[parent] if parent else "/") + f"{rid}/"
        world.roots[rid] = world.roots[parent] if parent else rid
        # Most resources belong to the first person: the others own a few, or none.
        world.owners[rid] = world.people[0] if rng.random() < 0.7 else rng.choice(world.people)
        ids.append(rid)
        tree_rows.append(
            {
                "resource_id": rid,
                "tenant_id": world.tenant,
                "resource_type": "folder",
                "name": f"r{index}",
                "parent_id": parent,
                "owner_id": world.owners[rid],
                "root_id": world.roots[rid],
                "path": world.paths[rid],
                "deleted": False,
            }
        )
    other_tenant = _uuid(rng)
    elsewhere = _uuid(rng)  # a resource of another tenant, bound to everyone there
    tree_rows.append({**tree_rows[0], "resource_id": elsewhere, "tenant_id": other_tenant})
    insert_many(conn, resources, tree_rows)
    bindings = []
    for person in world.people[1:]:
        for rid in rng.sample(ids, rng.randrange(0, 4)):
            active = rng.random() < 0.8
            if active:
                world.bound.add((person, rid))
            bindings.append((person, rid, active))
        bindings.append((person, elsewhere, True))
    insert_many(
        conn,
        role_bindings,
        [
            {
                "binding_id": _uuid(rng),
                "tenant_id": other_tenant if rid == elsewhere else world.tenant,
                "resource_id": rid,
                "principal_id": person,
                "role": "viewer",
                "active": active,
            }
            for person, rid, active in bindings
        ],
    )
    unknown = _uuid(rng)  # acted on, never in the tree
    start = datetime(2026, 1, 1, tzinfo=UTC)
    first = seed * 1000 + 1  # positions are unique across the worlds sharing the tables
    for position in range(first, first + rng.randrange(150, 400)):
        tenant = other_tenant if rng.random() < 0.1 else world.tenant
        resource = unknown if rng.random() < 0.05 else rng.choice(ids)
        world.rows.append(
            {
                "position": position,
                "activity_id": _uuid(rng),
                "tenant_id": tenant,
                "actor_principal_id": rng.choice(world.people),
                "resource_id": elsewhere if tenant == other_tenant else resource,
                "resource_type": "folder",
                "action": rng.choice(ACTIONS),
                "visibility": rng.choice(VISIBILITIES),
                "payload": RawJSON("{}"),
                "delivery_channels": RawJSON("[]"),
                "correlation_id": _uuid(rng),
                "aggregate_id": resource,
                "aggregate_version": position,
                "occurred_at": start + timedelta(minutes=position),
                "prev_hash": "0" * 64,
                "hash": "0" * 64,
            }
        )
    insert_many(conn, audit_log, world.rows)
    return world


def expected(world: World, principal: UUID, glob: str | None) -> list[int]:
    """The rules, one by one (docs/architecture.md, the visibility table)."""
    anchors = [world.paths[rid] for rid, owner in world.owners.items() if owner == principal]
    anchors += [world.paths[rid] for person, rid in world.bound if person == principal]
    roots = {world.roots[rid] for rid, path in world.paths.items() if path in anchors}

    def visible(row: dict[str, Any]) -> bool:
        if row["tenant_id"] != world.tenant:
            return False
        if row["actor_principal_id"] == principal:
            return True
        path = world.paths.get(row["resource_id"])
        if row["visibility"] == "tenant":
            return bool(anchors)
        if row["visibility"] == "scope":
            return path is not None and world.roots[row["resource_id"]] in roots
        if row["visibility"] == "resource":
            return path is not None and any(path.startswith(a) for a in anchors)
        return False

    return sorted(
        (
            row["position"]
            for row in world.rows
            if visible(row) and (glob is None or fnmatch.fnmatchcase(row["action"], glob))
        ),
        reverse=True,
    )


def read_all(conn: sa.Connection, world: World, principal: UUID, glob: str | None) -> list[int]:
    found: list[int] = []
    cursor: str | None = None
    while True:
        page = queries.query_feed(
            conn, world.tenant, principal, action=glob, limit=7, cursor=cursor
        )
        found += [int(item["position"]) for item in page.items]
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


@pytest.fixture
def runtime(store_settings: Settings) -> Iterator[Runtime]:
    rt = bootstrap(store_settings)
    rt.projections.setup()
    try:
        yield rt
    finally:
        rt.close()


@pytest.mark.parametrize("listed", [100, 2], ids=["ids-listed", "ids-in-statement"])
def test_the_feed_returns_exactly_what_the_visibility_rules_admit(
    runtime: Runtime, listed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "MAX_LISTED_IDS", listed)
    checked = 0
    for seed in range(4):
        with runtime.engine.begin() as conn:
            world = build(conn, seed)
        with runtime.engine.connect() as conn:
            for principal in [*world.people, UUID(int=seed + 1)]:  # the last: nobody there
                for glob in GLOBS:
                    want = expected(world, principal, glob)
                    assert read_all(conn, world, principal, glob) == want, (seed, principal, glob)
                    checked += len(want)
    assert checked > 500, "the worlds show people a good share of their activities"
