"""A service's own resource, built the documented way, for the adoption tests.

``Notebook`` subclasses ``ResourceAggregate`` under its own topic, with its own actions
(``notify_by_default``); ``Tally`` is an activity aggregate that is not a resource.
"""

from __future__ import annotations

from uuid import UUID

from optaic_activity.domain import CATALOG, ActivityAggregate, ResourceAggregate
from optaic_activity.domain.aggregate import activity, creates

CATALOG.register("notebook.created", group="notebooks", notify_by_default=True)
CATALOG.register("notebook.published", group="notebooks", notify_by_default=True)
CATALOG.register("notebook.viewed_cell", group="notebooks")
CATALOG.register("tally.started", group="tallies")


class Notebook(ResourceAggregate, topic="adoption.notebook", resource_type="notebook"):
    """A notebook in the resource tree: subscribable, with owner and delegators."""

    published_version: int

    @classmethod
    def create(cls, *, name: str, parent: ResourceAggregate | None = None) -> Notebook:
        parent_id, owner = cls.placement(parent, None)
        return cls.created(name=name, parent_id=parent_id, owner_id=owner)

    @creates("notebook.created")
    def created(self, *, name: str, parent_id: UUID | None, owner_id: UUID) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.published_version = 0

    def publish(self) -> None:
        self.require_live()
        self.published(edition=self.published_version + 1)

    @activity("notebook.published")
    def published(self, *, edition: int) -> None:
        self.published_version = edition

    @activity("notebook.viewed_cell")
    def viewed_cell(self, *, cell: int) -> None:
        """Not in the default filter: only ``all`` or a custom pattern hears of it."""


class Tally(ActivityAggregate, topic="adoption.tally", resource_type="tally"):
    """Not a resource: nothing can be subscribed to it."""

    count: int

    @creates("tally.started")
    def started(self, *, count: int) -> None:
        self.count = count


class Archive(ResourceAggregate, topic="adoption.archive", resource_type="archive"):
    """A resource whose own event is a structural one: archiving deletes it from the tree."""

    @classmethod
    def create(cls, *, name: str) -> Archive:
        parent_id, owner = cls.placement(None, None)
        return cls.opened(name=name, parent_id=parent_id, owner_id=owner)

    @creates("notebook.created", event_name="archive.opened")
    def opened(self, *, name: str, parent_id: UUID | None, owner_id: UUID) -> None:
        self.init_resource(name, parent_id, owner_id)

    def archive(self) -> None:
        self.require_live()
        self.archived(name=self.name)

    @activity("resource.deleted", event_name="archive.archived")
    def archived(self, *, name: str) -> None:
        self.deleted = True
