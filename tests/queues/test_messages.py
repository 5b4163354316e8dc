"""Sending, receiving, deleting and changing visibility on standard queues."""

from __future__ import annotations

import uuid

import pytest
from queue_helpers import FakeClock, delete, receive_all, send_error, send_one

from nanoqueue.queues.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidParameterValue,
    OverLimit,
    QueueDoesNotExist,
    TooManyEntriesInBatchRequest,
)
from nanoqueue.queues.md5 import md5_of_attributes
from nanoqueue.queues.messages import new_message_id
from nanoqueue.queues.model import EntryError, MessageAttribute, SendEntry, SendResult
from nanoqueue.queues.records import decode_receipt_handle, encode_receipt_handle
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine


@pytest.fixture
async def queue(service: QueueService) -> str:
    await service.create_queue("work", {"VisibilityTimeout": "30"})
    return "work"


async def test_send_returns_id_and_md5(service: QueueService, queue: str) -> None:
    result = await send_one(service, queue, "hello")
    assert len(result.message_id) == 36
    assert result.md5_of_body == "5d41402abc4b2a76b9719d911017c592"
    assert result.md5_of_attributes is None
    assert result.sequence_number is None


async def test_send_md5_of_attributes(service: QueueService, queue: str) -> None:
    attributes = {"attribName1": MessageAttribute("String", "attribValue 1")}
    result = await send_one(service, queue, "x", attributes=attributes)
    assert result.md5_of_attributes == "19e27d4e946b072f3f58da80d94fd778"


async def test_receive_hides_message(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    sent = await send_one(service, queue, "hello")
    (message,) = await receive_all(service, queue)
    assert message.message_id == sent.message_id
    assert message.body == "hello"
    assert message.md5_of_body == sent.md5_of_body
    assert message.receive_count == 1
    assert message.sent_at_ms == int(clock() * 1000)
    assert message.first_received_at_ms == int(clock() * 1000)
    assert message.md5_of_attributes is None
    assert await receive_all(service, queue) == []
    info = await service.get_queue(queue)
    assert (info.visible, info.in_flight, info.delayed) == (0, 1, 0)


async def test_receive_keeps_attributes(service: QueueService, queue: str) -> None:
    attributes = {
        "text": MessageAttribute("String", "value"),
        "count": MessageAttribute("Number.int", "42"),
        "blob": MessageAttribute("Binary", None, b"\x00\xff"),
    }
    trace = {"AWSTraceHeader": MessageAttribute("String", "Root=1-abc")}
    sent = await send_one(
        service, queue, "x", attributes=attributes, system_attributes=trace
    )
    (message,) = await receive_all(service, queue)
    assert message.attributes == attributes
    assert message.system_attributes == trace
    assert (
        message.md5_of_attributes
        == sent.md5_of_attributes
        == md5_of_attributes(attributes)
    )
    assert message.md5_of_system_attributes == sent.md5_of_system_attributes


async def test_visibility_timeout_returns_message(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "again")
    (first,) = await receive_all(service, queue)
    clock.advance(29)
    await service.run_timers()
    assert await receive_all(service, queue) == []
    clock.advance(1)
    await service.run_timers()
    (second,) = await receive_all(service, queue)
    assert second.message_id == first.message_id
    assert second.receive_count == 2
    assert second.first_received_at_ms == first.first_received_at_ms
    assert second.receipt_handle != first.receipt_handle


async def test_receive_per_call_visibility(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "short")
    await service.receive(queue, visibility_timeout_s=5)
    clock.advance(5)
    await service.run_timers()
    assert len(await receive_all(service, queue)) == 1


async def test_receive_up_to_ten(service: QueueService, queue: str) -> None:
    for start in range(0, 12, 4):
        entries = [SendEntry(str(i), f"body {i}") for i in range(start, start + 4)]
        await service.send(queue, entries)
    first = await receive_all(service, queue)
    second = await receive_all(service, queue)
    assert len(first) == 10
    assert len(second) == 2
    assert len({m.message_id for m in first + second}) == 12


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_messages", 0),
        ("max_messages", 11),
        ("visibility_timeout_s", -1),
        ("visibility_timeout_s", 43201),
        ("wait_s", 21),
        ("wait_s", -1),
    ],
)
async def test_receive_parameter_bounds(
    service: QueueService, queue: str, option: str, value: int
) -> None:
    with pytest.raises(InvalidParameterValue):
        await service.receive(queue, **{option: value})  # type: ignore[arg-type]


