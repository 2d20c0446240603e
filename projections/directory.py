"""Read model: the principal directory (display name and avatar per principal and tenant).

Kept by the routing projection, in memory like the watcher index and written through to
its table in the batch's transaction: a notification's message and inbox summary name its
actor as the directory stood at that activity's position, so a rebuild writes the same
names (docs/notifications.md, "Names").

Reads (feed, inbox) resolve the names of a page with one query per kind of id
(`names_of`, `resource_names_of`, both via `with_names`), never a join in the page's query.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.domain.directory import PrincipalProfile
from optaic_activity.projections.database import metadata
from optaic_activity.projections.events import StoredActivity
from optaic_activity.projections.upsert import upsert
from optaic_activity.projections.watchers import resources

directory = sa.Table(
    "principal_directory",
    metadata,
    sa.Column("tenant_id", sa.Uuid, primary_key=True),
    sa.Column("principal_id", sa.Uuid, primary_key=True),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.Column("avatar_url", sa.String(2048), nullable=True),
    # The log position of the profile's last change.
    sa.Column("position", sa.BigInteger, nullable=False),
)

# Only the framework's own aggregate changes a profile (an envelope-only record cannot carry
# a state-change action: StateChangeActionError).
_PROFILE_EVENTS = PrincipalProfile.TOPIC + ":"


@dataclass(frozen=True, slots=True)
class Entry:
    display_name: str
    avatar_url: str | None
    position: int


@dataclass
class Directory:
    """The directory as of the last applied activity (one entry per principal and tenant)."""

    entries: dict[tuple[UUID, UUID], Entry] = field(default_factory=dict)
    dirty: set[tuple[UUID, UUID]] = field(default_factory=set)

    def apply(self, activity: StoredActivity) -> None:
        if not activity.topic.startswith(_PROFILE_EVENTS):
            return
        payload = activity.payload
        key = (activity.tenant_id, UUID(str(payload["principal_id"])))
        self.entries[key] = Entry(
            str(payload["display_name"]), payload.get("avatar_url"), activity.position
        )
        self.dirty.add(key)

    def name_of(self, tenant_id: UUID, principal_id: UUID) -> str | None:
        entry = self.entries.get((tenant_id, principal_id))
        return entry.display_name if entry is not None else None

    def flush(self, conn: sa.Connection) -> None:
        rows = [
            {
                "tenant_id": key[0],
                "principal_id": key[1],
                "display_name": self.entries[key].display_name,
                "avatar_url": self.entries[key].avatar_url,
                "position": self.entries[key].position,
            }
            for key in self.dirty
        ]
        upsert(conn, directory, rows, key=("tenant_id", "principal_id"))
        self.dirty.clear()

    @classmethod
    def load(cls, conn: sa.Connection, tenants: Callable[[UUID], bool] | None = None) -> Directory:
        """The directory as its table holds it; only the tenants ``tenants`` accepts, if given."""
        loaded = cls()
        for row in conn.execute(sa.select(directory)):
            if tenants is None or tenants(row.tenant_id):
                loaded.entries[(row.tenant_id, row.principal_id)] = Entry(
                    row.display_name, row.avatar_url, int(row.position)
                )
        return loaded


# -- reads ------------------------------------------------------------------------------------


def profile_of(conn: sa.Connection, tenant_id: UUID, principal_id: UUID) -> dict[str, Any] | None:
    """The principal's directory entry in ``tenant_id`` (None: no profile there)."""
    row = (
        conn.execute(
            sa.select(
                directory.c.principal_id, directory.c.display_name, directory.c.avatar_url
            ).where(directory.c.tenant_id == tenant_id, directory.c.principal_id == principal_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


def names_of(
    conn: sa.Connection, tenant_id: UUID, principal_ids: Collection[UUID]
) -> dict[UUID, str]:
    """The display names of those principals that have one in ``tenant_id`` (one query)."""
    if not principal_ids:
        return {}
    rows = conn.execute(
        sa.select(directory.c.principal_id, directory.c.display_name).where(
            directory.c.tenant_id == tenant_id,
            directory.c.principal_id.in_(sorted(set(principal_ids), key=str)),
        )
    )
    return {row.principal_id: row.display_name for row in rows}


def resource_names_of(
    conn: sa.Connection, tenant_id: UUID, resource_ids: Collection[UUID]
) -> dict[UUID, str]:
    """The names of those resources of ``tenant_id`` the watcher index knows (one query)."""
    if not resource_ids:
        return {}
    rows = conn.execute(
        sa.select(resources.c.resource_id, resources.c.name).where(
            resources.c.tenant_id == tenant_id,
            resources.c.resource_id.in_(sorted(set(resource_ids), key=str)),
        )
    )
    return {row.resource_id: row.name for row in rows}


PRINCIPAL = "principal"
"""The resource type of activities about a principal: their name is the principal's."""


def with_names(conn: sa.Connection, tenant_id: UUID, items: Iterable[dict[str, Any]]) -> None:
    """Give each item (a feed or inbox row) ``actor_name`` and ``resource_name``, and a
    digest item's ``digest`` its ``actor_names``, in place.

    Names are the current ones, of ``tenant_id`` only: an id of another tenant (an envelope
    may name one) gets no name, so no other tenant's name ever shows.
    """
    items = list(items)
    digests = [d for item in items if isinstance(d := item.get("digest"), dict)]
    principals = {item["actor_principal_id"] for item in items}
    principals |= {i["resource_id"] for i in items if i["resource_type"] == PRINCIPAL}
    principals |= {UUID(actor) for digest in digests for actor in digest["actors"]}
    names = names_of(conn, tenant_id, principals)
    others = {i["resource_id"] for i in items if i["resource_type"] != PRINCIPAL}
    resource_names = resource_names_of(conn, tenant_id, others)
    for item in items:
        item["actor_name"] = names.get(item["actor_principal_id"])
        shown = names if item["resource_type"] == PRINCIPAL else resource_names
        item["resource_name"] = shown.get(item["resource_id"])
    for digest in digests:
        digest["actor_names"] = [names.get(UUID(actor)) for actor in digest["actors"]]
