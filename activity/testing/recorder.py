"""Record the activities a service call emitted, and assert on them."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa

from optaic_activity.domain.aggregate import ActivityEvent
from optaic_activity.projections.database import create_engine
from optaic_activity.projections.notifications import notifications
from optaic_activity.projections.service import ProjectionService
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
        self._projections: ProjectionService | None = None

    def _max_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def mark(self) -> None:
        """Forget what was emitted so far (e.g. after the test's setup)."""
        self._start = self._max_position()

    def _positioned(self) -> list[tuple[int, ActivityEvent]]:
        stored = self.app.recorder.select_notifications(
            self._start, limit=1_000_000, inclusive_of_start=False
        )
        return [(n.id, cast(ActivityEvent, self.app.mapper.to_domain_event(n))) for n in stored]

    @property
    def activities(self) -> list[ActivityEvent]:
        return [event for _, event in self._positioned()]

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

    def recipients(self, action: str, **envelope: Any) -> dict[UUID, list[str]]:
        """Who the routing projection notifies of the one ``action`` (envelope as filtered), why.

        Runs the framework's projections (watcher index, inbox) over everything the
        application stored, into a throw-away SQLite file: the same rules as production.
        """
        matches = [
            (position, event)
            for position, event in self._positioned()
            if event.action == action
            and all(getattr(event, name) == value for name, value in envelope.items())
        ]
        if len(matches) != 1:
            msg = f"expected one {action!r} with {envelope!r}, found {len(matches)}: {self.actions}"
            raise AssertionError(msg)
        position = matches[0][0]
        projections = self._read_models()
        projections.catch_up()
        with projections.engine.connect() as conn:
            rows = conn.execute(
                sa.select(notifications.c.principal_id, notifications.c.reasons).where(
                    notifications.c.position == position
                )
            )
            return {principal: list(reasons) for principal, reasons in rows}

    def assert_notified(
        self,
        action: str,
        *,
        principals: Iterable[UUID],
        reasons: Mapping[UUID, Sequence[str]] | Sequence[str] | None = None,
        **envelope: Any,
    ) -> dict[UUID, list[str]]:
        """The one ``action`` notifies exactly ``principals``; with ``reasons``, for exactly those.

        ``reasons`` is either each principal's reasons (``{owner: ["owner"]}``) or one list
        that every principal shares (``["delegator"]``); reasons are ``owner``,
        ``delegator`` and ``subscriber``. Returns the recipients and their reasons.
        """
        got = self.recipients(action, **envelope)
        expected = set(principals)
        if set(got) != expected:
            msg = (
                f"{action!r} notifies {sorted(map(str, got))}, expected "
                f"{sorted(map(str, expected))} (missing {sorted(map(str, expected - set(got)))}"
                f", unexpected {sorted(map(str, set(got) - expected))}); reasons: {got}"
            )
            raise AssertionError(msg)
        if reasons is not None:
            wanted = (
                {p: sorted(r) for p, r in reasons.items()}
                if isinstance(reasons, Mapping)
                else {p: sorted(reasons) for p in expected}
            )
            actual = {p: sorted(got[p]) for p in wanted}
            if actual != wanted:
                raise AssertionError(f"{action!r}: reasons {actual}, expected {wanted}")
        return got

    def _read_models(self) -> ProjectionService:
        if self._projections is None:
            folder = Path(tempfile.mkdtemp(prefix="activity-recorder-"))
            engine = create_engine(f"sqlite:///{folder / 'read-models.sqlite'}")
            self._projections = ProjectionService(self.app, engine)
            self._projections.setup()
        return self._projections

    def close(self) -> None:
        """Dispose of the read models' engine (if ``recipients`` ever needed one)."""
        if self._projections is not None:
            self._projections.engine.dispose()

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
