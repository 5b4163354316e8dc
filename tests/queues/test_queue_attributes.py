"""Queue attributes: defaults, bounds, create idempotency, set, list, delete."""

from __future__ import annotations

import pytest
from queue_helpers import FakeClock

from nanoqueue.queues.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    QueueAlreadyExists,
    QueueDoesNotExist,
)
from nanoqueue.queues.service import QueueService

BOUNDS = [
    ("VisibilityTimeout", "visibility_timeout_s", 0, 43200),
    ("DelaySeconds", "delay_s", 0, 900),
    ("MessageRetentionPeriod", "retention_s", 60, 1_209_600),
    ("MaximumMessageSize", "max_message_bytes", 1024, 1_048_576),
    ("ReceiveMessageWaitTimeSeconds", "receive_wait_s", 0, 20),
    ("KmsDataKeyReusePeriodSeconds", "kms_data_key_reuse_period_s", 60, 86400),
]


async def test_create_defaults(service: QueueService) -> None:
    info, created = await service.create_queue("plain")
    attributes = info.attributes
    assert created
    assert attributes.visibility_timeout_s == 30
    assert attributes.delay_s == 0
    assert attributes.retention_s == 345_600
    assert attributes.max_message_bytes == 1_048_576
    assert attributes.receive_wait_s == 0
    assert attributes.redrive_policy is None
    assert attributes.fifo is False
    assert attributes.sqs_managed_sse is True
    assert (info.visible, info.in_flight, info.delayed) == (0, 0, 0)


async def test_create_sqs_attribute_strings(service: QueueService) -> None:
    info, _ = await service.create_queue("strings")
    sqs = info.attributes.to_sqs("us-east-1", "000000000000")
    assert sqs["VisibilityTimeout"] == "30"
    assert sqs["MessageRetentionPeriod"] == "345600"
    assert sqs["MaximumMessageSize"] == "1048576"
    assert "FifoQueue" not in sqs
    assert "RedrivePolicy" not in sqs


@pytest.mark.parametrize(("name", "field", "low", "high"), BOUNDS)
async def test_attribute_bounds(
    service: QueueService, name: str, field: str, low: int, high: int
) -> None:
    for value in (low, high):
        queue = f"in-{name}-{value}"
        info, _ = await service.create_queue(queue, {name: str(value)})
        assert info.attributes.to_dict()[field] == value
    for value in (low - 1, high + 1):
        with pytest.raises(InvalidAttributeValue) as caught:
            await service.create_queue(f"out-{name}", {name: str(value)})
        assert str(low) in caught.value.message
        assert str(high) in caught.value.message


@pytest.mark.parametrize("value", ["abc", "1.5", "", True])
async def test_attribute_rejects_non_integer(
    service: QueueService, value: object
) -> None:
    with pytest.raises(InvalidAttributeValue):
        await service.create_queue("bad", {"VisibilityTimeout": value})


async def test_attribute_unknown_name(service: QueueService) -> None:
    with pytest.raises(InvalidAttributeName):
        await service.create_queue("bad", {"Visibility": "3"})


async def test_attribute_read_only(service: QueueService) -> None:
    with pytest.raises(InvalidAttributeName):
        await service.create_queue("bad", {"QueueArn": "x"})


async def test_attribute_fifo_only_on_standard(service: QueueService) -> None:
    with pytest.raises(InvalidAttributeName):
        await service.create_queue("bad", {"ContentBasedDeduplication": "true"})


async def test_attribute_field_names(service: QueueService) -> None:
    info, _ = await service.create_queue("fields", {"visibility_timeout_s": 7})
    assert info.attributes.visibility_timeout_s == 7


async def test_fifo_name_and_attribute(service: QueueService) -> None:
    info, _ = await service.create_queue("a.fifo", {"FifoQueue": "true"})
    assert info.attributes.fifo
    inferred, _ = await service.create_queue("b.fifo")
    assert inferred.attributes.fifo
    with pytest.raises(InvalidParameterValue):
        await service.create_queue("c", {"FifoQueue": "true"})
    with pytest.raises(InvalidParameterValue):
        await service.create_queue("d.fifo", {"FifoQueue": "false"})


async def test_fifo_defaults(service: QueueService) -> None:
    info, _ = await service.create_queue("f.fifo")
    sqs = info.attributes.to_sqs("us-east-1", "000000000000")
    assert sqs["FifoQueue"] == "true"
    assert sqs["ContentBasedDeduplication"] == "false"
    assert sqs["DeduplicationScope"] == "queue"
    assert sqs["FifoThroughputLimit"] == "perQueue"


@pytest.mark.parametrize("name", ["", "a" * 81, "has space", "dot.name", "x.fifo.fifo"])
async def test_create_invalid_name(service: QueueService, name: str) -> None:
    with pytest.raises(InvalidParameterValue):
        await service.create_queue(name)


async def test_create_equal_attributes_idempotent(service: QueueService) -> None:
    first, created = await service.create_queue("same", {"VisibilityTimeout": "60"})
    again, created_again = await service.create_queue(
        "same", {"VisibilityTimeout": "60"}
    )
    assert created
    assert not created_again
    assert again.created_at == first.created_at
    unspecified, _ = await service.create_queue("same")
    assert unspecified.attributes.visibility_timeout_s == 60


async def test_create_different_attributes(service: QueueService) -> None:
    await service.create_queue("same", {"VisibilityTimeout": "60"})
    with pytest.raises(QueueAlreadyExists):
        await service.create_queue("same", {"VisibilityTimeout": "61"})


