"""Invariant 1, walked: every shipped aggregate emits only catalogued, enveloped activities."""

import dataclasses

import optaic_activity.domain.optaic
import optaic_activity.domain.record
import optaic_activity.domain.resources
from optaic_activity.domain.actions import ACTION_PATTERN, CATALOG
from optaic_activity.domain.aggregate import (
    ActivityAggregate,
    ActivityEvent,
    activity_event_classes,
)
from optaic_activity.domain.envelope import ActivityEnvelope

SHIPPED_MODULES = (
    "optaic_activity.domain.resources",
    "optaic_activity.domain.record",
    "optaic_activity.domain.optaic",
)


def shipped_aggregates() -> list[type[ActivityAggregate]]:
    found, stack = [], list(ActivityAggregate.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith(SHIPPED_MODULES):
            found.append(cls)
    return found


def test_the_walk_finds_the_framework_and_optaic_aggregates() -> None:
    names = {cls.__name__ for cls in shipped_aggregates()}
    assert {
        "Resource",
        "RoleBinding",
        "Subscription",
        "NotificationPreferences",
        "ActivityRecord",
        "Signal",
        "Dataset",
        "Promotion",
        "Backtest",
        "Portfolio",
        "Monitor",
    } <= names
    assert len(optaic_activity.domain.optaic.OPTAIC_AGGREGATES) >= 10
    assert optaic_activity.domain.resources.Resource in shipped_aggregates()
    assert optaic_activity.domain.record.ActivityRecord in shipped_aggregates()


def test_every_event_carries_the_full_envelope_and_a_catalogued_action() -> None:
    envelope_fields = set(ActivityEnvelope.model_fields)
    topics: dict[str, type] = {}
    for aggregate in shipped_aggregates():
        events = activity_event_classes(aggregate)
        if aggregate is optaic_activity.domain.record.ActivityRecord:
            events = [optaic_activity.domain.record.ActivityRecord.Recorded]
        for event in events:
            assert issubclass(event, ActivityEvent), event
            fields = {f.name for f in dataclasses.fields(event)}
            assert envelope_fields <= fields, (event, envelope_fields - fields)
            action = event.spec.action
            # Records carry any catalogued action.
            if aggregate is not optaic_activity.domain.record.ActivityRecord:
                assert ACTION_PATTERN.match(action), (event, action)
                assert action in CATALOG, (event, action)
            topic = event.TOPIC  # type: ignore[attr-defined]
            assert topic.startswith(aggregate.TOPIC.split(":")[0].rsplit(".", 1)[0]), topic
            assert event.__module__ not in topic, f"{topic} names a module path"
            assert topics.setdefault(topic, event) is event, f"two event classes share {topic}"
