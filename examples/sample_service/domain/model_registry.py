"""A registry of trained models: entries are registered, get versions, and are retired."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from uuid import UUID

from optaic_activity.domain import (
    CATALOG,
    DomainRuleError,
    ResourceAggregate,
    activity,
    creates,
)

# The service's own actions join the catalog before the aggregate that emits them is defined;
# notify_by_default puts them in the default ``mutations`` filter (owner and delegators hear).
for _action in (
    "model_registry_entry.registered",
    "model_registry_entry.version_published",
    "model_registry_entry.retired",
):
    CATALOG.register(_action, group="model_registry", notify_by_default=True)


class ModelStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class ModelRegistryEntry(
    ResourceAggregate, topic="sample.model_registry_entry", resource_type="model_registry_entry"
):
    """A model in the registry. ``topic`` is stored with every event: never change it."""

    framework: str
    description: str
    latest_model_version: int
    status: str

    @classmethod
    def register(
        cls,
        *,
        name: str,
        framework: str,
        description: str = "",
        parent: ResourceAggregate | None = None,
        owner_id: UUID | None = None,
    ) -> ModelRegistryEntry:
        if not name.strip():
            raise DomainRuleError("a model needs a name")
        parent_id, owner = cls.placement(parent, owner_id)
        return cls.registered(
            name=name.strip(),
            parent_id=parent_id,
            owner_id=owner,
            framework=framework,
            description=description,
        )

    def updatable_fields(self) -> tuple[str, ...]:
        return ("name", "description")

    def publish_version(
        self, *, artifact_ref: str, metrics: Mapping[str, float] | None = None
    ) -> int:
        """Record a new trained version (by reference to its artifact); returns its number."""
        self.require_live()
        if self.status == ModelStatus.RETIRED:
            raise DomainRuleError("a retired model gets no new versions")
        model_version = self.latest_model_version + 1
        self.version_published(
            model_version=model_version,
            artifact_ref=artifact_ref,
            metrics={key: float(value) for key, value in (metrics or {}).items()},
        )
        return model_version

    def retire(self) -> None:
        self.require_live()
        if self.status == ModelStatus.RETIRED:
            raise DomainRuleError("already retired")
        self.retired(from_status=self.status, to_status=ModelStatus.RETIRED.value)

    @creates("model_registry_entry.registered")
    def registered(
        self,
        *,
        name: str,
        parent_id: UUID | None,
        owner_id: UUID,
        framework: str,
        description: str,
    ) -> None:
        self.init_resource(name, parent_id, owner_id)
        self.framework = framework
        self.description = description
        self.latest_model_version = 0
        self.status = ModelStatus.ACTIVE.value

    @activity("model_registry_entry.version_published")
    def version_published(
        self, *, model_version: int, artifact_ref: str, metrics: dict[str, float]
    ) -> None:
        self.latest_model_version = model_version

    @activity("model_registry_entry.retired")
    def retired(self, *, from_status: str, to_status: str) -> None:
        self.status = to_status
