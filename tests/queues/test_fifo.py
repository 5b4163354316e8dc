"""FIFO queues: order per group, group blocking, deduplication, sequence numbers."""

from __future__ import annotations

import asyncio

import pytest
from queue_helpers import FakeClock, delete, receive_all, send_error, send_one

from nanoqueue.queues.model import SendEntry, SendResult
from nanoqueue.queues.service import QueueService


@pytest.fixture
async def fifo(service: QueueService) -> str:
    await service.create_queue(
        "jobs.fifo", {"FifoQueue": "true", "VisibilityTimeout": "10"}
    )
    return "jobs.fifo"


async def _send(
    service: QueueService,
    queue: str,
    body: str,
    group: str = "g",
    dedup: str | None = None,
) -> SendResult:
    return await send_one(
        service, queue, body, group_id=group, deduplication_id=dedup or body
    )


async def test_fifo_order_within_group(service: QueueService, fifo: str) -> None:
    for i in range(5):
        await _send(service, fifo, f"m{i}")
    received = await receive_all(service, fifo)
    assert [m.body for m in received] == ["m0", "m1", "m2", "m3", "m4"]
    assert all(m.group_id == "g" for m in received)


async def test_fifo_group_blocked_while_in_flight(
    service: QueueService, fifo: str
) -> None:
    await _send(service, fifo, "a1", "a")
    await _send(service, fifo, "a2", "a")
    await _send(service, fifo, "b1", "b")
    (first,) = await service.receive(fifo)
    assert first.body == "a1"
    (other,) = await service.receive(fifo)
    assert other.body == "b1"
    assert await receive_all(service, fifo) == []
    assert await delete(service, fifo, first.receipt_handle, strict=True) is None
    (second,) = await receive_all(service, fifo)
    assert second.body == "a2"


async def test_fifo_returned_messages_keep_order(
    service: QueueService, fifo: str, clock: FakeClock
) -> None:
    for i in range(3):
        await _send(service, fifo, f"m{i}")
    received = await receive_all(service, fifo)
    await service.change_visibility(fifo, [("x", received[1].receipt_handle, 20)])
    clock.advance(10)
    await service.run_timers()
    assert await receive_all(service, fifo) == []
    await service.change_visibility(fifo, [("x", received[1].receipt_handle, 0)])
    again = await receive_all(service, fifo)
    assert [m.body for m in again] == ["m0", "m1", "m2"]
    assert [m.receive_count for m in again] == [2, 2, 2]


async def test_fifo_group_blocks_until_all_resolved(
    service: QueueService, fifo: str
) -> None:
    for i in range(3):
        await _send(service, fifo, f"m{i}")
    (first,) = await service.receive(fifo)
    assert await receive_all(service, fifo) == []
    (result,) = await service.change_visibility(fifo, [("x", first.receipt_handle, 0)])
    assert result is None
    (again,) = await service.receive(fifo)
    assert again.body == "m0"


async def test_fifo_requires_group(service: QueueService, fifo: str) -> None:
    error = await send_error(service, fifo, SendEntry("m", "x", deduplication_id="d"))
    assert error.code == "MissingParameter"


async def test_fifo_requires_deduplication(service: QueueService, fifo: str) -> None:
    error = await send_error(service, fifo, SendEntry("m", "x", group_id="g"))
    assert error.code == "InvalidParameterValue"


async def test_fifo_rejects_message_delay(service: QueueService, fifo: str) -> None:
    entry = SendEntry("m", "x", group_id="g", deduplication_id="d", delay_s=5)
    error = await send_error(service, fifo, entry)
    assert error.code == "InvalidParameterValue"


async def test_fifo_queue_delay(service: QueueService, clock: FakeClock) -> None:
    await service.create_queue("late.fifo", {"DelaySeconds": "5"})
    await _send(service, "late.fifo", "m0")
    await _send(service, "late.fifo", "m1")
    assert await receive_all(service, "late.fifo") == []
    clock.advance(5)
    await service.run_timers()
    assert [m.body for m in await receive_all(service, "late.fifo")] == ["m0", "m1"]


@pytest.mark.parametrize("token", ["", "a" * 129, "tab\there", "é"])
async def test_fifo_rejects_bad_group_id(
    service: QueueService, fifo: str, token: str
) -> None:
    error = await send_error(
        service, fifo, SendEntry("m", "x", group_id=token, deduplication_id="d")
    )
    assert error.code == "InvalidParameterValue"