async def test_delete_removes_message(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "done")
    (message,) = await receive_all(service, queue)
    assert await delete(service, queue, message.receipt_handle, strict=True) is None
    clock.advance(31)
    await service.run_timers()
    assert await receive_all(service, queue) == []
    info = await service.get_queue(queue)
    assert (info.visible, info.in_flight) == (0, 0)


async def test_delete_old_handle_keeps_new_delivery(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "twice")
    (first,) = await receive_all(service, queue)
    clock.advance(30)
    await service.run_timers()
    (second,) = await receive_all(service, queue)
    assert await delete(service, queue, first.receipt_handle) is None
    strict = await delete(service, queue, first.receipt_handle, strict=True)
    assert strict is not None
    assert strict.code == "MessageNotInflight"
    info = await service.get_queue(queue)
    assert info.in_flight == 1
    assert await delete(service, queue, second.receipt_handle, strict=True) is None


async def test_delete_expired_handle(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "late")
    (message,) = await receive_all(service, queue)
    clock.advance(30)
    await service.run_timers()
    strict = await delete(service, queue, message.receipt_handle, strict=True)
    assert strict is not None
    assert strict.code == "MessageNotInflight"
    assert (await service.get_queue(queue)).visible == 1
    assert await delete(service, queue, message.receipt_handle) is None
    info = await service.get_queue(queue)
    assert (info.visible, info.in_flight) == (0, 0)
    assert await receive_all(service, queue) == []


async def test_delete_twice(service: QueueService, queue: str) -> None:
    await send_one(service, queue, "once")
    (message,) = await receive_all(service, queue)
    assert await delete(service, queue, message.receipt_handle) is None
    assert await delete(service, queue, message.receipt_handle) is None
    strict = await delete(service, queue, message.receipt_handle, strict=True)
    assert strict is not None
    assert strict.code == "MessageNotInflight"


@pytest.mark.parametrize("handle", ["", "not-a-handle", "A" * 40, "x" * 300])
async def test_delete_malformed_handle(
    service: QueueService, queue: str, handle: str
) -> None:
    error = await delete(service, queue, handle)
    assert error is not None
    assert error.code == "ReceiptHandleIsInvalid"


async def test_forged_handle_rejected(service: QueueService, queue: str) -> None:
    await send_one(service, queue, "guarded")
    (message,) = await receive_all(service, queue)
    delivery = decode_receipt_handle(service.handle_secret, message.receipt_handle)
    forged = encode_receipt_handle(
        b"guessed secret", delivery.queue_id, delivery.seq, delivery.receive_count
    )
    error = await delete(service, queue, forged)
    assert error is not None
    assert error.code == "ReceiptHandleIsInvalid"


async def test_handle_secret_survives_restart(clock: FakeClock) -> None:
    engine = ScriptEngine()
    first = QueueService(engine, clock=clock)
    await first.start()
    await first.create_queue("kept")
    await send_one(first, "kept", "across restarts")
    (message,) = await receive_all(first, "kept")
    await first.stop()

    second = QueueService(engine, clock=clock)
    await second.start()
    assert second.handle_secret == first.handle_secret
    assert await delete(second, "kept", message.receipt_handle) is None
    await second.stop()


