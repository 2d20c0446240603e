"""The Centrifugo config documented in docs/centrifugo.md and docs/scaling.md is accepted by
the real binary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.notifier.realtime import wait_for
from tests.support.services import (
    CentrifugoCluster,
    CentrifugoServer,
    RedisServer,
    default_centrifugo_bin,
)
from tests.unit.notifier.test_docs_examples import blocks

pytestmark = pytest.mark.centrifugo


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
            return [cluster.node_count_seen_by(node) for node in cluster.nodes]

        assert wait_for(lambda: counts() == [2, 2]), counts()
