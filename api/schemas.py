"""The wire contract: every request and response body of the HTTP API.

Pure pydantic (no FastAPI, no domain imports) so that the Python client shares these
models instead of mirroring them. The enumerations repeat the domain's values as
``Literal`` types for the OpenAPI document; tests/unit/api/test_schemas.py keeps them equal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

FilterModeName = Literal["all", "mutations", "custom"]
"""domain.preferences.FilterMode"""
ScopeName = Literal["resource", "descendants"]
"""domain.resources.SubscriptionScope"""
VisibilityName = Literal["private", "resource", "scope", "tenant"]
"""domain.envelope.Visibility"""
ExportFormat = Literal["json", "jsonl", "csv"]

MAX_BIGINT = 2**63 - 1
MAX_READ_POSITIONS = 1000
"""activity.inbox.MAX_POSITIONS"""

Position = Annotated[int, Field(ge=1, le=MAX_BIGINT)]
"""A log position: what the stores can hold (a larger one could never match a row)."""


def _as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive time is taken as UTC. Out-of-range after the shift: a ValueError."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class ResponseBody(BaseModel):
    """A response body: extra fields a newer server adds are ignored by older clients."""

    model_config = ConfigDict(frozen=True)


class RequestBody(BaseModel):
    """A request body: unknown fields are refused (422), not silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# -- problems (RFC 9457) -----------------------------------------------------------------------


class FieldError(ResponseBody):
    loc: list[str | int] = Field(description="Where: e.g. ['body', 'scope'] or ['query', 'limit']")
    msg: str
    type: str


class Problem(ResponseBody):
    """An RFC 9457 problem: every error answer of the API has this body."""

    type: str = Field(description="A URI naming the kind of problem (see docs/api.md)")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="The request path")
    errors: list[FieldError] | None = Field(
        default=None, description="Each invalid field (validation problems only)"
    )


# -- preferences -------------------------------------------------------------------------------


class PreferencesUpdate(RequestBody):
    filter_mode: FilterModeName
    custom_actions: list[str] = Field(
        default_factory=list,
        description="fnmatch patterns over action names (custom mode only), e.g. 'promotion.*'",
    )


class Preferences(ResponseBody):
    filter_mode: FilterModeName
    custom_actions: list[str]


# -- subscriptions -----------------------------------------------------------------------------


class SubscriptionCreate(RequestBody):
    resource_id: UUID
    scope: ScopeName = Field(description="'resource': that resource; 'descendants': its subtree")


class Subscription(ResponseBody):
    id: UUID
    resource_id: UUID
    resource_type: str
    scope: ScopeName


class SubscriptionList(ResponseBody):
    items: list[Subscription]


# -- inbox ---------------------------------------------------------------------------------------


class Notification(ResponseBody):
    position: int = Field(description="The activity's log position (mark read with it)")
    activity_id: UUID
    action: str
    resource_id: UUID
    resource_type: str
    actor_principal_id: UUID
    reasons: list[str] = Field(description="Why you were notified: subscriber, owner, delegator")
    summary: str
    correlation_id: UUID
    occurred_at: UtcDatetime
    read_at: UtcDatetime | None


class InboxPage(ResponseBody):
    items: list[Notification]
    next_cursor: str | None
    unread_count: int = Field(description="All your unread notifications, not just this page's")


class ReadPositions(RequestBody):
    positions: list[Position] = Field(min_length=1, max_length=MAX_READ_POSITIONS)


class ReadUpTo(RequestBody):
    up_to_position: Position


MarkRead = ReadPositions | ReadUpTo


class MarkReadResult(ResponseBody):
    unread_count: int


# -- activities and the audit log -----------------------------------------------------------------


class Activity(ResponseBody):
    position: int
    activity_id: UUID
    tenant_id: UUID
    actor_principal_id: UUID
    resource_id: UUID
    resource_type: str
    action: str
    visibility: VisibilityName
    payload: dict[str, Any]
    delivery_channels: list[str]
    correlation_id: UUID
    aggregate_id: UUID
    aggregate_version: int
    occurred_at: UtcDatetime


class AuditEntry(Activity):
    prev_hash: str = Field(description="The tenant's previous entry's hash (hash chain)")
    hash: str


class ActivityPage(ResponseBody):
    items: list[Activity]
    next_cursor: str | None


class AuditPage(ResponseBody):
    items: list[AuditEntry]
    next_cursor: str | None


class AuditFilters(BaseModel):
    """The audit query's filters (query parameters); all optional, combined with AND."""

    actor: UUID | None = Field(default=None, description="Actor principal id")
    resource_id: UUID | None = None
    include_descendants: bool = Field(
        default=False, description="With resource_id: its whole subtree"
    )
    action: str | None = Field(default=None, description="fnmatch glob, e.g. 'promotion.*'")
    since: UtcDatetime | None = Field(default=None, description="Inclusive; naive times are UTC")
    until: UtcDatetime | None = Field(default=None, description="Exclusive; naive times are UTC")
    correlation_id: UUID | None = None


# -- realtime ------------------------------------------------------------------------------------


class RealtimeToken(ResponseBody):
    token: str = Field(description="A Centrifugo connection JWT for you only")
    channel: str = Field(description="Your personal channel: notifications:#<principal_id>")
    expires_at: UtcDatetime
    websocket_url: str | None = Field(default=None, description="Where to connect, if configured")
