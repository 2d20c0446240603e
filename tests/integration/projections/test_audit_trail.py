"""Audit-grade trust: signed digests, offline verification, immutability, exports."""

from __future__ import annotations

import ast
import base64
import contextlib
import csv
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pydantic import ValidationError

from bench.projections import write_history
from optaic_activity.bootstrap import Runtime, bootstrap
from optaic_activity.domain.errors import AuditKeyError, DigestConflictError, DigestSinkError
from optaic_activity.projections import audit_verify
from optaic_activity.projections.audit_digest import (
    AuditConfig,
    DirectorySink,
    audit_digests,
    public_key_text,
    read_digest_records,
    ship_digests,
)
from optaic_activity.projections.audit_log import AS_STORED, audit_log, chain_hash
from optaic_activity.projections.audit_trail import TenantVerification, verify_tenant, write_export
from optaic_activity.projections.audit_verify import (
    BROKEN,
    FORGED_DIGEST,
    GAP,
    MISSING_DIGEST,
    REHASHED,
    TRUNCATED,
)
from optaic_activity.settings import Settings

EVERY = 10


def raw_private(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(
        key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    ).decode()


KEY = Ed25519PrivateKey.generate()


def signed(settings: Settings, key: Ed25519PrivateKey = KEY, kid: str = "k1") -> Settings:
    audit = AuditConfig(signing_key=raw_private(key), signing_key_id=kid, digest_every_rows=EVERY)
    return settings.model_copy(update={"audit": audit})


@pytest.fixture
def trail(store_settings: Settings) -> Iterator[Runtime]:
    """A few hundred activities of three tenants, audited and sealed every EVERY rows."""
    runtime = bootstrap(signed(store_settings))
    runtime.projections.setup()
    try:
        write_history(runtime.app, 300, seed=7)
        runtime.projections.catch_up(["audit_log"])
        yield runtime
    finally:
        runtime.close()


def tenants(runtime: Runtime) -> dict[UUID, list[int]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.tenant_id, audit_log.c.position).order_by(audit_log.c.position)
        ).all()
    found: dict[UUID, list[int]] = {}
    for tenant, position in rows:
        found.setdefault(tenant, []).append(position)
    return found


def verify(runtime: Runtime, tenant: UUID, shipped: list[Path] | None = None) -> TenantVerification:
    keys = runtime.settings.audit.verification_keys()
    with runtime.engine.connect() as conn:
        return verify_tenant(
            conn, tenant, public_keys=keys, shipped=shipped or [], every_rows=EVERY
        )


def kinds(result: TenantVerification) -> list[str]:
    return [finding.kind for finding in result.findings]


@contextlib.contextmanager
def as_superuser(runtime: Runtime) -> Iterator[sa.Connection]:
    """A transaction that can rewrite what the triggers protect: on PostgreSQL, a superuser
    turning ordinary triggers off, which only verification can then catch."""
    with runtime.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn


def test_each_tenants_chain_is_sealed_every_n_rows_and_verifies(trail: Runtime) -> None:
    chains = tenants(trail)
    with trail.engine.connect() as conn:
        records = read_digest_records(conn)
    for tenant, positions in chains.items():
        mine = [r["digest"] for r in records if r["digest"]["tenant_id"] == str(tenant)]
        assert len(mine) == len(positions) // EVERY
        assert [d["last_position"] for d in mine] == positions[EVERY - 1 :: EVERY]
        assert [d["seq"] for d in mine] == list(range(1, len(mine) + 1))
        result = verify(trail, tenant)
        assert result.intact, result.findings
        assert (result.rows, result.digests) == (len(positions), len(mine))


def test_a_rebuild_reproduces_every_digest_bit_for_bit(trail: Runtime) -> None:
    def digests() -> list[tuple[object, ...]]:
        with trail.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_digests).order_by("tenant_id", "seq")).all()
        return [tuple(row) for row in rows]

    before = digests()
    with as_superuser(trail) as conn:  # as if none had been written
        conn.execute(audit_digests.delete())
    trail.projections.rebuild(["audit_log"])
    assert digests() == before
    trail.projections.rebuild(["audit_log"])  # with the digests kept: nothing changes
    assert digests() == before
    assert all(verify(trail, tenant).intact for tenant in tenants(trail))


