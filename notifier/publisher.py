"""The network boundary: publishers take broadcasts and say, per broadcast, how it went.

`Publisher` is what the worker talks to (tests swap in their own implementation).
`CentrifugoPublisher` sends a claimed batch to Centrifugo in one HTTP request (the
``batch`` API, one ``broadcast`` command per broadcast); `ConsolePublisher` prints.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from cent import (
    BatchRequest,
    BatchResult,
    BroadcastRequest,
    BroadcastResult,
    CentApiResponseError,
    CentDecodeError,
    CentError,
    CentResult,
    Response,
)
from cent import Client as CentClient
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape

from notifier.failures import (
    Failure,
    PublisherMisconfigured,
    api_failure,
    combine,
    exception_failure,
)
from notifier.message import Broadcast

Outcome = Failure | None
"""None: delivered to every channel of the broadcast."""


class Publisher(Protocol):
    def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
        """One outcome per broadcast, in order.

        Raises PublisherMisconfigured when nothing can be delivered as configured.
        """
        ...

    def close(self) -> None: ...


class CentrifugoPublisher:
    """Publishes through Centrifugo's HTTP API with the ``cent`` client.

    cent quirks handled here: a broadcast reports errors per channel inside its result
    (nothing is raised); and cent 5's batch reply parsing fails on a reply that holds an
    error for a whole command (a missing result key) and rebuilds a pydantic schema per
    reply (most of the CPU of a large batch), so batches are sent as `BroadcastBatch`,
    which parses its own replies.
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        client: CentClient | None = None,
    ) -> None:
        if not api_url:
            raise PublisherMisconfigured("no Centrifugo API URL configured")
        self._timeout = timeout_seconds
        self._client = client or CentClient(api_url, api_key, timeout=timeout_seconds)

    def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
        if not broadcasts:
            return []
        if len(broadcasts) == 1:
            return [self._broadcast_one(broadcasts[0])]
        # Sequential (parallel=False): a principal's notifications keep the outbox order.
        batch = BroadcastBatch(requests=[_request(b) for b in broadcasts], parallel=False)
        try:
            result = self._client.batch(batch, timeout=self._timeout)
        except CentError as exc:
            failure = exception_failure(exc)
            return [failure] * len(broadcasts)
        replies = list(result.replies)
        if len(replies) != len(broadcasts):
            raise PublisherMisconfigured(
                f"Centrifugo answered {len(replies)} replies to {len(broadcasts)} commands"
            )
        return [
            _outcome(broadcast, reply) for broadcast, reply in zip(broadcasts, replies, strict=True)
        ]

    def _broadcast_one(self, broadcast: Broadcast) -> Outcome:
        try:
            result = self._client.broadcast(_request(broadcast), timeout=self._timeout)
        except CentError as exc:
            return exception_failure(exc)
        return _outcome(broadcast, result)

    def close(self) -> None:
        self._client.close()


def _request(broadcast: Broadcast) -> BroadcastRequest:
    return BroadcastRequest(
        channels=list(broadcast.channels),
        data=dict(broadcast.data),
        idempotency_key=broadcast.idempotency_key,
    )


class CommandError(CentResult):
    """A batch reply that refused its whole command (e.g. 107 bad request)."""

    code: int
    message: str


_REPLY = TypeAdapter(BroadcastResult)
_ERROR = TypeAdapter(CommandError)


class BroadcastBatch(BatchRequest):
    """A ``batch`` of ``broadcast`` commands whose replies are parsed here (see above)."""

    def parse_response(self, content: str) -> Response[CentResult]:
        try:
            body = json.loads(content)
            error = body.get("error")
        except (ValueError, AttributeError) as err:
            raise CentDecodeError from err
        if error:
            # The whole batch was refused: classified like any command error (100: retry).
            raise CentApiResponseError(code=int(error["code"]), message=str(error["message"]))
        try:
            replies = body["replies"]
            parsed: list[CentResult] = [
                _ERROR.validate_python(reply["error"])
                if "error" in reply
                else _REPLY.validate_python(reply["broadcast"])
                for reply in replies
            ]
        except (ValueError, KeyError, TypeError, ValidationError) as err:
            raise CentDecodeError from err
        return Response[CentResult](result=BatchResult(replies=parsed))


def _outcome(broadcast: Broadcast, result: Any) -> Outcome:
    if isinstance(result, CommandError):
        return api_failure(result.code, result.message)
    if not isinstance(result, BroadcastResult):
        raise PublisherMisconfigured(f"unexpected reply to broadcast: {result!r}")
    failures: list[Failure | None] = [None]
    if len(result.responses) != len(broadcast.channels):
        raise PublisherMisconfigured(
            f"Centrifugo answered {len(result.responses)} responses"
            f" for {len(broadcast.channels)} channels"
        )
    for channel, response in zip(broadcast.channels, result.responses, strict=False):
        if response.error is not None:
            failures.append(api_failure(response.error.code, response.error.message, channel))
    return combine(failures)


class ConsolePublisher:
    """Prints one line per notification (per channel); the embedded default, never fails."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console()

    def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
        for broadcast in broadcasts:
            data = broadcast.data
            reasons = ",".join(data.get("reasons", [])) or "channel"
            for channel in broadcast.channels:
                self._console.print(
                    f"[bold cyan]notify[/] {escape(channel)} [bold]{escape(str(data['action']))}[/]"
                    f" {escape(str(data['resource_type']))}/{escape(str(data['resource_id']))}"
                    f" by {escape(str(data['actor_principal_id']))} ({escape(reasons)}):"
                    f" {escape(str(data['summary']))}",
                    soft_wrap=True,
                    highlight=False,
                )
        return [None] * len(broadcasts)

    def close(self) -> None:
        """Nothing to close."""
