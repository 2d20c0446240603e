"""Record the activities a service call emitted, and assert on them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast
from uuid import UUID

from optaic_activity.domain.aggregate import ActivityEvent
from optaic_activity.service.application import ActivityApplication
from optaic_activity.settings import Settings


def in_memory_application() -> ActivityApplication:
    """An application on eventsourcing's in-memory store: fast, isolated, nothing on disk."""
    return ActivityApplication(Settings(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def _is_subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and _is_subset(value, actual[key]) for key, value in expected.items()
        )
    return bool(expected == actual)


class ActivityRecorder:
    """Reads what an application stored since the recorder was (re)started."""

    def __init__(self, app: ActivityApplication) -> None:
        self.app = app
        self._start = self._max_position()

    def _max_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def mark(self) -> None:
        """Forget what was emitted so far (e.g. after the test's setup)."""
        self._start = self._max_position()

    @property
    def activities(self) -> list[ActivityEvent]:
        notifications = self.app.recorder.select_notifications(
            self._start, limit=1_000_000, inclusive_of_start=False
        )
        return [cast(ActivityEvent, self.app.mapper.to_domain_event(n)) for n in notifications]

    @property
    def actions(self) -> list[str]:
        return [event.action for event in self.activities]

    def emitted(
        self, action: str, *, payload: Mapping[str, Any] | None = None, **envelope: Any
    ) -> list[ActivityEvent]:
        return [
            event
            for event in self.activities
            if event.action == action
            and _is_subset(payload or {}, event.payload)
            and all(getattr(event, name) == value for name, value in envelope.items())
        ]

    def assert_emitted(
        self, action: str, *, payload: Mapping[str, Any] | None = None, **envelope: Any
    ) -> ActivityEvent:
        """Exactly one ``action`` whose payload contains ``payload`` and whose envelope matches."""
        matches = self.emitted(action, payload=payload, **envelope)
        if len(matches) != 1:
            described = [(e.action, e.payload) for e in self.activities]
            msg = (
                f"expected one {action!r} with payload ⊇ {payload!r} and {envelope!r}, "
                f"found {len(matches)}; emitted: {described}"
            )
            raise AssertionError(msg)
        return matches[0]

    def assert_not_emitted(self, action: str) -> None:
        if action in self.actions:
            raise AssertionError(f"{action!r} was emitted; emitted: {self.actions}")

    def assert_nothing_emitted(self) -> None:
        if self.activities:
            raise AssertionError(f"expected no activity, emitted: {self.actions}")

    def assert_correlated(self, *actions: str) -> UUID:
        """All of ``actions`` were emitted, and share one correlation id (returned)."""
        by_action = {
            a: [e.correlation_id for e in self.activities if e.action == a] for a in actions
        }
        missing = [a for a, ids in by_action.items() if not ids]
        if missing:
            raise AssertionError(f"not emitted: {missing}; emitted: {self.actions}")
        ids = {cid for cids in by_action.values() for cid in cids}
        if len(ids) != 1:
            raise AssertionError(f"{list(actions)} carry {len(ids)} correlation ids, not one")
        return ids.pop()

    @contextmanager
    def nothing_saved_on_failure(self, error: type[BaseException] = Exception) -> Iterator[None]:
        """The block must raise ``error`` and leave no activity behind."""
        before = self._max_position()
        try:
            yield
        except error:
            after = self._max_position()
            if after != before:
                raise AssertionError(
                    f"{after - before} activities were saved by a failed call"
                ) from None
        else:
            raise AssertionError(f"expected {error.__name__} to be raised")
