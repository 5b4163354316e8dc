"""SQS actions on messages: send, receive, delete and change visibility."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nanoqueue.http.sqs.context import ActionContext
from nanoqueue.http.sqs.params import (
    Params,
    decode_binary,
    object_list,
    optional_integer,
    optional_string,
    required_integer,
    required_string,
    string_list,
)
from nanoqueue.http.sqs.queue_actions import Action
from nanoqueue.queues import errors as queue_errors
from nanoqueue.queues.errors import (
    InvalidAttributeName,
    InvalidParameterValue,
)
from nanoqueue.queues.md5 import md5_of_attributes
from nanoqueue.queues.model import (
    EntryError,
    Message,
    MessageAttribute,
    SendEntry,
    SendResult,
)

MAX_DELAY_S = 900
# The entry id of the one entry that a single-message action passes to the
# batch methods of the queue service.
SINGLE_ENTRY_ID = "single"
MAX_VISIBILITY_TIMEOUT_S = 43200
MAX_WAIT_S = 20
MAX_RECEIVE_MESSAGES = 10

MESSAGE_SYSTEM_ATTRIBUTE_NAMES = (
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


async def send_message(context: ActionContext, params: Params) -> dict[str, Any]:
    name = context.queue_name(params)
    entry = _send_entry(params, SINGLE_ENTRY_ID)
    [result] = await context.service.send(name, [entry], region=context.region)
    if isinstance(result, EntryError):
        raise entry_exception(result)
    return _send_reply(result)


async def send_message_batch(context: ActionContext, params: Params) -> dict[str, Any]:
    name = context.queue_name(params)
    entries = [
        _send_entry(raw, _entry_id(raw)) for raw in object_list(params, "Entries")
    ]
    results = await context.service.send(name, entries, region=context.region)

    successful: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, EntryError):
            failed.append(_batch_error(result))
        else:
            successful.append({"Id": result.entry_id, **_send_reply(result)})
    return {"Successful": successful, "Failed": failed}


async def receive_message(context: ActionContext, params: Params) -> dict[str, Any]:
    name = context.queue_name(params)
    max_messages = optional_integer(
        params, "MaxNumberOfMessages", 1, MAX_RECEIVE_MESSAGES
    )
    visibility = optional_integer(
        params, "VisibilityTimeout", 0, MAX_VISIBILITY_TIMEOUT_S
    )
    wait = optional_integer(params, "WaitTimeSeconds", 0, MAX_WAIT_S)
    attempt_id = optional_string(params, "ReceiveRequestAttemptId")
    system_names = string_list(params, "AttributeNames") + string_list(
        params, "MessageSystemAttributeNames"
    )
    for attribute in system_names:
        if attribute != "All" and attribute not in MESSAGE_SYSTEM_ATTRIBUTE_NAMES:
            raise InvalidAttributeName(f"Unknown Attribute {attribute}.")
    attribute_names = string_list(params, "MessageAttributeNames")

    messages = await context.service.receive(
        name,
        max_messages or 1,
        visibility_timeout_s=visibility,
        wait_s=wait,
        attempt_id=attempt_id,
        region=context.region,
    )
    if not messages:
        return {}
    return {
        "Messages": [
            _message_reply(context, message, system_names, attribute_names)
            for message in messages
        ]
    }


async def delete_message(context: ActionContext, params: Params) -> dict[str, Any]:
    name = context.queue_name(params)
    handle = required_string(params, "ReceiptHandle")
    [result] = await context.service.delete_messages(
        name, [(SINGLE_ENTRY_ID, handle)], region=context.region
    )
    if result is not None:
        raise entry_exception(result)
    return {}


async def delete_message_batch(
    context: ActionContext, params: Params
) -> dict[str, Any]:
    name = context.queue_name(params)
    entries = [
        (_entry_id(raw), required_string(raw, "ReceiptHandle"))
        for raw in object_list(params, "Entries")
    ]
    results = await context.service.delete_messages(
        name, entries, region=context.region
    )
    return _batch_reply([entry_id for entry_id, _ in entries], results)


async def change_message_visibility(
    context: ActionContext, params: Params
) -> dict[str, Any]:
    name = context.queue_name(params)
    handle = required_string(params, "ReceiptHandle")
    timeout = required_integer(params, "VisibilityTimeout", 0, MAX_VISIBILITY_TIMEOUT_S)
    [result] = await context.service.change_visibility(
        name, [(SINGLE_ENTRY_ID, handle, timeout)], region=context.region
    )
    if result is not None:
        raise entry_exception(result)
    return {}


async def change_message_visibility_batch(
    context: ActionContext, params: Params
) -> dict[str, Any]:
    name = context.queue_name(params)
    entries = [
        (
            _entry_id(raw),
            required_string(raw, "ReceiptHandle"),
            required_integer(raw, "VisibilityTimeout", 0, MAX_VISIBILITY_TIMEOUT_S),
        )
        for raw in object_list(params, "Entries")
    ]
    results = await context.service.change_visibility(
        name, entries, region=context.region
    )
    return _batch_reply([entry[0] for entry in entries], results)


def entry_exception(error: EntryError) -> queue_errors.QueueError:
    """Turn a per-entry error of the service into the exception SQS raises."""
    cls = getattr(queue_errors, error.code, None)
    if isinstance(cls, type) and issubclass(cls, queue_errors.QueueError):
        return cls(error.message)
    return InvalidParameterValue(error.message)


def decode_message_attributes(
    raw: object, parameter: str
) -> dict[str, MessageAttribute]:
    """Decode message attributes from their wire shape.

    Names, types and values are checked by the queue service. This raises
    InvalidParameterValue only for what cannot be decoded: a value that is
    not a map, Binary data that is not base64, or the list values that SQS
    reserves and does not implement.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidParameterValue(f"Value for parameter {parameter} must be a map.")
    return {name: _decode_attribute(name, value) for name, value in raw.items()}


