"""CentrifugoPublisher's reading of replies, against a stub HTTP server on loopback.

The real Centrifugo is in tests/integration/notifier; this covers the answers it should never
give (or gives only when something else is wrong), which decide retry, dead letter or stop.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from optaic_activity.domain.errors import PublisherMisconfiguredError
from optaic_activity.notifier.failures import FailureKind
from optaic_activity.notifier.message import Broadcast
from optaic_activity.notifier.publisher import CentrifugoPublisher

BROADCASTS = [Broadcast(("a:1", "a:2"), {"n": 1}, "k1"), Broadcast(("a:3",), {"n": 2}, "k2")]
OK = {"result": {"offset": 1, "epoch": "e"}}


class Stub:
    """Answers every POST with ``status`` and ``body``; keeps the requests it got."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = b"{}"
        self.delay = 0.0
        self.cut_short = False
        self.requests: list[tuple[str, dict[str, str], Any]] = []


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            state.requests.append((self.path, dict(self.headers), body))
            time.sleep(state.delay)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            promised = len(state.body) + (100 if state.cut_short else 0)
            self.send_header("Content-Length", str(promised))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/api"
    finally:
        server.shutdown()
        server.server_close()


def answer(stub: Stub, body: Any, status: int = 200) -> None:
    stub.status = status
    stub.body = json.dumps(body).encode() if not isinstance(body, bytes) else body


def test_one_batch_request_carries_every_broadcast_with_its_key_in_order(
    stub: tuple[Stub, str],
) -> None:
    state, url = stub
    answer(
        state,
        {"replies": [{"broadcast": {"responses": [OK, OK]}}, {"broadcast": {"responses": [OK]}}]},
    )

    outcomes = CentrifugoPublisher(url, "secret").publish(BROADCASTS)

    assert outcomes == [None, None]
    ((path, headers, body),) = state.requests
    assert path == "/api/batch"
    assert headers["X-API-Key"] == "secret"
    assert body == {
        "commands": [
            {"broadcast": {"channels": ["a:1", "a:2"], "data": {"n": 1}, "idempotency_key": "k1"}},
            {"broadcast": {"channels": ["a:3"], "data": {"n": 2}, "idempotency_key": "k2"}},
        ],
        "parallel": False,
    }


def test_a_channel_error_names_the_failed_channel_and_the_rest_count_as_delivered(
    stub: tuple[Stub, str],
) -> None:
    state, url = stub
    internal = {"error": {"code": 100, "message": "internal server error"}}
    answer(
        state,
        {
            "replies": [
                {"broadcast": {"responses": [OK, internal]}},
                {"broadcast": {"responses": [OK]}},
            ]
        },
    )

    first, second = CentrifugoPublisher(url, "k").publish(BROADCASTS)

    assert first is not None
    assert (first.kind, first.channels) == (FailureKind.TRANSIENT, frozenset({"a:2"}))
    assert first.error == "a:2: centrifugo error 100 (internal server error)"
    assert second is None


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, {"error": {"code": 100, "message": "internal server error"}}, FailureKind.TRANSIENT),
        (200, {"error": {"code": 107, "message": "bad request"}}, FailureKind.PERMANENT),
        (500, b"oops", FailureKind.TRANSIENT),
        (429, b"slow down", FailureKind.TRANSIENT),
        (400, b"bad", FailureKind.PERMANENT),
    ],
)
def test_a_whole_request_failing_fails_every_broadcast_alike(
    stub: tuple[Stub, str], status: int, body: Any, kind: FailureKind
) -> None:
    state, url = stub
    answer(state, body, status)

    outcomes = CentrifugoPublisher(url, "k").publish(BROADCASTS)

    assert [o.kind if o else None for o in outcomes] == [kind, kind]
    assert all(o is not None and o.channels is None for o in outcomes)


@pytest.mark.parametrize(
    ("status", "body", "complaint"),
    [
        (401, b"", "401"),
        (404, b"not found", "404"),
        (200, b"<html>a proxy</html>", "not a Centrifugo API reply"),
        (200, [1, 2], "not a Centrifugo API reply"),
        (200, {"replies": "none"}, "not a Centrifugo API reply"),
        (200, {"replies": [{"broadcast": {"responses": [OK, OK]}}]}, "1 replies to 2 commands"),
        (
            200,
            {"replies": [{"broadcast": {"responses": [OK]}}, {"broadcast": {"responses": [OK]}}]},
            "1 responses for 2 channels",
        ),
        (200, {"replies": [{"broadcast": None}, {"broadcast": {}}]}, "not a Centrifugo API reply"),
    ],
)
def test_answers_no_retry_can_fix_stop_the_worker(
    stub: tuple[Stub, str], status: int, body: Any, complaint: str
) -> None:
    state, url = stub
    answer(state, body, status)

    with pytest.raises(PublisherMisconfiguredError, match=complaint):
        CentrifugoPublisher(url, "k").publish(BROADCASTS)


def test_a_timeout_is_transient(stub: tuple[Stub, str]) -> None:
    state, url = stub
    state.delay = 1.0

    outcomes = CentrifugoPublisher(url, "k", timeout_seconds=0.1).publish(BROADCASTS)

    assert [o.kind if o else None for o in outcomes] == [FailureKind.TRANSIENT] * 2


@pytest.mark.parametrize("url", ["127.0.0.1:8000/api", "ftp://127.0.0.1/api", "http://[::1/api"])
def test_an_api_url_that_is_no_http_url_is_a_misconfiguration(url: str) -> None:
    with pytest.raises(PublisherMisconfiguredError, match="API URL"):
        CentrifugoPublisher(url, "k").publish(BROADCASTS)


def test_a_reply_that_breaks_off_is_transient(stub: tuple[Stub, str]) -> None:
    state, url = stub
    answer(state, {"replies": []})
    state.cut_short = True

    outcomes = CentrifugoPublisher(url, "k").publish(BROADCASTS)

    assert [o.kind if o else None for o in outcomes] == [FailureKind.TRANSIENT] * 2
