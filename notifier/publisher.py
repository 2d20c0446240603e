"""The network boundary: publishers take broadcasts and say, per broadcast, how it went.

`Publisher` is what the worker talks to (tests swap in their own implementation).
`CentrifugoPublisher` sends a claimed batch to Centrifugo in one HTTP request (the
``batch`` API, one ``broadcast`` command per broadcast); `ConsolePublisher` prints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import requests
from cent import CentApiResponseError, CentDecodeError, CentError, Client
from cent.dto import CentRequest
from cent.exceptions import CentNetworkError
from rich.console import Console
from rich.markup import escape

from optaic_activity.domain.errors import PublisherMisconfiguredError
from optaic_activity.notifier.failures import (
    Failure,
    api_failure,
    combine,
    exception_failure,
    not_a_centrifugo_reply,
)
from optaic_activity.notifier.message import Broadcast

Outcome = Failure | None
"""None: delivered to every channel of the broadcast."""


class Publisher(Protocol):
    def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
        """One outcome per broadcast, in order.

        A failure that names its ``channels`` says the broadcast's other channels were
        delivered (the worker then never publishes the row to them again).
        Raises PublisherMisconfiguredError when nothing can be delivered as configured.
        """
        ...

    def close(self) -> None: ...


_NOT_A_URL = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
)
_UNREACHABLE = (
    requests.exceptions.ConnectionError,
    # A reply that broke off: as transient as a refused connection.
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class _RawCommand(CentRequest[Any]):
    """A ``cent`` request whose payload is plain JSON data and whose reply stays plain JSON.

    ``cent``'s own request models validate every request and every batch reply with
    pydantic, which was about half of the worker's CPU per notification; this sends the
    same JSON through the same ``cent`` client and session, and hands the reply back as is.
    """

    method: str
    payload: dict[str, Any]

    if TYPE_CHECKING:
        __returning__: ClassVar[type]
        __api_method__: ClassVar[str]
    else:
        __returning__ = dict

        @property
        def __api_method__(self) -> str:
            return self.method

    @property
    def api_payload(self) -> Any:
        return self.payload

    def parse_response(self, content: str) -> Any:
        try:
            reply = json.loads(content)
            if not isinstance(reply, dict):
                raise TypeError(f"the reply is a {type(reply).__name__}")
            error = reply.get("error")
            if error:
                # The whole command was refused: classified like any API error (100: retry).
                raise CentApiResponseError(code=int(error["code"]), message=str(error["message"]))
        except (ValueError, KeyError, TypeError) as err:
            raise CentDecodeError from err
        return _Reply(reply)


class _Reply:
    """What ``cent.Client`` reads the result from (``.result``)."""

    __slots__ = ("result",)

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result


class CentrifugoApi:
    """Centrifugo's HTTP server API through the ``cent`` client: JSON data in, JSON data out.

    Failures raise ``cent``'s exceptions, so `notifier.failures.exception_failure`
    classifies them; a URL that is no HTTP URL raises PublisherMisconfiguredError, and a reply
    that broke off counts as a network error (``cent`` itself lets those escape raw).
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self._client = Client(api_url, api_key, timeout=timeout_seconds, session=session)

    def call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send ``payload`` as the ``method`` command; the decoded reply, errors raised."""
        request = _RawCommand.model_construct(method=method, payload=payload)
        try:
            reply: dict[str, Any] = self._client._send(request)
        except _NOT_A_URL as wrong:
            raise PublisherMisconfiguredError(f"check the Centrifugo API URL: {wrong}") from wrong
        except _UNREACHABLE as failed:
            message = f"{type(failed).__name__}: {failed}"
            raise CentNetworkError(message=message) from failed
        return reply

    def close(self) -> None:
        self._client.close()


def broadcast_command(broadcast: Broadcast) -> dict[str, Any]:
    """The ``broadcast`` command's JSON request for ``broadcast``."""
    data = broadcast.data
    return {
        "channels": broadcast.channels,
        "data": data if isinstance(data, dict) else dict(data),
        "idempotency_key": broadcast.idempotency_key,
    }


