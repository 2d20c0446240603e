"""`run_delivery`: the one place the delivery mode picks what drains the outbox.

``api``: an `OutboxWorker` publishes through the runtime's publisher. ``consumer_table``:
a `ConsumerTableRelay` moves the rows into Centrifugo's consumer table (created here if
missing) and Centrifugo publishes them itself. In both modes, revoked principals are
disconnected through the runtime's publisher alongside (notifier/disconnects.py).
"""

from __future__ import annotations

import threading

from optaic_activity.notifier.config import DeliveryMode, NotifierConfig
from optaic_activity.notifier.consumer_table import (
    ConsumerTableRelay,
    RelayReport,
    create_consumer_table,
)
from optaic_activity.notifier.disconnects import disconnect_revoked, follow_revocations
from optaic_activity.notifier.metrics import NotifierMetrics
from optaic_activity.notifier.runtime import NotifierRuntime
from optaic_activity.notifier.worker import BatchReport, OutboxWorker
from optaic_activity.projections.revocations import revocations

DeliveryReport = BatchReport | RelayReport
"""What a delivery run did; its ``summary()`` says so in one line."""


def run_delivery(
    runtime: NotifierRuntime,
    stop: threading.Event,
    *,
    config: NotifierConfig | None = None,
    metrics: NotifierMetrics | None = None,
    follow: bool = True,
) -> DeliveryReport:
    """Drain the outbox the configured way until ``stop`` is set (or, not ``follow``, until
    nothing is due). ``config`` overrides the runtime's; the caller closes the runtime.

    Raises `PublisherMisconfiguredError` as `OutboxWorker.run` does (API mode).
    """
    config = config if config is not None else runtime.config
    # Idempotent; a notifier may start on a database whose projections are older.
    revocations.create(runtime.engine, checkfirst=True)
    disconnector: threading.Thread | None = None
    if follow:
        disconnector = threading.Thread(
            target=follow_revocations,
            args=(runtime.engine, runtime.publisher, stop),
            kwargs={"poll_interval": config.poll_interval_seconds},
            name="notifier-disconnects",
            daemon=True,
        )
        disconnector.start()
    try:
        if config.delivery_mode is DeliveryMode.CONSUMER_TABLE:
            create_consumer_table(runtime.engine)  # idempotent
            relay = ConsumerTableRelay(runtime.engine, config, metrics=metrics)
            return relay.run(stop, follow=follow)
        worker = OutboxWorker(runtime.engine, runtime.publisher, config, metrics=metrics)
        return worker.run(stop, follow=follow)
    finally:
        if disconnector is not None:
            disconnector.join()
        else:
            disconnect_revoked(runtime.engine, runtime.publisher)