async def test_fifo_sequence_numbers(service: QueueService, fifo: str) -> None:
    first = await _send(service, fifo, "a")
    second = await _send(service, fifo, "b")
    assert first.sequence_number is not None
    assert second.sequence_number is not None
    assert len(first.sequence_number) >= 20
    assert int(second.sequence_number) > int(first.sequence_number)
    received = await receive_all(service, fifo)
    assert [m.sequence_number for m in received] == [
        first.sequence_number,
        second.sequence_number,
    ]


async def test_fifo_deduplication_by_id(
    service: QueueService, fifo: str, clock: FakeClock
) -> None:
    first = await _send(service, fifo, "one", dedup="same")
    duplicate = await _send(service, fifo, "two", dedup="same")
    assert duplicate.message_id == first.message_id
    assert duplicate.sequence_number == first.sequence_number
    assert (await service.get_queue(fifo)).visible == 1
    clock.advance(300)
    await service.run_timers()
    later = await _send(service, fifo, "three", dedup="same")
    assert later.message_id != first.message_id
    assert (await service.get_queue(fifo)).visible == 2


async def test_fifo_deduplication_after_delete(
    service: QueueService, fifo: str, clock: FakeClock
) -> None:
    sent = await _send(service, fifo, "once", dedup="d1")
    (message,) = await receive_all(service, fifo)
    assert await delete(service, fifo, message.receipt_handle) is None
    clock.advance(60)
    again = await _send(service, fifo, "once", dedup="d1")
    assert again.message_id == sent.message_id
    assert await receive_all(service, fifo) == []


async def test_fifo_content_based_deduplication(service: QueueService) -> None:
    await service.create_queue("cbd.fifo", {"ContentBasedDeduplication": "true"})
    first = await send_one(service, "cbd.fifo", "body", group_id="g")
    second = await send_one(service, "cbd.fifo", "body", group_id="g")
    third = await send_one(service, "cbd.fifo", "other", group_id="g")
    assert second.message_id == first.message_id
    assert third.message_id != first.message_id
    received = await receive_all(service, "cbd.fifo")
    assert [m.body for m in received] == ["body", "other"]
    assert received[0].deduplication_id is not None
    assert len(received[0].deduplication_id) == 64


async def test_fifo_deduplication_scope_group(service: QueueService) -> None:
    await service.create_queue(
        "scoped.fifo",
        {
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
        },
    )
    a = await send_one(service, "scoped.fifo", "x", group_id="a", deduplication_id="d")
    b = await send_one(service, "scoped.fifo", "x", group_id="b", deduplication_id="d")
    assert a.message_id != b.message_id
    assert (await service.get_queue("scoped.fifo")).visible == 2


async def test_fifo_receive_attempt_id(service: QueueService, fifo: str) -> None:
    for i in range(3):
        await _send(service, fifo, f"m{i}", group=f"g{i}")
    first = await service.receive(fifo, 2, attempt_id="attempt-1")
    repeated = await service.receive(fifo, 2, attempt_id="attempt-1")
    assert [m.receipt_handle for m in repeated] == [m.receipt_handle for m in first]
    other = await service.receive(fifo, 2, attempt_id="attempt-2")
    assert [m.body for m in other] == ["m2"]


async def test_fifo_attempt_id_expires(
    service: QueueService, fifo: str, clock: FakeClock
) -> None:
    await service.set_attributes(fifo, {"VisibilityTimeout": "600"})
    await _send(service, fifo, "m0", group="a")
    await _send(service, fifo, "m1", group="b")
    await service.receive(fifo, 1, attempt_id="retry")
    clock.advance(300)
    await service.run_timers()
    (fresh,) = await service.receive(fifo, 1, attempt_id="retry")
    assert fresh.body == "m1"


async def test_fifo_dead_letter(service: QueueService, clock: FakeClock) -> None:
    await service.create_queue("dead.fifo")
    await service.create_queue(
        "src.fifo",
        {
            "VisibilityTimeout": "5",
            "RedrivePolicy": {"deadLetterTargetArn": "dead.fifo", "maxReceiveCount": 2},
        },
    )
    await _send(service, "src.fifo", "a")
    await _send(service, "src.fifo", "b")
    deliveries = []
    for _ in range(5):
        deliveries += [m.body for m in await receive_all(service, "src.fifo")]
        clock.advance(5)
        await service.run_timers()
    assert deliveries == ["a", "b", "a", "b"]
    moved = await receive_all(service, "dead.fifo")
    assert [m.body for m in moved] == ["a", "b"]
    assert moved[0].group_id == "g"


async def test_fifo_counts(service: QueueService, fifo: str) -> None:
    for i in range(4):
        await _send(service, fifo, f"m{i}", group="a" if i < 2 else "b")
    await service.receive(fifo, 1)
    info = await service.get_queue(fifo)
    assert (info.visible, info.in_flight) == (3, 1)


