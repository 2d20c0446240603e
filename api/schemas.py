"""The wire contract: every request and response body of the HTTP API.

Pure pydantic (no FastAPI, no domain imports) so that the Python client shares these
models instead of mirroring them. The enumerations repeat the domain's values as
``Literal`` types for the OpenAPI document; tests/unit/api/test_schemas.py keeps them equal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from optaic_activity.api.wire import BooleanText, Uuid

FilterModeName = Literal["all", "mutations", "custom"]
"""domain.preferences.FilterMode"""
ScopeName = Literal["resource", "descendants"]
"""domain.resources.SubscriptionScope"""
VisibilityName = Literal["private", "resource", "scope", "tenant"]
"""domain.envelope.Visibility"""
ExportFormat = Literal["json", "jsonl", "csv", "ocsf"]
InboxStateName = Literal["inbox", "unread", "unseen", "read", "archived", "snoozed", "all"]
"""domain.inbox.STATES"""
InboxVerb = Literal["seen", "read", "unread", "archive", "unarchive", "snooze", "unsnooze"]
"""domain.inbox.ACTIONS"""
REASON_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
REASON_NAME = StringConstraints(pattern=REASON_PATTERN)
"""domain.inbox: a reason's name (subscriber, owner, ...)."""

MAX_POSITION = 2**53 - 1
"""The largest log position a request may name: the largest integer every JSON reader
(JavaScript's included) keeps exact, and far below what the stores' BIGINT holds."""
MAX_READ_POSITIONS = 1000
"""optaic_activity.service.inbox.MAX_POSITIONS"""
MAX_PATTERNS = 64
"""domain.preferences.MAX_PATTERNS"""
ACTION_PATTERN = StringConstraints(min_length=1, max_length=128, pattern=r"^[a-z0-9_.*?\[\]!-]+$")
"""domain.preferences: lower-case action names and fnmatch wildcards, at most 128 characters
(the domain checks the rest: balanced ``[...]`` sets)."""

Position = Annotated[int, Field(ge=1, le=MAX_POSITION, strict=True)]
"""A log position in a request body: a JSON integer (strict: ``true`` or ``"5"`` is no position)."""


def _as_utc(value: datetime) -> datetime:
    """Aware UTC; a naive time (a store's) is taken as UTC. Out of range after the shift: 422."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the time is out of range once converted to UTC") from None


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(value: object) -> object:
    """Times in requests are RFC 3339 with an offset: no epoch numbers, no guessed time zone."""
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("give an RFC 3339 date-time with an offset, e.g. 2026-01-31T09:00:00Z")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""A time as the API answers it: always UTC, whatever the store hands back."""
TimeParameter = Annotated[datetime, BeforeValidator(_rfc3339), AfterValidator(_as_utc)]
"""A time a request gives: RFC 3339 with an offset, converted to UTC."""


class ResponseBody(BaseModel):
    """A response body: extra fields a newer server adds are ignored by older clients."""

    model_config = ConfigDict(frozen=True)


class RequestBody(BaseModel):
    """A request body: unknown fields are refused (422), not silently dropped, and each field
    takes its own JSON type only (strict: no bool as int, no string as number, docs/api.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


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


MAX_CATEGORIES = 32
"""domain.preferences.MAX_CATEGORIES"""
CATEGORY_NAME = StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
"""domain.actions.CATEGORY_PATTERN: a catalog category, lower snake case."""


class PreferencesUpdate(RequestBody):
    filter_mode: FilterModeName
    custom_actions: list[Annotated[str, ACTION_PATTERN]] = Field(
        default_factory=list,
        max_length=MAX_PATTERNS,
        description="fnmatch patterns over action names (custom mode only), e.g. 'promotion.*'",
    )
    muted_actions: list[Annotated[str, ACTION_PATTERN]] = Field(
        default_factory=list,
        max_length=MAX_PATTERNS,
        description="fnmatch patterns of actions never to hear of, whatever the mode (none of "
        "a category the tenant makes mandatory: 422)",
    )


class Preferences(ResponseBody):
    filter_mode: FilterModeName
    custom_actions: list[str]
    muted_actions: list[str] = Field(default_factory=list)


class TenantPreferencesUpdate(PreferencesUpdate):
    mandatory_categories: list[Annotated[str, CATEGORY_NAME]] = Field(
        default_factory=list,
        max_length=MAX_CATEGORIES,
        description="Catalog categories (e.g. 'ownership') every watcher hears of, whatever "
        "their filter or mutes",
    )


class TenantPreferences(Preferences):
    """The defaults of the tenant's principals who set no preferences of their own."""

    mandatory_categories: list[str]