async def test_set_attributes(service: QueueService, clock: FakeClock) -> None:
    created, _ = await service.create_queue("settable")
    clock.advance(5)
    info = await service.set_attributes(
        "settable", {"DelaySeconds": "5", "ReceiveMessageWaitTimeSeconds": "3"}
    )
    assert info.attributes.delay_s == 5
    assert info.attributes.receive_wait_s == 3
    assert info.attributes.visibility_timeout_s == 30
    assert info.last_modified_at == created.last_modified_at + 5
    assert info.created_at == created.created_at


async def test_set_attributes_rejects_fifo_change(service: QueueService) -> None:
    await service.create_queue("standard")
    with pytest.raises(InvalidAttributeName):
        await service.set_attributes("standard", {"FifoQueue": "true"})


async def test_set_attributes_bounds(service: QueueService) -> None:
    await service.create_queue("bounded")
    with pytest.raises(InvalidAttributeValue):
        await service.set_attributes("bounded", {"DelaySeconds": "901"})
    info = await service.get_queue("bounded")
    assert info.attributes.delay_s == 0


async def test_redrive_policy_parsed(service: QueueService) -> None:
    await service.create_queue("dlq")
    policy = '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"4"}'
    info, _ = await service.create_queue("source", {"RedrivePolicy": policy})
    redrive = info.attributes.redrive_policy
    assert redrive is not None
    assert redrive.dead_letter_queue == "dlq"
    assert redrive.max_receive_count == 4
    sqs = info.attributes.to_sqs("us-east-1", "000000000000")
    assert '"maxReceiveCount":4' in sqs["RedrivePolicy"]


@pytest.mark.parametrize("count", [0, 1001, "x"])
async def test_redrive_max_receive_count_bounds(
    service: QueueService, count: object
) -> None:
    await service.create_queue("dlq")
    with pytest.raises(InvalidAttributeValue):
        await service.create_queue(
            "source",
            {"RedrivePolicy": {"deadLetterTargetArn": "dlq", "maxReceiveCount": count}},
        )


async def test_redrive_missing_dead_letter_queue(service: QueueService) -> None:
    with pytest.raises(InvalidParameterValue):
        await service.create_queue(
            "source",
            {"RedrivePolicy": {"deadLetterTargetArn": "nowhere", "maxReceiveCount": 3}},
        )


async def test_redrive_type_mismatch(service: QueueService) -> None:
    await service.create_queue("dlq")
    with pytest.raises(InvalidParameterValue):
        await service.create_queue(
            "source.fifo",
            {"RedrivePolicy": {"deadLetterTargetArn": "dlq", "maxReceiveCount": 3}},
        )


async def test_redrive_allow_policy_deny(service: QueueService) -> None:
    await service.create_queue(
        "dlq", {"RedriveAllowPolicy": '{"redrivePermission":"denyAll"}'}
    )
    with pytest.raises(InvalidParameterValue):
        await service.create_queue(
            "source",
            {"RedrivePolicy": {"deadLetterTargetArn": "dlq", "maxReceiveCount": 3}},
        )


async def test_redrive_allow_policy_invalid(service: QueueService) -> None:
    with pytest.raises(InvalidAttributeValue):
        await service.create_queue(
            "dlq", {"RedriveAllowPolicy": '{"redrivePermission":"some"}'}
        )


async def test_list_queues_prefix(service: QueueService) -> None:
    for name in ("beta", "alpha-2", "alpha-1", "gamma"):
        await service.create_queue(name)
    assert await service.list_queues() == ["alpha-1", "alpha-2", "beta", "gamma"]
    assert await service.list_queues("alpha") == ["alpha-1", "alpha-2"]
    assert await service.list_queues("zeta") == []


async def test_queues_per_region(service: QueueService) -> None:
    await service.create_queue("shared", {"VisibilityTimeout": "1"}, region="eu-west-1")
    await service.create_queue("shared", {"VisibilityTimeout": "2"})
    west = await service.get_queue("shared", region="eu-west-1")
    east = await service.get_queue("shared")
    assert west.attributes.visibility_timeout_s == 1
    assert east.attributes.visibility_timeout_s == 2
    assert await service.list_queues(region="eu-west-1") == ["shared"]
    assert await service.list_queues(region="ap-south-1") == []


async def test_delete_queue(service: QueueService) -> None:
    await service.create_queue("doomed")
    await service.delete_queue("doomed")
    with pytest.raises(QueueDoesNotExist):
        await service.get_queue("doomed")
    with pytest.raises(QueueDoesNotExist):
        await service.delete_queue("doomed")
    assert await service.list_queues() == []
    _, created = await service.create_queue("doomed")
    assert created


async def test_queue_arn(service: QueueService) -> None:
    assert service.queue_arn("q") == "arn:aws:sqs:us-east-1:000000000000:q"
    assert (
        service.queue_arn("q", region="eu-west-1")
        == "arn:aws:sqs:eu-west-1:000000000000:q"
    )


async def test_attributes_survive_restart(
    service: QueueService, clock: FakeClock
) -> None:
    await service.create_queue("kept", {"VisibilityTimeout": "77"}, {"team": "a"})
    restarted = QueueService(service.engine, clock=clock)
    await restarted.start()
    try:
        info = await restarted.get_queue("kept")
        assert info.attributes.visibility_timeout_s == 77
        assert info.tags == {"team": "a"}
    finally:
        await restarted.stop()
