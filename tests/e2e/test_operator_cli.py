"""What an operator sees: mistakes and outages as one line and a documented exit status, the
database named at start, settings shown with secrets masked, logs as JSON lines with fields."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import pytest

from optaic_activity.api.auth import JwtVerifier
from optaic_activity.bootstrap import bootstrap
from optaic_activity.domain import Resource, activity_context
from optaic_activity.entrypoints.failures import (
    EXIT_CONFIG,
    EXIT_SOFTWARE,
    EXIT_STATUSES,
    EXIT_UNAVAILABLE,
)
from optaic_activity.settings import Settings

COMMAND = Path(sys.executable).with_name("activity")
SECRET = "an-api-token-secret-of-at-least-32-bytes!"


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITY_")}
    env.update(COLUMNS="200", **settings)
    return env


def activity(cwd: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *args],
        env=_env(**settings),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command ends with (start-up log lines come before it)."""
    lines = [line for line in result.stderr.splitlines() if not line[:4].isdigit()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_mistyped_variable_stops_the_command_before_it_touches_a_database(
    tmp_path: Path,
) -> None:
    result = activity(tmp_path, "projections", "status", ACTIVITY_DATABSE_URL="sqlite:///x.db")

    assert result.returncode == EXIT_CONFIG
    assert _error_line(result) == (
        "activity: configuration error: unknown setting ACTIVITY_DATABSE_URL: did you mean "
        "ACTIVITY_DATABASE_URL? (`activity config` shows the settings)"
    )
    assert list(tmp_path.iterdir()) == []  # no ./activity.sqlite made behind the typo


def test_a_short_secret_is_refused_without_being_echoed(tmp_path: Path) -> None:
    for command in (["config"], ["projections", "status"]):
        result = activity(tmp_path, *command, ACTIVITY_API_TOKEN_SECRET="short-value")

        assert result.returncode == EXIT_CONFIG
        line = _error_line(result)
        assert "ACTIVITY_API_TOKEN_SECRET" in line
        assert "at least 32 bytes" in line
        assert "short-value" not in result.stdout + result.stderr


def test_a_bad_url_scheme_is_one_line(tmp_path: Path) -> None:
    result = activity(tmp_path, "migrate", "current", ACTIVITY_DATABASE_URL="mysql://db/x")

    assert result.returncode == EXIT_CONFIG
    assert "ACTIVITY_DATABASE_URL must start with postgresql:// or sqlite:///" in _error_line(
        result
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_database_names_host_and_port_not_the_password(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"postgresql://app:pa55word@127.0.0.1:{port}/activity"

    result = activity(tmp_path, "projections", "status", ACTIVITY_DATABASE_URL=url)

    assert result.returncode == EXIT_UNAVAILABLE, result.stderr
    line = _error_line(result)
    assert line.startswith(f"activity: cannot reach the database at 127.0.0.1:{port}: ")
    assert "check ACTIVITY_DATABASE_URL" in line
    assert f"database postgresql://app@127.0.0.1:{port}/activity" in result.stderr
    assert "pa55word" not in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = activity(tmp_path, "--debug", "config", ACTIVITY_DATABASE_URL="mysql://db/x")

    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_every_status_the_cli_ends_with_is_documented() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()

    assert [code for code in EXIT_STATUSES if f"\n| {code} |" not in page] == []
    assert EXIT_SOFTWARE in EXIT_STATUSES


def test_config_shows_the_effective_settings_with_secrets_masked(tmp_path: Path) -> None:
    result = activity(
        tmp_path,
        "config",
        "--json",
        ACTIVITY_DATABASE_URL="postgresql://app:pa55word@db.internal:5432/activity",
        ACTIVITY_API_TOKEN_SECRET=SECRET,
        ACTIVITY_NOTIFIER_BATCH_SIZE="25",
    )

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["ACTIVITY_DATABASE_URL"] == "postgresql://app@db.internal:5432/activity"
    assert shown["ACTIVITY_API_TOKEN_SECRET"] == "********"
    assert shown["ACTIVITY_NOTIFIER_BATCH_SIZE"] == "25"
    assert SECRET not in result.stdout
    assert "pa55word" not in result.stdout


def test_token_mint_prints_a_token_the_api_accepts(tmp_path: Path) -> None:
    tenant, principal = uuid4(), uuid4()

    result = activity(
        tmp_path,
        "token",
        "mint",
        "--tenant",
        str(tenant),
        "--principal",
        str(principal),
        "--role",
        "auditor",
        ACTIVITY_API_TOKEN_SECRET=SECRET,
    )

    assert result.returncode == 0, result.stderr
    who = JwtVerifier(SECRET).verify(result.stdout.strip())
    assert (who.tenant_id, who.principal_id, who.is_auditor) == (tenant, principal, True)
    assert SECRET not in result.stdout + result.stderr


def test_token_mint_without_a_secret_is_a_configuration_error(tmp_path: Path) -> None:
    result = activity(tmp_path, "token", "mint", "--tenant", str(uuid4()), "--principal", "x")
    assert result.returncode == 2  # not a UUID: a usage error

    result = activity(
        tmp_path, "token", "mint", "--tenant", str(uuid4()), "--principal", str(uuid4())
    )
    assert result.returncode == EXIT_CONFIG
    assert "ACTIVITY_API_TOKEN_SECRET is not set" in _error_line(result)


@pytest.mark.slow
def test_projections_run_logs_json_lines_with_the_same_fields(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'activity.sqlite'}"
    runtime = bootstrap(Settings(database_url=url))
    try:
        with activity_context(tenant_id=uuid4(), actor_principal_id=uuid4()):
            runtime.app.save(Resource.create(resource_type="folder", name="Research"))
    finally:
        runtime.close()

    process = subprocess.Popen(
        [str(COMMAND), "--log-format", "json", "projections", "run", "audit_log"],
        env=_env(ACTIVITY_DATABASE_URL=url, ACTIVITY_PROJECTION_POLL_INTERVAL="0.05"),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    records = []
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            records.append(json.loads(line))
            if "projection" in records[-1]:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    first, *_, batch = records
    assert first["message"] == f"database {url}"
    assert batch["projection"] == "audit_log"
    assert batch["position"] == 1
    for record in (first, batch):
        assert record["process"] == "projections"
        assert record["level"] == "info"
        assert {"timestamp", "logger", "message"} <= set(record)


def test_serve_without_an_api_secret_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'activity.sqlite'}"

    result = activity(tmp_path, "serve", "--no-background", ACTIVITY_DATABASE_URL=url)

    assert result.returncode == EXIT_CONFIG, result.stderr
    assert "ACTIVITY_API_TOKEN_SECRET" in _error_line(result)