MIN_DIGEST_WINDOW = 60
"""domain.digests.MIN_WINDOW_SECONDS"""
MAX_DIGEST_WINDOW = 86_400
"""domain.digests.MAX_WINDOW_SECONDS"""


class DigestRule(RequestBody):
    pattern: Annotated[str, ACTION_PATTERN] = Field(
        description="fnmatch pattern, e.g. 'resource.*'"
    )
    window_seconds: int = Field(
        ge=MIN_DIGEST_WINDOW,
        le=MAX_DIGEST_WINDOW,
        description="The window's length: 60 (a minute) to 86400 (a day)",
    )


class DigestRulesUpdate(RequestBody):
    rules: list[DigestRule] = Field(
        max_length=MAX_PATTERNS,
        description="In order: a notification joins the digest of the first rule it matches",
    )


class DigestRuleOut(ResponseBody):
    pattern: str
    window_seconds: int


class DigestRules(ResponseBody):
    rules: list[DigestRuleOut]
    inherited: bool = Field(
        default=False, description="True: you set none, these are your tenant's defaults"
    )


# -- subscriptions -----------------------------------------------------------------------------


class SubscriptionCreate(RequestBody):
    resource_id: Uuid
    scope: ScopeName = Field(description="'resource': that resource; 'descendants': its subtree")


class Subscription(ResponseBody):
    id: UUID
    resource_id: UUID
    resource_type: str
    scope: ScopeName


class SubscriptionList(ResponseBody):
    items: list[Subscription]


# -- inbox ---------------------------------------------------------------------------------------


KindName = Literal["activity", "digest"]


class Digest(ResponseBody):
    count: int = Field(description="How many notifications it collapses")
    actors: list[UUID] = Field(description="The distinct actors, in order of first appearance")
    actor_names: list[str | None] = Field(
        default_factory=list, description="The actors' display names (null: none known)"
    )
    pattern: str = Field(description="The digest rule that collected them")
    window_start: UtcDatetime
    window_end: UtcDatetime = Field(description="When it is pushed: its window closes")


class Notification(ResponseBody):
    position: int = Field(description="The activity's log position (mark read with it)")
    activity_id: UUID
    action: str
    resource_id: UUID
    resource_type: str
    actor_principal_id: UUID
    reasons: list[str] = Field(
        description="Why you were notified: subscriber, owner, delegator, pending_owner, "
        "former_owner, role_holder, former_watcher (docs/notifications.md, 'Reasons')"
    )
    summary: str
    correlation_id: UUID
    occurred_at: UtcDatetime
    read_at: UtcDatetime | None
    seen_at: UtcDatetime | None = Field(description="Shown to you (reading implies it)")
    archived_at: UtcDatetime | None = Field(description="Marked done: out of the inbox")
    snoozed_until: UtcDatetime | None = Field(
        description="Out of the inbox until then (null: not snoozed)"
    )
    kind: KindName = Field(default="activity", description="'digest': one item for its members")
    digest: Digest | None = Field(default=None, description="What a digest item collapses")

    actor_name: str | None = Field(
        default=None, description="The actor's display name in the directory (None: no profile)"
    )
    resource_name: str | None = Field(
        default=None, description="The resource's name (a principal's: its display name)"
    )


class NotificationList(ResponseBody):
    items: list[Notification]


class InboxCounts(ResponseBody):
    unread_count: int = Field(description="All your unread notifications, archived ones left out")
    unseen_count: int = Field(description="All your unseen notifications, archived ones left out")


