"""optaic-activity's service layer: application, entry points, bootstrap, CLI, testing support.

The guide's entry points::

    from activity import record_activity_with_outbox, tx_activity
"""

from activity.emit import (
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
