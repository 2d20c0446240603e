"""The routing projection writes a revocation when a revoke leaves a principal no role."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID, uuid4

import sqlalchemy as sa

from optaic_activity.domain import Resource, RoleBinding, activity_context
from optaic_activity.projections.database import create_engine, create_tables
from optaic_activity.projections.events import decode_notifications, state_decoder
from optaic_activity.projections.revocations import revocations
from optaic_activity.projections.routing import RoutingProjection
from optaic_activity.testing import in_memory_application


def _revoked_principals(tmp_path: Path, pat_owns_something: bool) -> list[tuple[UUID, UUID]]:
    app = in_memory_application()
    tenant, olga, pat = uuid4(), uuid4(), uuid4()
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        folder = Resource.create(resource_type="folder", name="F")
        binding = RoleBinding.grant(folder, pat, "viewer")
        app.save(folder, binding)
    if pat_owns_something:
        with activity_context(tenant_id=tenant, actor_principal_id=pat):
            app.save(Resource.create(resource_type="folder", name="Pat's"))
    with activity_context(tenant_id=tenant, actor_principal_id=olga):
        binding = app.get(binding.id, tenant_id=tenant, kind=RoleBinding)
        binding.revoke()
        app.save(binding)
    activities = decode_notifications(
        app.recorder.select_notifications(1, 100), state_decoder(app.mapper)
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'read.sqlite'}")
    create_tables(engine)
    with engine.begin() as conn:
        RoutingProjection().apply(conn, activities)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(revocations.c.tenant_id, revocations.c.principal_id))
        revoked = [(t, p) for t, p in rows]
    engine.dispose()
    assert all(t == tenant and p == pat for t, p in revoked)
    return revoked


def test_revoking_the_last_role_writes_a_revocation(tmp_path: Path) -> None:
    assert len(_revoked_principals(tmp_path, pat_owns_something=False)) == 1


def test_an_owner_keeps_a_role_in_the_tenant_so_nothing_is_revoked(tmp_path: Path) -> None:
    assert _revoked_principals(tmp_path, pat_owns_something=True) == []