def _decode_attribute(name: str, value: object) -> MessageAttribute:
    if not isinstance(value, Mapping):
        raise InvalidParameterValue(
            f"The message attribute {name!r} must contain DataType and a value."
        )
    data_type = value.get("DataType")
    if not isinstance(data_type, str) or not data_type:
        raise InvalidParameterValue(
            f"The message attribute {name!r} must contain a non-empty message "
            "attribute type."
        )
    if value.get("StringListValues") or value.get("BinaryListValues"):
        raise InvalidParameterValue(
            f"The message attribute {name!r} uses StringListValues or "
            "BinaryListValues, which SQS reserves and does not implement; "
            "use StringValue or BinaryValue."
        )

    if data_type.startswith("Binary"):
        raw_binary = value.get("BinaryValue")
        binary = (
            decode_binary(raw_binary, f"{name}.BinaryValue") if raw_binary else None
        )
        return MessageAttribute(data_type=data_type, binary_value=binary)
    text = value.get("StringValue")
    if text is not None and not isinstance(text, str):
        raise InvalidParameterValue(
            f"The StringValue of message attribute {name!r} must be a string."
        )
    return MessageAttribute(data_type=data_type, string_value=text)


def _entry_id(raw: Params) -> str:
    return required_string(raw, "Id")


def _send_entry(params: Params, entry_id: str) -> SendEntry:
    # The queue service rejects an empty body, per entry in a batch.
    return SendEntry(
        entry_id=entry_id,
        body=optional_string(params, "MessageBody") or "",
        delay_s=optional_integer(params, "DelaySeconds", 0, MAX_DELAY_S),
        attributes=decode_message_attributes(
            params.get("MessageAttributes"), "MessageAttributes"
        ),
        system_attributes=decode_message_attributes(
            params.get("MessageSystemAttributes"),
            "MessageSystemAttributes",
        ),
        group_id=optional_string(params, "MessageGroupId"),
        deduplication_id=optional_string(params, "MessageDeduplicationId"),
    )


def _send_reply(result: SendResult) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "MessageId": result.message_id,
        "MD5OfMessageBody": result.md5_of_body,
    }
    optional = {
        "MD5OfMessageAttributes": result.md5_of_attributes,
        "MD5OfMessageSystemAttributes": result.md5_of_system_attributes,
        "SequenceNumber": result.sequence_number,
    }
    reply.update({key: value for key, value in optional.items() if value is not None})
    return reply


def _batch_error(error: EntryError) -> dict[str, Any]:
    wire_code = getattr(
        getattr(queue_errors, error.code, None), "query_code", error.code
    )
    return {
        "Id": error.entry_id,
        "SenderFault": error.sender_fault,
        "Code": wire_code,
        "Message": error.message,
    }


def _batch_reply(
    entry_ids: list[str], results: list[None | EntryError]
) -> dict[str, Any]:
    successful = []
    failed = []
    for entry_id, result in zip(entry_ids, results, strict=True):
        if result is None:
            successful.append({"Id": entry_id})
        else:
            failed.append(_batch_error(result))
    return {"Successful": successful, "Failed": failed}


def _message_reply(
    context: ActionContext,
    message: Message,
    system_names: list[str],
    attribute_names: list[str],
) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "MessageId": message.message_id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.md5_of_body,
        "Body": message.body,
    }
    system = _system_attributes(context, message, system_names)
    if system:
        reply["Attributes"] = system

    # The digest covers the attributes returned, which is what the SDKs that
    # check it recompute.
    attributes = _select_attributes(message.attributes, attribute_names)
    digest = md5_of_attributes(attributes)
    if digest is not None:
        reply["MD5OfMessageAttributes"] = digest
        reply["MessageAttributes"] = {
            name: _attribute_reply(value) for name, value in attributes.items()
        }
    return reply


def _system_attributes(
    context: ActionContext, message: Message, requested: list[str]
) -> dict[str, str]:
    if not requested:
        return {}
    trace = message.system_attributes.get("AWSTraceHeader")
    values = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(message.sent_at_ms),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(message.first_received_at_ms),
        "SequenceNumber": message.sequence_number,
        "MessageDeduplicationId": message.deduplication_id,
        "MessageGroupId": message.group_id,
        "AWSTraceHeader": trace.string_value if trace is not None else None,
        "DeadLetterQueueSourceArn": (
            context.queue_arn(message.dead_letter_source)
            if message.dead_letter_source
            else None
        ),
    }
    selected = (
        set(MESSAGE_SYSTEM_ATTRIBUTE_NAMES) if "All" in requested else set(requested)
    )
    return {
        name: value
        for name, value in values.items()
        if name in selected and value is not None
    }


def _select_attributes(
    attributes: Mapping[str, MessageAttribute], requested: list[str]
) -> dict[str, MessageAttribute]:
    if "All" in requested or ".*" in requested:
        return dict(attributes)
    prefixes = tuple(name[:-1] for name in requested if name.endswith(".*"))
    exact = {name for name in requested if not name.endswith(".*")}
    return {
        name: value
        for name, value in attributes.items()
        if name in exact or (prefixes and name.startswith(prefixes))
    }


def _attribute_reply(value: MessageAttribute) -> dict[str, Any]:
    reply: dict[str, Any] = {"DataType": value.data_type}
    if value.binary_value is not None:
        reply["BinaryValue"] = value.binary_value
    else:
        reply["StringValue"] = value.string_value
    return reply


MESSAGE_ACTIONS: dict[str, Action] = {
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
}
