"""``activity demo``: a research team's day on OptAIC, recorded, projected and shown."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from rich.console import Console
from rich.table import Table

from optaic_activity.bootstrap import Runtime, notifier_runtime
from optaic_activity.domain import (
    ActivityEnvelope,
    NotificationPreferences,
    Resource,
    Role,
    RoleBinding,
    Subscription,
    Visibility,
    activity_context,
    workflow,
)
from optaic_activity.domain.optaic import Backtest, Dataset, Experiment, Signal, run_promotion
from optaic_activity.notifier.worker import OutboxWorker
from optaic_activity.projections.audit_log import verify_chain
from optaic_activity.projections.queries import AuditFilter, query_audit, query_inbox, unread_count
from optaic_activity.service.emit import record_activity
from optaic_activity.service.inbox import mark_read

PEOPLE = ("olga", "sam", "dora", "amy", "vic")
ROLES = {
    "olga": "head of research, owns the Research folder",
    "sam": "quant, owns the Momentum signal",
    "dora": "delegator on Research",
    "amy": "engineer, editor on Research",
    "vic": "viewer on Research, subscribed to signal.* only",
}


def run_demo(runtime: Runtime, console: Console) -> dict[str, Any]:
    """Record the scenario, catch the projections up, print it; return what was shown."""
    app = runtime.app
    tenant = uuid4()
    ids = {name: uuid4() for name in PEOPLE}
    names = {v: k for k, v in ids.items()}

    def acting(name: str) -> Any:
        return activity_context(tenant_id=tenant, actor_principal_id=ids[name])

    with acting("olga"):
        research = Resource.create(resource_type="folder", name="Research")
        grants = [
            RoleBinding.grant(research, ids["dora"], Role.DELEGATOR),
            RoleBinding.grant(research, ids["amy"], Role.EDITOR),
            RoleBinding.grant(research, ids["vic"], Role.VIEWER),
        ]
        app.save(research, *grants)
    with acting("vic"):
        app.save(
            Subscription.subscribe(research, "descendants"),
            NotificationPreferences.first_set("custom", ["signal.*"]),
        )
    with acting("amy"):
        app.save(Subscription.subscribe(research, "descendants"))
    with acting("dora"):
        app.save(NotificationPreferences.first_set("all", []))
    with acting("sam"):
        dataset = Dataset.create(
            name="US equities daily",
            data_ref="s3://optaic/us-eq/daily",
            schema={"date": "date", "ticker": "str", "close": "float"},
            row_count=1_250_000,
            parent=research,
        )
        signal = Signal.register(
            name="Momentum 12-1", signal_type="momentum", universe="US large cap", parent=research
        )
        experiment = Experiment.create(name="Momentum lookbacks", parent=research)
        experiment.save_macro("mom_12_1", "rank(ret(252) - ret(21))")
        backtest = Backtest.start(
            name="Momentum 2010-2025",
            parent=experiment,
            parameters={"start": "2010-01-01", "end": "2025-12-31"},
        )
        backtest.complete(
            metrics={"sharpe": 1.42, "max_drawdown": -0.18},
            data_ref="s3://optaic/backtests/momentum-2010-2025",
        )
        experiment.record_run(backtest)
        signal.validate(checks={"no_lookahead": True, "coverage": True}, metrics={"ic": 0.031})
        app.save(dataset, signal, experiment, backtest)
        record_activity(
            app,
            ActivityEnvelope(
                tenant_id=tenant,
                actor_principal_id=ids["sam"],
                resource_id=dataset.id,
                resource_type="dataset",
                action="dataset.previewed",
                visibility=Visibility.PRIVATE,
                payload={"row_count": 20, "data_ref": "s3://optaic/us-eq/daily/preview"},
            ),
        )
    with acting("amy"), workflow():
        promotion = run_promotion(
            signal,
            to_stage="staging",
            guardrails={"turnover": "pass", "capacity": "warn"},
            approver_id=ids["olga"],
            reason="passes research review",
        )
        app.save(promotion, signal)
    runtime.projections.catch_up()

    with runtime.engine.connect() as conn:
        audit = query_audit(conn, tenant, AuditFilter(), limit=100).items
        promotion_trail = query_audit(
            conn, tenant, AuditFilter(correlation_id=promotion.correlation_id), limit=100
        ).items
        chain = verify_chain(conn, tenant)
        inboxes = {name: query_inbox(conn, tenant, ids[name], limit=100).items for name in PEOPLE}
        unread = {name: unread_count(conn, tenant, ids[name]) for name in PEOPLE}

    _print_audit(console, audit, names)
    console.print(
        f"\nThe promotion workflow: {len(promotion_trail)} activities share correlation id "
        f"{promotion.correlation_id}: "
        + ", ".join(row["action"] for row in reversed(promotion_trail))
    )
    console.print(
        f"Audit hash chain: {'[green]intact[/]' if chain.intact else '[red]broken[/]'} "
        f"({chain.rows_checked} rows)\n"
    )
    _print_inboxes(console, inboxes, unread, names)

    _push_notifications(runtime, console)

    # Reading is an activity too: vic marks everything read.
    if inboxes["vic"]:
        mark_read(
            app,
            tenant_id=tenant,
            principal_id=ids["vic"],
            up_to_position=max(int(r["position"]) for r in inboxes["vic"]),
        )
        runtime.projections.catch_up()
        with runtime.engine.connect() as conn:
            console.print(
                f"vic marked all read: unread now {unread_count(conn, tenant, ids['vic'])}"
            )
    return {
        "tenant_id": tenant,
        "audit": audit,
        "inboxes": inboxes,
        "unread": unread,
        "chain_intact": chain.intact,
        "ids": ids,
    }


def _push_notifications(runtime: Runtime, console: Console) -> None:
    """Drain the outbox once: to Centrifugo if configured, else to this console."""
    notifier = notifier_runtime(runtime.settings, console=console)
    target = (
        "Centrifugo"
        if runtime.settings.centrifugo_api_url
        else "the console (no Centrifugo configured)"
    )
    console.print(f"\nPushing the outbox to {target}:")
    try:
        report = OutboxWorker(notifier.engine, notifier.publisher, notifier.config).run(
            follow=False
        )
    finally:
        notifier.close()
    console.print(f"{report.sent} notifications sent, {report.dead} dead-lettered\n")


def _who(names: dict[UUID, str], principal: Any) -> str:
    return names.get(UUID(str(principal)), str(principal)[:8])


def _print_audit(console: Console, audit: list[dict[str, Any]], names: dict[UUID, str]) -> None:
    table = Table(title="Recorded activities (the audit log, oldest first)")
    for column in ("pos", "action", "actor", "resource", "visibility", "correlation", "payload"):
        table.add_column(column, overflow="ellipsis", no_wrap=column != "payload")
    for row in reversed(audit):
        payload = json.dumps(row["payload"], default=str)
        table.add_row(
            str(row["position"]),
            row["action"],
            _who(names, row["actor_principal_id"]),
            f"{row['resource_type']}:{str(row['resource_id'])[:8]}",
            row["visibility"],
            str(row["correlation_id"])[:8],
            payload if len(payload) < 48 else payload[:45] + "...",
        )
    console.print(table)


def _print_inboxes(
    console: Console,
    inboxes: dict[str, list[dict[str, Any]]],
    unread: dict[str, int],
    names: dict[UUID, str],
) -> None:
    for name, rows in inboxes.items():
        table = Table(title=f"{name}'s inbox ({ROLES[name]}): {unread[name]} unread")
        for column in ("pos", "summary", "by", "why"):
            table.add_column(column)
        for row in reversed(rows):
            table.add_row(
                str(row["position"]),
                row["summary"],
                _who(names, row["actor_principal_id"]),
                ", ".join(row["reasons"]),
            )
        if not rows:
            table.add_row("-", "(nothing)", "", "")
        console.print(table)
