"""SQS message actions through boto3 against a live sqs_server, MD5s checked."""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqs_support import poll_until, sqs_client, unique


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = error.value.response["Error"]["Code"]
    return code


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def attributes_md5(attributes: dict[str, dict[str, Any]]) -> str:
    """Compute MD5OfMessageAttributes from boto3-shaped attributes, as SQS does."""

    def field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    encoded = b""
    for name in sorted(attributes):
        value = attributes[name]
        encoded += field(name.encode()) + field(value["DataType"].encode())
        if "BinaryValue" in value:
            encoded += b"\x02" + field(value["BinaryValue"])
        else:
            encoded += b"\x01" + field(value["StringValue"].encode())
    return hashlib.md5(encoded).hexdigest()


def new_queue(sqs: Any, **attributes: str) -> str:
    url: str = sqs.create_queue(QueueName=unique(), Attributes=attributes)["QueueUrl"]
    return url


def receive_one(sqs: Any, url: str, **options: Any) -> dict[str, Any]:
    messages = sqs.receive_message(QueueUrl=url, **options).get("Messages", [])
    assert len(messages) == 1, messages
    message: dict[str, Any] = messages[0]
    return message


# MD5s


def test_md5_of_known_attribute(sqs: Any) -> None:
    url = new_queue(sqs)
    attributes = {"attribName1": {"DataType": "String", "StringValue": "attribValue 1"}}

    sent = sqs.send_message(
        QueueUrl=url, MessageBody="body", MessageAttributes=attributes
    )

    assert sent["MD5OfMessageAttributes"] == "19e27d4e946b072f3f58da80d94fd778"
    assert sent["MD5OfMessageBody"] == md5("body")


def test_send_without_attributes_no_md5_of_attributes(sqs: Any) -> None:
    url = new_queue(sqs)

    sent = sqs.send_message(QueueUrl=url, MessageBody="plain")
    received = receive_one(sqs, url, MessageAttributeNames=["All"])

    assert "MD5OfMessageAttributes" not in sent
    assert "MD5OfMessageSystemAttributes" not in sent
    assert "MD5OfMessageAttributes" not in received
    assert "MessageAttributes" not in received
    assert received["MD5OfBody"] == md5("plain")


def test_attributes_of_every_type_round_trip(sqs: Any) -> None:
    url = new_queue(sqs)
    attributes = {
        "text": {"DataType": "String", "StringValue": "héllo ✓"},
        "count": {"DataType": "Number", "StringValue": "-12.5e3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "label": {"DataType": "String.label", "StringValue": "x"},
        "price": {"DataType": "Number.float", "StringValue": "3.14"},
        "image": {"DataType": "Binary.png", "BinaryValue": b"\x89PNG"},
    }

    sent = sqs.send_message(
        QueueUrl=url, MessageBody="typed", MessageAttributes=attributes
    )
    received = receive_one(sqs, url, MessageAttributeNames=["All"])

    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)
    assert received["MessageAttributes"] == attributes
    assert received["MD5OfMessageAttributes"] == attributes_md5(attributes)
    assert received["MD5OfBody"] == md5("typed")


def test_unicode_body_md5(sqs: Any) -> None:
    url = new_queue(sqs)
    body = "tab\tline\nreturn\r emoji 🎉 cjk 漢字"

    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    received = receive_one(sqs, url)

    assert sent["MD5OfMessageBody"] == md5(body)
    assert received["Body"] == body
    assert received["MD5OfBody"] == md5(body)


