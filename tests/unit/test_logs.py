"""One logging configuration: the same fields in text and JSON, uvicorn's and warnings' records
through the same handler."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator

import pytest

from optaic_activity import logs


@pytest.fixture
def configured() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def _batch() -> None:
    logging.getLogger("optaic_activity.entrypoints.cli").info(
        "audit_log: +3 -> position 7",
        extra={"projection": "audit_log", "position": 7, "correlation_id": "c-1"},
    )


@pytest.mark.usefixtures("configured")
def test_json_lines_carry_the_process_and_the_context_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("projections", log_format=logs.LogFormat.JSON)

    _batch()

    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["process"] == "projections"
    assert (record["projection"], record["position"], record["correlation_id"]) == (
        "audit_log",
        7,
        "c-1",
    )
    assert (record["level"], record["logger"]) == ("info", "optaic_activity.entrypoints.cli")
    assert record["message"] == "audit_log: +3 -> position 7"
    assert "timestamp" in record


@pytest.mark.usefixtures("configured")
def test_text_lines_carry_a_timestamp_a_level_and_the_same_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure("projections")

    _batch()

    (line,) = capsys.readouterr().err.splitlines()
    assert line[:4].isdigit()  # the timestamp leads
    assert " INFO " in line
    assert " projections " in line
    assert line.endswith("projection=audit_log position=7 correlation_id=c-1")


@pytest.mark.usefixtures("configured")
def test_uvicorn_and_warnings_go_through_the_same_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logging.getLogger("uvicorn.access").addHandler(logging.NullHandler())
    logs.configure("serve", log_format=logs.LogFormat.JSON)

    logging.getLogger("uvicorn.access").info("GET /v1/activities 200")
    warnings.warn("a deprecated setting", UserWarning, stacklevel=1)

    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(r["logger"], r["process"]) for r in records] == [
        ("uvicorn.access", "serve"),
        ("py.warnings", "serve"),
    ]
    assert logging.getLogger("uvicorn.access").handlers == []
