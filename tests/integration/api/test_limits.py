"""The per-request limits on both stores: 429 over a caller's concurrency, 503 past the
statement budget or the pool wait, each a problem with Retry-After (never a 500)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from optaic_activity.api.app import create_app
from optaic_activity.api.deps import PrincipalLimiter, guarded_reads
from optaic_activity.api.problems import SERVICE_BUSY, TOO_MANY_REQUESTS, ApiProblem
from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.projections.backends import PostgresBackend, backend_for
from optaic_activity.settings import Settings
from tests.integration.api.conftest import BASE_URL, Caller, ClientFor, World, api_settings

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def limited_runtime(store_settings: Settings, **limits: float) -> Iterator[Runtime]:
    rt = bootstrap(api_settings(store_settings).model_copy(update=limits))
    rt.projections.setup()
    try:
        yield rt
    finally:
        rt.close()


def slow_query(conn: sa.Connection) -> sa.TextClause:
    """A statement that runs for seconds on the connection's database."""
    if isinstance(backend_for(conn), PostgresBackend):
        return sa.text("SELECT pg_sleep(5)")
    return sa.text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000)"
        " SELECT count(*) FROM n"
    )


async def test_a_caller_over_its_concurrency_gets_429_with_retry_after(
    api: FastAPI, world: World, client_for: ClientFor
) -> None:
    limiter: PrincipalLimiter = api.state.limiter
    key = (str(world.vic.tenant_id), str(world.vic.principal_id))
    async with client_for(world.vic) as client:
        with contextlib.ExitStack() as held:
            for _ in range(limiter.limit):
                held.enter_context(limiter.slot(key))
            refused = await client.get("/notifications")
            async with client_for(world.stranger) as other:
                assert (await other.get("/notifications")).status_code == 200
        assert refused.status_code == TOO_MANY_REQUESTS.status, refused.text
        assert refused.json()["type"] == TOO_MANY_REQUESTS.type
        assert refused.headers["Retry-After"] == "1"
        assert (await client.get("/notifications")).status_code == 200
    assert limiter.running(key) == 0


def test_reads_past_the_statement_budget_are_cancelled_as_503(store_settings: Settings) -> None:
    with limited_runtime(store_settings, api_statement_timeout_seconds=0.2) as rt:
        started = time.monotonic()
        with pytest.raises(ApiProblem) as raised, guarded_reads(rt) as conn:
            conn.execute(slow_query(conn)).all()
        assert time.monotonic() - started < 3
        assert raised.value.kind is SERVICE_BUSY
        assert raised.value.headers == {"Retry-After": "1"}
        with guarded_reads(rt) as conn:  # the next reads have their own budget
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1


async def test_no_free_connection_within_the_pool_timeout_is_a_503(
    store_settings: Settings,
) -> None:
    with limited_runtime(store_settings, api_pool_timeout_seconds=0.2) as rt:
        caller = Caller(tenant_id=uuid4())
        held: list[sa.Connection] = []
        try:
            while True:
                try:
                    held.append(rt.engine.connect())
                except sa.exc.TimeoutError:
                    break
            transport = httpx.ASGITransport(create_app(rt), raise_app_exceptions=False)
            headers = {"Authorization": f"Bearer {caller.token}"}
            async with httpx.AsyncClient(
                transport=transport, base_url=BASE_URL, headers=headers
            ) as client:
                started = time.monotonic()
                answer = await client.get("/notifications")
            assert time.monotonic() - started < 3
        finally:
            for conn in held:
                conn.close()
        assert answer.status_code == SERVICE_BUSY.status, answer.text
        assert answer.json()["type"] == SERVICE_BUSY.type
        assert answer.headers["Retry-After"] == "1"
