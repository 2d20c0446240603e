"""optaic-activity's domain: the activity envelope, the aggregate base, the resource model.

Imports only the standard library, pydantic and eventsourcing's domain layer.
"""

from optaic_activity.domain.actions import CATALOG, ActionCatalog, ActionSpec, validate_action_name
from optaic_activity.domain.aggregate import (
    ActivityAggregate,
    ActivityCreatedEvent,
    ActivityEvent,
    activity,
    activity_event_classes,
    activity_id_of,
    creates,
    mutator,
)
from optaic_activity.domain.context import (
    ActivityContext,
    activity_context,
    current_context,
    workflow,
)
from optaic_activity.domain.envelope import ActivityEnvelope, Visibility
from optaic_activity.domain.errors import (
    ActivityDefinitionError,
    ActivityError,
    BinaryPayloadError,
    ConcurrencyConflictError,
    DomainRuleError,
    InvalidActionError,
    InvalidPatternError,
    MissingActivityContextError,
    NotFoundError,
    PayloadPolicyError,
    PayloadTooLargeError,
    SecretInPayloadError,
    TenantMismatchError,
    UnknownActionError,
    UnsupportedPayloadValueError,
)
from optaic_activity.domain.payload import PayloadPolicy, apply_changes, changes_between
from optaic_activity.domain.preferences import FilterMode, wants
from optaic_activity.domain.resources import (
    NotificationPreferences,
    Resource,
    ResourceAggregate,
    Role,
    RoleBinding,
    Subscription,
    SubscriptionScope,
)

__all__ = [
    "CATALOG",
    "ActionCatalog",
    "ActionSpec",
    "ActivityAggregate",
    "ActivityContext",
    "ActivityCreatedEvent",
    "ActivityDefinitionError",
    "ActivityEnvelope",
    "ActivityError",
    "ActivityEvent",
    "BinaryPayloadError",
    "ConcurrencyConflictError",
    "DomainRuleError",
    "FilterMode",
    "InvalidActionError",
    "InvalidPatternError",
    "MissingActivityContextError",
    "NotFoundError",
    "NotificationPreferences",
    "PayloadPolicy",
    "PayloadPolicyError",
    "PayloadTooLargeError",
    "Resource",
    "ResourceAggregate",
    "Role",
    "RoleBinding",
    "SecretInPayloadError",
    "Subscription",
    "SubscriptionScope",
    "TenantMismatchError",
    "UnknownActionError",
    "UnsupportedPayloadValueError",
    "Visibility",
    "activity",
    "activity_context",
    "activity_event_classes",
    "activity_id_of",
    "apply_changes",
    "changes_between",
    "creates",
    "current_context",
    "mutator",
    "validate_action_name",
    "wants",
    "workflow",
]
