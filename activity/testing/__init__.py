"""Testing support for service engineers: an in-memory application and an activity recorder."""

from optaic_activity.domain.context import no_activity_context
from optaic_activity.testing.recorder import ActivityRecorder, in_memory_application

__all__ = ["ActivityRecorder", "in_memory_application", "no_activity_context"]
