"""The body limit: refused before the app sees a byte when declared or sent too large."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from optaic_activity.api.body_limit import BodyLimitMiddleware

pytestmark = pytest.mark.anyio
LIMIT = 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class EchoApp:
    """Answers with the body it received, and remembers that it was called."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


async def _post(app: EchoApp, content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    transport = httpx.ASGITransport(BodyLimitMiddleware(app, max_bytes=LIMIT))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.post("/anything", content=content)


async def _chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield b"x" * size


async def test_a_body_up_to_the_limit_reaches_the_app_unchanged_even_in_chunks() -> None:
    app = EchoApp()
    assert (await _post(app, b"a" * LIMIT)).content == b"a" * LIMIT
    assert (await _post(app, _chunks(4, LIMIT // 4))).content == b"x" * LIMIT
    assert app.calls == 2


async def test_a_declared_or_streamed_body_over_the_limit_never_reaches_the_app() -> None:
    app = EchoApp()
    declared = await _post(app, b"a" * (LIMIT + 1))
    streamed = await _post(app, _chunks(3, LIMIT // 2))
    for refused in (declared, streamed):
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 413
    assert "declared" in declared.json()["detail"]
    assert app.calls == 0
