"""optaic-activity: every state change an audit-grade activity record.

The import root of the framework (docs/architecture.md, "One import root"). The guide's
entry points are importable from here::

    from optaic_activity import record_activity_with_outbox, tx_activity

They are loaded on first use, so importing a layer (``optaic_activity.domain``, say) does
not import the service layer and its database drivers with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optaic_activity.service.emit import (
        RecordedActivity,
        record_activity,
        record_activity_with_outbox,
        tx_activity,
        tx_activity_sync,
    )

__all__ = [
    "RecordedActivity",
    "record_activity",
    "record_activity_with_outbox",
    "tx_activity",
    "tx_activity_sync",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("optaic_activity.service.emit"), name)
    msg = f"module 'optaic_activity' has no attribute {name!r}"
    raise AttributeError(msg)
