"""The server process's own settings."""

from __future__ import annotations

import gc

from nanoqueue.server import YOUNG_GC_THRESHOLD, tune_gc


def test_tune_gc_sets_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()

        young, middle, oldest = gc.get_threshold()
        assert young == YOUNG_GC_THRESHOLD
        assert (middle, oldest) == before[1:]
    finally:
        gc.set_threshold(*before)
