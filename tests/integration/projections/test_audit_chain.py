"""The audit log's per-tenant hash chain: intact after catching up, broken exactly where edited."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from bench.projections import write_history
from optaic_activity.bootstrap import Runtime
from optaic_activity.domain import ActivityEnvelope, InvalidChainHeadError
from optaic_activity.projections.audit_log import (
    AS_STORED,
    GENESIS,
    ChainHead,
    audit_log,
    chain_hash,
    chain_head,
    verify_chain,
)
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.service import ProjectionService
from optaic_activity.service.emit import record_activity


@contextlib.contextmanager
def tampering(runtime: Runtime) -> Iterator[sa.Connection]:
    """A transaction that rewrites audit rows as only a superuser still can on PostgreSQL
    (ordinary triggers off: the append-only trigger does not fire)."""
    with runtime.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn


def tenants_and_positions(runtime: Runtime) -> dict[UUID, list[int]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.tenant_id, audit_log.c.position).order_by(audit_log.c.position)
        ).all()
    found: dict[UUID, list[int]] = {}
    for tenant, position in rows:
        found.setdefault(tenant, []).append(position)
    return found


@pytest.fixture
def audited(runtime: Runtime) -> dict[UUID, list[int]]:
    """A few hundred activities of three tenants, audited in small batches (chains span them)."""
    head = write_history(runtime.app, 400, seed=5)
    ProjectionService(runtime.app, runtime.engine, config=ProjectionConfig(batch_size=13)).catch_up(
        ["audit_log"]
    )
    chains = tenants_and_positions(runtime)
    assert sum(map(len, chains.values())) == head
    assert len(chains) == 3
    return chains


def test_every_tenants_chain_is_intact_after_catching_up(
    runtime: Runtime, audited: dict[UUID, list[int]]
) -> None:
    with runtime.engine.connect() as conn:
        for tenant, positions in audited.items():
            result = verify_chain(conn, tenant, batch=50)  # several pages per chain
            assert (result.intact, result.rows_checked) == (True, len(positions))


def test_an_edited_payload_breaks_the_chain_exactly_at_that_row(
    runtime: Runtime, audited: dict[UUID, list[int]]
) -> None:
    tenant, positions = next(iter(audited.items()))
    tampered = positions[len(positions) // 2]
    with tampering(runtime) as conn:
        conn.execute(
            audit_log.update()
            .where(audit_log.c.position == tampered)
            .values(payload={"approved_by": "someone else"})
        )
    with runtime.engine.connect() as conn:
        result = verify_chain(conn, tenant, batch=50)
        assert result.first_broken_position == tampered
        assert result.rows_checked == positions.index(tampered)
        # The other tenants' chains do not depend on this one.
        assert all(verify_chain(conn, other).intact for other in audited if other != tenant)


def test_a_deleted_row_breaks_the_chain_at_the_row_after_it(
    runtime: Runtime, audited: dict[UUID, list[int]]
) -> None:
    tenant, positions = next(iter(audited.items()))
    removed = positions[3]
    with tampering(runtime) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.position == removed))
    with runtime.engine.connect() as conn:
        assert verify_chain(conn, tenant).first_broken_position == positions[4]


def test_a_rehashed_edit_is_still_caught_at_the_next_row(
    runtime: Runtime, audited: dict[UUID, list[int]]
) -> None:
    # Someone who edits a row and recomputes its own hash still breaks the next row's link.
    tenant, positions = next(iter(audited.items()))
    edited = positions[5]
    with tampering(runtime) as conn:
        row = dict(
            conn.execute(sa.select(*AS_STORED).where(audit_log.c.position == edited))
            .mappings()
            .one()
        )
        row["action"] = "promotion.approved"
        conn.execute(
            audit_log.update()
            .where(audit_log.c.position == edited)
            .values(action=row["action"], hash=chain_hash(row["prev_hash"], row))
        )
    with runtime.engine.connect() as conn:
        assert verify_chain(conn, tenant).first_broken_position == positions[6]


def test_payloads_of_every_supported_kind_are_stored_as_json_and_keep_the_chain_intact(
    runtime: Runtime,
) -> None:
    tenant, actor = uuid4(), uuid4()
    payloads: list[dict[str, Any]] = [
        {"name": "Straße ✓ 信号", "quote": 'a "b" \\ c\n\td'},
        {"sharpe": 1e-7, "big": 1e300, "inf": math.inf, "neg": -0.0},
        {"huge": 2**70, "count": 2**63, "tiny": -(2**64)},
        {"at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), "amount": Decimal("12.3400")},
        {"ids": [uuid4(), uuid4()], "nested": {"deep": [{"x": None, "y": True}]}},
        {},
    ]
    for payload in payloads:
        record_activity(
            runtime.app,
            ActivityEnvelope(
                tenant_id=tenant,
                actor_principal_id=actor,
                resource_id=uuid4(),
                resource_type="signal",
                action="expression.evaluated",
                payload=payload,
                delivery_channels=["resource:ü"],
            ),
        )
    runtime.projections.catch_up(["audit_log"])
    with runtime.engine.connect() as conn:
        result = verify_chain(conn, tenant)
        assert (result.intact, result.rows_checked) == (True, len(payloads))
        stored = (
            conn.execute(
                sa.select(audit_log.c.payload)
                .where(audit_log.c.tenant_id == tenant)
                .order_by(audit_log.c.position)
            )
            .scalars()
            .all()
        )
    assert stored[0] == payloads[0]
    assert stored[1] == {"sharpe": 1e-7, "big": 1e300, "inf": None, "neg": -0.0}
    assert stored[2] == payloads[2]
    assert stored[3] == {"at": "2026-01-02 03:04:05.000006+00:00", "amount": "12.3400"}
    assert stored[4]["ids"] == [str(i) for i in payloads[4]["ids"]]


def test_a_payload_rewritten_as_an_equal_value_breaks_the_chain(
    runtime: Runtime, audited: dict[UUID, list[int]]
) -> None:
    # The chain covers the stored text, so even an edit that decodes to the same value shows.
    tenant, positions = next(iter(audited.items()))
    edited = positions[3]
    with tampering(runtime) as conn:
        text = (
            conn.execute(sa.select(*AS_STORED).where(audit_log.c.position == edited))
            .mappings()
            .one()["payload"]
        )
        spaced = json.dumps(json.loads(text), indent=1)
        assert json.loads(spaced) == json.loads(text)
        assert spaced != text
        as_json = "CAST(:text AS json)" if conn.dialect.name == "postgresql" else ":text"
        conn.execute(
            sa.text(f"UPDATE activity_audit_log SET payload = {as_json} WHERE position = :at"),
            {"text": spaced, "at": edited},
        )
    with runtime.engine.connect() as conn:
        assert verify_chain(conn, tenant).first_broken_position == edited


def test_an_anchor_catches_rows_deleted_from_the_end_that_the_chain_alone_cannot(
    runtime: Runtime, audited: dict[UUID, list[int]]
) -> None:
    tenant, positions = next(iter(audited.items()))
    with runtime.engine.connect() as conn:
        head = chain_head(conn, tenant)
    assert head is not None
    assert head.position == positions[-1]
    with runtime.engine.connect() as conn:
        assert verify_chain(conn, tenant, anchors=[head]).intact
    with tampering(runtime) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.position >= positions[-3]))
    with runtime.engine.connect() as conn:
        assert verify_chain(conn, tenant).intact  # what the chain alone cannot see
        result = verify_chain(conn, tenant, anchors=[head])
    assert not result.intact
    assert result.unmatched_anchor == head
    assert result.first_broken_position is None
    assert result.head is not None
    assert result.head.position == positions[-4]  # the last row left


def test_an_anchor_catches_a_history_rewritten_and_rehashed_from_the_start(
    runtime: Runtime, audited: dict[UUID, list[int]]
) -> None:
    tenant, positions = next(iter(audited.items()))
    with runtime.engine.connect() as conn:
        anchor = chain_head(conn, tenant)
    assert anchor is not None
    with tampering(runtime) as conn:
        rows = conn.execute(
            sa.select(*AS_STORED).where(audit_log.c.tenant_id == tenant).order_by("position")
        ).mappings()
        prev = GENESIS
        for row in [dict(r) for r in rows]:
            if row["position"] == positions[1]:
                row["action"] = "promotion.approved"  # the edit, then every hash recomputed
            digest = chain_hash(prev, row)
            conn.execute(
                audit_log.update()
                .where(audit_log.c.position == row["position"])
                .values(action=row["action"], prev_hash=prev, hash=digest)
            )
            prev = digest
    with runtime.engine.connect() as conn:
        assert verify_chain(conn, tenant).intact
        result = verify_chain(conn, tenant, anchors=[anchor])
    assert result.unmatched_anchor == anchor
    assert not result.intact


def test_an_anchor_is_written_and_read_as_position_colon_hash() -> None:
    head = ChainHead(42, "ab" * 32)
    assert ChainHead.parse(str(head)) == head
    for bad in ("42", f"x:{'ab' * 32}", "42:abc", f"42:{'AB' * 32}", f"-1:{'ab' * 32}"):
        with pytest.raises(InvalidChainHeadError, match="POSITION:HASH"):
            ChainHead.parse(bad)
