"""What both clients send, and how they read answers and problems (a fake transport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from optaic_activity import client
from optaic_activity.client import ActivityClient, SyncActivityClient

Handler = Callable[[httpx.Request], httpx.Response]
SUBSCRIPTION = {
    "id": str(uuid4()),
    "resource_id": str(uuid4()),
    "resource_type": "folder",
    "scope": "descendants",
}


class Recorded:
    """A fake API: answers with ``response`` and keeps the requests it was sent."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def _sync(handler: Handler) -> SyncActivityClient:
    return SyncActivityClient("http://api.test", "tok", transport=httpx.MockTransport(handler))


def _async(handler: Handler) -> ActivityClient:
    return ActivityClient("http://api.test", "tok", transport=httpx.MockTransport(handler))


def test_create_sends_the_guides_body_with_the_token_and_returns_a_typed_subscription() -> None:
    api = Recorded(httpx.Response(201, json=SUBSCRIPTION))
    folder = uuid4()
    with _sync(api) as sync:
        created = sync.subscriptions.create(resource_id=folder, scope="descendants")
    assert isinstance(created, client.Subscription)
    assert created.id == UUID(SUBSCRIPTION["id"])
    assert (api.last.method, api.last.url.path) == ("POST", "/subscriptions")
    assert json.loads(api.last.content) == {"resource_id": str(folder), "scope": "descendants"}
    assert api.last.headers["authorization"] == "Bearer tok"


def test_audit_filters_become_query_parameters_and_unknown_ones_are_refused() -> None:
    api = Recorded(httpx.Response(200, json={"items": [], "next_cursor": None}))
    actor = uuid4()
    since = datetime(2026, 1, 31, 9, tzinfo=UTC)
    with _sync(api) as sync:
        sync.audit.query(actor=actor, since=since, include_descendants=True, limit=10)
        assert dict(api.last.url.params) == {
            "actor": str(actor),
            "since": "2026-01-31T09:00:00+00:00",
            "include_descendants": "true",
            "limit": "10",
        }
        with pytest.raises(TypeError, match="actr"):
            sync.audit.query(actr=actor)  # type: ignore[call-arg]


def test_iter_all_follows_next_cursor_until_the_last_page() -> None:
    def entry(position: int) -> dict[str, Any]:
        return {
            "position": position,
            "activity_id": str(uuid4()),
            "tenant_id": str(uuid4()),
            "actor_principal_id": str(uuid4()),
            "resource_id": str(uuid4()),
            "resource_type": "folder",
            "action": "resource.created",
            "visibility": "resource",
            "payload": {},
            "delivery_channels": [],
            "correlation_id": str(uuid4()),
            "aggregate_id": str(uuid4()),
            "aggregate_version": 1,
            "occurred_at": "2026-01-31T09:00:00Z",
            "prev_hash": "0" * 64,
            "hash": "1" * 64,
        }

    pages = iter(
        [
            {"items": [entry(3), entry(2)], "next_cursor": "c1"},
            {"items": [entry(1)], "next_cursor": None},
        ]
    )
    seen: list[str | None] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params.get("cursor"))
        return httpx.Response(200, json=next(pages))

    with _sync(api) as sync:
        assert [e.position for e in sync.audit.iter_all(action="resource.*")] == [3, 2, 1]
    assert seen == [None, "c1"]


def _problem(status: int) -> httpx.Response:
    body = {"type": "urn:x", "title": "t", "status": status, "detail": f"status {status}"}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


ERRORS = {
    400: client.BadRequest,
    401: client.Unauthorized,
    403: client.Forbidden,
    404: client.NotFound,
    409: client.Conflict,
    413: client.PayloadTooLarge,
    422: client.ValidationFailed,
    500: client.ServerError,
    503: client.ServerError,
    418: client.ApiError,
}


@pytest.mark.parametrize(("status", "error"), ERRORS.items())
def test_each_problem_status_raises_its_typed_error_carrying_the_problem(
    status: int, error: type[client.ApiError]
) -> None:
    with _sync(Recorded(_problem(status))) as sync, pytest.raises(error) as raised:
        sync.subscriptions.list()
    assert type(raised.value) is error
    assert isinstance(raised.value, client.ActivityClientError)
    assert (raised.value.status, raised.value.problem.detail) == (status, f"status {status}")


def test_an_error_without_a_problem_body_still_gets_a_problem() -> None:
    bad_gateway = Recorded(httpx.Response(502, text="<html>bad gateway</html>"))
    with _sync(bad_gateway) as sync, pytest.raises(client.ServerError) as raised:
        sync.realtime.token()
    assert raised.value.problem.status == 502
    assert raised.value.problem.detail == "<html>bad gateway</html>"


def test_a_success_that_does_not_parse_and_an_unreachable_api_are_typed_errors() -> None:
    odd = Recorded(httpx.Response(200, json={"unexpected": True}))
    with _sync(odd) as sync, pytest.raises(client.UnexpectedResponse):
        sync.notifications.get_preferences()

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with _sync(unreachable) as sync, pytest.raises(client.TransportError):
        sync.subscriptions.list()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_async_client_sends_the_same_requests_and_raises_the_same_errors() -> None:
    counts = {"unread_count": 0, "unseen_count": 0}
    sync_api = Recorded(httpx.Response(200, json=counts))
    async_api = Recorded(httpx.Response(200, json=counts))
    with _sync(sync_api) as sync:
        sync.notifications.mark_read(positions=[3, 1])
        sync.notifications.mark_read(up_to_position=9)
    async with _async(async_api) as asynchronous:
        await asynchronous.notifications.mark_read(positions=[3, 1])
        assert await asynchronous.notifications.mark_read(up_to_position=9) == (
            client.MarkReadResult(unread_count=0, unseen_count=0)
        )

    def as_sent(api: Recorded) -> list[tuple[str, str, Any]]:
        return [(r.method, str(r.url), json.loads(r.content)) for r in api.requests]

    assert as_sent(async_api) == as_sent(sync_api)
    assert [body for *_, body in as_sent(async_api)] == [
        {"positions": [3, 1]},
        {"up_to_position": 9},
    ]
    async with _async(Recorded(_problem(404))) as asynchronous:
        with pytest.raises(client.NotFound):
            await asynchronous.subscriptions.revoke(uuid4())
