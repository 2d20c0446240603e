"""``ActivityClient``: the async Python client, in the shape the OptAIC guide uses.

async with ActivityClient("https://activity.example", token) as client:
    sub = await client.subscriptions.create(resource_id=folder_id, scope="descendants")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
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


class ActivityClient:
    """Async client of the activity API. ``transport``: e.g. ``httpx.ASGITransport(app)``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=op.headers(token), transport=transport, timeout=timeout
        )
        self.subscriptions = Subscriptions(self)
        self.notifications = Notifications(self)
        self.tenant = Tenant(self)
        self.activities = Activities(self)
        self.audit = Audit(self)
        self.realtime = Realtime(self)
        self.principals = Principals(self)

    async def send(self, call: op.Call[T]) -> T:
        try:
            response = await self._http.send(call.request(self._http))
        except httpx.TransportError as error:
            raise TransportError(f"{call.method} {call.path}: {error!r}") from error
        return call.result(response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ActivityClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Namespace:
    def __init__(self, client: ActivityClient) -> None:
        self._client = client


class Subscriptions(_Namespace):
    async def create(self, *, resource_id: UUID | str, scope: ScopeName) -> Subscription:
        return await self._client.send(op.create_subscription(resource_id, scope))

    async def list(self) -> list[Subscription]:
        return await self._client.send(op.list_subscriptions())

    async def revoke(self, subscription_id: UUID | str) -> None:
        await self._client.send(op.revoke_subscription(subscription_id))


class Notifications(_Namespace):
    async def get_preferences(self) -> Preferences:
        return await self._client.send(op.get_preferences())

    async def update_preferences(
        self,
        *,
        filter_mode: FilterModeName,
        custom_actions: Sequence[str] = (),
        muted_actions: Sequence[str] = (),
    ) -> Preferences:
        return await self._client.send(
            op.update_preferences(filter_mode, custom_actions, muted_actions)
        )

    async def list(
        self,
        *,
        unread_only: bool = False,
        limit: int = 50,
        cursor: str | None = None,
        **filters: Unpack[op.InboxFilterArgs],
    ) -> InboxPage:
        """Your inbox; ``filters``: state, reason, action (a glob), resource_id."""
        return await self._client.send(
            op.list_notifications(unread_only=unread_only, limit=limit, cursor=cursor, **filters)
        )

    async def counts(self) -> InboxCounts:
        return await self._client.send(op.notification_counts())

    async def mark(
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
        return await self._client.send(
            op.mark(
                verb,
                positions=positions,
                up_to_position=up_to_position,
                filter=filter,
                all=all,
                until=until,
            )
        )

    async def mark_read(
        self, *, positions: Sequence[int] | None = None, up_to_position: int | None = None
    ) -> MarkReadResult:
        return await self._client.send(
            op.mark_read(positions=positions, up_to_position=up_to_position)
        )

    async def get_digest_rules(self, *, tenant: bool = False) -> DigestRules:
        """Your digest rules (``tenant``: your tenant's defaults)."""
        return await self._client.send(op.get_digest_rules(tenant=tenant))

    async def update_digest_rules(
        self, rules: Sequence[op.DigestRuleArgs], *, tenant: bool = False
    ) -> DigestRules:
        """Replace your digest rules (``tenant``: the tenant's defaults, administrators only)."""
        return await self._client.send(op.update_digest_rules(rules, tenant=tenant))

    async def digest_members(self, position: int) -> NotificationList:
        """The notifications the digest at ``position`` collapses, newest first."""
        return await self._client.send(op.digest_members(position))


class Tenant(_Namespace):
    """The tenant's defaults and mandatory categories (tenant administrators; else 403)."""

    async def get_preferences(self) -> TenantPreferences:
        return await self._client.send(op.get_tenant_preferences())

    async def update_preferences(
        self,
        *,
        filter_mode: FilterModeName,
        custom_actions: Sequence[str] = (),
        muted_actions: Sequence[str] = (),
        mandatory_categories: Sequence[str] = (),
    ) -> TenantPreferences:
        return await self._client.send(
            op.update_tenant_preferences(
                filter_mode, custom_actions, muted_actions, mandatory_categories
            )
        )


class Activities(_Namespace):
    async def list(
        self, *, action: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> ActivityPage:
        return await self._client.send(
            op.list_activities(action=action, limit=limit, cursor=cursor)
        )


class Audit(_Namespace):
    async def query(
        self, *, limit: int = 100, cursor: str | None = None, **filters: Unpack[op.AuditQueryArgs]
    ) -> AuditPage:
        return await self._client.send(op.query_audit(filters, limit=limit, cursor=cursor))

    async def iter_all(
        self, *, page_size: int = 500, **filters: Unpack[op.AuditQueryArgs]
    ) -> AsyncIterator[AuditEntry]:
        """Every matching entry, newest first, fetching page after page."""
        cursor: str | None = None
        while True:
            page = await self.query(limit=page_size, cursor=cursor, **filters)
            for entry in page.items:
                yield entry
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


class Principals(_Namespace):
    """The principal directory: display names and avatars in your tenant."""

    async def get(self, principal_id: UUID | str) -> PrincipalProfile:
        return await self._client.send(op.get_principal(principal_id))

    async def me(self) -> PrincipalProfile:
        return await self._client.send(op.get_principal("me"))

    async def update_me(
        self, *, display_name: str, avatar_url: str | None = None
    ) -> PrincipalProfile:
        return await self._client.send(op.update_profile(display_name, avatar_url))


class Realtime(_Namespace):
    async def token(self) -> RealtimeToken:
        return await self._client.send(op.realtime_token())