def test_an_event_edited_in_the_store_and_rebuilt_is_a_rehashed_history(trail: Runtime) -> None:
    tenant, positions = next(iter(tenants(trail).items()))
    table = trail.app.recorder.events_table_name  # type: ignore[attr-defined]
    with trail.engine.connect() as conn:
        target = conn.execute(
            sa.select(audit_log.c.aggregate_id, audit_log.c.aggregate_version).where(
                audit_log.c.position == positions[2]
            )
        ).one()
    with as_superuser(trail) as conn:
        column = sa.column("state", sa.LargeBinary)
        events = sa.table(
            table, column, sa.column("originator_id"), sa.column("originator_version")
        )
        state = conn.execute(
            sa.select(column)
            .where(
                sa.column("originator_id") == target.aggregate_id,
                sa.column("originator_version") == target.aggregate_version,
            )
            .select_from(events)
        ).scalar_one()
        # Back-date the event by a thousand years: its activity's time changes.
        stamp = b'"timestamp":{"_type_":"datetime_iso","_data_":"2'
        edited = bytes(state).replace(stamp, stamp[:-1] + b"1", 1)
        assert edited != bytes(state)
        conn.execute(
            events.update()
            .where(
                sa.column("originator_id") == target.aggregate_id,
                sa.column("originator_version") == target.aggregate_version,
            )
            .values(state=edited)
        )
    before_rebuild = verify(trail, tenant)
    assert before_rebuild.intact  # the derived table still holds the original rows
    # A rebuild from the edited store gives a fresh, internally valid chain...
    trail.projections.rebuild(["audit_log"])
    result = verify(trail, tenant)
    # ...whose head no longer matches what the kept digest signed.
    assert REHASHED in kinds(result)
    assert BROKEN not in kinds(result)
    assert GAP not in kinds(result)


def test_rows_deleted_from_the_end_are_a_truncated_tail_once_a_digest_covers_them(
    trail: Runtime,
) -> None:
    tenant, positions = next(iter(tenants(trail).items()))
    sealed = positions[(len(positions) // EVERY) * EVERY - 1]
    with as_superuser(trail) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.position > sealed - 1))
    result = verify(trail, tenant)
    assert kinds(result) == [TRUNCATED]
    assert result.findings[0].position == positions[positions.index(sealed) - 1]


def test_a_row_removed_from_the_middle_is_a_gap(trail: Runtime) -> None:
    tenant, positions = next(iter(tenants(trail).items()))
    with as_superuser(trail) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.position == positions[4]))
    result = verify(trail, tenant)
    assert result.findings[0].kind == GAP
    assert result.findings[0].position == positions[5]


def test_a_whole_history_rehashed_from_its_first_row_is_caught_by_the_digests(
    trail: Runtime,
) -> None:
    tenant, positions = next(iter(tenants(trail).items()))
    with as_superuser(trail) as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                sa.select(*AS_STORED)
                .where(audit_log.c.tenant_id == tenant)
                .order_by(audit_log.c.position)
            ).mappings()
        ]
        prev = audit_verify.GENESIS
        for n, row in enumerate(rows):
            if n == 3:
                row["action"] = "resource.deleted"
            row["prev_hash"] = prev
            row["hash"] = prev = chain_hash(prev, row)
            conn.execute(
                audit_log.update()
                .where(audit_log.c.position == row["position"])
                .values(action=row["action"], prev_hash=row["prev_hash"], hash=row["hash"])
            )
    result = verify(trail, tenant)
    assert kinds(result) == [REHASHED]
    assert result.findings[0].position == positions[EVERY - 1]


def test_a_deleted_digest_is_missing_and_an_edited_one_forged(trail: Runtime) -> None:
    tenant, _ = next(iter(tenants(trail).items()))
    d = audit_digests.c
    with as_superuser(trail) as conn:
        conn.execute(audit_digests.delete().where(d.tenant_id == tenant, d.seq == 2))
    assert kinds(verify(trail, tenant)) == [MISSING_DIGEST]
    other = list(tenants(trail))[1]
    with as_superuser(trail) as conn:
        body = conn.execute(sa.select(d.body).where(d.tenant_id == other, d.seq == 1)).scalar_one()
        forged = json.loads(body)
        forged["head_hash"] = "f" * 64
        conn.execute(
            audit_digests.update()
            .where(d.tenant_id == other, d.seq == 1)
            .values(body=json.dumps(forged))
        )
    assert kinds(verify(trail, other)) == [FORGED_DIGEST]


