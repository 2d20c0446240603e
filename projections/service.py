"""The projections of one application, wired: setup, catch up, follow, rebuild, status."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import sqlalchemy as sa
from eventsourcing.persistence import ApplicationRecorder
from sqlalchemy.engine import Engine

from optaic_activity.domain.errors import GenerationError, UnknownProjectionError
from optaic_activity.projections import generations
from optaic_activity.projections.audit_digest import AuditConfig, DigestSealer, audit_digests
from optaic_activity.projections.audit_log import AuditLogProjection, audit_log
from optaic_activity.projections.backends import Wakeup, backend_for
from optaic_activity.projections.base import Projection
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.database import create_tables
from optaic_activity.projections.events import (
    FilteredDecoder,
    state_decoder,
    tenant_filtered_decoder,
)
from optaic_activity.projections.outages import Outage
from optaic_activity.projections.partitions import (
    WHOLE,
    Partition,
    all_partitions,
    check_layout,
    of_tracking_name,
)
from optaic_activity.projections.routing import RoutingProjection
from optaic_activity.projections.runner import BatchResult, ProjectionRunner, follow
from optaic_activity.projections.tracking import read_position, tracking
from optaic_activity.projections.upsert import upsert


class EventSource(Protocol):
    """What the projections need of an eventsourcing application."""

    @property
    def recorder(self) -> ApplicationRecorder: ...

    @property
    def mapper(self) -> Any: ...


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int
    head: int
    version: int | None
    code_version: int
    partition: Partition = WHOLE

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)

    @property
    def needs_rebuild(self) -> bool:
        return self.version is not None and self.version != self.code_version


def default_projections(
    audit: AuditConfig | None = None, partition: Partition = WHOLE
) -> list[Projection]:
    sealer = DigestSealer.of(audit) if audit is not None else None
    return [AuditLogProjection(sealer, partition=partition), RoutingProjection(partition=partition)]


class ProjectionService:
    def __init__(
        self,
        app: EventSource,
        engine: Engine,
        *,
        config: ProjectionConfig | None = None,
        projections: Iterable[Projection] | None = None,
        audit: AuditConfig | None = None,
        partition: Partition = WHOLE,
        generation: str | None = None,
    ) -> None:
        """``partition``: the tenants the default projections own (``projections`` say
        their own). ``generation``: the read-model generation the runners write (PostgreSQL;
        default: the one live when they start, for their lifetime: module ``generations``)."""
        config = config or ProjectionConfig()
        batch_size = config.batch_size
        self.app = app
        self.readers_engine = engine
        """The engine as given: readers follow the live generation on it."""
        self.engine = engine = generations.pin(engine, generation)
        self.config = config
        self.audit = audit
        self.partition = partition
        self.poll_interval = config.poll_interval
        self.decode = state_decoder(app.mapper)
        if projections is None:
            projections = default_projections(audit, partition)
        self.runners = {
            p.name: ProjectionRunner(
                p,
                engine=engine,
                recorder=app.recorder,
                decode=self._decoder(p.partition),
                batch_size=batch_size,
            )
            for p in projections
        }

    def _decoder(self, partition: Partition) -> FilteredDecoder:
        if partition.whole:
            return self.decode
        return tenant_filtered_decoder(self.app.mapper, partition.owns)

    def for_partition(
        self, partition: Partition, generation: str | None = None
    ) -> ProjectionService:
        """The default projections of partition ``partition`` (in ``generation``), on the same
        app and database."""
        return ProjectionService(
            self.app,
            self.readers_engine,
            config=self.config,
            audit=self.audit,
            partition=partition,
            generation=generation,
        )

    @property
    def generation(self) -> str:
        """The read-model generation this service's runners write."""
        if generations.supported(self.engine):
            with self.engine.connect():
                pass  # the first connection settles a generation left to the live one
        return generations.generation_of(self.engine)

    def setup(self) -> None:
        """Create the read-model tables and a tracking row per projection (idempotent)."""
        if self.generation != generations.DEFAULT:
            generations.create(self.engine, self.generation)
        create_tables(self.engine)
        with self.engine.begin() as conn:
            self._protect(conn)
            upsert(
                conn,
                tracking,
                [
                    {
                        "name": r.tracking_name,
                        "position": 0,
                        "version": r.projection.version,
                        "updated_at": datetime.now(UTC),
                    }
                    for r in self.runners.values()
                ],
                key=("name",),
                update=(),
            )

    def _protect(self, conn: sa.Connection) -> None:
        """The event store and the audit trail refuse rewrites, where the database can."""
        preparer = conn.dialect.identifier_preparer
        events = getattr(self.app.recorder, "events_table_name", "")
        schema = getattr(getattr(self.app.recorder, "datastore", None), "schema", "")
        append_only = [preparer.format_table(audit_digests)]
        # Another generation protects its own tables only: its trigger function is in its
        # schema, and dropping that schema must not take the event store's trigger with it.
        if events and self.generation == generations.DEFAULT:
            quoted = preparer.quote(events)
            append_only.append(f"{preparer.quote(schema)}.{quoted}" if schema else quoted)
        backend_for(conn).protect_tables(
            conn, append_only=append_only, rebuildable=[preparer.format_table(audit_log)]
        )

    def select(self, names: Iterable[str] | None) -> list[ProjectionRunner]:
        if names is None:
            return list(self.runners.values())
        unknown = sorted(set(names) - set(self.runners))
        if unknown:
            msg = f"unknown projections {unknown}; known: {sorted(self.runners)}"
            raise UnknownProjectionError(msg)
        return [self.runners[name] for name in names]

    def check_layout(self, runners: Iterable[ProjectionRunner]) -> None:
        """Refuse to run a partition count other than the one the tracking rows applied.

        Checked where runners start (``catch_up``, ``follow``), not in ``setup``: every
        process sets up, the API's included, whatever partitions the runners use.
        """
        with self.engine.connect() as conn:
            # A row still at 0 applied nothing: no layout to keep.
            names = list(
                conn.execute(sa.select(tracking.c.name).where(tracking.c.position > 0)).scalars()
            )
        for runner in runners:
            check_layout(runner.name, runner.projection.partition, names)

    def catch_up(self, names: Iterable[str] | None = None) -> int:
        runners = self.select(names)
        self.check_layout(runners)
        return sum(runner.catch_up() for runner in runners)

    def rebuild(
        self,
        names: Iterable[str] | None = None,
        on_batch: Callable[[str, BatchResult], None] | None = None,
    ) -> int:
        total = 0
        for runner in self.select(names):
            callback = partial(on_batch, runner.name) if on_batch else None
            total += runner.rebuild(on_batch=callback)
        return total

    def oldest_unprocessed_at(self, position: int) -> datetime | None:
        """When the first event after ``position`` happened (None if there is none)."""
        notifications = self.app.recorder.select_notifications(
            start=position, limit=1, inclusive_of_start=False
        )
        if not notifications:
            return None
        occurred: datetime = self.decode(notifications[0].state)["timestamp"]
        return occurred

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def status(self) -> list[ProjectionStatus]:
        head = self.head()
        with self.engine.connect() as conn:
            statuses = []
            for name, runner in self.runners.items():
                position, version = read_position(conn, runner.tracking_name)
                statuses.append(
                    ProjectionStatus(
                        name=name,
                        partition=runner.projection.partition,
                        position=position,
                        head=head,
                        version=version,
                        code_version=runner.projection.version,
                    )
                )
            return statuses

    def switch(self, name: str, *, max_lag: int | None = None) -> None:
        """Point readers at generation ``name`` once its runners have caught up.

        Every projection must be tracked there by one complete partitioning (``0/N`` ...
        ``N-1/N``, or the whole), at the code's version, each at most ``max_lag`` events
        (default ``ACTIVITY_PROJECTION_READINESS_MAX_LAG``) behind the log.
        """
        allowed = self.config.readiness_max_lag if max_lag is None else max_lag
        with self.readers_engine.connect() as conn:
            if name != generations.DEFAULT and not generations.exists(conn, name):
                raise GenerationError(f"no generation {name!r}: build it first")
        target = generations.pin(self.readers_engine, name)
        head = self.head()
        with target.connect() as conn:
            rows = conn.execute(sa.select(tracking.c.name, tracking.c.position, tracking.c.version))
            tracked = [(str(n), int(p), int(v)) for n, p, v in rows]
        problems = []
        for projection_name, runner in self.runners.items():
            mine = {
                p: (position, version)
                for n, position, version in tracked
                if (p := of_tracking_name(projection_name, n)) is not None
            }
            counts = {p.count for p in mine}
            if len(counts) != 1 or set(mine) != set(all_partitions(next(iter(counts)))):
                problems.append(f"{projection_name}: no complete partitioning ({len(mine)} rows)")
                continue
            for partition, (position, version) in sorted(mine.items(), key=lambda i: i[0].index):
                label = partition.tracking_name(projection_name)
                if version != runner.projection.version:
                    problems.append(f"{label}: version {version}, code {runner.projection.version}")
                elif head - position > allowed:
                    problems.append(f"{label}: {head - position} events behind (> {allowed})")
        if problems:
            raise GenerationError(f"generation {name!r} is not ready: " + "; ".join(problems))
        generations.switch(self.readers_engine, name)

    def wakeup(self) -> Wakeup:
        return backend_for(self.engine).wakeup(
            self.engine,
            channel=getattr(self.app.recorder, "channel_name", ""),
            poll_interval=self.poll_interval,
        )

    def follow(
        self,
        stop: threading.Event,
        names: Iterable[str] | None = None,
        on_batch: Callable[[str, BatchResult], None] | None = None,
        *,
        outage: Outage | None = None,
    ) -> None:
        """`runner.follow` on the named projections, with the configured outage policy.

        ``outage``: the database's state as the runners see it (readiness reads it).
        """
        runners = self.select(names)
        self.check_layout(runners)
        wakeup = self.wakeup()
        try:
            follow(
                runners,
                stop=stop,
                wakeup=wakeup,
                on_batch=on_batch,
                max_consecutive_failures=self.config.max_consecutive_failures,
                retry_max_seconds=self.config.retry_max_seconds,
                outage=outage,
            )
        finally:
            wakeup.close()
