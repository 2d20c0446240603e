"""The audit trail audits itself: reads, exports and refused requests are activities."""

from __future__ import annotations

import pytest

from optaic_activity.api.self_audit import NIL, audit_log_id
from optaic_activity.testing import ActivityRecorder
from tests.integration.api.conftest import ClientFor, World

pytestmark = pytest.mark.anyio


async def test_an_auditors_query_and_export_are_recorded_with_what_was_asked(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.auditor) as http:
        assert (await http.get("/audit", params={"action": "resource.*", "limit": 3})).is_success
        assert (await http.get("/audit", params={"format": "csv"})).is_success
    queried = recorder.assert_emitted(
        "audit.queried",
        payload={"action": "resource.*", "limit": 3},
        actor_principal_id=world.auditor.principal_id,
        tenant_id=world.auditor.tenant_id,
    )
    assert queried.resource_id == audit_log_id(world.auditor.tenant_id)
    assert queried.visibility == "private"
    recorder.assert_emitted(
        "audit.exported",
        payload={"format": "csv", "order": "oldest"},
        actor_principal_id=world.auditor.principal_id,
    )


async def test_a_caller_without_the_auditor_role_is_refused_and_the_refusal_recorded(
    world: World, client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(world.vic) as http:
        assert (await http.get("/audit")).status_code == 403
    recorder.assert_emitted(
        "auth.refused",
        payload={"status": 403, "method": "GET", "path": "/audit"},
        tenant_id=world.vic.tenant_id,
        actor_principal_id=world.vic.principal_id,
    )
    recorder.assert_not_emitted("audit.queried")


async def test_a_request_without_a_token_is_recorded_under_the_nil_tenant(
    client_for: ClientFor, recorder: ActivityRecorder
) -> None:
    async with client_for(None) as http:
        assert (await http.get("/audit")).status_code == 401
    recorder.assert_emitted(
        "auth.refused", payload={"status": 401, "reason": "no bearer token"}, tenant_id=NIL
    )