async def test_fifo_purge(service: QueueService, fifo: str) -> None:
    await _send(service, fifo, "a", group="x")
    await _send(service, fifo, "b", group="y")
    await service.receive(fifo, 1)
    await service.purge_queue(fifo)
    info = await service.get_queue(fifo)
    assert (info.visible, info.in_flight) == (0, 0)
    assert await receive_all(service, fifo) == []
    await _send(service, fifo, "c", group="x")
    assert [m.body for m in await receive_all(service, fifo)] == ["c"]


async def test_fifo_delete_returned_message(
    service: QueueService, fifo: str, clock: FakeClock
) -> None:
    await _send(service, fifo, "m0")
    await _send(service, fifo, "m1")
    (first,) = await service.receive(fifo)
    clock.advance(10)
    await service.run_timers()
    assert await delete(service, fifo, first.receipt_handle) is None
    (next_message,) = await service.receive(fifo)
    assert next_message.body == "m1"
    info = await service.get_queue(fifo)
    assert (info.visible, info.in_flight) == (0, 1)


async def test_fifo_move_task(service: QueueService, clock: FakeClock) -> None:
    await service.create_queue("dead.fifo")
    await service.create_queue(
        "src.fifo",
        {
            "VisibilityTimeout": "5",
            "RedrivePolicy": {"deadLetterTargetArn": "dead.fifo", "maxReceiveCount": 1},
        },
    )
    for body, group in (("a1", "a"), ("b1", "b"), ("a2", "a")):
        await _send(service, "src.fifo", body, group)
    for _ in range(3):
        await receive_all(service, "src.fifo")
        clock.advance(5)
        await service.run_timers()
    assert (await service.get_queue("dead.fifo")).visible == 3
    await service.start_move_task("dead.fifo")
    async with asyncio.timeout(10):
        while (await service.list_move_tasks("dead.fifo"))[0].status == "RUNNING":
            await asyncio.sleep(0.01)
    (task,) = await service.list_move_tasks("dead.fifo")
    assert task.status == "COMPLETED"
    assert task.approximate_moved == 3
    back = await receive_all(service, "src.fifo")
    assert [m.body for m in back if m.group_id == "a"] == ["a1", "a2"]
    assert [m.body for m in back if m.group_id == "b"] == ["b1"]
    info = await service.get_queue("dead.fifo")
    assert (info.visible, info.in_flight) == (0, 0)


async def test_fifo_retention_expiry(service: QueueService, clock: FakeClock) -> None:
    await service.create_queue("brief.fifo", {"MessageRetentionPeriod": "60"})
    await _send(service, "brief.fifo", "a-old", "a")
    await _send(service, "brief.fifo", "b-old", "b")
    clock.advance(30)
    await _send(service, "brief.fifo", "a-young", "a")
    clock.advance(30)
    await service.run_timers()
    assert (await service.get_queue("brief.fifo")).visible == 1
    clock.advance(30)
    await service.run_timers()
    assert (await service.get_queue("brief.fifo")).visible == 0
    assert await receive_all(service, "brief.fifo") == []
    await _send(service, "brief.fifo", "b-new", "b")
    assert [m.body for m in await receive_all(service, "brief.fifo")] == ["b-new"]


async def test_fifo_retention_expires_returned(
    service: QueueService, clock: FakeClock
) -> None:
    await service.create_queue(
        "brief.fifo", {"MessageRetentionPeriod": "60", "VisibilityTimeout": "10"}
    )
    await _send(service, "brief.fifo", "returned")
    await receive_all(service, "brief.fifo")
    clock.advance(10)
    await service.run_timers()
    assert (await service.get_queue("brief.fifo")).visible == 1
    clock.advance(50)
    await service.run_timers()
    info = await service.get_queue("brief.fifo")
    assert (info.visible, info.in_flight) == (0, 0)
    await _send(service, "brief.fifo", "later", dedup="later")
    assert [m.body for m in await receive_all(service, "brief.fifo")] == ["later"]


async def test_fifo_deduplication_sweep_keeps_newer_entry(
    service: QueueService, fifo: str, clock: FakeClock
) -> None:
    await service.stop()
    first = await _send(service, fifo, "one", dedup="key")
    clock.advance(300)
    second = await _send(service, fifo, "two", dedup="key")
    assert second.message_id != first.message_id
    await service.run_timers()
    clock.advance(10)
    third = await _send(service, fifo, "three", dedup="key")
    assert third.message_id == second.message_id
    clock.advance(290)
    await service.run_timers()
    fourth = await _send(service, fifo, "four", dedup="key")
    assert fourth.message_id != second.message_id
