"""Reads at size: p50/p99 of GET /audit, /activities and /notifications against the target.

Writes ``--rows`` audit rows and about as many inbox rows for one principal straight into
the read models (``bench.read_dataset``), then times each query shape the API issues, page
one and a deep keyset page (``--depth`` rows in, by cursor), ``--repeat`` times each,
shapes interleaved so that the shared machine's load falls on all of them alike. Each
sample is timed twice, side by side: the HTTP GET in-process (httpx's ASGI transport
against the real app: token check, the query, the self-audit write of ``/audit``, pydantic
serialisation) and the query function alone on a pooled connection (the database's share).

    .venv/bin/python -m bench.reads [--rows 1000000] [--backend postgres] [--repeat 200]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

import httpx
import psutil
import sqlalchemy as sa
from pydantic import SecretStr

from bench.databases import databases
from bench.read_dataset import Dataset, build
from optaic_activity.api.app import create_app
from optaic_activity.api.auth import mint_api_token
from optaic_activity.bootstrap import Runtime, bootstrap, freeze_startup_objects
from optaic_activity.domain.inbox import InboxFilter
from optaic_activity.projections.backends import backend_for
from optaic_activity.projections.queries import (
    MAX_LIMIT,
    AuditFilter,
    Page,
    encode_cursor,
    inbox_counts,
    query_audit,
    query_feed,
    query_inbox,
)
from optaic_activity.settings import Settings

TARGET_P99_MS = 50.0
SECRET = "bench-reads-secret-0123456789abcdef0123"
BASE_URL = "http://activity.bench"

Read = Callable[[sa.Connection, int, str | None], Any]
"""A query function of the API: (connection, limit, cursor) -> its result."""


@dataclass(frozen=True)
class Shape:
    name: str
    path: str
    params: dict[str, str]
    auditor: bool
    read: Read
    limit: int
    deep: bool = False
    cursor: str | None = None
    tenant: UUID | None = None
    """The caller's tenant, if not the big one."""
    principal: UUID | None = None
    """The caller, if not the reader."""
    paged: bool = True
    """Takes ``limit`` and ``cursor`` (``/notifications/counts`` takes no parameter)."""

    def deep_page(self, cursor: str) -> Shape:
        return replace(self, name=f"{self.name}, deep page", deep=True, cursor=cursor)


def shapes(data: Dataset) -> list[Shape]:
    """Every filter the API offers, at the route's default page size, over ``data``."""
    t, reader = data.tenant_id, data.reader

    def audit(name: str, params: dict[str, str], f: AuditFilter, tenant: UUID = t) -> Shape:
        return Shape(
            f"audit, {name}",
            "/audit",
            params,
            True,
            lambda c, n, cur: query_audit(c, tenant, f, limit=n, cursor=cur),
            100,
            tenant=tenant,
        )

    since, until = data.day

    return [
        audit("no filter", {}, AuditFilter()),
        audit(
            "busy actor",
            {"actor": str(data.busy_actor)},
            AuditFilter(actor_principal_id=data.busy_actor),
        ),
        audit(
            "quiet actor",
            {"actor": str(data.quiet_actor)},
            AuditFilter(actor_principal_id=data.quiet_actor),
        ),
        audit("resource", {"resource_id": str(data.leaf)}, AuditFilter(resource_id=data.leaf)),
        audit(
            "subtree",
            {"resource_id": str(data.subtree), "include_descendants": "true"},
            AuditFilter(resource_id=data.subtree, include_descendants=True),
        ),
        audit("action", {"action": "promotion.approved"}, AuditFilter(action="promotion.approved")),
        audit("action glob", {"action": "promotion.*"}, AuditFilter(action="promotion.*")),
        audit("action glob, common", {"action": "*.updated"}, AuditFilter(action="*.updated")),
        audit(
            "correlation",
            {"correlation_id": str(data.workflow)},
            AuditFilter(correlation_id=data.workflow),
        ),
        audit("small tenant", {}, AuditFilter(), tenant=data.small_tenant),
        audit(
            "one day",
            {"since": since.isoformat(), "until": until.isoformat()},
            AuditFilter(since=since, until=until),
        ),
        Shape(
            "feed",
            "/activities",
            {},
            False,
            lambda c, n, cur: query_feed(c, t, reader, limit=n, cursor=cur),
            50,
        ),
        Shape(
            "feed, action glob",
            "/activities",
            {"action": "promotion.*"},
            False,
            lambda c, n, cur: query_feed(c, t, reader, action="promotion.*", limit=n, cursor=cur),
            50,
        ),
        *inbox_shapes(data),
        Shape(
            "inbox counts",
            "/notifications/counts",
            {},
            False,
            lambda c, n, cur: (Page([], None), _counted(c, t, reader)),
            50,
            paged=False,
        ),
    ]