@pytest.mark.parametrize("character", ['"', "\n", "é", "😀"])
def test_largest_body_that_escapes(sqs: Any, character: str) -> None:
    url = new_queue(sqs)
    body = character * (1048576 // len(character.encode()))

    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    received = receive_one(sqs, url)

    assert sent["MD5OfMessageBody"] == md5(body)
    assert received["Body"] == body


def test_receive_selects_message_attributes(sqs: Any) -> None:
    url = new_queue(sqs)
    attributes = {
        "order.id": {"DataType": "String", "StringValue": "1"},
        "order.total": {"DataType": "Number", "StringValue": "2"},
        "customer": {"DataType": "String", "StringValue": "c"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attributes)

    received = receive_one(
        sqs, url, MessageAttributeNames=["order.*", "missing"], VisibilityTimeout=0
    )
    selected = {key: attributes[key] for key in ("order.id", "order.total")}
    assert received["MessageAttributes"] == selected
    assert received["MD5OfMessageAttributes"] == attributes_md5(selected)

    exact = receive_one(
        sqs, url, MessageAttributeNames=["customer"], VisibilityTimeout=0
    )
    assert exact["MessageAttributes"] == {"customer": attributes["customer"]}

    none = receive_one(sqs, url)
    assert "MessageAttributes" not in none
    assert "MD5OfMessageAttributes" not in none


def test_trace_header_system_attribute(sqs: Any) -> None:
    url = new_queue(sqs)
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    system = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}

    sent = sqs.send_message(
        QueueUrl=url, MessageBody="traced", MessageSystemAttributes=system
    )
    received = receive_one(sqs, url, MessageSystemAttributeNames=["AWSTraceHeader"])

    assert sent["MD5OfMessageSystemAttributes"] == attributes_md5(system)
    assert received["Attributes"] == {"AWSTraceHeader": trace}


def test_invalid_system_attribute_name(sqs: Any) -> None:
    url = new_queue(sqs)

    with pytest.raises(ClientError) as error:
        sqs.send_message(
            QueueUrl=url,
            MessageBody="x",
            MessageSystemAttributes={
                "Other": {"DataType": "String", "StringValue": "v"}
            },
        )

    assert error_code(error) == "InvalidParameterValue"


@pytest.mark.parametrize(
    "attributes",
    [
        {"AWS.reserved": {"DataType": "String", "StringValue": "v"}},
        {"bad name": {"DataType": "String", "StringValue": "v"}},
        {"n": {"DataType": "Integer", "StringValue": "1"}},
        {"n": {"DataType": "Number", "StringValue": "twelve"}},
        {"n": {"DataType": "String", "StringValue": ""}},
        {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)},
    ],
)
def test_invalid_message_attributes(sqs: Any, attributes: dict[str, Any]) -> None:
    url = new_queue(sqs)

    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)

    assert error_code(error) == "InvalidParameterValue"


# System attributes on receive


