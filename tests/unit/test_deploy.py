"""deploy/: every file a team starts from is checked by the tool that would run it.

The systemd units with ``systemd-analyze verify`` (the ExecStart binary pointed at this
checkout's ``activity``), the compose file against the Compose Specification schema
(tests/support/schemas/compose_spec.json, vendored from the docker-compose 1.29.2 package),
the Centrifugo config with ``centrifugo checkconfig --strict``, the Procfile's commands with
the CLI's own parser.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from optaic_activity.entrypoints.cli import app
from tests.support.services import default_centrifugo_bin

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALLED_BINARY = "/opt/optaic-activity/bin/activity"
ACTIVITY = Path(sys.executable).with_name("activity")


def test_the_deploy_folder_has_the_three_processes_everywhere() -> None:
    assert {unit.name for unit in UNITS} == {
        "activity-api.service",
        "activity-projections@.service",
        "activity-notifier.service",
    }
    procfile = (DEPLOY / "Procfile").read_text().splitlines()
    assert {line.partition(":")[0] for line in procfile if line and line[0] != "#"} == {
        "api",
        "projections",
        "notifier",
    }
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert {"postgres", "centrifugo", "api", "projections", "notifier"} <= set(compose["services"])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_each_systemd_unit_verifies(unit: Path, tmp_path: Path) -> None:
    text = unit.read_text()
    assert INSTALLED_BINARY in text
    local = tmp_path / unit.name
    local.write_text(text.replace(INSTALLED_BINARY, str(ACTIVITY)))
    name = local.name.replace("@.service", "@audit_log.service")
    result = subprocess.run(
        ["systemd-analyze", "verify", name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Warnings (an unknown key, a missing binary) go to stderr with status 0 for some.
    assert (result.returncode, result.stderr.strip()) == (0, ""), result.stderr


def _compose_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (ROOT / "tests" / "support" / "schemas" / "compose_spec.json").read_text()
    )
    return schema


def test_the_compose_file_follows_the_compose_specification() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    validator = jsonschema.Draft201909Validator(_compose_schema())

    assert [error.message for error in validator.iter_errors(compose)] == []
    compose["services"]["api"]["comand"] = ["serve"]
    assert list(validator.iter_errors(compose)), "the schema refuses an unknown key"


def test_the_cluster_override_follows_the_compose_specification_and_adds_a_node_on_redis() -> None:
    override = yaml.safe_load((DEPLOY / "docker-compose.cluster.yml").read_text())
    validator = jsonschema.Draft201909Validator(_compose_schema())

    assert [error.message for error in validator.iter_errors(override)] == []
    services = override["services"]
    assert {"redis", "centrifugo", "centrifugo-2"} <= set(services)
    for node in ("centrifugo", "centrifugo-2"):
        assert services[node]["environment"]["CENTRIFUGO_ENGINE_TYPE"] == "redis"
        assert "redis" in services[node]["depends_on"]


def test_the_centrifugo_config_passes_centrifugos_strict_check() -> None:
    binary = default_centrifugo_bin()
    if not binary.exists():
        pytest.skip(f"no Centrifugo binary at {binary} (scripts/test builds it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTRIFUGO_")}
    result = subprocess.run(
        [
            str(binary),
            "checkconfig",
            "--strict",
            "--config",
            str(DEPLOY / "centrifugo" / "config.json"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_centrifugo_config_has_the_namespace_the_notifier_publishes_to() -> None:
    config = json.loads((DEPLOY / "centrifugo" / "config.json").read_text())
    (namespace,) = config["channel"]["namespaces"]
    assert namespace["name"] == "notifications"
    assert namespace["allow_user_limited_channels"] is True


def _commands() -> list[list[str]]:
    """Every ``activity ...`` command line the Procfile, the units and compose run."""
    lines = [
        line.partition(":")[2].split()
        for line in (DEPLOY / "Procfile").read_text().splitlines()
        if line and line[0] != "#"
    ]
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                lines.append(line.removeprefix("ExecStart=").replace("%i", "audit_log").split())
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    lines.extend(
        ["activity", "--log-format", "json", *service["command"]]
        for name, service in compose["services"].items()
        if name not in {"postgres", "centrifugo"}
    )
    return lines


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_each_deployed_command_is_one_the_cli_accepts(command: list[str]) -> None:
    # --help after the subcommand parses every option before it without running anything.
    result = CliRunner().invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output
