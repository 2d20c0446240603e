"""Projection rebuild rate: our batched runner vs eventsourcing's own ProjectionRunner.

Writes a mixed history (a resource tree of a few thousand resources with role bindings,
subscriptions and preferences; mostly envelope activities, plus renames, moves,
transfers, deletes, grants/revokes, subscription changes and read marks) in big
``app.save(*aggregates)`` chunks, then measures on SQLite and on PostgreSQL (its own
server): ``ProjectionService.rebuild(["audit_log"])``, the full rebuild of both
projections (resident memory sampled at every 10%), and eventsourcing's
``ProjectionRunner`` keeping the same audit-log table, one event per transaction.

With ``--shapes`` (PostgreSQL), the routing projection's fan-out by shape follows in the
same run, on a PostgreSQL server of its own: depth 1/5/20 x subscribers 1/100/1000
(`bench.fanout`); ``--only-shapes`` runs the sweep alone.

    .venv/bin/python -m bench.projections [--events 100000] [--backend both] [--rounds 3]
        [--privacy FRACTION] [--shapes | --only-shapes]

``--privacy FRACTION`` measures each backend three times, side by side, on the same history:
plain; with signed digests (``--digest-every``, default 1000 here); with digests and FRACTION
of the envelope activities carrying two personal fields, sealed under their actor's key.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import random
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import psutil
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg import sql

from bench import fanout
from bench.databases import databases
from optaic_activity.bootstrap import bootstrap, freeze_startup_objects
from optaic_activity.domain import (
    CATALOG,
    ActivityEnvelope,
    NotificationPreferences,
    Resource,
    RoleBinding,
    Subscription,
    activity_context,
)
from optaic_activity.domain.aggregate import ActivityAggregate, ActivityEvent
from optaic_activity.domain.record import ActivityRecord
from optaic_activity.projections.audit_digest import AuditConfig
from optaic_activity.projections.audit_log import GENESIS, audit_log, chain_hash
from optaic_activity.projections.privacy_config import PrivacyConfig
from optaic_activity.projections.runner import BatchResult
from optaic_activity.projections.service import ProjectionService
from optaic_activity.projections.upsert import to_json
from optaic_activity.service.application import ActivityApplication
from optaic_activity.settings import Settings

KINDS = ("folder", "signal", "dataset", "portfolio", "experiment")
ROLES = ("owner", "delegator", "editor", "viewer")
ENVELOPE_ACTIONS = (
    "signal.noted",
    "signal.viewed",
    "dataset.previewed",
    "dataset.export_completed",
    "promotion.commented",
    "promotion.acknowledged",
    "experiment.review_completed",
    "backtest.report_completed",
    "monitoring.drift_viewed",
    "portfolio.viewed",
)
"""Envelope-only actions (no aggregate emits them), matching the preference patterns below
as the guide's own actions would."""
CATALOG.extend(
    (a for a in ENVELOPE_ACTIONS if a not in CATALOG), group="bench", notify_by_default=False
)
PERSONAL_ACTION = "member.noted"
CATALOG.register(PERSONAL_ACTION, group="bench", personal=("email", "display_name"))
VISIBILITIES = ("resource", "resource", "resource", "scope", "tenant", "private")
PATTERN_SETS = (["signal.*"], ["promotion.*", "resource.*"], ["*.completed", "transfer.?ompleted"])
MAX_DEPTH = 7
"""Folders within folders, but not endlessly: no resource deeper than this (roots are 1)."""
OWNERS = 20
"""Resources are created by (and so owned by) the first few principals of each tenant."""


# -- the history ---------------------------------------------------------------------------------


@dataclass
class _Tenant:
    id: UUID
    principals: list[UUID]
    resources: list[Resource] = field(default_factory=list)
    live: list[Resource] = field(default_factory=list)
    bindings: list[RoleBinding] = field(default_factory=list)
    subs: dict[tuple[UUID, UUID, str], Subscription] = field(default_factory=dict)
    prefs: dict[UUID, NotificationPreferences] = field(default_factory=dict)


