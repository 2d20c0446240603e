"""The Python client of the activity API: ``ActivityClient`` (async) and ``SyncActivityClient``.

    async with ActivityClient(base_url, token) as client:
        await client.subscriptions.create(resource_id=folder_id, scope="descendants")
        subs = await client.subscriptions.list()
        await client.subscriptions.revoke(subs[0].id)
        await client.notifications.update_preferences(
            filter_mode="custom", custom_actions=["resource.*", "promotion.*"]
        )

Results are the API's own pydantic models (``api.schemas``); errors are typed
(``client.errors``). Guide: docs/client.md.
"""

from optaic_activity.api.schemas import (
    Activity,
    ActivityPage,
    AuditEntry,
    AuditPage,
    FieldError,
    InboxCounts,
    InboxPage,
    MarkReadResult,
    Notification,
    Preferences,
    PrincipalProfile,
    Problem,
    RealtimeToken,
    Subscription,
)
from optaic_activity.client.async_client import ActivityClient
from optaic_activity.client.errors import (
    ActivityClientError,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServerError,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    ValidationFailed,
)
from optaic_activity.client.sync_client import SyncActivityClient

__all__ = [
    "Activity",
    "ActivityClient",
    "ActivityClientError",
    "ActivityPage",
    "ApiError",
    "AuditEntry",
    "AuditPage",
    "BadRequest",
    "Conflict",
    "FieldError",
    "Forbidden",
    "InboxCounts",
    "InboxPage",
    "MarkReadResult",
    "NotFound",
    "Notification",
    "PayloadTooLarge",
    "Preferences",
    "PrincipalProfile",
    "Problem",
    "RealtimeToken",
    "ServerError",
    "Subscription",
    "SyncActivityClient",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "ValidationFailed",
]
