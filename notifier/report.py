"""What a delivery run did, counted: the part `BatchReport` and `RelayReport` share."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Self


@dataclass
class DeliveryCounts:
    retried: int = 0
    """Rows put back to be tried again later."""
    dead: int = 0
    """Rows dead-lettered."""

    def add(self, other: Self) -> None:
        """Count ``other`` in as well (a run's total over its batches): every field."""
        for counter in fields(self):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))
