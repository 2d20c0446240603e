"""A projection runner process for the crash-safety test: killed with SIGKILL, then restarted.

    python -m tests.integration.projections.projection_worker <database-url> [batch-size] [K/N]

Bootstraps from the database URL (``ACTIVITY_DATABASE_URL`` if no argument), then runs
the projections in small batches until they have caught up with the log, taking turns
batch by batch (as ``ProjectionService.follow`` does) and printing one line per
committed batch (``<projection> <position> <count>``) so that the test can kill it in
the middle of its work. A last ``ProjectionService.catch_up()`` confirms nothing is
left; then it prints ``caught-up`` and exits 0. With ``K/N``, it runs that partition only.
"""

from __future__ import annotations

import os
import sys

from optaic_activity.bootstrap import bootstrap
from optaic_activity.projections.config import ProjectionConfig
from optaic_activity.projections.partitions import WHOLE, Partition
from optaic_activity.projections.service import ProjectionService
from optaic_activity.settings import Settings


def main(argv: list[str]) -> int:
    url = argv[0] if argv else os.environ["ACTIVITY_DATABASE_URL"]
    batch_size = int(argv[1]) if len(argv) > 1 else 7
    partition = Partition.parse(argv[2]) if len(argv) > 2 else WHOLE
    runtime = bootstrap(Settings(database_url=url))
    try:
        service = ProjectionService(
            runtime.app,
            runtime.engine,
            config=ProjectionConfig(batch_size=batch_size),
            partition=partition,
        )
        runners = service.select(None)
        busy = True
        while busy:
            busy = False
            for runner in runners:
                result = runner.run_batch()
                if result.events:
                    busy = True
                    print(f"{runner.name} {result.position} {result.count}", flush=True)
        left = service.catch_up()
        print(f"caught-up {left}", flush=True)
        return 0
    finally:
        runtime.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