@dataclass
class HistoryWriter:
    """Builds a realistic mixed history through the domain and saves it in big chunks."""

    app: ActivityApplication
    seed: int = 0
    tenants: int = 3
    principals: int = 400
    chunk: int = 1000
    personal: float = 0.0
    """The share of envelope activities that carry personal fields (sealed at emit)."""
    rng: random.Random = field(init=False)
    written: int = 0
    _pending: dict[UUID, ActivityAggregate] = field(default_factory=dict)
    _pending_events: int = 0
    _parents: dict[UUID, UUID | None] = field(default_factory=dict)
    _children: dict[UUID, set[UUID]] = field(default_factory=dict)
    _resources: dict[UUID, Resource] = field(default_factory=dict)
    _tenants: list[_Tenant] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        people = [UUID(int=self.rng.getrandbits(128)) for _ in range(self.principals)]
        for _ in range(self.tenants):
            # Principals overlap between tenants (someone can work for two of them).
            self._tenants.append(
                _Tenant(
                    UUID(int=self.rng.getrandbits(128)), self.rng.sample(people, len(people) // 2)
                )
            )

    # -- saving ------------------------------------------------------------------------------

    def _add(self, aggregate: ActivityAggregate, events: int = 1) -> None:
        self._pending[aggregate.id] = aggregate
        self._pending_events += events
        if len(self._pending) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.app.save(*self._pending.values())
            self.written += self._pending_events
            self._pending.clear()
            self._pending_events = 0

    # -- building blocks ------------------------------------------------------------------

    def _in(self, tenant: _Tenant, actor: UUID) -> Any:
        return activity_context(tenant_id=tenant.id, actor_principal_id=actor)

    def create_resource(self, tenant: _Tenant) -> None:
        rng = self.rng
        # A few roots per tenant, then a bushy tree a handful of levels deep.
        parent = rng.choice(tenant.live) if tenant.live and rng.random() > 0.02 else None
        if parent is not None and self._depth(parent.id) >= MAX_DEPTH:
            parent = None
        owner = rng.choice(tenant.principals[:OWNERS])
        with self._in(tenant, owner):
            resource = Resource.create(
                resource_type=rng.choice(KINDS), name=f"r{len(tenant.resources)}", parent=parent
            )
        tenant.resources.append(resource)
        tenant.live.append(resource)
        self._parents[resource.id] = parent.id if parent else None
        self._children[resource.id] = set()
        self._resources[resource.id] = resource
        if parent is not None:
            self._children[parent.id].add(resource.id)
        self._add(resource)

    def grant(self, tenant: _Tenant) -> None:
        rng = self.rng
        binding_on = rng.choice(tenant.live)
        # The authorization policy lets the owner grant; it judges ownership as stored.
        if binding_on.id in self._pending:
            self.flush()
        with self._in(tenant, binding_on.owner_id):
            binding = RoleBinding.grant(
                binding_on, rng.choice(tenant.principals), rng.choice(ROLES)
            )
        tenant.bindings.append(binding)
        self._add(binding)

    def revoke(self, tenant: _Tenant) -> None:
        active = [b for b in tenant.bindings[-200:] if not b.revoked and b.id not in self._pending]
        if active:
            binding = self.rng.choice(active)
            on = self._resources[binding.resource_id]
            if on.id in self._pending:
                self.flush()
            with self._in(tenant, on.owner_id):
                binding.revoke()
            self._add(binding)

    def subscribe(self, tenant: _Tenant) -> None:
        rng = self.rng
        who, target = rng.choice(tenant.principals), rng.choice(tenant.live)
        scope = rng.choice(("resource", "descendants"))
        sub = tenant.subs.get((who, target.id, scope))
        if sub is not None and (not sub.revoked or sub.id in self._pending):
            return
        with self._in(tenant, who):
            if sub is None:
                sub = tenant.subs[(who, target.id, scope)] = Subscription.subscribe(target, scope)
            else:
                sub.renew()
        self._add(sub)

    def unsubscribe(self, tenant: _Tenant) -> None:
        active = [s for s in list(tenant.subs.values())[-200:] if not s.revoked]
        if active:
            sub = self.rng.choice(active)
            with self._in(tenant, sub.principal_id):
                sub.revoke()
            self._add(sub)

    def set_prefs(self, tenant: _Tenant) -> None:
        rng = self.rng
        who = rng.choice(tenant.principals)
        mode = rng.choice(("all", "mutations", "custom"))
        patterns = list(rng.choice(PATTERN_SETS)) if mode == "custom" else []
        prefs = tenant.prefs.get(who)
        if prefs is not None and prefs.id in self._pending:
            self.flush()
        with self._in(tenant, who):
            if prefs is None:
                prefs = tenant.prefs[who] = NotificationPreferences.first_set(mode, patterns)
            elif not prefs.change(mode, patterns):
                return
        self._add(prefs)

    def envelope(self, tenant: _Tenant) -> None:
        rng = self.rng
        target = rng.choice(tenant.resources)
        payload: dict[str, Any] = {
            "run": rng.randrange(10_000),
            "metrics": {"sharpe": round(rng.random(), 3)},
        }
        action = rng.choice(ENVELOPE_ACTIONS)
        if self.personal and rng.random() < self.personal:
            action = PERSONAL_ACTION
            payload["email"] = f"user{rng.randrange(10**6)}@example.org"
            payload["display_name"] = f"User {rng.randrange(10**6)}"
        record = ActivityRecord.record(
            ActivityEnvelope(
                tenant_id=tenant.id,
                actor_principal_id=rng.choice(tenant.principals),
                resource_id=target.id,
                resource_type=target.kind,
                action=action,
                visibility=rng.choice(VISIBILITIES),
                payload=payload,
                delivery_channels=[f"resource:{target.id}"] if rng.random() < 0.1 else [],
            )
        )
        self._add(record)

    def read_mark(self, tenant: _Tenant) -> None:
        reader = self.rng.choice(tenant.principals)
        up_to = self.app.recorder.max_notification_id() or 0
        record = ActivityRecord.record(
            ActivityEnvelope(
                tenant_id=tenant.id,
                actor_principal_id=reader,
                resource_id=reader,
                resource_type="principal",
                action="notification.read",
                visibility="private",
                payload={"up_to_position": up_to},
            )
        )
        self._add(record)

    def change_resource(self, tenant: _Tenant) -> None:
        """Rename, move, transfer (request + completion by the new owner) or delete."""
        rng = self.rng
        resource = rng.choice(tenant.live)
        roll, actor = rng.random(), rng.choice(tenant.principals)
        if resource.id in self._pending:
            self.flush()  # keep the log in command order for this aggregate
        with self._in(tenant, actor):
            if roll < 0.55:
                resource.update(name=f"{resource.name}'")
                events = 1
            elif roll < 0.75:
                new_parent = rng.choice(tenant.live)
                if (
                    self._under(new_parent.id, resource.id)  # never under its own subtree
                    or new_parent.id in self._pending  # nor under a parent not saved yet
                    or new_parent.id == resource.parent_id
                    or self._depth(new_parent.id) + self._height(resource.id) > MAX_DEPTH
                ):
                    return
                old_parent = self._parents[resource.id]
                resource.move(new_parent)
                if old_parent is not None:
                    self._children[old_parent].discard(resource.id)
                self._children[new_parent.id].add(resource.id)
                self._parents[resource.id] = new_parent.id
                events = 1
            elif roll < 0.95:
                to = rng.choice(tenant.principals)
                if to == resource.owner_id:
                    return
                with activity_context(actor_principal_id=resource.owner_id):
                    resource.request_transfer(to)
                with activity_context(actor_principal_id=to):
                    resource.complete_transfer()
                events = 2
            else:
                if len(tenant.live) < 50:
                    return
                resource.delete()
                tenant.live.remove(resource)
                events = 1
        self._add(resource, events)

    def _depth(self, node: UUID) -> int:
        depth, current = 1, self._parents[node]
        while current is not None:
            depth, current = depth + 1, self._parents[current]
        return depth

    def _height(self, node: UUID) -> int:
        return 1 + max((self._height(child) for child in self._children[node]), default=0)

    def _under(self, node: UUID, ancestor: UUID) -> bool:
        current: UUID | None = node
        while current is not None:
            if current == ancestor:
                return True
            current = self._parents[current]
        return False

    # -- the mix ---------------------------------------------------------------------------

    def write(self, events: int) -> int:
        """Append about ``events`` activities (a few more at most); return the log's head."""
        target = self.written + self._pending_events + events
        rng = self.rng
        # The tree first (about one resource per 30 activities), then who watches it,
        # then the day-to-day mix.
        setup = [
            (events // 60, self.create_resource),
            (events // 60, self.grant),
            (events // 90, self.subscribe),
            (self.principals // 2, self.set_prefs),
        ]
        for count, step in setup:
            for _ in range(count):
                tenant = rng.choice(self._tenants)
                if not tenant.live:
                    self.create_resource(tenant)
                step(tenant)
        mix: list[Callable[[_Tenant], None]] = [
            self.envelope,
            self.change_resource,
            self.grant,
            self.revoke,
            self.subscribe,
            self.unsubscribe,
            self.set_prefs,
            self.read_mark,
            self.create_resource,
        ]
        weights = [0.68, 0.10, 0.04, 0.02, 0.04, 0.02, 0.02, 0.01, 0.03]
        while self.written + self._pending_events < target:
            tenant = rng.choice(self._tenants)
            if not tenant.live:
                self.create_resource(tenant)
                continue
            [chosen] = rng.choices(mix, weights)
            chosen(tenant)
        self.flush()
        return self.app.recorder.max_notification_id() or 0


def write_history(
    app: ActivityApplication,
    events: int,
    *,
    seed: int = 0,
    chunk: int = 1000,
    personal: float = 0.0,
) -> int:
    """Append a mixed history of about ``events`` activities to ``app``; return the log's head.

    ``personal``: the share of envelope activities with personal fields (needs a master key).
    """
    return HistoryWriter(app, seed=seed, chunk=chunk, personal=personal).write(events)


# -- eventsourcing's own runner, keeping the same audit-log table --------------------------------

ES_TABLE = "es_audit_log"
COLUMNS = [c.name for c in audit_log.c]


def es_audit_table() -> sa.Table:
    """The audit log's exact columns and indexes, under another name."""
    table = audit_log.to_metadata(sa.MetaData(), name=ES_TABLE)
    for index in table.indexes:
        index.name = sa.sql.elements.quoted_name(f"es_{index.name}", quote=None)
    return table


def audit_row(event: ActivityEvent, position: int, last_hash: dict[UUID, str]) -> dict[str, Any]:
    """The same row (and chain hash) as ``AuditLogProjection``, from the domain event."""
    row: dict[str, Any] = {
        "position": position,
        "activity_id": event.activity_id,
        "tenant_id": event.tenant_id,
        "actor_principal_id": event.actor_principal_id,
        "resource_id": event.resource_id,
        "resource_type": event.resource_type,
        "action": event.action,
        "visibility": event.visibility,
        "payload": to_json(event.payload),
        "delivery_channels": to_json(list(event.delivery_channels)),
        "correlation_id": event.correlation_id,
        "aggregate_id": event.originator_id,
        "aggregate_version": event.originator_version,
        "occurred_at": event.timestamp,
    }
    row["prev_hash"] = last_hash.get(event.tenant_id, GENESIS)
    row["hash"] = last_hash[event.tenant_id] = chain_hash(row["prev_hash"], row)
    return row


class PostgresAuditView(PostgresTrackingRecorder):
    """The materialised view: one row and the tracking record per transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.insert_row_statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(ES_TABLE),
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
            sql.SQL(", ").join(sql.Placeholder(c) for c in COLUMNS),
        )

    def insert_row(self, row: dict[str, Any], tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            # The JSON columns get their text as is (psycopg sends str untyped: json casts it).
            curs.execute(self.insert_row_statement, row, prepare=True)
            self._insert_tracking(curs, tracking)


class SQLiteAuditView(SQLiteTrackingRecorder):
    """The same on SQLite, with values as SQLAlchemy stores them there."""

    insert_row_statement = "INSERT INTO {} ({}) VALUES ({})".format(
        ES_TABLE, ", ".join(COLUMNS), ", ".join(":" + c for c in COLUMNS)
    )

    def insert_row(self, row: dict[str, Any], tracking: Tracking) -> None:
        params = {
            k: v.hex
            if isinstance(v, UUID)
            else v.strftime("%Y-%m-%d %H:%M:%S.%f")
            if isinstance(v, datetime)
            else v
            for k, v in row.items()
        }
        with self.datastore.transaction(commit=True) as c:
            c.execute(self.insert_row_statement, params)
            self._insert_tracking(c, tracking)


AuditView = PostgresAuditView | SQLiteAuditView


class ESAuditLogProjection(Projection[Any]):
    """A minimal eventsourcing ``Projection`` writing the audit log through its view."""

    name = "esaudit"

    def __init__(self, view: AuditView) -> None:
        super().__init__(view)
        self.last_hash: dict[UUID, str] = {}

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        event = cast(ActivityEvent, domain_event)
        self.view.insert_row(audit_row(event, tracking.notification_id, self.last_hash), tracking)


def es_env(settings: Settings) -> dict[str, str]:
    return {**settings.eventsourcing_env(), "CREATE_TABLE": "y"}


def run_eventsourcing(settings: Settings, engine: sa.Engine, upto: int) -> float:
    """Seconds for eventsourcing to project events 1..``upto``, one transaction each."""
    es_audit_table().create(engine)
    if settings.is_postgres:
        frozen = settings

        class Upstream(ActivityApplication):
            """The application, as ProjectionRunner constructs it (from an env alone)."""

            name = "activity"

            def __init__(self, env: Any = None) -> None:
                super().__init__(frozen, env)

        started = time.perf_counter()
        with ProjectionRunner(
            application_class=Upstream,
            projection_class=ESAuditLogProjection,
            view_class=PostgresAuditView,
            env=es_env(settings),
        ) as runner:
            runner.wait(upto, timeout=3600)
            return time.perf_counter() - started
    # SQLite cannot subscribe: do what the runner's processing loop does with each
    # notification (map it to the domain event, process it with its tracking object).
    view = (
        InfrastructureFactory[SQLiteAuditView]
        .construct(env=ProjectionRunner._construct_env(ESAuditLogProjection.name, es_env(settings)))
        .tracking_recorder(SQLiteAuditView)
    )
    app = ActivityApplication(settings)
    projection = ESAuditLogProjection(view)
    try:
        started = time.perf_counter()
        position = view.max_tracking_id(app.name) or 0
        while position < upto:
            page = app.recorder.select_notifications(
                position, limit=min(500, upto - position), inclusive_of_start=False
            )
            if not page:
                break
            for notification in page:
                event = app.mapper.to_domain_event(notification)
                projection.process_event(event, Tracking(app.name, notification.id))
            position = page[-1].id
        return time.perf_counter() - started
    finally:
        app.close()


def same_rows(engine: sa.Engine, upto: int) -> bool:
    """Did both projections write the same chain (position and hash) up to ``upto``?"""
    es = es_audit_table()
    with engine.connect() as conn:
        ours = conn.execute(
            sa.select(audit_log.c.position, audit_log.c.hash)
            .where(audit_log.c.position <= upto)
            .order_by(audit_log.c.position)
        ).all()
        theirs = conn.execute(
            sa.select(es.c.position, es.c.hash).where(es.c.position <= upto).order_by(es.c.position)
        ).all()
    return len(ours) == upto and ours == theirs


# -- measuring ------------------------------------------------------------------------------------


def rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


@dataclass
class Result:
    backend: str
    events: int
    write_seconds: float
    audit_seconds: float
    """The median of the rounds."""
    audit_rounds: list[float]
    full_seconds: float
    es_events: int
    es_seconds: float
    es_same_rows: bool
    rss: dict[str, list[tuple[int, float]]]

    def rate(self, seconds: float, events: int | None = None) -> float:
        return (self.events if events is None else events) / seconds


class RssSampler:
    """Resident memory at each 10% of each projection's rebuild."""

    def __init__(self, head: int) -> None:
        self.head = head
        self.samples: dict[str, list[tuple[int, float]]] = {}

    def __call__(self, name: str, result: BatchResult) -> None:
        samples = self.samples.setdefault(name, [(0, rss_mib())])
        while samples[-1][0] < 100 and result.position * 100 >= (samples[-1][0] + 10) * self.head:
            samples.append((samples[-1][0] + 10, rss_mib()))


def settle(engine: sa.Engine) -> None:
    """Start each measured phase from the same footing: what the last phase left written out.

    PostgreSQL: VACUUM ANALYZE (as autovacuum would have by then), so that no side pays for
    setting the hint bits of rows another wrote, then a CHECKPOINT, so that none pays for
    writing out another's pages. SQLite: checkpoint and truncate the WAL.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
            conn.exec_driver_sql("CHECKPOINT")
    else:
        raw = engine.raw_connection()  # outside a transaction, where a checkpoint can run
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def measure(
    backend: str,
    settings: Settings,
    events: int,
    es_events: int | None,
    rounds: int,
    *,
    personal: float = 0.0,
) -> Result:
    runtime = bootstrap(settings)
    try:
        if personal:
            runtime.projections.setup()  # the key table, which sealing writes to
        started = time.perf_counter()
        head = write_history(runtime.app, events, seed=1, chunk=2000, personal=personal)
        write_seconds = time.perf_counter() - started
        service = ProjectionService(runtime.app, runtime.engine, audit=settings.audit)
        service.setup()
        print(f"{backend}: {head:,} events written in {write_seconds:.1f}s", flush=True)
        freeze_startup_objects()  # as `activity projections rebuild` does after start-up

        audit_rounds = []
        for _ in range(rounds):
            settle(runtime.engine)
            started = time.perf_counter()
            service.rebuild(["audit_log"])
            audit_rounds.append(time.perf_counter() - started)
            print(f"{backend}: audit_log rebuilt in {audit_rounds[-1]:.1f}s", flush=True)
        audit_seconds = statistics.median(audit_rounds)

        upto = min(head, es_events or head)
        settle(runtime.engine)
        es_seconds = run_eventsourcing(settings, runtime.engine, upto)
        print(f"{backend}: eventsourcing projected {upto:,} in {es_seconds:.1f}s", flush=True)
        es_same = same_rows(runtime.engine, upto)

        sampler = RssSampler(head)
        settle(runtime.engine)
        started = time.perf_counter()
        service.rebuild(on_batch=sampler)
        full_seconds = time.perf_counter() - started
        print(f"{backend}: both projections rebuilt in {full_seconds:.1f}s", flush=True)
        return Result(
            backend,
            head,
            write_seconds,
            audit_seconds,
            audit_rounds,
            full_seconds,
            upto,
            es_seconds,
            es_same,
            sampler.samples,
        )
    finally:
        runtime.close()


def report(results: list[Result], command: str) -> str:
    cpu = psutil.cpu_count() or 0
    memory = psutil.virtual_memory().total / 2**30
    python = f"{platform.python_implementation()} {platform.python_version()}"
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {cpu} cores, {memory:.0f} GiB, {python}, {platform.machine()}.",
        "",
        '| backend | events | our `rebuild(["audit_log"])` events/s, median (range) '
        "| eventsourcing `ProjectionRunner` events/s | ratio | full rebuild (both) events/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ours, theirs = r.rate(r.audit_seconds), r.rate(r.es_seconds, r.es_events)
        low, high = r.rate(max(r.audit_rounds)), r.rate(min(r.audit_rounds))
        lines.append(
            f"| {r.backend} | {r.events:,} | {ours:,.0f} ({low:,.0f}-{high:,.0f}) | {theirs:,.0f}"
            f"{'' if r.es_same_rows else ' (rows differ!)'} | {ours / theirs:.1f}x "
            f"| {r.rate(r.full_seconds):,.0f} |"
        )
    lines += [
        "",
        "Resident memory (MiB) during the full rebuild, at 0%, 10%, ... 100% of each projection:",
        "",
    ]
    for r in results:
        for name, samples in r.rss.items():
            lines.append(
                f"- {r.backend} `{name}`: " + ", ".join(f"{mib:.0f}" for _, mib in samples)
            )
    return "\n".join(lines)


def bench_signing(every_rows: int) -> AuditConfig:
    """Digests signed with a throwaway key, every ``every_rows`` rows of a tenant."""
    key = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return AuditConfig(
        signing_key=base64.b64encode(key).decode(),
        signing_key_id="bench",
        digest_every_rows=every_rows,
    )


def bench_privacy() -> PrivacyConfig:
    """A throwaway master key for the personal-data keys."""
    return PrivacyConfig(master_key=base64.b64encode(os.urandom(32)).decode())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--es-events",
        type=int,
        default=None,
        help="project only this many events with eventsourcing's runner (default: all)",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rebuilds of the audit log (the median is reported)"
    )
    parser.add_argument(
        "--digest-every",
        type=int,
        default=0,
        metavar="N",
        help="seal each tenant's chain with a signed digest every N rows (0: no digests)",
    )
    parser.add_argument(
        "--privacy",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="also measure, beside the plain run, the history with digests on and FRACTION of "
        "the envelope activities carrying personal fields (encrypted at emit)",
    )
    parser.add_argument(
        "--shapes",
        action="store_true",
        help="then the routing fan-out sweep, depth 1/5/20 x subscribers 1/100/1000 (PostgreSQL)",
    )
    parser.add_argument(
        "--only-shapes", action="store_true", help="the sweep alone (no full rebuild)"
    )
    parser.add_argument(
        "--index-cost",
        default=None,
        metavar="INDEX",
        help="instead, what one index costs the fan-out: the 5x100 and 5x1000 shapes with "
        "and without it, alternating for --rounds rounds (PostgreSQL)",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if (args.shapes or args.only_shapes) and "postgres" not in backends:
        parser.error("--shapes runs on PostgreSQL: use --backend postgres or both")
    if args.index_cost:
        from tests.support.services import PostgresServer

        with PostgresServer() as server:
            costs = fanout.run_index_cost(server.create_database, args.index_cost, args.rounds)
        print()
        print(fanout.index_cost_report(args.index_cost, costs))
        return
    results = []
    every = args.digest_every or 1000
    # (label suffix, digests every N rows, personal share): with --privacy, three variants of
    # the same history side by side, so that each one's cost shows.
    variants = (
        [
            ("plain", 0, 0.0),
            (f"digests/{every}", every, 0.0),
            (f"digests/{every} + {args.privacy:.0%} personal", every, args.privacy),
        ]
        if args.privacy
        else [("", args.digest_every, 0.0)]
    )
    shapes: list[fanout.ShapeResult] = []
    with databases(backends if not args.only_shapes else [], len(variants)) as found:
        for n, (backend, settings) in enumerate(found):
            suffix, digests, personal = variants[n % len(variants)]
            update: dict[str, Any] = {}
            if digests:
                update["audit"] = bench_signing(digests)
            if personal:
                update["privacy"] = bench_privacy()
            label = f"{backend}, {suffix}" if suffix else backend
            results.append(
                measure(
                    label,
                    settings.model_copy(update=update),
                    args.events,
                    args.es_events,
                    args.rounds,
                    personal=personal,
                )
            )
    if args.shapes or args.only_shapes:
        from tests.support.services import PostgresServer

        with PostgresServer() as server:
            shapes = fanout.run_sweep(server.create_database)
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    print()
    if results:
        print(report(results, f".venv/bin/python -m bench.projections {argv}".strip()))
    if shapes:
        print()
        print("Routing fan-out by shape (PostgreSQL):")
        print()
        print(fanout.report(shapes))


if __name__ == "__main__":
    main()
