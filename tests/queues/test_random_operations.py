"""Random operation sequences checked against a model of the live messages."""

from __future__ import annotations

import random

import pytest
from queue_helpers import FakeClock

from nanoqueue.queues.model import EntryError, Message, SendEntry
from nanoqueue.queues.service import QueueService

STEPS = 400


@pytest.mark.parametrize(
    ("queue", "seed"),
    [("mixed", 1), ("mixed", 2), ("mixed.fifo", 3), ("mixed.fifo", 4)],
)
async def test_counts_match_model(
    service: QueueService, clock: FakeClock, queue: str, seed: int
) -> None:
    fifo = queue.endswith(".fifo")
    await service.create_queue(queue, {"VisibilityTimeout": "5"})
    rng = random.Random(seed)
    live: set[str] = set()
    handles: dict[str, list[str]] = {}
    sent = 0

    for _ in range(STEPS):
        action = rng.random()
        if action < 0.3:
            entries = []
            for _ in range(rng.randint(1, 3)):
                sent += 1
                fields: dict = {}
                if fifo:
                    fields = {
                        "group_id": f"g{rng.randint(0, 3)}",
                        "deduplication_id": str(sent),
                    }
                elif rng.random() < 0.3:
                    fields = {"delay_s": rng.randint(1, 8)}
                entries.append(SendEntry(str(sent), f"body {sent}", **fields))
            for result in await service.send(queue, entries):
                assert not isinstance(result, EntryError)
                live.add(result.message_id)
        elif action < 0.55:
            received: list[Message] = await service.receive(
                queue, rng.randint(1, 4), visibility_timeout_s=rng.choice([0, 2, 5])
            )
            for message in received:
                assert message.message_id in live
                handles.setdefault(message.message_id, []).append(
                    message.receipt_handle
                )
        elif action < 0.75 and handles:
            message_id = rng.choice(sorted(handles))
            handle = rng.choice(handles[message_id])
            latest = handle == handles[message_id][-1]
            (result,) = await service.delete_messages(queue, [("d", handle)])
            assert result is None
            if latest and message_id in live:
                live.discard(message_id)
        elif action < 0.85 and handles:
            message_id = rng.choice(sorted(handles))
            await service.change_visibility(
                queue, [("c", handles[message_id][-1], rng.choice([0, 3, 7]))]
            )
        else:
            clock.advance(rng.choice([0.5, 1, 3, 6]))
            await service.run_timers()

        info = await service.get_queue(queue)
        assert min(info.visible, info.in_flight, info.delayed) >= 0
        assert info.visible + info.in_flight + info.delayed == len(live)

    clock.advance(60)
    await service.run_timers()
    info = await service.get_queue(queue)
    assert (info.visible, info.in_flight, info.delayed) == (len(live), 0, 0)

    drained: set[str] = set()
    for _ in range(len(live) + 5):
        batch = await service.receive(queue, 10, visibility_timeout_s=600)
        drained |= {m.message_id for m in batch}
        for message in batch:
            await service.delete_messages(queue, [("d", message.receipt_handle)])
    assert drained == live
