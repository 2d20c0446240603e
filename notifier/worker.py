"""The outbox worker: claim due rows, publish them, record the outcome. Repeat.

Failure policy (docs/notifier.md has the operator's version):

- delivered to every channel: ``sent``;
- transient failure (network, timeout, HTTP 5xx/429, Centrifugo error 100): back to
  ``pending`` with ``last_error`` and a ``next_attempt_at`` from exponential backoff with
  jitter; past ``max_attempts`` claims: ``dead``;
- permanent failure (another Centrifugo error for a channel, a bad request): ``dead`` with
  ``last_error`` at once;
- a row whose content breaks the outbox contract: treated as transient (a rebuilt projection
  may fix it), so it ends dead after ``max_attempts`` with the reason recorded;
- a misconfigured publisher (wrong key or URL) or any unexpected exception: the batch's rows
  are released with the error recorded (their attempt not counted) and the worker stops by
  raising. A worker never logs an unexpected error and carries on.

Retries reuse each broadcast's idempotency key, so Centrifugo drops the repeats of what
was already delivered (invariant 6).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine

from notifier.backoff import RetryDelays
from notifier.config import NotifierConfig
from notifier.failures import Failure, FailureKind, PublisherMisconfigured, combine
from notifier.message import Broadcast, DeliveryPlan, MalformedOutboxRow, OutboxRow, plan
from notifier.metrics import NotifierMetrics
from notifier.outbox_store import Clock, DeadLetter, OutboxStore, Retry, utc_now
from notifier.publisher import Outcome, Publisher

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class BatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    lease_lost: int = 0

    def add(self, other: BatchReport) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.lease_lost += other.lease_lost


@dataclass
class _Outcomes:
    sent: list[OutboxRow] = field(default_factory=list)
    retries: list[tuple[OutboxRow, Failure]] = field(default_factory=list)
    dead: list[tuple[OutboxRow, Failure]] = field(default_factory=list)


class OutboxWorker:
    def __init__(
        self,
        engine: Engine,
        publisher: Publisher,
        config: NotifierConfig | None = None,
        *,
        metrics: NotifierMetrics | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.config = config or NotifierConfig()
        self.publisher = publisher
        self.metrics = metrics or NotifierMetrics()
        self.store = OutboxStore(engine, clock)
        self.worker_id = self.config.worker_id or default_worker_id()
        self._clock = clock
        self._delays = RetryDelays(
            self.config.backoff_base_seconds, self.config.backoff_max_seconds
        )
        self._lease = timedelta(seconds=self.config.lease_seconds)
        self._backlog_observed_at = float("-inf")

    # -- one batch --------------------------------------------------------------------------

    def run_batch(self) -> BatchReport:
        """Claim up to ``batch_size`` due rows, publish them and record the outcomes."""
        claim = self.store.claim(
            self.worker_id, self.config.batch_size, self._lease, self.config.max_attempts
        )
        for row in claim.exhausted:
            self.metrics.dead_lettered.labels(cause="max_attempts").inc()
            log.error(
                "outbox row dead-lettered: attempts exhausted without an outcome",
                extra=_row_extra(row, worker=self.worker_id),
            )
        report = BatchReport(claimed=len(claim.rows), dead=len(claim.exhausted))
        if not claim.rows:
            return report
        try:
            outcomes = self._deliver(claim.rows)
        except BaseException as exc:
            # Stop, but leave nothing leased behind. A misconfigured publisher or an
            # interrupt says nothing about the rows: their attempt is refunded. Any other
            # exception may be the rows' doing, so it counts (a poison row must end dead).
            refund = isinstance(exc, PublisherMisconfigured | KeyboardInterrupt | SystemExit)
            error = f"worker {self.worker_id} stopped: {type(exc).__name__}: {exc}"
            self.store.release(
                self.worker_id,
                [row.position for row in claim.rows],
                error,
                refund_attempt=refund,
            )
            log.exception("notifier worker stops", extra={"worker": self.worker_id})
            raise
        report.add(self._settle(outcomes))
        return report

    def _deliver(self, rows: Sequence[OutboxRow]) -> _Outcomes:
        outcomes = _Outcomes()
        plans: list[DeliveryPlan] = []
        for row in rows:
            try:
                plans.append(plan(row))
            except MalformedOutboxRow as exc:
                malformed = Failure(FailureKind.TRANSIENT, f"malformed outbox row: {exc}")
                outcomes.retries.append((row, malformed))
        broadcasts: list[Broadcast] = [b for p in plans for b in p.broadcasts]
        started = time.perf_counter()
        results = self.publisher.publish(broadcasts) if broadcasts else []
        self.metrics.publish_seconds.observe(time.perf_counter() - started)
        if len(results) != len(broadcasts):
            msg = f"publisher returned {len(results)} outcomes for {len(broadcasts)} broadcasts"
            raise RuntimeError(msg)
        at = 0
        for delivery in plans:
            mine: list[Outcome] = results[at : at + len(delivery.broadcasts)]
            at += len(delivery.broadcasts)
            failure = combine(mine)
            if failure is None:
                outcomes.sent.append(delivery.row)
            elif failure.transient:
                outcomes.retries.append((delivery.row, failure))
            else:
                outcomes.dead.append((delivery.row, failure))
        return outcomes

    def _settle(self, outcomes: _Outcomes) -> BatchReport:
        now = self._clock()
        retries: list[Retry] = []
        dead: list[DeadLetter] = [DeadLetter(row.position, f.error) for row, f in outcomes.dead]
        gave_up: list[tuple[OutboxRow, Failure]] = []
        for row, failure in outcomes.retries:
            if row.attempts >= self.config.max_attempts:
                gave_up.append((row, failure))
                error = f"gave up after {row.attempts} attempts: {failure.error}"
                dead.append(DeadLetter(row.position, error))
            else:
                retries.append(
                    Retry(row.position, now + self._delays.delay(row.attempts), failure.error)
                )
        lost = self.store.settle(
            self.worker_id, [row.position for row in outcomes.sent], retries, dead
        )
        self._record(outcomes, gave_up, lost)
        return BatchReport(
            sent=len(outcomes.sent),
            retried=len(retries),
            dead=len(dead),
            lease_lost=lost,
        )

    def _record(
        self, outcomes: _Outcomes, gave_up: list[tuple[OutboxRow, Failure]], lost: int
    ) -> None:
        self.metrics.sent.inc(len(outcomes.sent))
        for row in outcomes.sent:
            log.debug("notification sent", extra=_row_extra(row, worker=self.worker_id))
        exhausted = {row.position for row, _ in gave_up}
        for row, failure in outcomes.retries:
            if row.position in exhausted:
                continue
            self.metrics.retried.inc()
            log.warning(
                "notification will be retried: %s",
                failure.error,
                extra=_row_extra(row, worker=self.worker_id),
            )
        for cause, dead in (("permanent", outcomes.dead), ("max_attempts", gave_up)):
            for row, failure in dead:
                self.metrics.dead_lettered.labels(cause=cause).inc()
                log.error(
                    "notification dead-lettered (%s): %s",
                    cause,
                    failure.error,
                    extra=_row_extra(row, worker=self.worker_id),
                )
        if lost:
            # Expected after a lease ran out mid-publish: another worker owns those rows now.
            log.warning(
                "%d outcomes not recorded: the lease had run out",
                lost,
                extra={"worker": self.worker_id},
            )

    # -- the loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, follow: bool = True) -> BatchReport:
        """Work until ``stop`` is set (follow) or nothing is due any more (not follow).

        A batch in flight when ``stop`` is set is finished; then every lease of this worker
        is released.
        """
        stop = stop or threading.Event()
        total = BatchReport()
        log.info("notifier worker started", extra={"worker": self.worker_id})
        try:
            while not stop.is_set():
                report = self.run_batch()
                total.add(report)
                self.observe_backlog()
                if report.claimed + report.dead == 0:
                    if not follow:
                        break
                    stop.wait(self.config.poll_interval_seconds)
        finally:
            released = self.store.release(self.worker_id, None, None)
            log.info(
                "notifier worker stopped",
                extra={"worker": self.worker_id, "released": released},
            )
        return total

    def observe_backlog(self, *, force: bool = False) -> None:
        """Refresh the depth gauges, at most every ``metrics_refresh_seconds`` (one query)."""
        now = time.monotonic()
        if not force and now - self._backlog_observed_at < self.config.metrics_refresh_seconds:
            return
        self._backlog_observed_at = now
        self.metrics.observe_backlog(self.store.backlog(), self._clock())


def _row_extra(row: OutboxRow, **more: object) -> dict[str, object]:
    return {
        "activity_id": str(row.activity_id),
        "correlation_id": str(row.correlation_id),
        "position": row.position,
        "action": row.action,
        "attempts": row.attempts,
        **more,
    }
