"""docs/client.md runs: its python blocks, top to bottom, against the in-process API."""

from __future__ import annotations

import linecache
import re
from pathlib import Path
from uuid import uuid4

import httpx
from fastapi import FastAPI

from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import Resource, RoleBinding, activity_context
from tests.integration.api.asgi import SyncASGITransport
from tests.integration.api.conftest import BASE_URL, Caller, edit

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "client.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_the_client_guides_examples_run(runtime: Runtime, api: FastAPI) -> None:
    tenant = uuid4()
    owner, reader = Caller(tenant), Caller(tenant)
    with activity_context(tenant_id=tenant, actor_principal_id=owner.principal_id):
        folder = Resource.create(resource_type="folder", name="Research")
        report = Resource.create(resource_type="report", name="Q3", parent=folder)
        runtime.app.save(
            folder, report, RoleBinding.grant(folder, reader.principal_id, "delegator")
        )
    edit(runtime, owner, report.id, name="Q3 final")  # the reader is notified (delegator)

    namespace: dict[str, object] = {
        "__name__": "docs_client",
        "base_url": BASE_URL,
        "token": reader.token,
        "auditor_token": Caller(tenant, roles=("auditor",)).token,
        "folder_id": folder.id,
        "transport": httpx.ASGITransport(api),
        "sync_transport": SyncASGITransport(api),
    }
    blocks = BLOCK.findall(GUIDE.read_text())
    assert len(blocks) >= 6
    for number, block in enumerate(blocks, start=1):
        filename = f"<docs/client.md[{number}]>"
        linecache.cache[filename] = (len(block), None, block.splitlines(True), filename)
        try:
            exec(compile(block, filename, "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"docs/client.md, example {number} failed: {error!r}") from error
