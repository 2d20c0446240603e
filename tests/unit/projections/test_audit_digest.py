"""When digests are due: every N rows of a tenant, or T seconds of event time after the last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from optaic_activity.projections.audit_digest import DigestSealer, Signer, utc_text
from optaic_activity.projections.audit_verify import digest_bytes

START = datetime(2026, 1, 1, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def sealer(*, rows: int = 1000, seconds: float = 3600) -> DigestSealer:
    return DigestSealer(Signer(KEY, "k"), every_rows=rows, every_seconds=seconds)


def test_a_digest_is_due_at_the_first_row_t_seconds_of_event_time_after_the_last() -> None:
    s = sealer(seconds=60)
    tenant = uuid4()
    for n, offset in enumerate([0, 10, 59, 60, 61, 119, 125]):
        s.add(tenant, n + 1, f"{n:064x}", START + timedelta(seconds=offset))
    sealed = s._sealed
    assert [(d["first_position"], d["last_position"]) for d in sealed] == [(1, 4), (5, 7)]
    assert sealed[0]["body"] == digest_bytes(eval_body(sealed[0]["body"])).decode()
    assert [eval_body(d["body"])["time"] for d in sealed] == [
        utc_text(START + timedelta(seconds=60)),
        utc_text(START + timedelta(seconds=125)),
    ]


def test_digests_count_rows_per_tenant_and_link_each_to_the_previous_signature() -> None:
    s = sealer(rows=3)
    a, b = uuid4(), uuid4()
    for n in range(1, 10):
        s.add(a if n % 3 else b, n, f"{n:064x}", START)
    by_tenant: dict[UUID, list[dict[str, object]]] = {}
    for d in s._sealed:
        by_tenant.setdefault(d["tenant_id"], []).append(eval_body(d["body"]))
    first, second = by_tenant[a]
    assert (first["seq"], first["rows"], first["prev_signature"]) == (1, 3, "")
    assert second["prev_signature"] == s._sealed[0]["signature"]
    assert [d["last_position"] for d in by_tenant[b]] == [9]


def test_signatures_are_deterministic() -> None:
    bodies = []
    for _ in range(2):
        s = sealer(rows=1)
        s.add(uuid4().__class__(int=1), 1, "0" * 64, START)
        bodies.append((s._sealed[0]["body"], s._sealed[0]["signature"]))
    assert bodies[0] == bodies[1]


def eval_body(body: str) -> dict[str, object]:
    import json

    loaded: dict[str, object] = json.loads(body)
    return loaded
