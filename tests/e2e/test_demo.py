"""The README's first command: ``activity demo`` on the embedded SQLite default."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def run_demo(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITY_")}
    env["COLUMNS"] = "160"
    activity = Path(sys.executable).with_name("activity")
    return subprocess.run(
        [str(activity), "demo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_demo_records_projects_and_pushes_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    result = run_demo(tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert (tmp_path / "activity.sqlite").exists()  # the embedded default, no server
    assert "promotion.requested" in out
    assert "signal.promoted" in out
    assert "activities share correlation id" in out
    assert "Audit hash chain: intact" in out
    assert "sam's inbox" in out
    assert "(owner)" in out
    assert "Pushing the outbox to the console" in out
    assert "notifications sent, 0 dead-lettered" in out
    assert "vic marked all read: unread now 0" in out


def test_the_demo_runs_again_on_the_same_file(tmp_path: Path) -> None:
    assert run_demo(tmp_path).returncode == 0
    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Audit hash chain: intact" in second.stdout


def test_the_demo_rebuilds_tables_an_older_projection_version_built(tmp_path: Path) -> None:
    assert run_demo(tmp_path).returncode == 0
    database = sqlite3.connect(tmp_path / "activity.sqlite")
    with database:
        database.execute("UPDATE projection_tracking SET version = 1 WHERE name = 'audit_log'")
    database.close()
    again = run_demo(tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Rebuilding audit_log: built by an older version of the code" in again.stdout
    assert "Audit hash chain: intact" in again.stdout