async def test_delete_handle_of_other_queue(service: QueueService, queue: str) -> None:
    await service.create_queue("other")
    await send_one(service, "other", "elsewhere")
    (message,) = await receive_all(service, "other")
    error = await delete(service, queue, message.receipt_handle)
    assert error is not None
    assert error.code == "ReceiptHandleIsInvalid"


async def test_receipt_handle_url_safe(service: QueueService, queue: str) -> None:
    for i in range(20):
        await send_one(service, queue, f"m{i}")
    for message in await receive_all(service, queue) + await receive_all(
        service, queue
    ):
        assert message.receipt_handle.replace("-", "").replace("_", "").isalnum()


async def test_delete_batch_partial_failure(service: QueueService, queue: str) -> None:
    await service.send(queue, [SendEntry("a", "1"), SendEntry("b", "2")])
    messages = await receive_all(service, queue)
    results = await service.delete_messages(
        queue,
        [
            ("one", messages[0].receipt_handle),
            ("bad", "garbage"),
            ("two", messages[1].receipt_handle),
        ],
    )
    assert results[0] is None
    assert isinstance(results[1], EntryError)
    assert results[1].code == "ReceiptHandleIsInvalid"
    assert results[2] is None
    assert (await service.get_queue(queue)).in_flight == 0


async def test_change_visibility_extends(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "slow")
    (message,) = await receive_all(service, queue)
    (result,) = await service.change_visibility(
        queue, [("e", message.receipt_handle, 100)]
    )
    assert result is None
    clock.advance(99)
    await service.run_timers()
    assert await receive_all(service, queue) == []
    clock.advance(1)
    await service.run_timers()
    assert len(await receive_all(service, queue)) == 1


async def test_change_visibility_zero(service: QueueService, queue: str) -> None:
    await send_one(service, queue, "giveup")
    (message,) = await receive_all(service, queue)
    (result,) = await service.change_visibility(
        queue, [("e", message.receipt_handle, 0)]
    )
    assert result is None
    (again,) = await receive_all(service, queue)
    assert again.message_id == message.message_id
    assert again.receive_count == 2


@pytest.mark.parametrize("timeout", [-1, 43201])
async def test_change_visibility_bounds(
    service: QueueService, queue: str, timeout: int
) -> None:
    await send_one(service, queue, "x")
    (message,) = await receive_all(service, queue)
    (result,) = await service.change_visibility(
        queue, [("e", message.receipt_handle, timeout)]
    )
    assert isinstance(result, EntryError)
    assert result.code == "InvalidParameterValue"


async def test_change_visibility_twelve_hours(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "x")
    (message,) = await receive_all(service, queue)
    (first,) = await service.change_visibility(
        queue, [("e", message.receipt_handle, 43200)]
    )
    assert first is None
    clock.advance(3600)
    (late,) = await service.change_visibility(
        queue, [("e", message.receipt_handle, 43200)]
    )
    assert isinstance(late, EntryError)
    assert late.code == "InvalidParameterValue"
    assert "39600" in late.message
    (fits,) = await service.change_visibility(
        queue, [("e", message.receipt_handle, 39600)]
    )
    assert fits is None


async def test_change_visibility_not_in_flight(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "x")
    (message,) = await receive_all(service, queue)
    clock.advance(30)
    await service.run_timers()
    (result,) = await service.change_visibility(
        queue, [("e", message.receipt_handle, 10)]
    )
    assert isinstance(result, EntryError)
    assert result.code == "MessageNotInflight"


async def test_change_visibility_batch(service: QueueService, queue: str) -> None:
    await service.send(queue, [SendEntry("a", "1"), SendEntry("b", "2")])
    messages = await receive_all(service, queue)
    results = await service.change_visibility(
        queue,
        [
            ("a", messages[0].receipt_handle, 0),
            ("bad", "junk", 0),
            ("b", messages[1].receipt_handle, 60),
        ],
    )
    assert results[0] is None
    assert isinstance(results[1], EntryError)
    assert results[2] is None
    assert len(await receive_all(service, queue)) == 1


