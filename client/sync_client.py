"""``SyncActivityClient``: the blocking twin of ``ActivityClient``, same shape, same calls.

with SyncActivityClient("https://activity.example", token) as client:
    sub = client.subscriptions.create(resource_id=folder_id, scope="descendants")
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar
from uuid import UUID

import httpx
from typing_extensions import Unpack

from optaic_activity.api.schemas import (
    ActivityPage,
    AuditEntry,
    AuditPage,
    DigestRules,
    FilterModeName,
    InboxCounts,
    InboxPage,
    InboxVerb,
    MarkReadResult,
    NotificationList,
    Preferences,
    PrincipalProfile,
    RealtimeToken,
    ScopeName,
    Subscription,
    TenantPreferences,
)
from optaic_activity.client import operations as op
from optaic_activity.client.errors import TransportError

T = TypeVar("T")


class SyncActivityClient:
    """Blocking client of the activity API. ``transport``: any ``httpx.BaseTransport``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, headers=op.headers(token), transport=transport, timeout=timeout
        )
        self.subscriptions = Subscriptions(self)
        self.notifications = Notifications(self)
        self.tenant = Tenant(self)
        self.activities = Activities(self)
        self.audit = Audit(self)
        self.realtime = Realtime(self)
        self.principals = Principals(self)

    def send(self, call: op.Call[T]) -> T:
        try:
            response = self._http.send(call.request(self._http))
        except httpx.TransportError as error:
            raise TransportError(f"{call.method} {call.path}: {error!r}") from error
        return call.result(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SyncActivityClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _Namespace:
    def __init__(self, client: SyncActivityClient) -> None:
        self._client = client


class Subscriptions(_Namespace):
    def create(self, *, resource_id: UUID | str, scope: ScopeName) -> Subscription:
        return self._client.send(op.create_subscription(resource_id, scope))

    def list(self) -> list[Subscription]:
        return self._client.send(op.list_subscriptions())

    def revoke(self, subscription_id: UUID | str) -> None:
        self._client.send(op.revoke_subscription(subscription_id))


class Notifications(_Namespace):
    def get_preferences(self) -> Preferences:
        return self._client.send(op.get_preferences())

    def update_preferences(
        self,
        *,
        filter_mode: FilterModeName,
        custom_actions: Sequence[str] = (),
        muted_actions: Sequence[str] = (),
    ) -> Preferences:
        return self._client.send(op.update_preferences(filter_mode, custom_actions, muted_actions))

    def list(
        self,
        *,
        unread_only: bool = False,
        limit: int = 50,
        cursor: str | None = None,
        **filters: Unpack[op.InboxFilterArgs],
    ) -> InboxPage:
        """Your inbox; ``filters``: state, reason, action (a glob), resource_id."""
        return self._client.send(
            op.list_notifications(unread_only=unread_only, limit=limit, cursor=cursor, **filters)
        )

    def counts(self) -> InboxCounts:
        return self._client.send(op.notification_counts())

    def mark(
        self,
        verb: InboxVerb,
        *,
        positions: Sequence[int] | None = None,
        up_to_position: int | None = None,
        filter: op.InboxFilterArgs | None = None,
        all: bool = False,
        until: datetime | None = None,
    ) -> InboxCounts:
        """``verb``: seen, read, unread, archive, unarchive, snooze (with ``until``), unsnooze."""
        return self._client.send(
            op.mark(
                verb,
                positions=positions,
                up_to_position=up_to_position,
                filter=filter,
                all=all,
                until=until,
            )
        )

    def mark_read(
        self, *, positions: Sequence[int] | None = None, up_to_position: int | None = None
    ) -> MarkReadResult:
        return self._client.send(op.mark_read(positions=positions, up_to_position=up_to_position))

    def get_digest_rules(self, *, tenant: bool = False) -> DigestRules:
        """Your digest rules (``tenant``: your tenant's defaults)."""
        return self._client.send(op.get_digest_rules(tenant=tenant))

    def update_digest_rules(
        self, rules: Sequence[op.DigestRuleArgs], *, tenant: bool = False
    ) -> DigestRules:
        """Replace your digest rules (``tenant``: the tenant's defaults, administrators only)."""
        return self._client.send(op.update_digest_rules(rules, tenant=tenant))

    def digest_members(self, position: int) -> NotificationList:
        """The notifications the digest at ``position`` collapses, newest first."""
        return self._client.send(op.digest_members(position))


class Tenant(_Namespace):
    """The tenant's defaults and mandatory categories (tenant administrators; else 403)."""

    def get_preferences(self) -> TenantPreferences:
        return self._client.send(op.get_tenant_preferences())

    def update_preferences(
        self,
        *,
        filter_mode: FilterModeName,
        custom_actions: Sequence[str] = (),
        muted_actions: Sequence[str] = (),
        mandatory_categories: Sequence[str] = (),
    ) -> TenantPreferences:
        return self._client.send(
            op.update_tenant_preferences(
                filter_mode, custom_actions, muted_actions, mandatory_categories
            )
        )


class Activities(_Namespace):
    def list(
        self, *, action: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> ActivityPage:
        return self._client.send(op.list_activities(action=action, limit=limit, cursor=cursor))


class Audit(_Namespace):
    def query(
        self, *, limit: int = 100, cursor: str | None = None, **filters: Unpack[op.AuditQueryArgs]
    ) -> AuditPage:
        return self._client.send(op.query_audit(filters, limit=limit, cursor=cursor))

    def iter_all(
        self, *, page_size: int = 500, **filters: Unpack[op.AuditQueryArgs]
    ) -> Iterator[AuditEntry]:
        """Every matching entry, newest first, fetching page after page."""
        cursor: str | None = None
        while True:
            page = self.query(limit=page_size, cursor=cursor, **filters)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


class Principals(_Namespace):
    """The principal directory: display names and avatars in your tenant."""

    def get(self, principal_id: UUID | str) -> PrincipalProfile:
        return self._client.send(op.get_principal(principal_id))

    def me(self) -> PrincipalProfile:
        return self._client.send(op.get_principal("me"))

    def update_me(self, *, display_name: str, avatar_url: str | None = None) -> PrincipalProfile:
        return self._client.send(op.update_profile(display_name, avatar_url))


class Realtime(_Namespace):
    def token(self) -> RealtimeToken:
        return self._client.send(op.realtime_token())
