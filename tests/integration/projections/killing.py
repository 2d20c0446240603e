"""Running the projection runner as its own process, and killing it (SIGKILL) mid-work."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def start_worker(url: str, log: Path, *partition: str) -> subprocess.Popen[str]:
    """The runner as its own process, batch size 7, its stderr kept for failure messages
    (``partition``: ``K/N``, that partition's runner)."""
    worker = "tests.integration.projections.projection_worker"
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", worker, url, "7", *partition],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


def kill_mid_work(url: str, log: Path, rng: random.Random, why: str, *partition: str) -> None:
    """Start a runner and SIGKILL it once it has reported some batches: it is already busy
    with the next one by then, so the kill lands anywhere in a batch (or between two)."""
    worker = start_worker(url, log, *partition)
    assert worker.stdout is not None
    for _ in range(rng.randrange(1, 60)):
        if not worker.stdout.readline():
            break
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    worker.stdout.close()
    assert worker.returncode == -signal.SIGKILL, (
        f"{why}: the worker ended by itself:\n{log.read_text()}"
    )
