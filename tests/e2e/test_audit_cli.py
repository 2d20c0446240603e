"""An auditor's commands: record the chain's head, later verify against it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from uuid import UUID, uuid4

from optaic_activity.bootstrap import bootstrap
from optaic_activity.domain import Resource, activity_context
from optaic_activity.settings import Settings


def activity(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITY_")}
    env.update(ACTIVITY_DATABASE_URL=f"sqlite:///{database}", COLUMNS="200")
    command = Path(sys.executable).with_name("activity")
    return subprocess.run(
        [str(command), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def a_tenant_with_history(database: Path) -> UUID:
    runtime = bootstrap(Settings(database_url=f"sqlite:///{database}"))
    tenant = uuid4()
    try:
        with activity_context(tenant_id=tenant, actor_principal_id=uuid4()):
            folder = Resource.create(resource_type="folder", name="Research")
            runtime.app.save(folder)
            for n in range(4):
                folder.update(name=f"Research {n}")
                runtime.app.save(folder)
    finally:
        runtime.close()
    return tenant


def test_a_recorded_head_catches_the_rows_deleted_after_it(tmp_path: Path) -> None:
    database = tmp_path / "activity.sqlite"
    tenant = a_tenant_with_history(database)
    head = activity(database, "audit", "head", str(tenant))
    assert head.returncode == 0, head.stderr
    anchor = head.stdout.strip()
    assert anchor.startswith("5:")

    intact = activity(database, "audit", "verify", str(tenant), "--anchor", anchor)
    assert intact.returncode == 0, intact.stderr
    assert "intact: 5 rows" in intact.stdout

    with sqlite3.connect(database) as conn:
        conn.execute("DELETE FROM activity_audit_log WHERE position >= 4")
    assert activity(database, "audit", "verify", str(tenant)).returncode == 0  # chain alone
    lost = activity(database, "audit", "verify", str(tenant), "--anchor", anchor)
    assert lost.returncode == 1
    assert f"anchor {anchor} is not in the chain" in lost.stdout


def test_a_malformed_anchor_is_a_usage_error(tmp_path: Path) -> None:
    database = tmp_path / "activity.sqlite"
    tenant = a_tenant_with_history(database)
    result = activity(database, "audit", "verify", str(tenant), "--anchor", "5:nothex")
    assert result.returncode == 2
    assert "POSITION:HASH" in result.stderr


def test_verifying_a_tenant_the_audit_log_does_not_know_is_an_error(tmp_path: Path) -> None:
    database = tmp_path / "activity.sqlite"
    a_tenant_with_history(database)
    mistyped = uuid4()

    answer = activity(database, "audit", "verify", str(mistyped))

    assert answer.returncode == 2, answer.stdout
    assert f"unknown tenant: the audit log has no rows for {mistyped}" in answer.stdout
    assert "intact" not in answer.stdout


def test_export_query_ship_and_verify_from_the_command_line(tmp_path: Path) -> None:
    import base64
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    signing = {
        "ACTIVITY_AUDIT_SIGNING_KEY": base64.b64encode(raw).decode(),
        "ACTIVITY_AUDIT_SIGNING_KEY_ID": "k1",
        "ACTIVITY_AUDIT_DIGEST_EVERY_ROWS": "2",
        "ACTIVITY_AUDIT_DIGEST_DIR": str(tmp_path / "digests"),
    }
    database = tmp_path / "activity.sqlite"
    tenant = a_tenant_with_history(database)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITY_")}
        env.update(ACTIVITY_DATABASE_URL=f"sqlite:///{database}", COLUMNS="200", **signing)
        command = Path(sys.executable).with_name("activity")
        return subprocess.run(
            [str(command), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    shipped = run("audit", "ship-digests")
    assert shipped.returncode == 0, shipped.stderr
    assert "shipped 2 new digest(s)" in shipped.stdout
    verified = run("audit", "verify", str(tenant), "--digests", str(tmp_path / "digests"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact: 5 rows" in verified.stdout
    assert "2 digests" in verified.stdout

    page = run("audit", "query", str(tenant), "--action", "resource.updated", "--limit", "2")
    assert page.returncode == 0, page.stderr
    answer = json.loads(page.stdout)
    assert [item["position"] for item in answer["items"]] == [5, 4]
    assert answer["next_cursor"]

    export = run("audit", "export", str(tenant), "--format", "csv")
    assert export.returncode == 0, export.stderr
    lines = export.stdout.splitlines()
    assert lines[0].endswith(",canonical")
    assert len(lines) == 6  # header, 5 rows, oldest first
    assert lines[1].startswith("1,")

    with sqlite3.connect(database) as conn:
        conn.execute("DELETE FROM activity_audit_log WHERE position >= 4")
    truncated = run("audit", "verify", str(tenant))
    assert truncated.returncode == 1
    assert "truncated" in truncated.stdout
