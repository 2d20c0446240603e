"""``/healthz``, ``/readyz`` and ``/metrics``, and the 503 an unreachable database answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from optaic_activity.api.app import create_app
from optaic_activity.bootstrap import Runtime
from optaic_activity.projections.tracking import tracking
from tests.integration.api.conftest import Caller, ClientFor

pytestmark = pytest.mark.anyio


@dataclass
class FakeWorker:
    name: str
    state: str = "running"
    restarts: int = 0
    last_error: str = ""


class FakeWorkers:
    def __init__(self) -> None:
        self.workers = [FakeWorker("projections"), FakeWorker("notifier")]

    def start(self) -> None:
        """Nothing runs."""

    def stop(self) -> None:
        """Nothing runs."""

    def states(self) -> list[FakeWorker]:
        return self.workers


async def test_liveness_needs_nothing_but_the_process(client_for: ClientFor) -> None:
    async with client_for() as http:
        answer = await http.get("/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


async def test_a_ready_api_lists_its_checks(client_for: ClientFor) -> None:
    async with client_for() as http:
        answer = await http.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "status": "ok",
        "checks": [
            {"name": "database", "status": "ok"},
            {"name": "projections", "status": "ok"},
        ],
    }


async def test_readiness_fails_on_tables_of_another_version(
    runtime: Runtime, client_for: ClientFor
) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(sa.update(tracking).where(tracking.c.name == "audit_log").values(version=0))
    async with client_for() as http:
        answer = await http.get("/readyz")
    body = answer.json()
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert body["type"] == "urn:optaic:activity:problem:not-ready"
    assert body["detail"] == "failing: projections"
    assert "audit_log: tables at version 0" in body["checks"][1]["detail"]


async def test_readiness_fails_while_an_embedded_worker_is_down(runtime: Runtime) -> None:
    workers = FakeWorkers()
    app = create_app(runtime, workers=workers)
    workers.workers[1] = FakeWorker("notifier", "restarting", 2, "OperationalError: gone")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as http:
        ready = await http.get("/readyz")
        metrics = (await http.get("/metrics")).text
    assert ready.status_code == 503
    assert {c["name"]: c["status"] for c in ready.json()["checks"]}["workers"] == "fail"
    assert 'activity_background_worker_up{state="restarting",worker="notifier"} 0.0' in metrics
    assert 'activity_background_worker_restarts_total{worker="notifier"} 2.0' in metrics


async def test_requests_are_counted_by_route_template(
    client_for: ClientFor,
) -> None:
    caller = Caller(uuid4())
    async with client_for(caller) as http:
        await http.delete(f"/subscriptions/{uuid4()}")
        await http.get("/no/such/route")
        metrics = (await http.get("/metrics")).text
    lines = [line for line in metrics.splitlines() if line.startswith("activity_api_requests_")]
    assert any(
        'method="DELETE",route="/subscriptions/{subscription_id}",status="404"' in line
        for line in lines
    ), lines
    assert any('route="<unmatched>"' in line and 'status="404"' in line for line in lines)
    assert "activity_api_request_seconds_bucket" in metrics


async def test_an_unreachable_database_answers_503_with_retry_after(
    api: FastAPI, client_for: ClientFor, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(runtime.engine, "connect", refuse)
    caller = Caller(uuid4(), roles=("auditor",))
    async with client_for(caller, raise_app_exceptions=False) as http:
        answer = await http.get("/audit")
        ready = await http.get("/readyz")
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["type"] == "urn:optaic:activity:problem:database-unavailable"
    assert ready.status_code == 503
    assert {c["name"]: c["status"] for c in ready.json()["checks"]}["database"] == "fail"
