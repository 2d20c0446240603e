from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from optaic_activity.domain.errors import PublisherMisconfiguredError
from optaic_activity.entrypoints.notifier_cli import build_app
from optaic_activity.logs import JsonFormatter
from optaic_activity.notifier.config import NotifierConfig
from optaic_activity.notifier.failures import Failure, FailureKind
from optaic_activity.notifier.message import Broadcast
from optaic_activity.notifier.publisher import ConsolePublisher
from optaic_activity.notifier.runtime import NotifierRuntime
from tests.unit.notifier.factories import (
    ScriptedPublisher,
    insert_rows,
    outbox_state,
)
from tests.unit.notifier.factories import outbox_values as _outbox_values

ALICE, BOB = uuid.uuid4(), uuid.uuid4()


def outbox_values(position: int, *args: Any, **kwargs: Any) -> dict[str, Any]:
    # The commands run on the real clock: rows must be due now.
    return _outbox_values(position, *args, created_at=datetime.now(UTC), **kwargs)


def test_the_console_publisher_prints_one_line_per_notification() -> None:
    console = Console(record=True, width=300)
    data = {
        "action": "resource.updated",
        "resource_type": "folder",
        "resource_id": "r-1",
        "actor_principal_id": "bob",
        "summary": "renamed [bold]F[/bold] to G",
        "reasons": ["owner"],
    }

    outcomes = ConsolePublisher(console).publish(
        [Broadcast(("notifications:#a", "notifications:#b"), data, "k")]
    )

    lines = console.export_text().splitlines()
    assert outcomes == [None]
    assert lines == [
        f"notify {channel} resource.updated folder/r-1 by bob (owner): renamed [bold]F[/bold] to G"
        for channel in ("notifications:#a", "notifications:#b")
    ]


def test_the_console_prints_an_inbox_counter_as_its_counts() -> None:
    console = Console(record=True, width=200)
    counts = {"type": "counts", "unread_count": 3, "unseen_count": 1}

    outcomes = ConsolePublisher(console).publish([Broadcast(("notifications:#a",), counts, "k")])

    assert outcomes == [None]
    assert console.export_text().splitlines() == [
        "notify notifications:#a counts unread 3 unseen 1"
    ]


class Runtimes:
    """A runtime factory over one test database, remembering what it handed out."""

    def __init__(self, engine: Engine, publisher: ScriptedPublisher | ConsolePublisher) -> None:
        self.engine = engine
        self.publisher = publisher
        self.console = Console(record=True, width=200)
        self.made = 0

    def __call__(self) -> NotifierRuntime:
        self.made += 1
        return NotifierRuntime(
            engine=self.engine,
            publisher=self.publisher,
            config=NotifierConfig(batch_size=2, worker_id="cli-test"),
            console=self.console,
        )

    @property
    def output(self) -> str:
        return self.console.export_text(clear=False)


def invoke(runtimes: Callable[[], NotifierRuntime], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(runtimes), list(args))
    return result.exit_code, result.output


def dead_letters(engine: Engine) -> None:
    insert_rows(
        engine,
        [
            outbox_values(1, [(ALICE, ["owner"])], channels=["gone:1"]),
            outbox_values(2, [(BOB, ["owner"])]),
            outbox_values(3, [(BOB, ["owner"])], channels=["gone:3"]),
        ],
    )

    def outcome(broadcast: Broadcast) -> Failure | None:
        gone = [c for c in broadcast.channels if c.startswith("gone:")]
        return Failure(FailureKind.PERMANENT, f"{gone[0]}: unknown channel") if gone else None

    runtimes = Runtimes(engine, ScriptedPublisher(outcome))
    assert invoke(runtimes, "run", "--once")[0] == 0


def test_help_does_not_build_the_runtime(engine: Engine) -> None:
    runtimes = Runtimes(engine, ScriptedPublisher())

    code, output = invoke(runtimes, "--help")

    assert code == 0
    assert "dlq" in output
    assert "run" in output
    assert runtimes.made == 0


