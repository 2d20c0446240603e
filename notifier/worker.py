"""The outbox worker: claim due rows, publish them, record the outcome. Repeat.

`OutboxWorker.run` pipelines the repeat: while a batch is being published, one thread
records the previous batch's outcomes and another claims the next batch (its lease is
longer by one publish timeout, the longest it can wait for its turn). Batches still reach Centrifugo
one after the other, in claim order; only the database work overlaps the HTTP request.
`OutboxWorker.run_batch` is one cycle, nothing overlapped.

Failure policy (docs/notifier.md has the operator's version):

- delivered to every channel: ``sent``;
- Centrifugo unreachable or overloaded (the request as a whole refused, lost, timed out,
  HTTP 5xx/429): an outage, not the rows' failure. The rows go back untried (their attempt
  refunded) and delivery pauses: the circuit opens, and a probe (one batch) after a backoff
  up to ``outage_probe_max_seconds`` closes it again once Centrifugo answers;
- the database unreachable: every claim, settle and release is retried with backoff (up to
  ``db_retry_max_seconds`` apart) until it goes through; the outcomes of a published batch
  wait in memory meanwhile, so nothing is published twice for want of its record;
- transient failure of a row (Centrifugo error 100 for its channel): back to
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
was already delivered (invariant 6). A row that reached some of its channels and failed on
others records the delivered ones (``delivered_channels``): its retries, and a ``dlq retry``
of it, publish only to the rest.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import (
    MalformedOutboxRowError,
    PublisherContractError,
    PublisherMisconfiguredError,
)
from optaic_activity.notifier.backoff import RetryDelays
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.failures import Failure, FailureKind, combine
from optaic_activity.notifier.message import Broadcast, DeliveryPlan, plan
from optaic_activity.notifier.metrics import NotifierMetrics
from optaic_activity.notifier.outbox_store import (
    Claim,
    Clock,
    DeadLetter,
    OutboxStore,
    Retry,
    utc_now,
)
from optaic_activity.notifier.publisher import Outcome, Publisher
from optaic_activity.notifier.report import DeliveryCounts
from optaic_activity.projections.outages import (
    TRANSIENT_DB_ERRORS,
    Outage,
    backoff_seconds,
    retry_while_unavailable,
)
from optaic_activity.projections.outbox import OutboxRow

log = logging.getLogger(__name__)
T = TypeVar("T")


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class BatchReport(DeliveryCounts):
    claimed: int = 0
    sent: int = 0
    lease_lost: int = 0
    deferred: int = 0
    """Rows given back untried because Centrifugo was unreachable (attempt refunded)."""

    def summary(self) -> str:
        return f"sent {self.sent}, retried {self.retried}, dead-lettered {self.dead}"


@dataclass(frozen=True)
class _Claimed:
    claim: Claim
    at: datetime
    """The worker's clock when the claim was made."""
    ahead: bool = False
    """Claimed while the previous batch was still being published (the longer lease)."""

    @property
    def rows(self) -> list[OutboxRow]:
        return self.claim.rows


_NOTHING_CLAIMED = Claim(rows=[], exhausted=[])


