"""The notifier's readiness checks: Centrifugo answers, and the worker is not waiting out an
outage (projections.health runs and serves them)."""

from __future__ import annotations

from optaic_activity.notifier.publisher import CentrifugoApi
from optaic_activity.projections.health import Check

PROBE_TIMEOUT_SECONDS = 1.0


def centrifugo_check(api_url: str, api_key: str) -> Check:
    """Centrifugo's API answers an ``info`` command (its key accepted)."""
    api = CentrifugoApi(api_url, api_key, timeout_seconds=PROBE_TIMEOUT_SECONDS)

    def check() -> None:
        api.call("info", {})

    return check
