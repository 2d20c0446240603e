"""What personal data costs outside the rebuild: sealing at emit, opening at read time.

Per value: ``DataKey.seal`` (AES-256-GCM + HMAC-SHA256 of its compact JSON) and
``DataKey.open``; per emitted payload: the key store's lookup of the subject's live key (one
transaction); per page read: ``reveal_payloads`` over 500 audit rows of which FRACTION carry
two sealed fields (one key lookup for the page, then the decryption). SQLite, in a temporary
directory.

    .venv/bin/python -m bench.privacy [--values 20000] [--fraction 0.3]
"""

from __future__ import annotations

import argparse
import base64
import os
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

from optaic_activity.bootstrap import bootstrap
from optaic_activity.projections.personal_view import reveal_payloads
from optaic_activity.projections.privacy_config import PrivacyConfig
from optaic_activity.settings import Settings

PAGE = 500


def per_call(seconds: float, calls: int) -> str:
    return f"{seconds / calls * 1e6:,.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--values", type=int, default=20_000)
    parser.add_argument("--fraction", type=float, default=0.3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'privacy.sqlite'}",
            privacy=PrivacyConfig(master_key=base64.b64encode(os.urandom(32)).decode()),
        )
        runtime = bootstrap(settings)
        try:
            runtime.projections.setup()
            store = runtime.key_store
            assert store is not None
            tenant, subjects = uuid4(), [uuid4() for _ in range(50)]
            values = [f"user{n}@example.org" for n in range(args.values)]

            started = time.perf_counter()
            for n in range(args.values // 10):
                store.live_key(tenant, subjects[n % len(subjects)])
            lookup = time.perf_counter() - started

            key = store.live_key(tenant, subjects[0])
            started = time.perf_counter()
            sealed = [key.seal(value) for value in values]
            seal = time.perf_counter() - started
            started = time.perf_counter()
            for envelope in sealed:
                key.open(envelope)
            opened = time.perf_counter() - started

            personal = int(PAGE * args.fraction)
            page: list[tuple[Any, Any]] = [
                (tenant, {"email": sealed[n], "name": sealed[n + 1], "run": n})
                for n in range(personal)
            ] + [(tenant, {"run": n, "metrics": {"sharpe": 0.5}}) for n in range(PAGE - personal)]
            plain = [(tenant, payload) for _, payload in page[personal:]] * 2
            rounds = 20
            with runtime.engine.connect() as conn:
                started = time.perf_counter()
                for _ in range(rounds):
                    reveal_payloads(conn, plain[:PAGE])
                walk = time.perf_counter() - started
                started = time.perf_counter()
                for _ in range(rounds):
                    reveal_payloads(conn, page)
                reveal = time.perf_counter() - started
        finally:
            runtime.close()
    print(
        f"Command: `.venv/bin/python -m bench.privacy --values {args.values} "
        f"--fraction {args.fraction}`"
    )
    print()
    print("| step | cost |")
    print("|---|---:|")
    lookups = per_call(lookup, args.values // 10)
    print(f"| live-key lookup per sealed payload (one transaction) | {lookups} |")
    print(f"| seal one value (AES-256-GCM + HMAC-SHA256) | {per_call(seal, args.values)} |")
    print(f"| open one value (decrypt + check the commitment) | {per_call(opened, args.values)} |")
    print(
        f"| a page of {PAGE} rows with nothing sealed (the walk only) | {per_call(walk, rounds)} |"
    )
    print(
        f"| a page of {PAGE} rows, {args.fraction:.0%} with two sealed fields "
        f"(one key lookup, {2 * personal} decryptions) | {per_call(reveal, rounds)} |"
    )


if __name__ == "__main__":
    main()