@dataclass
class _Outcomes:
    sent: list[OutboxRow] = field(default_factory=list)
    retries: list[tuple[OutboxRow, Failure]] = field(default_factory=list)
    dead: list[tuple[OutboxRow, Failure]] = field(default_factory=list)
    delivered: dict[int, frozenset[str]] = field(default_factory=dict)
    """Position -> every channel delivered so far, for the rows not sent that have any."""
    deferred: list[OutboxRow] = field(default_factory=list)
    """Rows not published because Centrifugo was unreachable: given back, attempt refunded."""
    outage: str = ""
    """Why Centrifugo counts as unreachable (with ``deferred``)."""


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
        self._publish_timeout = timedelta(seconds=self.config.publish_timeout_seconds)
        # A batch claimed ahead waits for the publish in flight (at most one timeout) first.
        self._lease_ahead = self._lease + self._publish_timeout
        self._backlog_observed_at = float("-inf")
        self.database = Outage("notifier: the database", log)
        self.centrifugo = Outage("notifier: Centrifugo", log)
        """Open while Centrifugo is unreachable: the circuit breaker's state."""
        self._stop = threading.Event()
        """Set by `run`'s caller: ends the waits for the database."""

    def _db(self, work: Callable[[], T]) -> T:
        """``work`` (one outbox transaction), retried for as long as the database is away."""
        try:
            return retry_while_unavailable(
                work,
                outage=self.database,
                stop=self._stop,
                cap_seconds=self.config.db_retry_max_seconds,
            )
        finally:
            self.metrics.database_unavailable.set(1 if self.database.down else 0)

    # -- one batch --------------------------------------------------------------------------

    def run_batch(self) -> BatchReport:
        """Claim up to ``batch_size`` due rows, publish them and record the outcomes."""
        claimed = self._claim(self._lease)
        report = BatchReport(claimed=len(claimed.rows), dead=len(claimed.claim.exhausted))
        if not claimed.rows:
            return report
        report.add(self._settle(self._publish(claimed.rows)))
        return report

    def _claim(self, lease: timedelta, *, ahead: bool = False) -> _Claimed:
        at = self._clock()
        claim = self._db(
            lambda: self.store.claim(
                self.worker_id, self.config.batch_size, lease, self.config.max_attempts
            )
        )
        for row in claim.exhausted:
            self.metrics.dead_lettered.labels(cause="max_attempts").inc()
            log.error(
                "outbox row dead-lettered: attempts exhausted without an outcome",
                extra=_row_extra(row, worker=self.worker_id),
            )
        return _Claimed(claim, at, ahead)

    def _publish(self, rows: Sequence[OutboxRow]) -> _Outcomes:
        """`_deliver`, and if that raises: stop, but leave nothing of ``rows`` leased behind."""
        try:
            return self._deliver(rows)
        except BaseException as exc:
            self._release_after(rows, exc)
            raise

    def _release_after(self, rows: Sequence[OutboxRow], exc: BaseException) -> None:
        # A misconfigured publisher or an interrupt says nothing about the rows: their
        # attempt is refunded. Any other exception may be the rows' doing, so it counts
        # (a poison row must end dead).
        refund = isinstance(exc, PublisherMisconfiguredError | KeyboardInterrupt | SystemExit)
        error = f"worker {self.worker_id} stopped: {type(exc).__name__}: {exc}"
        self._db(
            lambda: self.store.release(
                self.worker_id, [row.position for row in rows], error, refund_attempt=refund
            )
        )
        log.exception("notifier worker stops", extra={"worker": self.worker_id})

    # -- batches back to back ------------------------------------------------------------------

    def _run_streak(self, stop: threading.Event, db: _Bookkeepers) -> BatchReport:
        """Publish batches back to back until a claim comes back empty or ``stop`` is set.

        While batch N is being published, one ``db`` thread settles batch N-1 and another
        claims batch N+1 (if batch N was a full one). On return (or raise) every published
        batch is settled and no row claimed ahead is left leased.
        """
        current = self._claim(self._lease)
        report = BatchReport(claimed=len(current.rows), dead=len(current.claim.exhausted))
        unsettled: _Outcomes | None = None
        ahead: _Claimed | None = None
        try:
            while current.rows:
                if current.ahead and self._clock() - current.at > self._publish_timeout:
                    # The publish before it outlasted its timeout: the lease left may no longer
                    # cover a whole publish. Give the rows back untried and claim afresh.
                    self._give_back(current, report)
                    current = self._claim(self._lease)
                    report.claimed += len(current.rows)
                    report.dead += len(current.claim.exhausted)
                    continue
                settling = None if unsettled is None else db.settler.submit(self._settle, unsettled)
                # A full batch says a backlog: claim the next one meanwhile. After a partial one
                # (the usual case when keeping up), that would only delay the next claim.
                backlog = len(current.rows) >= self.config.batch_size
                claiming = db.claimer.submit(self._claim_ahead, backlog and not stop.is_set())
                unsettled = None
                try:
                    outcomes = self._deliver(current.rows)
                except BaseException as exc:
                    # No bookkeeping may run past this point.
                    _wait_quietly(settling)
                    ahead = _wait_quietly(claiming)
                    self._release_after(current.rows, exc)
                    raise
                unsettled = outcomes
                bookkeeping: list[Future[Any]] = [claiming]
                wait(bookkeeping if settling is None else [*bookkeeping, settling])
                ahead = claiming.result()  # first: if settling failed, these go back
                report.claimed += len(ahead.rows)
                report.dead += len(ahead.claim.exhausted)
                if settling is not None:
                    report.add(settling.result())
                self.observe_backlog()
                if stop.is_set() or outcomes.deferred:
                    break  # stopping, or Centrifugo is away: `run` pauses
                current, ahead = ahead, None
        finally:
            if unsettled is not None:
                report.add(self._settle(unsettled))
            if ahead is not None and ahead.rows:
                self._give_back(ahead, report)
        return report

    def _claim_ahead(self, claim: bool) -> _Claimed:
        if not claim:
            return _Claimed(_NOTHING_CLAIMED, self._clock())
        return self._claim(self._lease_ahead, ahead=True)

    def _give_back(self, claimed: _Claimed, report: BatchReport) -> None:
        """Release rows claimed but never published (their attempt refunded)."""
        positions = [row.position for row in claimed.rows]
        self._db(lambda: self.store.release(self.worker_id, positions, None))
        report.claimed -= len(claimed.rows)

    def _deliver(self, rows: Sequence[OutboxRow]) -> _Outcomes:
        outcomes = _Outcomes()
        plans: list[DeliveryPlan] = []
        for row in rows:
            try:
                plans.append(plan(row))
            except MalformedOutboxRowError as exc:
                malformed = Failure(FailureKind.TRANSIENT, f"malformed outbox row: {exc}")
                outcomes.retries.append((row, malformed))
        broadcasts: list[Broadcast] = [b for p in plans for b in p.broadcasts]
        started = time.perf_counter()
        results = self.publisher.publish(broadcasts) if broadcasts else []
        self.metrics.publish_seconds.observe(time.perf_counter() - started)
        if len(results) != len(broadcasts):
            msg = f"publisher returned {len(results)} outcomes for {len(broadcasts)} broadcasts"
            raise PublisherContractError(msg)
        if results and all(r is not None and r.outage for r in results):
            # Nothing reached Centrifugo, or nobody knows: no row's doing, no row's attempt.
            error = next(r.error for r in results if r is not None)
            self._circuit_opens(error)
            outcomes.deferred, outcomes.outage = [p.row for p in plans], error
            return outcomes
        if results:
            self._circuit_closes()
        at = 0
        for delivery in plans:
            count = len(delivery.broadcasts)
            mine: list[Outcome] = results[at : at + count]
            at += count
            # One broadcast per row is the usual case: its outcome is the row's.
            failure = mine[0] if count == 1 else combine(mine)
            if failure is None:
                outcomes.sent.append(delivery.row)
                continue
            if failure.transient:
                outcomes.retries.append((delivery.row, failure))
            else:
                outcomes.dead.append((delivery.row, failure))
            delivered = _delivered(delivery, mine)
            if delivered:
                outcomes.delivered[delivery.row.position] = delivered
        return outcomes

    def _circuit_opens(self, error: str) -> None:
        self.centrifugo.failed(error)
        self.metrics.circuit_open.set(1)

    def _circuit_closes(self) -> None:
        if self.centrifugo.down:
            self.centrifugo.recovered()
            self.metrics.circuit_open.set(0)

    def _settle(self, outcomes: _Outcomes) -> BatchReport:
        deferred = 0
        if outcomes.deferred:
            positions = [row.position for row in outcomes.deferred]
            error = f"not published, Centrifugo unavailable: {outcomes.outage}"
            deferred = self._db(
                lambda: self.store.release(self.worker_id, positions, error, refund_attempt=True)
            )
        report = self._settle_tried(outcomes)
        report.deferred = deferred
        return report

    def _settle_tried(self, outcomes: _Outcomes) -> BatchReport:
        now = self._clock()
        delivered = outcomes.delivered
        retries: list[Retry] = []
        dead: list[DeadLetter] = [
            DeadLetter(row.position, f.error, delivered.get(row.position))
            for row, f in outcomes.dead
        ]
        gave_up: list[tuple[OutboxRow, Failure]] = []
        for row, failure in outcomes.retries:
            if row.attempts >= self.config.max_attempts:
                gave_up.append((row, failure))
                error = f"gave up after {row.attempts} attempts: {failure.error}"
                dead.append(DeadLetter(row.position, error, delivered.get(row.position)))
            else:
                retries.append(
                    Retry(
                        row.position,
                        now + self._delays.delay(row.attempts),
                        failure.error,
                        delivered.get(row.position),
                    )
                )
        sent = [row.position for row in outcomes.sent]
        lost = self._db(lambda: self.store.settle(self.worker_id, sent, retries, dead))
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
        if log.isEnabledFor(logging.DEBUG):
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

        A batch in flight when ``stop`` is set is finished and settled; a batch claimed
        ahead of it is given back untried (attempt refunded); then every lease of this
        worker is released.
        """
        stop = stop or threading.Event()
        self._stop = stop
        total = BatchReport()
        log.info("notifier worker started", extra={"worker": self.worker_id})
        db = _Bookkeepers(self.worker_id)
        try:
            while not stop.is_set():
                try:
                    # While the circuit is open, one batch at a time: the probe.
                    streak = self.config.claim_ahead and not self.centrifugo.down
                    report = self._run_streak(stop, db) if streak else self.run_batch()
                except TRANSIENT_DB_ERRORS:
                    if stop.is_set():
                        break  # stopping while the database is away; leases expire
                    raise
                total.add(report)
                self.observe_backlog()
                if self.centrifugo.down:
                    if not follow:
                        break
                    self._pause(stop)
                elif report.claimed + report.dead == 0:
                    if not follow:
                        break
                    stop.wait(self.config.poll_interval_seconds)
        finally:
            db.shutdown(wait=True)
            self._release_all()
        return total

    def _pause(self, stop: threading.Event) -> None:
        """Wait before the next probe of an unreachable Centrifugo (the open circuit)."""
        delay = backoff_seconds(
            self.centrifugo.failures, base=0.5, cap=self.config.outage_probe_max_seconds
        )
        started = time.monotonic()
        stop.wait(delay)
        self.metrics.outage_seconds.labels(dependency="centrifugo").inc(time.monotonic() - started)

    def _release_all(self) -> None:
        try:
            released = self.store.release(self.worker_id, None, None)
        except TRANSIENT_DB_ERRORS as exc:
            log.warning(
                "notifier worker stopped; its leases run out by themselves (database: %s)",
                type(exc).__name__,
                extra={"worker": self.worker_id},
            )
            return
        log.info(
            "notifier worker stopped",
            extra={"worker": self.worker_id, "released": released},
        )

    def observe_backlog(self, *, force: bool = False) -> None:
        """Refresh the depth gauges, at most every ``metrics_refresh_seconds`` (one query)."""
        now = time.monotonic()
        if not force and now - self._backlog_observed_at < self.config.metrics_refresh_seconds:
            return
        self._backlog_observed_at = now
        try:
            backlog = self.store.backlog()
        except TRANSIENT_DB_ERRORS:
            return  # a gauge can wait; the next claim waits the outage out
        self.metrics.observe_backlog(backlog, self._clock())


class _Bookkeepers:
    """The threads that claim and settle while the worker publishes: one each, so that a
    batch's settling and the next batch's claim run side by side (two connections)."""

    def __init__(self, worker_id: str) -> None:
        self.claimer = ThreadPoolExecutor(1, thread_name_prefix=f"notifier-claim-{worker_id}")
        self.settler = ThreadPoolExecutor(1, thread_name_prefix=f"notifier-settle-{worker_id}")

    def shutdown(self, *, wait: bool) -> None:
        self.claimer.shutdown(wait=wait)
        self.settler.shutdown(wait=wait)


def _wait_quietly(job: Future[T] | None) -> T | None:
    """The result of bookkeeping whose batch is being abandoned (its own error logged)."""
    if job is None:
        return None
    try:
        return job.result()
    except BaseException:
        log.exception("outbox bookkeeping failed while the worker stops")
        return None


def _delivered(delivery: DeliveryPlan, outcomes: Sequence[Outcome]) -> frozenset[str]:
    """The row's channels delivered so far: by earlier attempts, and by this one."""
    channels = set(delivery.row.delivered_channels)
    for broadcast, outcome in zip(delivery.broadcasts, outcomes, strict=True):
        if outcome is None:
            channels.update(broadcast.channels)
        elif outcome.channels is not None:
            channels.update(c for c in broadcast.channels if c not in outcome.channels)
    return frozenset(channels)


def _row_extra(row: OutboxRow, **more: object) -> dict[str, object]:
    return {
        "activity_id": str(row.activity_id),
        "correlation_id": str(row.correlation_id),
        "position": row.position,
        "action": row.action,
        "attempts": row.attempts,
        **more,
    }