def test_receive_all_system_attributes(sqs: Any) -> None:
    url = new_queue(sqs)
    before_ms = int(time.time() * 1000)
    sqs.send_message(QueueUrl=url, MessageBody="m")

    received = receive_one(sqs, url, MessageSystemAttributeNames=["All"])

    attributes = received["Attributes"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert before_ms <= int(attributes["SentTimestamp"]) <= int(time.time() * 1000)
    assert int(attributes["ApproximateFirstReceiveTimestamp"]) >= int(
        attributes["SentTimestamp"]
    )
    assert attributes["SenderId"]
    assert "SequenceNumber" not in attributes
    assert "MessageGroupId" not in attributes


def test_receive_older_attribute_names(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")

    received = receive_one(sqs, url, AttributeNames=["ApproximateReceiveCount"])

    assert received["Attributes"] == {"ApproximateReceiveCount": "1"}


def test_receive_unknown_system_attribute(sqs: Any) -> None:
    url = new_queue(sqs)

    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["Colour"])


def test_receive_count_increases(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")

    first = receive_one(sqs, url, AttributeNames=["All"], VisibilityTimeout=0)
    second = receive_one(sqs, url, AttributeNames=["All"])

    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert (
        second["Attributes"]["ApproximateFirstReceiveTimestamp"]
        == first["Attributes"]["ApproximateFirstReceiveTimestamp"]
    )


# Receive, delete, visibility


def test_receive_hides_message(sqs: Any) -> None:
    url = new_queue(sqs)
    message_id = sqs.send_message(QueueUrl=url, MessageBody="m")["MessageId"]

    received = receive_one(sqs, url)

    assert received["MessageId"] == message_id
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_receive_empty_queue_has_no_messages(sqs: Any) -> None:
    url = new_queue(sqs)

    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_receive_up_to_ten(sqs: Any) -> None:
    url = new_queue(sqs)
    for i in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")

    received = poll_until(
        lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages"
        ),
        10,
        "messages",
    )

    assert 1 <= len(received) <= 10


@pytest.mark.parametrize(
    "options",
    [
        {"MaxNumberOfMessages": 0},
        {"MaxNumberOfMessages": 11},
        {"WaitTimeSeconds": 21},
        {"WaitTimeSeconds": -1},
        {"VisibilityTimeout": 43201},
    ],
)
def test_receive_parameter_bounds(sqs: Any, options: dict[str, int]) -> None:
    url = new_queue(sqs)

    with pytest.raises(ClientError) as error:
        sqs.receive_message(QueueUrl=url, **options)

    assert error_code(error) == "InvalidParameterValue"


def test_delete_message_removes_it(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    received = receive_one(sqs, url, VisibilityTimeout=0)

    sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])

    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_delete_message_invalid_handle(sqs: Any) -> None:
    url = new_queue(sqs)

    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as error:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")

    assert error_code(error) == "ReceiptHandleIsInvalid"


def test_delete_message_missing_handle(sqs_server: Any, sqs: Any) -> None:
    url = new_queue(sqs)

    with pytest.raises(ClientError) as error:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="")

    assert error_code(error) == "MissingParameter"


def test_change_visibility_zero_returns_message(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    received = receive_one(sqs, url, VisibilityTimeout=600)

    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=received["ReceiptHandle"], VisibilityTimeout=0
    )

    again = receive_one(sqs, url)
    assert again["MessageId"] == received["MessageId"]


def test_change_visibility_out_of_bounds(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    received = receive_one(sqs, url)

    with pytest.raises(ClientError) as error:
        sqs.change_message_visibility(
            QueueUrl=url,
            ReceiptHandle=received["ReceiptHandle"],
            VisibilityTimeout=43201,
        )

    assert error_code(error) == "InvalidParameterValue"


def test_change_visibility_after_delete(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    handle = receive_one(sqs, url)["ReceiptHandle"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)

    with pytest.raises(sqs.exceptions.MessageNotInflight) as error:
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=5
        )

    assert error_code(error) == "AWS.SimpleQueueService.MessageNotInflight"


def test_change_visibility_after_timeout(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    handle = receive_one(sqs, url, VisibilityTimeout=1)["ReceiptHandle"]
    poll_until(
        lambda: sqs.receive_message(QueueUrl=url, VisibilityTimeout=600).get(
            "Messages"
        ),
        15,
        "the message to be received again",
    )

    with pytest.raises(sqs.exceptions.MessageNotInflight):
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=5
        )


def test_visibility_timeout_returns_message(sqs: Any) -> None:
    url = new_queue(sqs, VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = receive_one(sqs, url)

    again = poll_until(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"),
        15,
        "the message to become visible again",
    )

    assert again[0]["MessageId"] == first["MessageId"]


def test_delay_seconds_hides_message(sqs: Any) -> None:
    url = new_queue(sqs)

    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)

    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    delivered = poll_until(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"),
        15,
        "the delayed message",
    )
    assert delivered[0]["Body"] == "later"


# Message validation


def test_message_too_long(sqs: Any) -> None:
    url = new_queue(sqs, MaximumMessageSize="1024")

    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)

    assert error_code(error) == "InvalidParameterValue"
    assert "1024" in error.value.response["Error"]["Message"]


