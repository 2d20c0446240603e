"""Rows streamed into a table in groups that share most of their values (a fan-out).

An activity's inbox rows differ only in the recipient and the reasons: a `RowStream` takes
the shared values once per group and the differing ones per row, and writes as it goes, so
memory stays flat however many rows a batch fans out to (docs/performance.md, "Fan-out").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any


class RowStream(ABC):
    """New rows of one table (none exists yet), written on the caller's transaction.

    Opened by `Backend.stream_rows` with the names of the ``shared`` and the ``varying``
    columns; every value is stored as ``conn.execute`` would store it (``RawJSON`` as is).
    """

    @abstractmethod
    def write(self, shared: Sequence[Any], varying: Iterable[Sequence[Any]]) -> None:
        """One row per item of ``varying``: the ``shared`` values, then the item's own."""
