"""The Centrifugo config documented in docs/centrifugo.md is accepted by the real binary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.services import CentrifugoServer, default_centrifugo_bin
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