def test_deleting_the_newest_digests_is_caught_by_the_shipped_copies_and_the_interval(
    trail: Runtime, tmp_path: Path
) -> None:
    with trail.engine.connect() as conn:
        assert ship_digests(conn, DirectorySink(tmp_path)) > 0
        assert ship_digests(conn, DirectorySink(tmp_path)) == 0  # idempotent by name
    tenant, _ = next(iter(tenants(trail).items()))
    d = audit_digests.c
    with as_superuser(trail) as conn:
        last = conn.execute(sa.select(sa.func.max(d.seq)).where(d.tenant_id == tenant)).scalar()
        conn.execute(audit_digests.delete().where(d.tenant_id == tenant, d.seq == last))
    assert kinds(verify(trail, tenant)) == [MISSING_DIGEST]  # EVERY rows with no digest
    assert verify(trail, tenant, [tmp_path]).intact  # the shipped copy stands in


def test_a_digest_is_never_rewritten_in_the_sink(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path)
    assert sink.put("a.jsonl", b"one\n")
    assert not sink.put("a.jsonl", b"one\n")
    with pytest.raises(DigestConflictError):
        sink.put("a.jsonl", b"two\n")
    assert (tmp_path / "a.jsonl").read_bytes() == b"one\n"


def test_an_unwritable_sink_is_refused_before_anything_is_shipped(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DigestSinkError):
        DirectorySink(blocker / "digests")


def _key_error(**fields: object) -> str:
    """The AuditKeyError that settings refuse ``fields`` with (pydantic wraps it)."""
    with pytest.raises(ValidationError) as refused:
        AuditConfig(**fields)
    error = refused.value.errors()[0]["ctx"]["error"]
    assert isinstance(error, AuditKeyError)
    return str(error)


def test_bad_signing_keys_are_typed_errors() -> None:
    assert "KEY_ID is required" in _key_error(signing_key=raw_private(KEY))
    assert "32 bytes" in _key_error(
        signing_key=base64.b64encode(b"short").decode(), signing_key_id="k"
    )
    assert "base64" in _key_error(signing_key="not a key!", signing_key_id="k")
    other = public_key_text(Ed25519PrivateKey.generate())
    assert "public half" in _key_error(
        signing_key=raw_private(KEY), signing_key_id="k", public_keys={"k": other}
    )
    assert "public key 'k'" in _key_error(public_keys={"k": "AAAA"})


def test_rotated_keys_verify_with_their_public_keys_by_key_id(store_settings: Settings) -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    runtime = bootstrap(signed(store_settings, old, "2025"))
    runtime.projections.setup()
    try:
        write_history(runtime.app, 60, seed=3)
        runtime.projections.catch_up(["audit_log"])
    finally:
        runtime.close()
    rotated = signed(store_settings, new, "2026").model_copy(
        update={
            "audit": AuditConfig(
                signing_key=raw_private(new),
                signing_key_id="2026",
                public_keys={"2025": public_key_text(old)},
                digest_every_rows=EVERY,
            )
        }
    )
    runtime = bootstrap(rotated)
    runtime.projections.setup()
    try:
        write_history(runtime.app, 60, seed=4)
        runtime.projections.catch_up(["audit_log"])
        with runtime.engine.connect() as conn:
            used = {r["digest"]["key_id"] for r in read_digest_records(conn)}
        assert used == {"2025", "2026"}
        for tenant in tenants(runtime):
            assert verify(runtime, tenant).intact
        # Without the retired key, its digests are forged as far as anyone can tell.
        keys = {"2026": new.public_key()}
        with runtime.engine.connect() as conn:
            tenant = next(iter(tenants(runtime)))
            result = verify_tenant(conn, tenant, public_keys=keys)
        assert kinds(result) == [FORGED_DIGEST]
    finally:
        runtime.close()


# The standalone verifier, as an auditor runs it: a copy of the one file, an export, the
# shipped digests and the public key.


