"""Memory per queued message, measured with tracemalloc."""

from __future__ import annotations

import gc
import tracemalloc

from nanoqueue.queues.model import SendEntry
from nanoqueue.queues.service import QueueService

BODY_BYTES = 100
MESSAGES = 5_000
# Bytes a queued 100-byte message may cost beyond its body.
MAX_OVERHEAD_BYTES = 300


async def test_memory_per_message(service: QueueService) -> None:
    await service.create_queue("backlog")
    body = "x" * BODY_BYTES
    batch = [SendEntry(str(i), body) for i in range(10)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(MESSAGES // 10):
            await service.send("backlog", batch)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    overhead = (after - before) / MESSAGES - BODY_BYTES
    assert (await service.get_queue("backlog")).visible == MESSAGES
    assert overhead < MAX_OVERHEAD_BYTES, f"{overhead:.0f} bytes per message"
