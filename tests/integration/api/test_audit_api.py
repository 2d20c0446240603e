"""GET /audit: auditors only, filters, cursor pages, streamed JSONL and CSV, on both stores."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest

import optaic_activity.api.audit_export
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import Resource, activity_context
from tests.integration.api.conftest import ClientFor, World

pytestmark = pytest.mark.anyio


@pytest.fixture
def audited(world: World, runtime: Runtime) -> tuple[World, UUID, datetime]:
    """The world, then (after ``mid``) two edits by the owner in one workflow."""
    mid = datetime.now(UTC)
    workflow = uuid4()
    owner = world.owner
    with activity_context(
        tenant_id=owner.tenant_id, actor_principal_id=owner.principal_id, correlation_id=workflow
    ):
        for resource_id, name in ((world.report, "Q3 final"), (world.folder, "Research (old)")):
            resource = runtime.app.get(resource_id, tenant_id=owner.tenant_id, kind=Resource)
            resource.update(name=name)
            runtime.app.save(resource)
    runtime.projections.catch_up()
    return world, workflow, mid


async def _all_pages(client_for: ClientFor, world: World, **params: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    async with client_for(world.auditor) as http:
        while True:
            query = {**params, **({"cursor": cursor} if cursor else {})}
            answer = await http.get("/audit", params=query)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            entries += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return entries


async def test_the_audit_log_is_for_auditors_only(world: World, client_for: ClientFor) -> None:
    async with client_for(world.vic) as http:
        refused = await http.get("/audit")
        refused_export = await http.get("/audit", params={"format": "csv"})
    assert refused.status_code == refused_export.status_code == 403
    assert refused.json()["type"] == "urn:optaic:activity:problem:forbidden"
    async with client_for(None) as http:
        assert (await http.get("/audit")).status_code == 401
    async with client_for(world.auditor) as http:
        assert (await http.get("/audit")).status_code == 200


async def test_audit_filters_select_by_actor_resource_subtree_action_time_and_workflow(
    audited: tuple[World, UUID, datetime], client_for: ClientFor
) -> None:
    world, workflow, mid = audited
    folder, report = str(world.folder), str(world.report)

    async def pick(**params: Any) -> list[tuple[str, str]]:
        return [
            (e["action"], e["resource_id"]) for e in await _all_pages(client_for, world, **params)
        ]

    everything = await pick()
    assert len(everything) == 6  # 4 setup + 2 edits; nothing of the other tenant
    assert str(world.theirs) not in {resource for _, resource in everything}
    assert await pick(resource_id=folder) == [
        ("resource.updated", folder),
        ("role_binding.granted", folder),
        ("resource.created", folder),
    ]
    assert await pick(resource_id=folder, include_descendants=True) == [
        ("resource.updated", folder),
        ("resource.updated", report),
        ("role_binding.granted", folder),
        ("resource.created", report),
        ("resource.created", folder),
    ]
    assert await pick(action="role_binding.*") == [("role_binding.granted", folder)]
    edits = [("resource.updated", folder), ("resource.updated", report)]
    assert await pick(correlation_id=str(workflow)) == edits
    assert await pick(since=mid.isoformat()) == edits
    in_paris = mid.astimezone(timezone(timedelta(hours=1))).isoformat()
    assert await pick(since=in_paris) == edits
    assert await pick(until=mid.isoformat().replace("+00:00", "Z")) == everything[2:]
    assert await pick(actor=str(world.vic.principal_id)) == []


async def test_audit_pages_resume_with_the_cursor_and_carry_the_hash_chain(
    audited: tuple[World, UUID, datetime], client_for: ClientFor
) -> None:
    world, _, _ = audited
    paged = await _all_pages(client_for, world, limit=4)
    assert len(paged) == 6
    async with client_for(world.auditor) as http:
        assert (await http.get("/audit", params={"limit": 1000})).json()["items"] == paged
    for newer, older in itertools.pairwise(paged):
        assert newer["prev_hash"] == older["hash"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_exports_stream_every_matching_entry_as_an_attachment(
    audited: tuple[World, UUID, datetime],
    client_for: ClientFor,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    world, _, _ = audited
    monkeypatch.setattr(optaic_activity.api.audit_export, "EXPORT_PAGE_SIZE", 2)  # several pages
    expected = await _all_pages(client_for, world, action="resource.*")
    async with client_for(world.auditor) as http:
        # limit and cursor do not apply to exports: every matching row comes
        answer = await http.get(
            "/audit", params={"format": fmt, "action": "resource.*", "limit": 1}
        )
    assert answer.status_code == 200
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="audit-')
    assert disposition.endswith(f'.{fmt}"')
    if fmt == "jsonl":
        assert answer.headers["content-type"] == "application/x-ndjson"
        exported = [json.loads(line) for line in answer.text.splitlines()]
    else:
        assert answer.headers["content-type"] == "text/csv; charset=utf-8"
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        exported = [
            {
                **row,
                "position": int(row["position"]),
                "aggregate_version": int(row["aggregate_version"]),
                "payload": json.loads(row["payload"]),
                "delivery_channels": json.loads(row["delivery_channels"]),
            }
            for row in rows
        ]
    assert len(expected) == 5  # 3 creations, 2 edits
    # Oldest first; each entry with the exact text its hash covers.
    for entry in exported:
        assert hashlib.sha256((entry["prev_hash"] + entry["canonical"]).encode()).hexdigest() == (
            entry["hash"]
        )
    assert [_comparable(entry) for entry in exported] == [
        _comparable(entry) for entry in reversed(expected)
    ]


def _comparable(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry without its hashed text, its time as a datetime (pages and exports spell
    it differently)."""
    kept = {k: v for k, v in entry.items() if k != "canonical"}
    kept["occurred_at"] = datetime.fromisoformat(str(kept["occurred_at"]).replace("Z", "+00:00"))
    return kept


async def test_an_empty_csv_export_is_just_its_header(world: World, client_for: ClientFor) -> None:
    async with client_for(world.auditor) as http:
        answer = await http.get("/audit", params={"format": "csv", "actor": str(uuid4())})
    assert answer.text.splitlines() == [",".join(optaic_activity.api.audit_export.CSV_COLUMNS)]


BAD_AUDIT_QUERIES: list[tuple[dict[str, str], list[str]]] = [
    ({"format": "csv", "action": "resource.["}, ["query", "action"]),
    ({"action": "resource.["}, ["query", "action"]),
    ({"format": "xml"}, ["query", "format"]),
    ({"since": "9999-12-31T23:00:00-05:00"}, ["query", "since"]),
    ({"since": "2026-01-31T09:00:00"}, ["query", "since"]),  # which zone? say it
    ({"until": "1769850000"}, ["query", "until"]),  # no epoch numbers
    ({"until": "yesterday"}, ["query", "until"]),
    ({"actr": "me"}, ["query", "actr"]),  # a typo must not widen the query
    ({"actor": "me"}, ["query", "actor"]),
    ({"include_descendants": "sometimes"}, ["query", "include_descendants"]),
]


async def test_bad_audit_parameters_are_422_before_anything_streams(
    world: World, client_for: ClientFor
) -> None:
    async with client_for(world.auditor) as http:
        for params, field in BAD_AUDIT_QUERIES:
            answer = await http.get("/audit", params=params)
            assert answer.status_code == 422, params
            assert answer.headers["content-type"] == "application/problem+json"
            assert field in [error["loc"] for error in answer.json()["errors"]], params
