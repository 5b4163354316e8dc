"""Dead-letter queues and message move tasks through boto3."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqs_support import poll_until, unique

WAIT_S = 20.0


def arn_of(sqs: Any, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    return arn


def queue_with_dlq(sqs: Any, max_receive_count: int) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    policy = {
        "deadLetterTargetArn": arn_of(sqs, dlq),
        "maxReceiveCount": max_receive_count,
    }
    source = sqs.create_queue(
        QueueName=unique("source"),
        Attributes={"RedrivePolicy": json.dumps(policy), "VisibilityTimeout": "1"},
    )["QueueUrl"]
    return source, dlq


def count(sqs: Any, url: str, attribute: str = "ApproximateNumberOfMessages") -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[attribute])
    return int(attributes["Attributes"][attribute])


def test_max_receive_count_then_dead_letter(sqs: Any) -> None:
    source, dlq = queue_with_dlq(sqs, max_receive_count=3)
    message_id = sqs.send_message(QueueUrl=source, MessageBody="poison")["MessageId"]
    deliveries = 0

    def dead_lettered() -> dict[str, Any] | None:
        nonlocal deliveries
        for message in sqs.receive_message(QueueUrl=source, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            assert message["MessageId"] == message_id
            deliveries += 1
        dead = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"]).get("Messages")
        return dead[0] if dead else None

    dead = poll_until(
        dead_lettered, WAIT_S, "the message to reach the dead-letter queue"
    )

    assert deliveries == 3
    assert dead["MessageId"] == message_id
    assert dead["Body"] == "poison"
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, source)


def test_dead_letter_keeps_attributes(sqs: Any) -> None:
    source, dlq = queue_with_dlq(sqs, max_receive_count=1)
    attributes = {"kind": {"DataType": "String", "StringValue": "invoice"}}
    sqs.send_message(QueueUrl=source, MessageBody="m", MessageAttributes=attributes)
    sqs.receive_message(QueueUrl=source)

    def dead_lettered() -> list[dict[str, Any]] | None:
        sqs.receive_message(QueueUrl=source, WaitTimeSeconds=1)
        reply = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])
        return reply.get("Messages")

    [dead] = poll_until(dead_lettered, WAIT_S, "the dead-letter move")

    assert dead["MessageAttributes"] == attributes


def test_list_dead_letter_source_queues(sqs: Any) -> None:
    source, dlq = queue_with_dlq(sqs, max_receive_count=2)

    reply = sqs.list_dead_letter_source_queues(QueueUrl=dlq)

    assert reply["queueUrls"] == [source]
    assert sqs.list_dead_letter_source_queues(QueueUrl=source)["queueUrls"] == []


def test_list_dead_letter_source_queues_pages(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 5})
    sources = sorted(
        sqs.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": policy})[
            "QueueUrl"
        ]
        for _ in range(3)
    )

    first = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2)
    rest = sqs.list_dead_letter_source_queues(
        QueueUrl=dlq, MaxResults=2, NextToken=first["NextToken"]
    )

    assert first["queueUrls"] + rest["queueUrls"] == sources
    assert "NextToken" not in rest


def test_redrive_allow_policy_deny_all(sqs: Any) -> None:
    dlq = sqs.create_queue(
        QueueName=unique("dlq"),
        Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})},
    )["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 5})

    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": policy})

    assert error.value.response["Error"]["Code"] in (
        "InvalidParameterValue",
        "InvalidAttributeValue",
    )


def dead_letter_some(sqs: Any, messages: int) -> tuple[str, str]:
    source, dlq = queue_with_dlq(sqs, max_receive_count=1)
    for i in range(messages):
        sqs.send_message(QueueUrl=source, MessageBody=f"m{i}")

    def all_dead() -> bool:
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return count(sqs, dlq) == messages

    poll_until(all_dead, WAIT_S, "every message to reach the dead-letter queue")
    return source, dlq


def test_move_task_returns_messages_to_source(sqs: Any) -> None:
    source, dlq = dead_letter_some(sqs, messages=3)

    handle = sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq))["TaskHandle"]

    assert handle
    poll_until(lambda: count(sqs, source) == 3, WAIT_S, "the moved messages")
    assert count(sqs, dlq) == 0

    def completed() -> dict[str, Any] | None:
        [task] = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"]
        return task if task["Status"] == "COMPLETED" else None

    task = poll_until(completed, WAIT_S, "the move task to complete")
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert task["SourceArn"] == arn_of(sqs, dlq)
    assert "TaskHandle" not in task
    assert task["StartedTimestamp"] > 0


def test_move_task_to_explicit_destination(sqs: Any) -> None:
    _, dlq = dead_letter_some(sqs, messages=2)
    destination = sqs.create_queue(QueueName=unique("dest"))["QueueUrl"]

    sqs.start_message_move_task(
        SourceArn=arn_of(sqs, dlq), DestinationArn=arn_of(sqs, destination)
    )

    poll_until(lambda: count(sqs, destination) == 2, WAIT_S, "the moved messages")


def test_cancel_move_task(sqs: Any) -> None:
    _, dlq = dead_letter_some(sqs, messages=5)
    dlq_arn = arn_of(sqs, dlq)
    handle = sqs.start_message_move_task(
        SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]

    [running] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    moved = sqs.cancel_message_move_task(TaskHandle=handle)[
        "ApproximateNumberOfMessagesMoved"
    ]

    assert running["Status"] == "RUNNING"
    assert running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 1
    assert 0 <= moved < 5

    def cancelled() -> bool:
        [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        return task["Status"] in ("CANCELLING", "CANCELLED")

    poll_until(cancelled, WAIT_S, "the move task to stop")


def test_second_move_task_unsupported(sqs: Any) -> None:
    _, dlq = dead_letter_some(sqs, messages=3)
    dlq_arn = arn_of(sqs, dlq)
    handle = sqs.start_message_move_task(
        SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]

    with pytest.raises(sqs.exceptions.UnsupportedOperation) as error:
        sqs.start_message_move_task(SourceArn=dlq_arn)

    assert error.value.response["Error"]["Code"] == (
        "AWS.SimpleQueueService.UnsupportedOperation"
    )
    sqs.cancel_message_move_task(TaskHandle=handle)


def test_cancel_unknown_move_task(sqs: Any) -> None:
    handle = base64.urlsafe_b64encode(json.dumps({"taskId": "no-such-task"}).encode())

    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.cancel_message_move_task(TaskHandle=handle.decode())


def test_cancel_malformed_move_task(sqs: Any) -> None:
    with pytest.raises(ClientError) as error:
        sqs.cancel_message_move_task(TaskHandle="not a handle")

    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_move_task_needs_dead_letter_source(sqs: Any) -> None:
    plain = sqs.create_queue(QueueName=unique("plain"))["QueueUrl"]

    with pytest.raises(ClientError) as error:
        sqs.start_message_move_task(SourceArn=arn_of(sqs, plain))

    assert error.value.response["Error"]["Code"] in (
        "InvalidParameterValue",
        "UnsupportedOperation",
    )


def test_move_task_bad_arn(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.InvalidAddress):
        sqs.start_message_move_task(SourceArn="not-an-arn")


def test_list_move_tasks_bad_max_results(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]

    with pytest.raises(ClientError) as error:
        sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq), MaxResults=11)

    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"
