"""What the notifier commands run with, built by whoever mounts them (activity/bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from sqlalchemy.engine import Engine

from notifier.config import NotifierConfig
from notifier.publisher import CentrifugoPublisher, ConsolePublisher, Publisher


@dataclass
class NotifierRuntime:
    engine: Engine
    """The read-model database (where the outbox is)."""
    publisher: Publisher
    config: NotifierConfig = field(default_factory=NotifierConfig)
    console: Console = field(default_factory=Console)

    def close(self) -> None:
        self.publisher.close()
        self.engine.dispose()


def choose_publisher(
    api_url: str,
    api_key: str,
    *,
    timeout_seconds: float = 5.0,
    console: Console | None = None,
) -> Publisher:
    """Centrifugo when an API URL is configured, else the console (the embedded default)."""
    if api_url:
        return CentrifugoPublisher(api_url, api_key, timeout_seconds=timeout_seconds)
    return ConsolePublisher(console)