def test_message_of_max_size_accepted(sqs: Any) -> None:
    url = new_queue(sqs, MaximumMessageSize="1024")

    sent = sqs.send_message(QueueUrl=url, MessageBody="x" * 1024)

    assert sent["MD5OfMessageBody"] == md5("x" * 1024)


def test_message_invalid_characters(sqs: Any) -> None:
    url = new_queue(sqs)

    with pytest.raises(sqs.exceptions.InvalidMessageContents):
        sqs.send_message(QueueUrl=url, MessageBody="nul \x00 inside")


def test_message_body_missing(sqs: Any) -> None:
    url = new_queue(sqs)

    with pytest.raises(ClientError) as error:
        sqs.send_message(QueueUrl=url, MessageBody="")

    assert error_code(error) == "MissingParameter"


def test_send_to_missing_queue(sqs_server: Any, sqs: Any) -> None:
    url = f"{sqs_server.url}/000000000000/{unique('missing')}"

    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")


# Batches


def test_send_batch_partial_failure(sqs: Any) -> None:
    url = new_queue(sqs)
    bad_attribute = {"n": {"DataType": "Number", "StringValue": "NaN!"}}

    reply = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok-1", "MessageBody": "one"},
            {"Id": "bad", "MessageBody": "two", "MessageAttributes": bad_attribute},
            {"Id": "ok_2", "MessageBody": "three", "DelaySeconds": 0},
        ],
    )

    assert [entry["Id"] for entry in reply["Successful"]] == ["ok-1", "ok_2"]
    assert [entry["MD5OfMessageBody"] for entry in reply["Successful"]] == [
        md5("one"),
        md5("three"),
    ]
    [failed] = reply["Failed"]
    assert failed["Id"] == "bad"
    assert failed["Code"] == "InvalidParameterValue"
    assert failed["SenderFault"] is True


def test_send_batch_md5_of_attributes(sqs: Any) -> None:
    url = new_queue(sqs)
    attributes = {"k": {"DataType": "String", "StringValue": "v"}}

    reply = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "a", "MessageBody": "x", "MessageAttributes": attributes},
            {"Id": "b", "MessageBody": "y"},
        ],
    )

    first, second = reply["Successful"]
    assert first["MD5OfMessageAttributes"] == attributes_md5(attributes)
    assert "MD5OfMessageAttributes" not in second


def test_send_batch_empty(sqs: Any) -> None:
    url = new_queue(sqs)

    with pytest.raises(sqs.exceptions.EmptyBatchRequest) as error:
        sqs.send_message_batch(QueueUrl=url, Entries=[])

    assert error_code(error) == "AWS.SimpleQueueService.EmptyBatchRequest"


def test_send_batch_too_many_entries(sqs: Any) -> None:
    url = new_queue(sqs)
    entries = [{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]

    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as error:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)

    assert error_code(error) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


def test_send_batch_ids_not_distinct(sqs: Any) -> None:
    url = new_queue(sqs)
    entries = [{"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}]

    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct) as error:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)

    assert error_code(error) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


@pytest.mark.parametrize("entry_id", ["has space", "x" * 81, "dot.id"])
def test_send_batch_invalid_entry_id(sqs: Any, entry_id: str) -> None:
    url = new_queue(sqs)

    with pytest.raises(sqs.exceptions.InvalidBatchEntryId) as error:
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": entry_id, "MessageBody": "x"}]
        )

    assert error_code(error) == "AWS.SimpleQueueService.InvalidBatchEntryId"


def test_send_batch_too_long(sqs: Any) -> None:
    url = new_queue(sqs)
    body = "x" * (110 * 1024)
    entries = [{"Id": f"e{i}", "MessageBody": body} for i in range(10)]

    with pytest.raises(sqs.exceptions.BatchRequestTooLong) as error:
        sqs.send_message_batch(QueueUrl=url, Entries=entries)

    assert error_code(error) == "AWS.SimpleQueueService.BatchRequestTooLong"


