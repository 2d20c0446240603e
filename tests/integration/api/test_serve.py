"""The API's process: background runner and worker in the lifespan, and ``activity serve``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import uuid4

import anyio
import httpx
import pytest

from optaic_activity.api.app import create_app
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import Resource, activity_context
from optaic_activity.entrypoints.background import BackgroundWorkers
from optaic_activity.settings import Settings
from tests.integration.api.conftest import API_SECRET, BASE_URL, Caller

ACTIVITY = Path(sys.executable).with_name("activity")


def _background_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("activity-")}


@pytest.mark.anyio
async def test_the_apps_lifespan_runs_the_projection_runner_and_the_notifier_then_stops_them(
    runtime: Runtime,
) -> None:
    app = create_app(runtime, workers=BackgroundWorkers(runtime))
    auditor = Caller(uuid4(), roles=("auditor",))
    headers = {"Authorization": f"Bearer {auditor.token}"}
    transport = httpx.ASGITransport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as http,
    ):
        assert _background_threads() == {"activity-projections", "activity-notifier"}
        with activity_context(tenant_id=auditor.tenant_id, actor_principal_id=uuid4()):
            runtime.app.save(Resource.create(resource_type="folder", name="Saved elsewhere"))
        # Saved straight into the store: only the background runner can project it.
        for _ in range(100):
            if (await http.get("/audit")).json()["items"]:
                break
            await anyio.sleep(0.1)
        else:
            pytest.fail("the background runner never projected the activity")
    assert _background_threads() == set()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_activity_serve_serves_the_api_and_stops_cleanly_on_sigterm(
    store_settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "ACTIVITY_DATABASE_URL": store_settings.database_url,
        "ACTIVITY_API_TOKEN_SECRET": API_SECRET,
        "ACTIVITY_API_PORT": str(port),
    }
    log = (tmp_path / "serve.log").open("w+")
    server = subprocess.Popen(
        [str(ACTIVITY), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    caller = Caller(uuid4())
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/subscriptions",
                    headers={"Authorization": f"Bearer {caller.token}"},
                )
                break
            except httpx.TransportError:
                assert server.poll() is None, Path(log.name).read_text()
                assert time.monotonic() < deadline, "activity serve did not come up"
                time.sleep(0.1)
        assert (answer.status_code, answer.json()) == (200, {"items": []})
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal to exit as it was asked.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()
    output = Path(log.name).read_text()
    assert "Application shutdown complete" in output
    assert "Traceback" not in output