class CentrifugoPublisher:
    """Publishes through Centrifugo's HTTP API: a batch of broadcasts is one ``batch`` request.

    The batch is sequential (``parallel: false``), so a principal's notifications keep the
    outbox order. A broadcast reports errors per channel inside its reply (nothing is
    raised): its outcome then names the failed channels. A command refused as a whole (107
    bad request) fails its own broadcast only.
    """

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        if not api_url:
            raise PublisherMisconfiguredError("no Centrifugo API URL configured")
        self._api = CentrifugoApi(
            api_url, api_key, timeout_seconds=timeout_seconds, session=session
        )

    def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
        if not broadcasts:
            return []
        payload = {
            "commands": [{"broadcast": broadcast_command(b)} for b in broadcasts],
            "parallel": False,
        }
        try:
            reply = self._api.call("batch", payload)
        except CentError as exc:
            failure = exception_failure(exc)
            return [failure] * len(broadcasts)
        try:
            replies = reply["replies"]
            if not isinstance(replies, list):
                raise TypeError("replies is not a list")
        except (KeyError, TypeError) as err:
            raise not_a_centrifugo_reply() from err
        if len(replies) != len(broadcasts):
            raise PublisherMisconfiguredError(
                f"Centrifugo answered {len(replies)} replies to {len(broadcasts)} commands"
            )
        try:
            return [
                _outcome(broadcast, answer)
                for broadcast, answer in zip(broadcasts, replies, strict=True)
            ]
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise not_a_centrifugo_reply() from err

    def disconnect(self, user: str, code: int, reason: str) -> Outcome:
        """End every live connection of ``user`` (Centrifugo's ``disconnect`` API)."""
        try:
            self._api.call(
                "disconnect", {"user": user, "disconnect": {"code": code, "reason": reason}}
            )
        except CentError as exc:
            return exception_failure(exc)
        return None

    def close(self) -> None:
        self._api.close()


def _outcome(broadcast: Broadcast, answer: Mapping[str, Any]) -> Outcome:
    """The outcome of one ``broadcast`` command from its reply in the batch."""
    error = answer.get("error")
    if error is not None:
        return api_failure(int(error["code"]), str(error["message"]))
    responses = answer["broadcast"].get("responses", ())
    channels = broadcast.channels
    if len(responses) != len(channels):
        raise PublisherMisconfiguredError(
            f"Centrifugo answered {len(responses)} responses for {len(channels)} channels"
        )
    failures: list[Failure | None] = []
    failed: list[str] = []
    for channel, response in zip(channels, responses, strict=True):
        error = response.get("error")
        if error is not None:
            failures.append(api_failure(int(error["code"]), str(error["message"]), channel))
            failed.append(channel)
    if not failed:
        return None
    failure = combine(failures)
    assert failure is not None
    return replace(failure, channels=frozenset(failed))


def _console_line(data: Mapping[str, Any]) -> str:
    if data.get("type") == "counts":  # the inbox counter: no activity behind it to describe
        return (
            f"[bold]counts[/] unread {escape(str(data['unread_count']))}"
            f" unseen {escape(str(data['unseen_count']))}"
        )
    reasons = ",".join(data.get("reasons", [])) or "channel"
    return (
        f"[bold]{escape(str(data['action']))}[/]"
        f" {escape(str(data['resource_type']))}/{escape(str(data['resource_id']))}"
        f" by {escape(str(data['actor_principal_id']))} ({escape(reasons)}):"
        f" {escape(str(data['summary']))}"
    )


class ConsolePublisher:
    """Prints one line per notification (per channel); the embedded default, never fails."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console()

    def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
        for broadcast in broadcasts:
            line = _console_line(broadcast.data)
            for channel in broadcast.channels:
                self._console.print(
                    f"[bold cyan]notify[/] {escape(channel)} {line}",
                    soft_wrap=True,
                    highlight=False,
                )
        return [None] * len(broadcasts)

    def disconnect(self, user: str, code: int, reason: str) -> Outcome:
        self._console.print(
            f"[bold red]disconnect[/] {escape(user)} ({code}: {escape(reason)})",
            soft_wrap=True,
            highlight=False,
        )
        return None

    def close(self) -> None:
        """Nothing to close."""
