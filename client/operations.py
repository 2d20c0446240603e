"""Each API operation once: how to build its request, and how to read its answer.

Both clients (async and sync) send these ``Call`` objects over their own httpx client,
so request building, error mapping and parsing exist in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypedDict, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from optaic_activity.api.schemas import (
    ActivityPage,
    AuditFilters,
    AuditPage,
    DigestRules,
    FilterModeName,
    InboxCounts,
    InboxPage,
    InboxStateName,
    InboxVerb,
    MarkReadResult,
    NotificationList,
    Preferences,
    PrincipalProfile,
    RealtimeToken,
    ScopeName,
    Subscription,
    SubscriptionList,
    TenantPreferences,
)
from optaic_activity.client.errors import UnexpectedResponse, error_for

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

USER_AGENT = "optaic-activity-client"


class AuditQueryArgs(TypedDict, total=False):
    """The audit filters, as keyword arguments of ``audit.query`` and ``audit.iter_all``."""

    actor: UUID | str
    resource_id: UUID | str
    include_descendants: bool
    action: str
    since: datetime
    until: datetime
    correlation_id: UUID | str


class InboxFilterArgs(TypedDict, total=False):
    """Which notifications (``GET /notifications``'s filters, a state change's ``filter``)."""

    state: InboxStateName
    reason: str
    action: str
    resource_id: UUID | str


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        return http.build_request(self.method, self.path, params=self.params, json=self.body)

    def result(self, response: httpx.Response) -> T:
        """The parsed answer, or the typed error of a problem answer."""
        if response.is_error:
            raise error_for(response)
        try:
            return self.parse(response)
        except (ValidationError, ValueError) as error:
            msg = f"{self.method} {self.path}: {response.status_code} answer does not parse"
            raise UnexpectedResponse(msg) from error


def headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def _model(model: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: model.model_validate_json(response.content)


def _nothing(_: httpx.Response) -> None:
    return None


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if isinstance(value, UUID) else value


def _query(**params: Any) -> dict[str, Any]:
    """Query parameters as the API reads them (None left out, UUIDs and times as text)."""
    return {name: _text(value) for name, value in params.items() if value is not None}


# -- subscriptions -----------------------------------------------------------------------------


def create_subscription(resource_id: UUID | str, scope: ScopeName) -> Call[Subscription]:
    body = {"resource_id": str(resource_id), "scope": scope}
    return Call("POST", "/subscriptions", _model(Subscription), body=body)


def list_subscriptions() -> Call[list[Subscription]]:
    return Call(
        "GET",
        "/subscriptions",
        lambda response: SubscriptionList.model_validate_json(response.content).items,
    )


def revoke_subscription(subscription_id: UUID | str) -> Call[None]:
    return Call("DELETE", f"/subscriptions/{subscription_id}", _nothing)


# -- notifications -----------------------------------------------------------------------------


def get_preferences() -> Call[Preferences]:
    return Call("GET", "/notifications/preferences", _model(Preferences))


def update_preferences(
    filter_mode: FilterModeName, custom_actions: Sequence[str], muted_actions: Sequence[str] = ()
) -> Call[Preferences]:
    body = {
        "filter_mode": filter_mode,
        "custom_actions": list(custom_actions),
        "muted_actions": list(muted_actions),
    }
    return Call("PUT", "/notifications/preferences", _model(Preferences), body=body)


def get_tenant_preferences() -> Call[TenantPreferences]:
    return Call("GET", "/tenant/preferences", _model(TenantPreferences))


def update_tenant_preferences(
    filter_mode: FilterModeName,
    custom_actions: Sequence[str] = (),
    muted_actions: Sequence[str] = (),
    mandatory_categories: Sequence[str] = (),
) -> Call[TenantPreferences]:
    body = {
        "filter_mode": filter_mode,
        "custom_actions": list(custom_actions),
        "muted_actions": list(muted_actions),
        "mandatory_categories": list(mandatory_categories),
    }
    return Call("PUT", "/tenant/preferences", _model(TenantPreferences), body=body)


def list_notifications(
    *,
    unread_only: bool = False,
    limit: int = 50,
    cursor: str | None = None,
    **filters: Any,
) -> Call[InboxPage]:
    """``filters``: `InboxFilterArgs` (state, reason, action, resource_id)."""
    unknown = sorted(set(filters) - set(InboxFilterArgs.__annotations__))
    if unknown:
        raise TypeError(f"unknown inbox filters {unknown}")
    params = _query(**filters, limit=limit, cursor=cursor)
    if unread_only:
        params["unread_only"] = True
    return Call("GET", "/notifications", _model(InboxPage), params=params)


def notification_counts() -> Call[InboxCounts]:
    return Call("GET", "/notifications/counts", _model(InboxCounts))


def mark(
    verb: InboxVerb,
    *,
    positions: Sequence[int] | None = None,
    up_to_position: int | None = None,
    filter: InboxFilterArgs | None = None,
    all: bool = False,
    until: datetime | None = None,
) -> Call[InboxCounts]:
    """One selector of ``positions``, ``up_to_position``, ``filter`` or ``all`` (the API
    refuses none or several: 422); ``until`` for ``snooze`` only."""
    body: dict[str, Any] = {}
    if positions is not None:
        body["positions"] = list(positions)
    if up_to_position is not None:
        body["up_to_position"] = up_to_position
    if filter is not None:
        body["filter"] = {name: _text(value) for name, value in filter.items()}
    if all:
        body["all"] = True
    if until is not None:
        body["until"] = until.isoformat()
    return Call("POST", f"/notifications/{verb}", _model(InboxCounts), body=body)


def mark_read(
    *, positions: Sequence[int] | None = None, up_to_position: int | None = None
) -> Call[MarkReadResult]:
    """One of ``positions`` or ``up_to_position`` (the API refuses both or neither: 422)."""
    return mark("read", positions=positions, up_to_position=up_to_position)


class DigestRuleArgs(TypedDict):
    """A digest rule: an action pattern and a window of 60 to 86400 seconds."""

    pattern: str
    window_seconds: int


def get_digest_rules(*, tenant: bool = False) -> Call[DigestRules]:
    """Yours (or, ``tenant``, your tenant's defaults)."""
    path = "/tenant/preferences/digests" if tenant else "/preferences/digests"
    return Call("GET", path, _model(DigestRules))


def update_digest_rules(
    rules: Sequence[DigestRuleArgs], *, tenant: bool = False
) -> Call[DigestRules]:
    """Replace yours (or, ``tenant``, as a tenant administrator, the tenant's defaults)."""
    path = "/tenant/preferences/digests" if tenant else "/preferences/digests"
    body = {"rules": [dict(rule) for rule in rules]}
    return Call("PUT", path, _model(DigestRules), body=body)


def digest_members(position: int) -> Call[NotificationList]:
    return Call("GET", f"/notifications/{position}/members", _model(NotificationList))


# -- the principal directory -------------------------------------------------------------------


def get_principal(principal_id: UUID | str) -> Call[PrincipalProfile]:
    """A principal of your tenant (``"me"``: yourself); NotFound when it has no profile."""
    return Call("GET", f"/principals/{principal_id}", _model(PrincipalProfile))


def update_profile(display_name: str, avatar_url: str | None = None) -> Call[PrincipalProfile]:
    body: dict[str, Any] = {"display_name": display_name, "avatar_url": avatar_url}
    return Call("PUT", "/principals/me", _model(PrincipalProfile), body=body)


# -- activities, audit, realtime ---------------------------------------------------------------


def list_activities(
    *, action: str | None = None, limit: int = 50, cursor: str | None = None
) -> Call[ActivityPage]:
    params = _query(action=action, limit=limit, cursor=cursor)
    return Call("GET", "/activities", _model(ActivityPage), params=params)


def query_audit(
    filters: AuditQueryArgs, *, limit: int = 100, cursor: str | None = None
) -> Call[AuditPage]:
    known = AuditFilters.model_fields
    unknown = sorted(set(filters) - set(known))
    if unknown:
        raise TypeError(f"unknown audit filters {unknown}; known: {sorted(known)}")
    params = _query(**filters, limit=limit, cursor=cursor)
    return Call("GET", "/audit", _model(AuditPage), params=params)


def realtime_token() -> Call[RealtimeToken]:
    return Call("GET", "/realtime/token", _model(RealtimeToken))