def _counted(conn: sa.Connection, tenant: UUID, principal: UUID) -> int:
    """The counts of a page (unread and unseen): the rows counting them reads."""
    counted = inbox_counts(conn, tenant, principal)
    return counted.unread + counted.unseen


def inbox_shapes(data: Dataset, *, rare_filters: bool = False) -> list[Shape]:
    """``GET /notifications`` in each state and with the filters a page offers; with
    ``rare_filters``, the filter no index serves too (a rare action glob: the walk reads
    the inbox until a page matches, measured but not plan-checked)."""
    t, reader = data.tenant_id, data.reader

    def inbox(
        name: str,
        params: dict[str, str],
        filters: InboxFilter,
        *,
        principal: UUID = reader,
        cursor: str | None = None,
    ) -> Shape:
        return Shape(
            f"inbox, {name}",
            "/notifications",
            params,
            False,
            lambda c, n, cur: (
                query_inbox(c, t, principal, filters=filters, limit=n, cursor=cur),
                _counted(c, t, principal),
            ),
            50,
            deep=cursor is not None,
            cursor=cursor,
            principal=None if principal == reader else principal,
        )

    found = [
        inbox("default state (page + counts)", {}, InboxFilter()),
        inbox("unread", {"state": "unread"}, InboxFilter(state="unread")),
        inbox("unseen", {"state": "unseen"}, InboxFilter(state="unseen")),
        inbox("read", {"state": "read"}, InboxFilter(state="read")),
        inbox("archived", {"state": "archived"}, InboxFilter(state="archived")),
        inbox("snoozed", {"state": "snoozed"}, InboxFilter(state="snoozed")),
        inbox("all states", {"state": "all"}, InboxFilter(state="all")),
        # Load more past the done pile: a few kept rows among the archived ones.
        inbox(
            "default state, past the archived",
            {},
            InboxFilter(),
            cursor=encode_cursor(data.archived_below),
        ),
        inbox("reason", {"reason": "subscriber"}, InboxFilter(reason="subscriber")),
        inbox("action glob, common", {"action": "*.updated"}, InboxFilter(action="*.updated")),
        inbox("light reader", {}, InboxFilter(), principal=data.light_reader),
        inbox("resource", {"resource_id": str(data.leaf)}, InboxFilter(resource_id=data.leaf)),
    ]
    if rare_filters:
        found.append(
            inbox("action glob, rare", {"action": "promotion.*"}, InboxFilter(action="promotion.*"))
        )
    return found


