"""The event loop the harness's Python servers and generators run on."""

from __future__ import annotations

import asyncio


def new_event_loop() -> asyncio.AbstractEventLoop:
    """Create the loop nanoqueue's `event_loop_factory` picks: uvloop, else asyncio's.

    The choice is repeated here instead of imported, so that the no-op app
    and the load generators do not load nanoqueue's code.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
