"""The Centrifugo config documented in docs/centrifugo.md and docs/scaling.md, and the cluster
deployment in deploy/docker-compose.cluster.yml, are accepted by the real binary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.notifier.realtime import wait_for
from tests.support.services import (
    CentrifugoCluster,
    CentrifugoServer,
    RedisServer,
    default_centrifugo_bin,
    nodes_seen_by,
)
from tests.unit.notifier.test_docs_examples import blocks

pytestmark = pytest.mark.centrifugo

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def test_the_documented_centrifugo_config_passes_checkconfig_strict(tmp_path: Path) -> None:
    config: dict[str, object] = {}
    for code in blocks("centrifugo.md", "json"):
        config.update(json.loads(code))
    assert {"http_api", "client", "channel", "consumers"} <= set(config)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    binary = default_centrifugo_bin()
    assert binary.is_file(), f"no Centrifugo binary at {binary}; scripts/test builds it"

    result = subprocess.run(
        [str(binary), "checkconfig", "--strict", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=CentrifugoServer._env(),
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_documented_redis_engine_joins_two_nodes_into_one_cluster(
    redis_server: RedisServer,
) -> None:
    (code,) = blocks("scaling.md", "json")
    engine = json.loads(code)
    assert engine["engine"]["type"] == "redis"
    # The page's address names the deployment's Redis; the test's runs on a free port.
    engine["engine"]["redis"]["address"] = [redis_server.address]

    # Each node checks its config with `checkconfig --strict` before starting.
    with CentrifugoCluster(redis_server, extra_config=engine) as cluster:

        def counts() -> list[int]:
            return [nodes_seen_by(node) for node in cluster.nodes]

        assert wait_for(lambda: counts() == [2, 2]), counts()


def test_the_deployed_cluster_environment_joins_two_nodes_into_one_cluster(
    redis_server: RedisServer,
) -> None:
    override = yaml.safe_load((DEPLOY / "docker-compose.cluster.yml").read_text())
    environments = [
        override["services"][name]["environment"] for name in ("centrifugo", "centrifugo-2")
    ]
    # What makes them a cluster; secrets and addresses are the deployment's own.
    engine = [
        {key: value for key, value in env.items() if key.startswith("CENTRIFUGO_ENGINE_")}
        for env in environments
    ]
    assert engine[0] == engine[1]
    local = {**engine[0], "CENTRIFUGO_ENGINE_REDIS_ADDRESS": redis_server.address}
    first = CentrifugoServer(environment=local)
    second = CentrifugoServer(
        environment=local, api_key=first.api_key, token_secret=first.token_secret
    )
    with first, second:
        assert wait_for(lambda: [nodes_seen_by(node) for node in (first, second)] == [2, 2]), (
            "the variables of deploy/docker-compose.cluster.yml did not make a cluster"
        )