def deep_cursor(conn: sa.Connection, shape: Shape, depth: int) -> str | None:
    """The cursor ``depth`` rows into the shape's matches (halfway through them if it has
    fewer; None if they fit on one page), found by reading pages of ``MAX_LIMIT``."""
    positions: list[int] = []
    cursor: str | None = None
    while len(positions) < depth:
        result = shape.read(conn, MAX_LIMIT, cursor)
        page: Page = result[0] if isinstance(result, tuple) else result
        positions += [int(item["position"]) for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    if len(positions) <= shape.limit:
        return None
    return encode_cursor(positions[min(depth, len(positions) // 2) - 1])


@dataclass
class Timing:
    shape: Shape
    rows_in: int = 0
    http_ms: list[float] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def measure(runtime: Runtime, data: Dataset, repeat: int, depth: int) -> list[Timing]:
    api = create_app(runtime)

    def token(shape: Shape) -> str:
        return mint_api_token(
            SECRET,
            tenant_id=shape.tenant or data.tenant_id,
            principal_id=shape.principal or data.reader,
            roles=("auditor",) if shape.auditor else (),
        )

    timings: list[Timing] = []
    measured = [*shapes(data), *inbox_shapes(data, rare_filters=True)[-1:]]
    with runtime.engine.connect() as conn:
        for shape in measured:
            timings.append(Timing(shape))
            cursor = deep_cursor(conn, shape, depth)
            if cursor is not None:
                timings.append(Timing(shape.deep_page(cursor)))
    tokens = {timing.shape.name: token(timing.shape) for timing in timings}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(api), base_url=BASE_URL, timeout=60
    ) as client:
        for round_ in range(repeat + 3):  # three warm-up rounds, not counted
            for timing in timings:
                shape = timing.shape
                params = {**shape.params, "limit": str(shape.limit)} if shape.paged else {}
                if shape.cursor:
                    params["cursor"] = shape.cursor
                headers = {"Authorization": f"Bearer {tokens[shape.name]}"}
                started = time.perf_counter()
                response = await client.get(shape.path, params=params, headers=headers)
                http_ms = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                with runtime.engine.connect() as conn:
                    backend_for(conn).read_only(conn)  # as the API's read connections are
                    started = time.perf_counter()
                    shape.read(conn, shape.limit, shape.cursor)
                    query_ms = (time.perf_counter() - started) * 1000
                if round_ >= 3:
                    timing.http_ms.append(http_ms)
                    timing.query_ms.append(query_ms)
                elif round_ == 0:
                    timing.rows_in = len(response.json().get("items", []))
    return timings


def report(backend: str, data: Dataset, timings: list[Timing], seconds: float) -> str:
    lines = [
        f"{backend}: {data.audit_rows:,} audit rows in the tenant, {data.inbox_rows:,} inbox rows"
        f" for the reader, {data.resources:,} resources; loaded in {seconds:.0f} s",
        "",
        "| shape | items | HTTP p50 ms | HTTP p99 ms | query p50 ms | query p99 ms |"
        f" p99 ≤ {TARGET_P99_MS:g} ms |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for t in timings:
        http99 = p(t.http_ms, 99)
        lines.append(
            f"| {t.shape.name} | {t.rows_in} | {p(t.http_ms, 50):.1f} | {http99:.1f} "
            f"| {p(t.query_ms, 50):.1f} | {p(t.query_ms, 99):.1f} "
            f"| {'met' if http99 <= TARGET_P99_MS else '**missed**'} |"
        )
    return "\n".join(lines)


def run(backend: str, settings: Settings, rows: int, repeat: int, depth: int) -> str:
    runtime = bootstrap(settings.model_copy(update={"api_token_secret": SecretStr(SECRET)}))
    try:
        runtime.projections.setup()
        started = time.perf_counter()
        data = build(runtime.engine, rows=rows)
        seconds = time.perf_counter() - started
        print(f"{backend}: dataset written in {seconds:.0f} s", flush=True)
        freeze_startup_objects()  # as `activity serve` does once started
        timings = asyncio.run(measure(runtime, data, repeat, depth))
        return report(backend, data, timings, seconds)
    finally:
        runtime.close()


def load_average() -> str:
    one, five, fifteen = psutil.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="postgres")
    parser.add_argument("--repeat", type=int, default=200, help="timed requests per shape")
    parser.add_argument("--depth", type=int, default=100_000, help="rows before the deep page")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    tables = []
    with databases(backends) as found:
        for backend, settings in found:
            tables.append(run(backend, settings, args.rows, args.repeat, args.depth))
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    cpu = psutil.cpu_count() or 0
    memory = psutil.virtual_memory().total / 2**30
    print()
    print(f"Command: `.venv/bin/python -m bench.reads {argv}`")
    print()
    print(
        f"Machine: {cpu} cores, {memory:.0f} GiB, {platform.python_implementation()} "
        f"{platform.python_version()}; load average after the run (1, 5, 15 min): {load_average()}"
    )
    for table in tables:
        print()
        print(table)


if __name__ == "__main__":
    main()
