"""The guide's watcher flow (scenarios/watchers-guide-flow.json), replayed through the domain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import (
    ActivityEnvelope,
    NotificationPreferences,
    Resource,
    RoleBinding,
    Subscription,
    activity_context,
)
from optaic_activity.service.emit import record_activity
from tests.integration.projections.tables import as_outbox, inbox, outbox_recipients

SCENARIO = Path("/work/shared/scenarios/watchers-guide-flow.json")
KIND = {"folder": "folder", "sig": "signal"}


class Names(dict[str, UUID]):
    """Symbolic names of the scenario, each mapped to a fresh UUID on first use."""

    def __missing__(self, name: str) -> UUID:
        self[name] = uuid4()
        return self[name]


def replay(runtime: Runtime, history: list[dict[str, Any]], ids: Names) -> dict[str, int]:
    """Apply the history through the domain; return each activity's position in the log."""
    app = runtime.app
    resources: dict[str, Resource] = {}
    positions: dict[str, int] = {}
    for item in history:
        tenant = ids[item["tenant"]]
        match item["kind"]:
            case "resource":
                with activity_context(tenant_id=tenant, actor_principal_id=ids[item["owner"]]):
                    parent = resources[item["parent"]] if item["parent"] else None
                    resources[item["id"]] = Resource.create(
                        resource_type=KIND[item["id"]], name=item["id"], parent=parent
                    )
                app.save(resources[item["id"]])
            case "grant":
                on = resources[item["resource"]]
                # The owner grants: the authorization policy refuses anyone else here.
                with activity_context(tenant_id=tenant, actor_principal_id=on.owner_id):
                    binding = RoleBinding.grant(on, ids[item["principal"]], item["role"])
                app.save(binding)
            case "subscribe":
                target = resources[item["resource"]]
                with activity_context(tenant_id=tenant, actor_principal_id=ids[item["principal"]]):
                    subscription = Subscription.subscribe(target, item["scope"])
                app.save(subscription)
            case "prefs":
                mode, patterns = item["mode"], item.get("patterns", [])
                with activity_context(tenant_id=tenant, actor_principal_id=ids[item["principal"]]):
                    prefs = NotificationPreferences.first_set(mode, patterns)
                app.save(prefs)
            case "activity":
                target = resources[item["resource"]]
                recorded = record_activity(
                    app,
                    ActivityEnvelope(
                        tenant_id=tenant,
                        actor_principal_id=ids[item["actor"]],
                        resource_id=target.id,
                        resource_type=target.kind,
                        action=item["action"],
                        visibility=item["visibility"],
                    ),
                )
                assert recorded.position is not None
                positions[item["id"]] = recorded.position
            case other:
                raise AssertionError(f"unknown history item kind {other!r}")
    return positions


def test_the_guides_flow_notifies_exactly_the_expected_recipients_for_the_expected_reasons(
    runtime: Runtime,
) -> None:
    scenario = json.loads(SCENARIO.read_text())
    ids = Names()
    positions = replay(runtime, scenario["history"], ids)
    runtime.projections.catch_up()

    expected = {
        positions[activity]: {ids[name]: reasons for name, reasons in recipients.items()}
        for activity, recipients in scenario["expected"].items()
    }
    assert set(positions) == set(scenario["expected"])
    assert inbox(runtime.engine, expected) == expected
    # One outbox row per activity that has someone to notify, with the same recipients.
    assert outbox_recipients(runtime.engine, expected) == {
        position: as_outbox(recipients) for position, recipients in expected.items() if recipients
    }
