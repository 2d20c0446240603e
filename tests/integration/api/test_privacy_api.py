"""The HTTP read paths (feed, audit page, exports; the live page reads the first two) show
personal fields opened while the key lives and erased after, on both stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.domain.personal import ERASED
from optaic_activity.service.emit import record_activity
from optaic_activity.service.privacy import erase_subject
from optaic_activity.settings import Settings
from tests.integration.api.conftest import ClientFor, World, api_settings
from tests.support.personal import EMAIL, PROFILE, STREET, profile, with_privacy

pytestmark = pytest.mark.anyio


@pytest.fixture
def runtime(store_settings: Settings) -> Iterator[Runtime]:
    rt = bootstrap(with_privacy(api_settings(store_settings)))
    rt.projections.setup()
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def recorded(world: World, runtime: Runtime) -> World:
    """The owner records vic's profile, visible to the tenant."""
    owner = world.owner
    record_activity(
        runtime.app, profile(owner.tenant_id, owner.principal_id, world.vic.principal_id)
    )
    runtime.projections.catch_up()
    return world


async def _reads(client_for: ClientFor, world: World) -> dict[str, Any]:
    """The profile's payload as the feed, the audit page and each export show it."""
    shown: dict[str, Any] = {}
    async with client_for(world.vic) as http:
        feed = (await http.get("/activities")).json()["items"]
    shown["feed"] = next(a["payload"] for a in feed if a["action"] == PROFILE)
    async with client_for(world.auditor) as http:
        audit = (await http.get("/audit")).json()["items"]
        shown["audit"] = next(e["payload"] for e in audit if e["action"] == PROFILE)
        for fmt in ("jsonl", "ocsf"):
            answer = await http.get("/audit", params={"format": fmt})
            assert answer.status_code == 200, answer.text
            rows = [json.loads(line) for line in answer.text.splitlines()]
            views = [
                r["unmapped"]["payload_view"] if fmt == "ocsf" else r["payload_view"]
                for r in rows
                if (r["message"] if fmt == "ocsf" else r["action"]) == PROFILE
            ]
            shown[fmt] = views[0]
            assert EMAIL not in json.dumps([r.get("canonical", "") for r in rows])
        csv_export = await http.get("/audit", params={"format": "csv"})
        shown["csv"] = csv_export.text
    return shown


async def test_the_api_shows_personal_fields_opened_then_erased(
    recorded: World, runtime: Runtime, client_for: ClientFor
) -> None:
    before = await _reads(client_for, recorded)
    for name in ("feed", "audit", "jsonl", "ocsf"):
        assert before[name]["email"] == EMAIL, name
        assert before[name]["address"]["street"] == STREET, name
    assert EMAIL in before["csv"]

    erase_subject(
        runtime.app,
        runtime.engine,
        recorded.vic.principal_id,
        actor_principal_id=recorded.owner.principal_id,
    )
    runtime.projections.catch_up()
    after = await _reads(client_for, recorded)
    for name in ("feed", "audit", "jsonl", "ocsf"):
        assert after[name]["email"] == ERASED, name
        assert after[name]["address"] == {"street": ERASED, "city": "Lyon"}, name
    assert EMAIL not in after["csv"]
    assert STREET not in after["csv"]
