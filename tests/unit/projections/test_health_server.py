"""The small HTTP server of the worker processes: /metrics, /healthz and /readyz."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from optaic_activity.projections import health
from optaic_activity.projections.health import Readiness


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served() -> Iterator[tuple[str, dict[str, bool]]]:
    up = {"database": True}
    registry = CollectorRegistry()
    Counter("drill_things", "Things", registry=registry).inc()

    def database() -> None:
        if not up["database"]:
            raise RuntimeError("connection refused")

    def hangs() -> None:
        if not up.get("hang", True):
            time.sleep(5)

    port = _free_port()
    server = health.serve(
        port, registry, Readiness({"database": database, "slow": hangs}), addr="127.0.0.1"
    )
    try:
        yield f"http://127.0.0.1:{port}", up
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_liveness_metrics_and_a_green_readiness(served: tuple[str, dict[str, bool]]) -> None:
    url, _ = served
    assert get(f"{url}/healthz")[0] == 200
    assert "drill_things_total 1.0" in get(f"{url}/metrics")[2]
    status, _, body = get(f"{url}/readyz")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_a_failing_or_hanging_check_makes_readiness_a_503_problem(
    served: tuple[str, dict[str, bool]],
) -> None:
    url, up = served
    up["database"] = False
    up["hang"] = False
    started = time.monotonic()
    status, media, body = get(f"{url}/readyz")
    assert time.monotonic() - started < 4, "a hanging check is cut off at its deadline"
    problem = json.loads(body)
    assert (status, media) == (503, "application/problem+json")
    assert problem["type"] == "urn:optaic:activity:problem:not-ready"
    assert problem["detail"] == "failing: database, slow"
    assert problem["checks"] == [
        {"name": "database", "status": "fail", "detail": "RuntimeError: connection refused"},
        {"name": "slow", "status": "fail", "detail": "no answer within 2.0 s"},
    ]