def test_send_batch_over_request_limit(sqs: Any) -> None:
    url = new_queue(sqs)
    body = "x" * (250 * 1024)
    entries = [{"Id": f"e{i}", "MessageBody": body} for i in range(10)]

    with pytest.raises(sqs.exceptions.BatchRequestTooLong):
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def test_delete_batch_partial_failure(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    handle = receive_one(sqs, url)["ReceiptHandle"]

    reply = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "ReceiptHandle": handle},
            {"Id": "bad", "ReceiptHandle": "junk"},
        ],
    )

    assert reply["Successful"] == [{"Id": "good"}]
    [failed] = reply["Failed"]
    assert failed["Id"] == "bad"
    assert failed["Code"] == "ReceiptHandleIsInvalid"
    assert failed["SenderFault"] is True


def test_delete_batch_errors(sqs: Any) -> None:
    url = new_queue(sqs)

    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.delete_message_batch(QueueUrl=url, Entries=[])
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "a", "ReceiptHandle": "h"},
                {"Id": "a", "ReceiptHandle": "h"},
            ],
        )
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": f"e{i}", "ReceiptHandle": "h"} for i in range(11)],
        )


def test_change_visibility_batch(sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    handle = receive_one(sqs, url, VisibilityTimeout=600)["ReceiptHandle"]

    reply = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "ReceiptHandle": handle, "VisibilityTimeout": 0},
            {"Id": "bad", "ReceiptHandle": "junk", "VisibilityTimeout": 0},
        ],
    )

    assert reply["Successful"] == [{"Id": "good"}]
    assert [entry["Id"] for entry in reply["Failed"]] == ["bad"]
    assert receive_one(sqs, url)["ReceiptHandle"] != handle


def test_change_visibility_batch_invalid_id(sqs: Any) -> None:
    url = new_queue(sqs)

    with pytest.raises(sqs.exceptions.InvalidBatchEntryId):
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[{"Id": "no way", "ReceiptHandle": "h", "VisibilityTimeout": 1}],
        )


# Long polling


def test_long_poll_returns_on_send(sqs_server: Any, sqs: Any) -> None:
    url = new_queue(sqs)
    result: dict[str, Any] = {}

    def consume() -> None:
        started = time.monotonic()
        result["reply"] = sqs_client(sqs_server).receive_message(
            QueueUrl=url, WaitTimeSeconds=20
        )
        result["elapsed"] = time.monotonic() - started

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.3)
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    consumer.join(30)

    assert result["reply"]["Messages"][0]["Body"] == "wake up"
    assert result["elapsed"] < 10


def test_long_poll_wakes_on_visibility_zero(sqs_server: Any, sqs: Any) -> None:
    url = new_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    handle = receive_one(sqs, url, VisibilityTimeout=600)["ReceiptHandle"]
    result: dict[str, Any] = {}
    polling = threading.Event()

    def consume() -> None:
        started = time.monotonic()
        polling.set()
        result["reply"] = sqs_client(sqs_server).receive_message(
            QueueUrl=url, WaitTimeSeconds=10
        )
        result["elapsed"] = time.monotonic() - started

    consumer = threading.Thread(target=consume)
    consumer.start()
    polling.wait(5)
    time.sleep(0.3)
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0
    )
    consumer.join(30)

    assert result["reply"]["Messages"][0]["Body"] == "in flight"
    # Half the wait separates "at once" from "at the end of the wait" with
    # room for a slow machine.
    assert result["elapsed"] < 5


def test_queue_wait_time_applies(sqs: Any, sqs_server: Any) -> None:
    url = new_queue(sqs, ReceiveMessageWaitTimeSeconds="1")
    started = time.monotonic()

    reply = sqs.receive_message(QueueUrl=url)

    assert "Messages" not in reply
    assert time.monotonic() - started >= 0.9