class InboxPage(InboxCounts):
    items: list[Notification]
    next_cursor: str | None


class InboxFilterBody(RequestBody):
    """Which of your notifications: every given field must match."""

    state: InboxStateName | None = None
    reason: Annotated[str, REASON_NAME] | None = None
    action: Annotated[str, ACTION_PATTERN] | None = Field(
        default=None, description="An fnmatch glob over action names, e.g. promotion.*"
    )
    resource_id: Uuid | None = None


class ReadPositions(RequestBody):
    positions: list[Position] = Field(min_length=1, max_length=MAX_READ_POSITIONS)


class ReadUpTo(RequestBody):
    up_to_position: Position


class ByFilter(RequestBody):
    filter: InboxFilterBody


class SelectAll(RequestBody):
    all: Literal[True]


StateChange = ReadPositions | ReadUpTo | ByFilter | SelectAll
"""Exactly one selector: the body of POST /notifications/{verb} (but snooze)."""
MarkRead = StateChange


def _rfc3339_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("give an RFC 3339 date-time as a string, e.g. 2026-01-31T09:00:00Z")
    return _rfc3339(value)


BodyTime = Annotated[
    datetime, BeforeValidator(_rfc3339_text), AfterValidator(_as_utc), Field(strict=False)
]
"""A time in a JSON body: RFC 3339 text only (the strict body would take no text at all)."""


class Snoozing(RequestBody):
    until: BodyTime = Field(description="RFC 3339, in the future, at most a year ahead")


class SnoozePositions(ReadPositions, Snoozing):
    pass


class SnoozeUpTo(ReadUpTo, Snoozing):
    pass


class SnoozeByFilter(ByFilter, Snoozing):
    pass


class SnoozeAll(SelectAll, Snoozing):
    pass


SnoozeChange = SnoozePositions | SnoozeUpTo | SnoozeByFilter | SnoozeAll
"""The body of POST /notifications/snooze: one selector and ``until``."""
MarkReadResult = InboxCounts


# -- activities and the audit log -----------------------------------------------------------------


class ActivityRecord(ResponseBody):
    """An activity as stored: what the audit log hashes and exports."""

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


class Activity(ActivityRecord):
    """A feed item: the record, with today's names for its actor and resource."""

    actor_name: str | None = Field(
        default=None, description="The actor's display name in the directory (None: no profile)"
    )
    resource_name: str | None = Field(
        default=None, description="The resource's name (a principal's: its display name)"
    )


class AuditEntry(ActivityRecord):
    """Names are left out: an auditor reads the record as it was hashed, not today's names."""

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

    actor: Uuid | None = Field(default=None, description="Actor principal id")
    resource_id: Uuid | None = None
    include_descendants: BooleanText = Field(
        default=False, description="With resource_id: its whole subtree"
    )
    action: str | None = Field(default=None, description="fnmatch glob, e.g. 'promotion.*'")
    since: TimeParameter | None = Field(default=None, description="Inclusive, RFC 3339")
    until: TimeParameter | None = Field(default=None, description="Exclusive, RFC 3339")
    correlation_id: Uuid | None = None


# -- the principal directory ---------------------------------------------------------------------


class PrincipalProfile(ResponseBody):
    principal_id: UUID
    display_name: str
    avatar_url: str | None


class ProfileUpdate(RequestBody):
    display_name: str = Field(description="1 to 128 characters once trimmed, no control characters")
    avatar_url: str | None = Field(
        default=None, description="An absolute https:// URL of at most 2048 characters"
    )


# -- realtime ------------------------------------------------------------------------------------


class RealtimeToken(ResponseBody):
    token: str = Field(description="A Centrifugo connection JWT for you in your token's tenant")
    channel: str = Field(
        description="Your personal channel in that tenant:"
        " notifications:#<tenant_id>.<principal_id>"
    )
    expires_at: UtcDatetime
    websocket_url: str | None = Field(default=None, description="Where to connect, if configured")
