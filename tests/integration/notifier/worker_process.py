"""A notifier worker in its own process, run through the real CLI (for SIGKILL/SIGTERM tests).

``python -m tests.integration.notifier.worker_process '<json options>' run --follow``

Options: database_url, api_url, api_key, worker_id, batch_size, lease_seconds,
publish_timeout_seconds, marker (a file created when a batch is in flight), and the
publisher's misbehaviour: ``stall_after`` (publish that many broadcasts, then hang until
killed) or ``slow_seconds`` (wait that long before publishing each batch).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from optaic_activity.entrypoints.notifier_cli import build_app
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.message import Broadcast
from optaic_activity.notifier.publisher import CentrifugoPublisher, Outcome, Publisher
from optaic_activity.notifier.runtime import NotifierRuntime
from optaic_activity.projections.database import create_engine


class MisbehavingPublisher:
    def __init__(self, inner: Publisher, options: dict[str, Any]) -> None:
        self.inner = inner
        self.marker = Path(options["marker"])
        self.stall_after: int | None = options.get("stall_after")
        self.slow_seconds: float = options.get("slow_seconds", 0.0)

    def publish(self, broadcasts: Sequence[Broadcast]) -> list[Outcome]:
        if self.stall_after is not None:
            self.inner.publish(broadcasts[: self.stall_after])
            self.marker.touch()
            threading.Event().wait()  # hang mid-batch until SIGKILL
        self.marker.touch()
        # Simulates a slow Centrifugo, so a signal can arrive while the batch is in flight.
        time.sleep(self.slow_seconds)
        return self.inner.publish(broadcasts)

    def close(self) -> None:
        self.inner.close()


def main() -> None:
    options = json.loads(sys.argv[1])
    config = NotifierConfig(
        worker_id=options["worker_id"],
        batch_size=options["batch_size"],
        lease_seconds=options["lease_seconds"],
        publish_timeout_seconds=options["publish_timeout_seconds"],
        poll_interval_seconds=0.05,
    )

    def runtime() -> NotifierRuntime:
        publisher = CentrifugoPublisher(
            options["api_url"], options["api_key"], timeout_seconds=config.publish_timeout_seconds
        )
        return NotifierRuntime(
            engine=create_engine(options["database_url"]),
            publisher=MisbehavingPublisher(publisher, options),
            config=config,
            console=Console(stderr=True),
        )

    build_app(runtime)(args=sys.argv[2:])


if __name__ == "__main__":
    main()
