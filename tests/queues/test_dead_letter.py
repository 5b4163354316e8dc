"""Dead-letter queues, their source list and message move tasks."""

from __future__ import annotations

import asyncio
import logging

import pytest
from queue_helpers import FakeClock, receive_all, send_one

from nanoqueue.queues.errors import (
    InvalidParameterValue,
    ResourceNotFoundException,
    UnsupportedOperation,
)
from nanoqueue.queues.model import MessageAttribute, MoveTask, SendEntry
from nanoqueue.queues.service import QueueService


@pytest.fixture
async def source(service: QueueService) -> str:
    await service.create_queue("dead")
    await service.create_queue(
        "work",
        {
            "VisibilityTimeout": "10",
            "RedrivePolicy": {"deadLetterTargetArn": "dead", "maxReceiveCount": 3},
        },
    )
    return "work"


async def _expire(service: QueueService, clock: FakeClock, seconds: float = 10) -> None:
    clock.advance(seconds)
    await service.run_timers()


async def _dead_letter_all(
    service: QueueService, clock: FakeClock, source: str
) -> None:
    for _ in range(3):
        await receive_all(service, source)
        await _expire(service, clock)


async def test_dead_letter_after_max_receives(
    service: QueueService,
    source: str,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    attributes = {"kind": MessageAttribute("String", "job")}
    sent = await send_one(service, source, "never deleted", attributes=attributes)
    deliveries = 0
    caplog.set_level(logging.WARNING, logger="nanoqueue.queues")
    for _ in range(6):
        received = await receive_all(service, source)
        deliveries += len(received)
        await _expire(service, clock)
    assert deliveries == 3
    (moved,) = await receive_all(service, "dead")
    assert moved.message_id == sent.message_id
    assert moved.body == "never deleted"
    assert moved.attributes == attributes
    assert moved.md5_of_attributes == sent.md5_of_attributes
    assert moved.dead_letter_source == "work"
    assert moved.receive_count == 1
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert sent.message_id in record.getMessage()
    assert "us-east-1/work" in record.getMessage()
    assert "us-east-1/dead" in record.getMessage()
    assert "never deleted" not in record.getMessage()


async def test_dead_letter_counts(
    service: QueueService, source: str, clock: FakeClock
) -> None:
    await service.send(source, [SendEntry(str(i), "x") for i in range(4)])
    await _dead_letter_all(service, clock, source)
    assert (await service.get_queue(source)).visible == 0
    assert (await service.get_queue("dead")).visible == 4


async def test_dead_letter_receive_count_lowered(
    service: QueueService, source: str, clock: FakeClock
) -> None:
    await send_one(service, source, "x")
    for _ in range(2):
        await receive_all(service, source)
        await _expire(service, clock)
    await service.set_attributes(
        source, {"RedrivePolicy": {"deadLetterTargetArn": "dead", "maxReceiveCount": 1}}
    )
    assert await receive_all(service, source) == []
    assert (await service.get_queue("dead")).visible == 1


async def test_dead_letter_queue_deleted(
    service: QueueService, source: str, clock: FakeClock
) -> None:
    await send_one(service, source, "stays")
    await service.delete_queue("dead")
    for _ in range(4):
        await receive_all(service, source)
        await _expire(service, clock)
    (message,) = await receive_all(service, source)
    assert message.receive_count == 5


async def test_list_dead_letter_sources(service: QueueService, source: str) -> None:
    await service.create_queue(
        "also", {"RedrivePolicy": {"deadLetterTargetArn": "dead", "maxReceiveCount": 5}}
    )
    await service.create_queue("unrelated")
    assert await service.list_dead_letter_source_queues("dead") == ["also", "work"]
    assert await service.list_dead_letter_source_queues("unrelated") == []


async def _wait_for_status(service: QueueService, queue: str, status: str) -> MoveTask:
    async with asyncio.timeout(10):
        while True:
            (task,) = await service.list_move_tasks(queue)
            if task.status == status:
                return task
            await asyncio.sleep(0.01)


async def test_move_task_to_source(
    service: QueueService, source: str, clock: FakeClock
) -> None:
    await service.send(source, [SendEntry(str(i), f"m{i}") for i in range(3)])
    await _dead_letter_all(service, clock, source)
    handle = await service.start_move_task("dead")
    task = await _wait_for_status(service, "dead", "COMPLETED")
    assert task.task_handle == handle
    assert task.approximate_moved == 3
    assert task.approximate_to_move == 3
    assert task.source_arn == "arn:aws:sqs:us-east-1:000000000000:dead"
    assert task.destination_arn is None
    back = await receive_all(service, source)
    assert sorted(m.body for m in back) == ["m0", "m1", "m2"]
    assert all(m.receive_count == 1 for m in back)
    assert all(m.dead_letter_source is None for m in back)


async def test_move_task_to_destination(
    service: QueueService, source: str, clock: FakeClock
) -> None:
    await service.create_queue("elsewhere")
    await send_one(service, source, "moved")
    await _dead_letter_all(service, clock, source)
    await service.start_move_task("dead", "elsewhere", max_per_second=10)
    task = await _wait_for_status(service, "dead", "COMPLETED")
    assert task.destination_arn == "arn:aws:sqs:us-east-1:000000000000:elsewhere"
    assert task.max_per_second == 10
    (message,) = await receive_all(service, "elsewhere")
    assert message.body == "moved"


async def test_move_task_rate_and_cancel(
    service: QueueService, source: str, clock: FakeClock
) -> None:
    await service.send(source, [SendEntry(str(i), "x") for i in range(5)])
    await _dead_letter_all(service, clock, source)
    handle = await service.start_move_task("dead", max_per_second=2)
    with pytest.raises(UnsupportedOperation):
        await service.start_move_task("dead")
    async with asyncio.timeout(10):
        while (await service.list_move_tasks("dead"))[0].approximate_moved == 0:
            await asyncio.sleep(0.01)
    moved = await service.cancel_move_task(handle)
    assert moved == 2
    (task,) = await service.list_move_tasks("dead")
    assert task.status == "CANCELLED"
    assert (await service.get_queue("dead")).visible == 3
    with pytest.raises(UnsupportedOperation):
        await service.cancel_move_task(handle)


async def test_move_task_errors(service: QueueService, source: str) -> None:
    with pytest.raises(ResourceNotFoundException):
        await service.start_move_task("absent")
    with pytest.raises(ResourceNotFoundException):
        await service.start_move_task("dead", "absent")
    with pytest.raises(InvalidParameterValue):
        await service.start_move_task(source)
    with pytest.raises(InvalidParameterValue):
        await service.start_move_task("dead", max_per_second=501)
    with pytest.raises(InvalidParameterValue):
        await service.cancel_move_task("not a handle")
    with pytest.raises(InvalidParameterValue):
        await service.list_move_tasks("dead", max_results=11)


async def test_move_task_source_missing(
    service: QueueService, source: str, clock: FakeClock
) -> None:
    await send_one(service, source, "orphan")
    await _dead_letter_all(service, clock, source)
    await service.delete_queue(source)
    await service.create_queue(
        "keep", {"RedrivePolicy": {"deadLetterTargetArn": "dead", "maxReceiveCount": 2}}
    )
    await service.start_move_task("dead")
    task = await _wait_for_status(service, "dead", "FAILED")
    assert task.failure_reason is not None
    assert "work" in task.failure_reason
    assert (await service.get_queue("dead")).visible == 1


async def test_move_tasks_listed_newest_first(
    service: QueueService, source: str, clock: FakeClock
) -> None:
    for body in ("first", "second"):
        await send_one(service, source, body)
        await _dead_letter_all(service, clock, source)
        await service.start_move_task("dead")
        await _wait_for_status(service, "dead", "COMPLETED")
    tasks = await service.list_move_tasks("dead", max_results=10)
    assert len(tasks) == 2
    assert tasks[0].started_at_ms >= tasks[1].started_at_ms
    assert tasks[0].task_handle != tasks[1].task_handle


async def test_own_dead_letter_queue_rejected(service: QueueService) -> None:
    await service.create_queue("self")
    redrive = {"dead_letter_queue": "self", "max_receive_count": 1}

    with pytest.raises(InvalidParameterValue, match="cannot be its own dead-letter"):
        await service.set_attributes("self", {"redrive_policy": redrive})