async def test_send_batch_partial_failure(service: QueueService, queue: str) -> None:
    results = await service.send(
        queue,
        [
            SendEntry("ok", "fine"),
            SendEntry("bad", "nul \x00 char"),
            SendEntry("ok2", "fine too"),
        ],
    )
    assert isinstance(results[0], SendResult)
    assert isinstance(results[1], EntryError)
    assert results[1].code == "InvalidMessageContents"
    assert results[1].entry_id == "bad"
    assert isinstance(results[2], SendResult)
    assert (await service.get_queue(queue)).visible == 2


async def test_send_batch_rules(service: QueueService, queue: str) -> None:
    with pytest.raises(EmptyBatchRequest):
        await service.send(queue, [])
    with pytest.raises(TooManyEntriesInBatchRequest):
        await service.send(queue, [SendEntry(str(i), "x") for i in range(11)])
    with pytest.raises(BatchEntryIdsNotDistinct):
        await service.send(queue, [SendEntry("same", "x"), SendEntry("same", "y")])
    with pytest.raises(InvalidBatchEntryId):
        await service.send(queue, [SendEntry("bad id!", "x")])
    with pytest.raises(InvalidBatchEntryId):
        await service.send(queue, [SendEntry("a" * 81, "x")])


async def test_send_batch_too_long(service: QueueService, queue: str) -> None:
    entries = [SendEntry(str(i), "x" * 200_000) for i in range(6)]
    with pytest.raises(BatchRequestTooLong):
        await service.send(queue, entries)
    assert (await service.get_queue(queue)).visible == 0


@pytest.mark.parametrize("body", ["\x00", "\x08", "\x1f", "\ufffe", "\uffff", "\ud800"])
async def test_send_rejects_characters(
    service: QueueService, queue: str, body: str
) -> None:
    error = await send_error(service, queue, SendEntry("m", f"a{body}b"))
    assert error.code == "InvalidMessageContents"


async def test_send_allowed_characters(service: QueueService, queue: str) -> None:
    body = "\t\n\r \ud7ff\ue000\ufffd\U00010000\U0010ffff"
    await send_one(service, queue, body)
    (message,) = await receive_all(service, queue)
    assert message.body == body


async def test_send_empty_body(service: QueueService, queue: str) -> None:
    error = await send_error(service, queue, SendEntry("m", ""))
    assert error.code == "MissingParameter"


async def test_send_size_limit(service: QueueService) -> None:
    await service.create_queue("small", {"MaximumMessageSize": "1024"})
    await send_one(service, "small", "x" * 1024)
    error = await send_error(service, "small", SendEntry("m", "x" * 1025))
    assert error.code == "MessageTooLong"
    attributes = {"name": MessageAttribute("String", "v")}
    counted = await send_error(
        service, "small", SendEntry("m", "x" * 1020, attributes=attributes)
    )
    assert counted.code == "MessageTooLong"


async def test_send_default_size_limit(service: QueueService, queue: str) -> None:
    await send_one(service, queue, "x" * 1_048_576)
    error = await send_error(service, queue, SendEntry("m", "x" * 1_048_577))
    assert error.code == "MessageTooLong"


@pytest.mark.parametrize(
    ("name", "attribute"),
    [
        ("AWS.reserved", MessageAttribute("String", "v")),
        ("amazon.x", MessageAttribute("String", "v")),
        (".lead", MessageAttribute("String", "v")),
        ("trail.", MessageAttribute("String", "v")),
        ("dou..ble", MessageAttribute("String", "v")),
        ("sp ace", MessageAttribute("String", "v")),
        ("n" * 257, MessageAttribute("String", "v")),
        ("type", MessageAttribute("Text", "v")),
        ("type", MessageAttribute("String.", "v")),
        ("empty", MessageAttribute("String", "")),
        ("number", MessageAttribute("Number", "abc")),
        ("number", MessageAttribute("Number", "1" * 39)),
        ("number", MessageAttribute("Number", "1e127")),
        ("binary", MessageAttribute("Binary", None, b"")),
        ("control", MessageAttribute("String", "\x01")),
    ],
)
async def test_send_rejects_attribute(
    service: QueueService, queue: str, name: str, attribute: MessageAttribute
) -> None:
    error = await send_error(
        service, queue, SendEntry("m", "x", attributes={name: attribute})
    )
    assert error.code in ("InvalidParameterValue", "InvalidMessageContents")


