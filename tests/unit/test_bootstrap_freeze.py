"""Long-running commands freeze what start-up built, so the GC stops re-scanning it."""

from __future__ import annotations

import gc
import weakref

from optaic_activity.bootstrap import freeze_startup_objects


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_start_up_objects_are_frozen_after_the_garbage_is_collected() -> None:
    garbage = weakref.ref(Cycle())  # unreachable: collected, not frozen for ever
    kept = Cycle()
    try:
        freeze_startup_objects()
        assert garbage() is None
        assert gc.get_freeze_count() > 0
        assert not gc.is_finalized(kept)
        assert kept.me is kept
    finally:
        gc.unfreeze()