def test_run_once_delivers_what_is_due_through_the_console_publisher(engine: Engine) -> None:
    insert_rows(engine, [outbox_values(p, [(ALICE, ["subscriber"])]) for p in (1, 2, 3)])
    runtimes = Runtimes(engine, ConsolePublisher(Console(record=True, width=200)))

    code, _ = invoke(runtimes, "run", "--once", "--batch-size", "2")

    assert code == 0
    assert "sent 3, retried 0, dead-lettered 0" in runtimes.output
    assert {s["status"] for s in outbox_state(engine).values()} == {"sent"}


def test_run_exits_with_status_2_when_the_publisher_is_misconfigured(engine: Engine) -> None:
    insert_rows(engine, [outbox_values(1, [(ALICE, ["owner"])])])

    def refuse(_broadcast: Broadcast) -> Failure:
        raise PublisherMisconfiguredError("Centrifugo refused the API key (HTTP 401)")

    runtimes = Runtimes(engine, ScriptedPublisher(refuse))

    code, _ = invoke(runtimes, "run", "--once")

    assert code == 2
    assert "HTTP 401" in runtimes.output
    assert outbox_state(engine)[1]["status"] == "pending"


def test_dlq_list_shows_each_dead_letter_with_its_error(engine: Engine) -> None:
    dead_letters(engine)
    runtimes = Runtimes(engine, ScriptedPublisher())

    code, _ = invoke(runtimes, "dlq", "list")

    assert code == 0
    assert "gone:1: unknown channel" in runtimes.output
    assert "gone:3: unknown channel" in runtimes.output


def test_dlq_list_json_is_one_array_of_the_dead_letters(engine: Engine) -> None:
    dead_letters(engine)
    runtimes = Runtimes(engine, ScriptedPublisher())

    result = CliRunner().invoke(build_app(runtimes), ["dlq", "list", "--json"])

    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert sorted(row["position"] for row in listed) == [1, 3]
    assert all("unknown channel" in row["last_error"] for row in listed)
    assert {"activity_id", "action", "attempts", "created_at"} <= set(listed[0])


def test_dlq_list_says_so_when_there_is_none(engine: Engine) -> None:
    runtimes = Runtimes(engine, ScriptedPublisher())

    assert invoke(runtimes, "dlq", "list")[0] == 0
    assert "no dead letters" in runtimes.output


def test_dlq_retry_of_one_position_puts_only_that_row_back_with_fresh_attempts(
    engine: Engine,
) -> None:
    dead_letters(engine)
    runtimes = Runtimes(engine, ScriptedPublisher())

    code, _ = invoke(runtimes, "dlq", "retry", "--position", "3")

    state = outbox_state(engine)
    assert code == 0
    assert (state[1]["status"], state[3]["status"], state[3]["attempts"]) == ("dead", "pending", 0)
    assert state[3]["last_error"] == "gone:3: unknown channel", "the error stays for the record"


def test_dlq_retry_all_puts_every_dead_letter_back(engine: Engine) -> None:
    dead_letters(engine)
    runtimes = Runtimes(engine, ScriptedPublisher())

    assert invoke(runtimes, "dlq", "retry", "--all")[0] == 0
    assert "2 dead letter(s) back in the outbox" in runtimes.output
    assert {s["status"] for s in outbox_state(engine).values()} == {"pending", "sent"}


@pytest.mark.parametrize("args", [[], ["--all", "--position", "1"]])
def test_dlq_retry_needs_exactly_one_of_position_or_all(engine: Engine, args: list[str]) -> None:
    runtimes = Runtimes(engine, ScriptedPublisher())

    code, _ = invoke(runtimes, "dlq", "retry", *args)

    assert code == 2
    assert runtimes.made == 0


def test_dlq_retry_of_a_position_that_is_no_dead_letter_fails(engine: Engine) -> None:
    dead_letters(engine)
    runtimes = Runtimes(engine, ScriptedPublisher())

    code, _ = invoke(runtimes, "dlq", "retry", "--position", "2")

    assert code == 1
    assert outbox_state(engine)[2]["status"] == "sent"


def test_json_log_lines_carry_the_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "msg": "sent %s",
            "args": ("x",),
            "levelname": "INFO",
            "name": "optaic_activity.notifier.worker",
        }
    )
    record.__dict__.update(activity_id="a-1", correlation_id="c-1")

    line = json.loads(JsonFormatter().format(record))

    assert line["message"] == "sent x"
    assert (line["activity_id"], line["correlation_id"]) == ("a-1", "c-1")