async def test_send_attribute_limit(service: QueueService, queue: str) -> None:
    ten = {f"a{i}": MessageAttribute("String", "v") for i in range(10)}
    await send_one(service, queue, "x", attributes=ten)
    eleven = {**ten, "a10": MessageAttribute("String", "v")}
    error = await send_error(service, queue, SendEntry("m", "x", attributes=eleven))
    assert error.code == "InvalidParameterValue"


async def test_send_custom_data_types(service: QueueService, queue: str) -> None:
    attributes = {
        "f": MessageAttribute("Number.float", "-1.5e10"),
        "s": MessageAttribute("String.json", '{"a":1}'),
        "b": MessageAttribute("Binary.gzip", None, b"\x1f\x8b"),
    }
    await send_one(service, queue, "x", attributes=attributes)
    (message,) = await receive_all(service, queue)
    assert message.attributes == attributes


async def test_send_unknown_system_attribute(service: QueueService, queue: str) -> None:
    entry = SendEntry(
        "m", "x", system_attributes={"Other": MessageAttribute("String", "v")}
    )
    error = await send_error(service, queue, entry)
    assert error.code == "InvalidParameterValue"


async def test_send_deduplication_id_on_standard(
    service: QueueService, queue: str
) -> None:
    error = await send_error(service, queue, SendEntry("m", "x", deduplication_id="d"))
    assert error.code == "InvalidParameterValue"


async def test_send_missing_queue(service: QueueService) -> None:
    with pytest.raises(QueueDoesNotExist):
        await service.send("absent", [SendEntry("m", "x")])
    with pytest.raises(QueueDoesNotExist):
        await service.receive("absent")


async def test_message_delay(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "later", delay_s=10)
    assert await receive_all(service, queue) == []
    info = await service.get_queue(queue)
    assert (info.visible, info.delayed) == (0, 1)
    clock.advance(9)
    await service.run_timers()
    assert await receive_all(service, queue) == []
    clock.advance(1)
    await service.run_timers()
    (message,) = await receive_all(service, queue)
    assert message.body == "later"
    assert (await service.get_queue(queue)).delayed == 0


@pytest.mark.parametrize("delay", [-1, 901])
async def test_message_delay_bounds(
    service: QueueService, queue: str, delay: int
) -> None:
    error = await send_error(service, queue, SendEntry("m", "x", delay_s=delay))
    assert error.code == "InvalidParameterValue"


async def test_queue_delay(service: QueueService, clock: FakeClock) -> None:
    await service.create_queue("slow", {"DelaySeconds": "5"})
    await send_one(service, "slow", "queued")
    await send_one(service, "slow", "now", delay_s=0)
    (immediate,) = await receive_all(service, "slow")
    assert immediate.body == "now"
    clock.advance(5)
    await service.run_timers()
    (delayed,) = await receive_all(service, "slow")
    assert delayed.body == "queued"


async def test_retention_expiry(service: QueueService, clock: FakeClock) -> None:
    await service.create_queue("brief", {"MessageRetentionPeriod": "60"})
    await send_one(service, "brief", "old")
    clock.advance(30)
    await send_one(service, "brief", "young")
    clock.advance(30)
    await service.run_timers()
    assert (await service.get_queue("brief")).visible == 1
    (message,) = await receive_all(service, "brief")
    assert message.body == "young"


