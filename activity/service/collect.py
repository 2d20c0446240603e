"""Collecting a save's pending events without typing's runtime Protocol checks.

eventsourcing's ``ProcessingEvent.collect_events`` asks ``isinstance(obj,
DomainEventProtocol)`` and ``isinstance(obj, CollectEventsProtocol)`` of every object saved;
on Python 3.11 each runtime Protocol check walks the protocol's attributes, about a tenth of
a save's CPU under concurrent writers. An activity aggregate is known to be neither a domain
event nor anything but an aggregate, so it is collected directly, exactly as eventsourcing
would (its pending events in order, then the aggregate by id); anything else goes through
eventsourcing's own checks.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent

from optaic_activity.domain.aggregate import ActivityAggregate


class ActivityProcessingEvent(ProcessingEvent[UUID]):
    def collect_events(self, *objs: Any, **kwargs: Any) -> None:
        for obj in objs:
            if isinstance(obj, ActivityAggregate):
                self.events.extend(obj.collect_events())
                self.aggregates[obj.id] = obj
            else:
                super().collect_events(obj)
        self.saved_kwargs.update(kwargs)
