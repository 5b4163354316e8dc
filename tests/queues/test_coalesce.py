"""Concurrent sends to one queue joined into one run of the send script."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from queue_helpers import receive_all

from nanoqueue.errors import ScriptMemoryLimit
from nanoqueue.queues.coalesce import MAX_JOINED_MESSAGES
from nanoqueue.queues.errors import QueueDoesNotExist
from nanoqueue.queues.model import SendEntry, SendResult
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine
from nanoqueue.scripting.runtime import ScriptLimits


class SendRuns:
    """Counts the send script's runs and the messages each one carried."""

    def __init__(self, service: QueueService) -> None:
        self.sizes: list[int] = []
        self.failures: list[str] = []
        run = service.scripts.run

        async def counting(name: str, args: list[Any]) -> Any:
            if name != "send":
                return await run(name, args)
            self.sizes.append(args[2])
            try:
                return await run(name, args)
            except Exception as exc:
                self.failures.append(type(exc).__name__)
                raise

        service.scripts.run = counting  # type: ignore[method-assign]


@pytest.fixture
async def runs(service: QueueService) -> SendRuns:
    await service.create_queue("work", {})
    return SendRuns(service)


async def send(service: QueueService, body: str, queue: str = "work") -> Any:
    (result,) = await service.send(queue, [SendEntry("0", body)])
    return result


async def test_concurrent_sends_share_one_run(
    service: QueueService, runs: SendRuns
) -> None:
    results = await asyncio.gather(*(send(service, f"m{i}") for i in range(20)))

    assert runs.sizes == [20]
    assert all(isinstance(result, SendResult) for result in results)
    assert len({result.message_id for result in results}) == 20


async def test_joined_sends_keep_arrival_order(
    service: QueueService, runs: SendRuns
) -> None:
    await asyncio.gather(*(send(service, f"m{i}") for i in range(10)))

    received = await receive_all(service, "work")
    assert [message.body for message in received] == [f"m{i}" for i in range(10)]


async def test_each_request_gets_its_own_results(
    service: QueueService, runs: SendRuns
) -> None:
    batches = [
        [SendEntry(f"e{i}", f"batch{b}-{i}") for i in range(b + 1)] for b in range(4)
    ]

    results = await asyncio.gather(*(service.send("work", b) for b in batches))

    assert runs.sizes == [10]
    for batch, replies in zip(batches, results, strict=True):
        assert [reply.entry_id for reply in replies] == [e.entry_id for e in batch]
    received = {m.message_id: m.body for m in await receive_all(service, "work")}
    for batch, replies in zip(batches, results, strict=True):
        for entry, reply in zip(batch, replies, strict=True):
            assert received[reply.message_id] == entry.body


async def test_send_one_pass_later_joins_run(
    service: QueueService, runs: SendRuns
) -> None:
    first = asyncio.ensure_future(send(service, "first"))
    # The first send's step opens the run during this pass.
    await asyncio.sleep(0)
    second = asyncio.ensure_future(send(service, "second"))

    await asyncio.gather(first, second)

    assert runs.sizes == [2]
    assert [m.body for m in await receive_all(service, "work")] == ["first", "second"]


async def test_lone_send_runs_alone(service: QueueService, runs: SendRuns) -> None:
    await send(service, "one")
    await send(service, "two")

    assert runs.sizes == [1, 1]


async def test_run_splits_at_message_limit(
    service: QueueService, runs: SendRuns
) -> None:
    batch = [SendEntry(str(i), "x") for i in range(10)]
    requests = MAX_JOINED_MESSAGES // 10 + 3

    await asyncio.gather(*(service.send("work", batch) for _ in range(requests)))

    assert runs.sizes == [MAX_JOINED_MESSAGES, 30]


async def test_sends_to_other_queues_run_apart(
    service: QueueService, runs: SendRuns
) -> None:
    await service.create_queue("other", {})

    await asyncio.gather(
        send(service, "a"), send(service, "b", "other"), send(service, "c")
    )

    assert sorted(runs.sizes) == [1, 2]


async def test_missing_queue_fails_every_joined_send(
    service: QueueService, runs: SendRuns
) -> None:
    pending = [asyncio.ensure_future(send(service, f"m{i}")) for i in range(3)]
    await asyncio.sleep(0)
    await service.delete_queue("work")

    results = await asyncio.gather(*pending, return_exceptions=True)

    assert runs.sizes == [3]
    assert all(isinstance(result, QueueDoesNotExist) for result in results)


async def test_cancelled_sender_does_not_stop_others(
    service: QueueService, runs: SendRuns
) -> None:
    first = asyncio.ensure_future(send(service, "cancelled"))
    second = asyncio.ensure_future(send(service, "kept"))
    await asyncio.sleep(0)
    first.cancel()

    result = await second

    assert isinstance(result, SendResult)
    bodies = sorted(m.body for m in await receive_all(service, "work"))
    assert bodies == ["cancelled", "kept"]


async def test_fifo_duplicates_found_within_joined_run(service: QueueService) -> None:
    await service.create_queue("jobs.fifo", {"FifoQueue": "true"})
    entry = SendEntry("0", "same", group_id="g", deduplication_id="d1")

    first, second = await asyncio.gather(
        service.send("jobs.fifo", [entry]), service.send("jobs.fifo", [entry])
    )

    assert first[0].message_id == second[0].message_id
    assert first[0].sequence_number == second[0].sequence_number
    assert len(await receive_all(service, "jobs.fifo")) == 1


@pytest.fixture
async def small_service() -> AsyncIterator[QueueService]:
    engine = ScriptEngine(limits=ScriptLimits(memory_bytes=512 * 1024))
    queue_service = QueueService(engine)
    await queue_service.start()
    await queue_service.create_queue("work", {})
    yield queue_service
    await queue_service.stop()


async def test_memory_limit_reruns_each_alone(small_service: QueueService) -> None:
    runs = SendRuns(small_service)
    body = "x" * 300_000

    results = await asyncio.gather(send(small_service, body), send(small_service, body))

    assert runs.sizes == [2, 1, 1]
    assert runs.failures == [ScriptMemoryLimit.__name__]
    assert all(isinstance(result, SendResult) for result in results)
    assert len(await receive_all(small_service, "work")) == 2


async def test_request_over_memory_limit_fails_alone(
    small_service: QueueService,
) -> None:
    runs = SendRuns(small_service)

    results = await asyncio.gather(
        send(small_service, "x" * 600_000),
        send(small_service, "small"),
        return_exceptions=True,
    )

    assert isinstance(results[0], ScriptMemoryLimit)
    assert isinstance(results[1], SendResult)
    assert runs.sizes == [2, 1, 1]
    assert [m.body for m in await receive_all(small_service, "work")] == ["small"]


async def test_stop_waits_for_started_runs(service: QueueService) -> None:
    await service.create_queue("work", {})
    pending = asyncio.ensure_future(send(service, "late"))
    await asyncio.sleep(0)

    await service.sends.wait_idle()

    assert pending.done()
    assert isinstance(pending.result(), SendResult)


async def test_cancelled_run_cancels_its_senders(
    service: QueueService, runs: SendRuns
) -> None:
    waiting = asyncio.ensure_future(send(service, "waiting"))
    await asyncio.sleep(0)
    (run,) = service.sends._tasks

    run.cancel()
    await asyncio.wait([waiting], timeout=5)

    assert waiting.cancelled()
    assert runs.sizes == []
    assert isinstance(await send(service, "after"), SendResult)
    assert [m.body for m in await receive_all(service, "work")] == ["after"]