async def test_retention_expires_in_flight(
    service: QueueService, clock: FakeClock
) -> None:
    await service.create_queue(
        "brief", {"MessageRetentionPeriod": "60", "VisibilityTimeout": "50"}
    )
    await send_one(service, "brief", "held")
    clock.advance(20)
    await receive_all(service, "brief")
    clock.advance(50)
    await service.run_timers()
    info = await service.get_queue("brief")
    assert (info.visible, info.in_flight) == (0, 0)
    assert await receive_all(service, "brief") == []


async def test_retention_expires_returned(
    service: QueueService, clock: FakeClock
) -> None:
    await service.create_queue(
        "brief", {"MessageRetentionPeriod": "60", "VisibilityTimeout": "10"}
    )
    await send_one(service, "brief", "returned")
    await receive_all(service, "brief")
    clock.advance(10)
    await service.run_timers()
    assert (await service.get_queue("brief")).visible == 1
    clock.advance(50)
    await service.run_timers()
    assert (await service.get_queue("brief")).visible == 0


async def test_counts(service: QueueService, queue: str) -> None:
    await service.send(queue, [SendEntry(str(i), "x") for i in range(5)])
    await send_one(service, queue, "d", delay_s=60)
    await service.receive(queue, 2)
    info = await service.get_queue(queue)
    assert (info.visible, info.in_flight, info.delayed) == (3, 2, 1)


async def test_receive_visibility_zero(service: QueueService, queue: str) -> None:
    await send_one(service, queue, "peek")
    (first,) = await service.receive(queue, visibility_timeout_s=0)
    await service.run_timers()
    (second,) = await receive_all(service, queue)
    assert second.message_id == first.message_id
    assert second.receive_count == 2


async def test_deleted_queue_timers_ignored(
    service: QueueService, clock: FakeClock
) -> None:
    await service.create_queue("recreated")
    await send_one(service, "recreated", "old", delay_s=5)
    await send_one(service, "recreated", "held")
    await service.receive("recreated")
    await service.delete_queue("recreated")
    await service.create_queue("recreated")
    clock.advance(60)
    await service.run_timers()
    info = await service.get_queue("recreated")
    assert (info.visible, info.in_flight, info.delayed) == (0, 0, 0)


async def test_handles_survive_restart(
    service: QueueService, queue: str, clock: FakeClock
) -> None:
    await send_one(service, queue, "kept")
    (message,) = await receive_all(service, queue)
    restarted = QueueService(service.engine, clock=clock)
    await restarted.start()
    try:
        assert (
            await delete(restarted, queue, message.receipt_handle, strict=True) is None
        )
        assert (await restarted.get_queue(queue)).in_flight == 0
    finally:
        await restarted.stop()


async def test_receive_in_flight_limit(service: QueueService, queue: str) -> None:
    service.max_in_flight = 3
    await service.send(queue, [SendEntry(str(i), "x") for i in range(5)])
    await send_one(service, queue, "delayed", delay_s=60)
    assert len(await receive_all(service, queue)) == 3
    with pytest.raises(OverLimit):
        await receive_all(service, queue)


async def test_receive_in_flight_limit_frees(service: QueueService, queue: str) -> None:
    service.max_in_flight = 2
    await service.send(queue, [SendEntry(str(i), "x") for i in range(3)])
    held = await receive_all(service, queue)
    assert len(held) == 2
    assert await delete(service, queue, held[0].receipt_handle) is None
    assert len(await receive_all(service, queue)) == 1


async def test_receive_in_flight_limit_fifo(service: QueueService) -> None:
    service.max_in_flight = 1
    await service.create_queue("capped.fifo")
    for group in ("a", "b"):
        await send_one(
            service, "capped.fifo", group, group_id=group, deduplication_id=group
        )
    assert len(await receive_all(service, "capped.fifo")) == 1
    assert await receive_all(service, "capped.fifo") == []


def test_message_ids_are_uuid4() -> None:
    ids = [new_message_id() for _ in range(1000)]

    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
