"""Long polling with the real clock: early returns and the empty deadline."""

from __future__ import annotations

import asyncio

from queue_helpers import send_one

from nanoqueue.queues.service import QueueService


async def _started_poll(
    service: QueueService, queue: str, wait_s: int
) -> asyncio.Task[list]:
    poll = asyncio.create_task(service.receive(queue, 1, wait_s=wait_s))
    async with asyncio.timeout(5):
        while not service.waiters._waiting.get(f"us-east-1/{queue}"):
            await asyncio.sleep(0.005)
    return poll


async def test_long_poll_returns_on_send(real_service: QueueService) -> None:
    await real_service.create_queue("polled")
    poll = await _started_poll(real_service, "polled", 20)
    await send_one(real_service, "polled", "arrived")
    async with asyncio.timeout(5):
        (message,) = await poll
    assert message.body == "arrived"


async def test_long_poll_returns_on_visibility_zero(real_service: QueueService) -> None:
    await real_service.create_queue("polled")
    await send_one(real_service, "polled", "held")
    (held,) = await real_service.receive("polled")
    poll = await _started_poll(real_service, "polled", 10)
    await real_service.change_visibility("polled", [("e", held.receipt_handle, 0)])
    async with asyncio.timeout(5):
        (message,) = await poll
    assert message.message_id == held.message_id
    assert message.receive_count == 2


async def test_long_poll_returns_on_timeout_expiry(real_service: QueueService) -> None:
    await real_service.create_queue("polled", {"VisibilityTimeout": "1"})
    await send_one(real_service, "polled", "returns")
    await real_service.receive("polled")
    poll = await _started_poll(real_service, "polled", 10)
    async with asyncio.timeout(5):
        (message,) = await poll
    assert message.receive_count == 2


async def test_long_poll_empty_at_deadline(real_service: QueueService) -> None:
    await real_service.create_queue("quiet")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await real_service.receive("quiet", wait_s=1) == []
    assert loop.time() - started >= 1


async def test_long_poll_queue_default_wait(real_service: QueueService) -> None:
    await real_service.create_queue("waits", {"ReceiveMessageWaitTimeSeconds": "20"})
    default_poll = asyncio.create_task(real_service.receive("waits"))
    async with asyncio.timeout(5):
        while len(real_service.waiters._waiting.get("us-east-1/waits", ())) < 1:
            await asyncio.sleep(0.005)
    await send_one(real_service, "waits", "x")
    async with asyncio.timeout(5):
        assert len(await default_poll) == 1


async def test_long_poll_wakes_only_needed(real_service: QueueService) -> None:
    await real_service.create_queue("crowd")
    polls = [
        asyncio.create_task(real_service.receive("crowd", wait_s=3)) for _ in range(3)
    ]
    async with asyncio.timeout(5):
        while len(real_service.waiters._waiting.get("us-east-1/crowd", ())) < 3:
            await asyncio.sleep(0.005)
    await send_one(real_service, "crowd", "one")
    async with asyncio.timeout(5):
        done, pending = await asyncio.wait(polls, return_when=asyncio.FIRST_COMPLETED)
    assert sum(len(task.result()) for task in done) == 1
    assert len(real_service.waiters._waiting.get("us-east-1/crowd", ())) == 2
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


async def test_long_poll_ends_on_delete(real_service: QueueService) -> None:
    await real_service.create_queue("gone")
    poll = await _started_poll(real_service, "gone", 20)
    await real_service.delete_queue("gone")
    async with asyncio.timeout(5):
        result = await asyncio.gather(poll, return_exceptions=True)
    assert type(result[0]).__name__ == "QueueDoesNotExist"


async def test_long_poll_cancel_passes_wake(real_service: QueueService) -> None:
    await real_service.create_queue("handover")
    cancelled = await _started_poll(real_service, "handover", 20)
    cancelled.cancel()
    waiting = asyncio.create_task(real_service.receive("handover", wait_s=20))
    await send_one(real_service, "handover", "x")
    async with asyncio.timeout(5):
        (message,) = await waiting
    assert message.body == "x"
    assert cancelled.cancelled()
