"""FIFO queues through boto3: order, groups, deduplication, attempt ids."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqs_support import unique


def fifo_queue(sqs: Any, **attributes: str) -> str:
    url: str = sqs.create_queue(
        QueueName=unique("fifo") + ".fifo",
        Attributes={"FifoQueue": "true", **attributes},
    )["QueueUrl"]
    return url


def bodies(reply: dict[str, Any]) -> list[str]:
    return [message["Body"] for message in reply.get("Messages", [])]


def test_fifo_keeps_order_within_group(sqs: Any) -> None:
    url = fifo_queue(sqs)
    for i in range(5):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=f"m{i}",
            MessageGroupId="g",
            MessageDeduplicationId=f"d{i}",
        )

    reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)

    assert bodies(reply) == [f"m{i}" for i in range(5)]


def test_fifo_sequence_numbers_increase(sqs: Any) -> None:
    url = fifo_queue(sqs)

    numbers = [
        sqs.send_message(
            QueueUrl=url,
            MessageBody=f"m{i}",
            MessageGroupId="g",
            MessageDeduplicationId=f"d{i}",
        )["SequenceNumber"]
        for i in range(3)
    ]

    assert [int(number) for number in numbers] == sorted(
        int(number) for number in numbers
    )
    assert len(set(numbers)) == 3
    received = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    assert received["Attributes"]["SequenceNumber"] == numbers[0]
    assert received["Attributes"]["MessageGroupId"] == "g"
    assert received["Attributes"]["MessageDeduplicationId"] == "d0"


def test_fifo_group_blocked_while_in_flight(sqs: Any) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b")

    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)

    assert bodies(first) == ["a1"]
    assert bodies(second) == ["b1"]


def test_fifo_dedup_by_id(sqs: Any) -> None:
    url = fifo_queue(sqs)

    first = sqs.send_message(
        QueueUrl=url,
        MessageBody="one",
        MessageGroupId="g",
        MessageDeduplicationId="same",
    )
    second = sqs.send_message(
        QueueUrl=url,
        MessageBody="two",
        MessageGroupId="g",
        MessageDeduplicationId="same",
    )

    assert second["MessageId"] == first["MessageId"]
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == ["one"]


def test_fifo_dedup_after_delete(sqs: Any) -> None:
    url = fifo_queue(sqs)
    sqs.send_message(
        QueueUrl=url,
        MessageBody="once",
        MessageGroupId="g",
        MessageDeduplicationId="job-1",
    )
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    again = sqs.send_message(
        QueueUrl=url,
        MessageBody="once",
        MessageGroupId="g",
        MessageDeduplicationId="job-1",
    )

    assert again["MessageId"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_fifo_content_based_dedup(sqs: Any) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")

    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g")

    reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    assert bodies(reply) == ["same body", "other body"]


def test_fifo_needs_group_id(sqs: Any) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")

    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=url, MessageBody="x")

    assert error.value.response["Error"]["Code"] == "MissingParameter"


def test_fifo_needs_dedup_id(sqs: Any) -> None:
    url = fifo_queue(sqs)

    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")

    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_fifo_rejects_message_delay(sqs: Any) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")

    with pytest.raises(ClientError) as error:
        sqs.send_message(
            QueueUrl=url, MessageBody="x", MessageGroupId="g", DelaySeconds=5
        )

    assert error.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_fifo_receive_attempt_id_repeats_result(sqs: Any) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId=f"g{i}")

    first = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1"
    )
    retry = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1"
    )
    other = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-2"
    )

    assert bodies(retry) == bodies(first)
    assert [m["ReceiptHandle"] for m in retry["Messages"]] == [
        m["ReceiptHandle"] for m in first["Messages"]
    ]
    assert set(bodies(other)).isdisjoint(bodies(first))


def test_fifo_batch_send_keeps_order(sqs: Any) -> None:
    url = fifo_queue(sqs, ContentBasedDeduplication="true")

    reply = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": f"e{i}", "MessageBody": f"m{i}", "MessageGroupId": "g"}
            for i in range(4)
        ],
    )

    assert len(reply["Successful"]) == 4
    assert all("SequenceNumber" in entry for entry in reply["Successful"])
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == [
        f"m{i}" for i in range(4)
    ]
