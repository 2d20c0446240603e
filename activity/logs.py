"""One logging configuration for every process (API, projection runners, notifier workers).

Everything logs through the standard ``logging`` module to stderr: a readable line with a
timestamp and level on a terminal, or one JSON object per line (``--log-format json``,
python-json-logger). Both carry the same fields: ``process`` (api, projections, notifier,
...) on every record, and where the code knows them ``projection``, ``worker``, ``position``,
``tenant_id`` and ``correlation_id``.
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonLinesFormatter

FIELDS = ("projection", "worker", "position", "tenant_id", "correlation_id")
"""The context fields every format shows when a record carries them (``extra=``)."""

HANDLER_NAME = "optaic_activity"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class _ProcessField(logging.Filter):
    """Stamp each record with the process's role (``LogRecord.process`` is its pid)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "activity_process"):
            record.activity_process = self.process
        return True


class JsonFormatter(_JsonLinesFormatter):
    """``timestamp level logger process message`` and every ``extra=`` field, one line each."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(activity_process)s %(message)s",
            rename_fields={
                "levelname": "level",
                "name": "logger",
                "activity_process": "process",
            },
            timestamp=True,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        if not hasattr(record, "activity_process"):
            record.activity_process = ""
        super().add_fields(log_data, record, message_dict)
        log_data["level"] = str(log_data.get("level", "")).lower()


class TextFormatter(logging.Formatter):
    """``2026-01-01 12:00:00,000 INFO    projections optaic_activity...: message key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(activity_process)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "activity_process"):
            record.activity_process = "-"
        line = super().format(record)
        context = " ".join(
            f"{field}={getattr(record, field)}" for field in FIELDS if hasattr(record, field)
        )
        if not context:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} {context}{newline}{rest}"


def configure(
    process: str, *, log_format: LogFormat = LogFormat.TEXT, level: int = logging.INFO
) -> None:
    """Route every logger (ours, uvicorn's, warnings) to one stderr handler in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else TextFormatter())
    handler.addFilter(_ProcessField(process))
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    # Replacing only our own handler keeps a host's (pytest's capture, say) in place.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != HANDLER_NAME] + [handler]
    root.setLevel(level)
    for name in (*UVICORN_LOGGERS, "optaic_activity.notifier"):
        # Loggers configured elsewhere (uvicorn's defaults) would print their own lines.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # uvicorn.run(log_level=...) and dictConfig leave levels and disabled flags behind.
        logger.setLevel(logging.NOTSET)
        logger.disabled = False
    # Alembic narrates each step at INFO; `activity migrate` prints what changed itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.captureWarnings(True)