def test_the_standalone_verifier_imports_nothing_of_the_framework() -> None:
    tree = ast.parse(Path(audit_verify.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    allowed = {"rfc8785", "cryptography"}
    for name in imported:
        root = name.split(".")[0]
        assert root in allowed or root in sys.stdlib_module_names or root == "__future__", name


def _standalone(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "audit_verify.py"
    shutil.copy(audit_verify.__file__, script)
    return subprocess.run(
        [sys.executable, "-I", str(script), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_standalone_verifier_accepts_an_export_and_finds_an_edit_in_it(
    trail: Runtime, tmp_path: Path, fmt: str
) -> None:
    tenant, positions = next(iter(tenants(trail).items()))
    export = tmp_path / f"export.{fmt}"
    with trail.engine.connect() as conn, export.open("w", encoding="utf-8", newline="") as out:
        assert write_export(conn, tenant, None, out, fmt=fmt) == len(positions)
        ship_digests(conn, DirectorySink(tmp_path / "digests"), tenant)
    key = f"k1={public_key_text(KEY)}"
    args = [str(export), "--digests", str(tmp_path / "digests"), "--public-key", key]
    intact = _standalone(tmp_path, *args)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert f"intact: {len(positions)} rows" in intact.stdout

    # The readable action of the 7th row edited, its hashed text left alone.
    if fmt == "jsonl":
        rows = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
        rows[6]["action"] += "_x"
        export.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    else:
        with export.open(encoding="utf-8", newline="") as file:
            table = list(csv.reader(file))
        table[7][table[0].index("action")] += "_x"  # the header first
        with export.open("w", encoding="utf-8", newline="") as file:
            csv.writer(file).writerows(table)
    broken = _standalone(tmp_path, *args)
    assert broken.returncode == 1
    assert f"at position {positions[6]}" in broken.stdout

    wrong = f"k1={public_key_text(Ed25519PrivateKey.generate())}"
    forged = _standalone(tmp_path, *args[:-1], wrong)
    assert forged.returncode == 1
    assert FORGED_DIGEST in forged.stdout


def test_exports_are_oldest_first_and_ocsf_events_carry_the_required_fields(
    trail: Runtime,
) -> None:
    tenant, positions = next(iter(tenants(trail).items()))
    out = io.StringIO()
    with trail.engine.connect() as conn:
        write_export(conn, tenant, None, out, fmt="ocsf")
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["unmapped"]["position"] for e in events] == positions
    required = {"activity_id", "category_uid", "class_uid", "metadata", "severity_id", "time"}
    for event in events:
        assert required <= set(event)
        assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
        assert event["class_uid"] in (3004, 6003)
        assert {"version", "product"} <= set(event["metadata"])
        assert "entity" in event if event["class_uid"] == 3004 else {"api", "actor"} <= set(event)


# Immutability in the database (PostgreSQL).


@pytest.mark.postgres
@pytest.mark.parametrize("backend_name", ["postgres"], indirect=True)
def test_postgres_refuses_rewrites_of_the_event_store_and_the_audit_trail(trail: Runtime) -> None:
    events = trail.app.recorder.events_table_name  # type: ignore[attr-defined]
    tenant, positions = next(iter(tenants(trail).items()))
    # The table's owner: the triggers refuse every UPDATE, DELETE and TRUNCATE.
    for statement in (
        f"UPDATE activity_audit_log SET action = 'x.y' WHERE position = {positions[0]}",
        f"DELETE FROM activity_audit_log WHERE position = {positions[-1]}",
        "TRUNCATE activity_audit_log",
        "DELETE FROM activity_audit_digests",
        f"UPDATE {events} SET originator_version = originator_version",
        f"TRUNCATE {events}",
    ):
        with (
            pytest.raises(sa.exc.ProgrammingError, match="append-only"),
            trail.engine.begin() as conn,
        ):
            conn.exec_driver_sql(statement)
    # The sanctioned path still works: a rebuild clears and rewrites the audit table.
    assert trail.projections.rebuild(["audit_log"]) > 0
    assert verify(trail, tenant).intact

    # A least-privilege writer (docs/audit.md, "Grants"): INSERT and SELECT only.
    role = f"writer_{tenant.hex[:12]}"
    with trail.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'writer'")
        conn.exec_driver_sql(
            f"GRANT SELECT, INSERT ON activity_audit_log, activity_audit_digests TO {role}"
        )
        conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE ON {events} TO {role}")
    writer = sa.create_engine(trail.engine.url.set(username=role, password="writer"))
    try:
        with (
            pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
            writer.begin() as conn,
        ):
            conn.exec_driver_sql("UPDATE activity_audit_log SET action = 'x.y'")
        # UPDATE is granted on the events for LOCK TABLE's sake; the trigger refuses it.
        with pytest.raises(sa.exc.ProgrammingError, match="append-only"), writer.begin() as conn:
            conn.exec_driver_sql(f"UPDATE {events} SET originator_version = 1")
        with writer.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar()
    finally:
        writer.dispose()
        with trail.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
    # What a superuser can still do (turn the triggers off) verification catches.
    with as_superuser(trail) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.position == positions[3]))
    assert verify(trail, tenant).findings[0].kind == GAP
