"""Native-API JSON shapes of queues, messages and batch results.

Timestamps are integers in milliseconds since the Unix epoch, as SQS's
SentTimestamp is. Binary attribute values are standard base64.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from nanoqueue.queues.model import (
    FIFO_ONLY_ATTRIBUTES,
    EntryError,
    Message,
    MessageAttribute,
    MoveTask,
    QueueAttributes,
    QueueInfo,
    SendResult,
    parse_queue_arn,
    sqs_attribute_name,
)


def queue_attributes(attributes: QueueAttributes) -> dict[str, Any]:
    """Render the attributes under the names `POST /queues` takes them by.

    FIFO-only attributes appear only on FIFO queues, so that the rendered
    attributes of any queue can be sent back unchanged.
    """
    rendered = attributes.to_dict()
    if attributes.fifo:
        return rendered
    return {
        name: value
        for name, value in rendered.items()
        if sqs_attribute_name(name) not in FIFO_ONLY_ATTRIBUTES
    }


def queue_info(info: QueueInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "attributes": queue_attributes(info.attributes),
        "counts": {
            "visible": info.visible,
            "in_flight": info.in_flight,
            "delayed": info.delayed,
        },
        "created_at": info.created_at * 1000,
        "last_modified_at": info.last_modified_at * 1000,
        "tags": dict(info.tags),
    }


def message_attributes(attributes: Mapping[str, MessageAttribute]) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    for name, attribute in attributes.items():
        value: dict[str, Any] = {"data_type": attribute.data_type}
        if attribute.binary_value is not None:
            value["binary_value"] = base64.b64encode(attribute.binary_value).decode()
        else:
            value["string_value"] = attribute.string_value
        rendered[name] = value
    return rendered


def message(received: Message) -> dict[str, Any]:
    """Render a received message; FIFO fields appear only on FIFO queues."""
    rendered: dict[str, Any] = {
        "id": received.message_id,
        "body": received.body,
        "receipt_handle": received.receipt_handle,
        "receive_count": received.receive_count,
        "sent_at": received.sent_at_ms,
        "first_received_at": received.first_received_at_ms,
        "md5_of_body": received.md5_of_body,
        "attributes": message_attributes(received.attributes),
        "sender_id": received.sender_id,
    }
    if received.md5_of_attributes is not None:
        rendered["md5_of_attributes"] = received.md5_of_attributes
    trace = received.system_attributes.get("AWSTraceHeader")
    if trace is not None:
        rendered["trace_header"] = trace.string_value
    for field in ("group_id", "deduplication_id", "sequence_number"):
        value = getattr(received, field)
        if value is not None:
            rendered[field] = value
    return rendered


def entry_error(error: EntryError) -> dict[str, Any]:
    return {
        "ok": False,
        "entry_id": error.entry_id,
        "error": {
            "code": error.code,
            "message": error.message,
            "sender_fault": error.sender_fault,
        },
    }


def send_result(result: SendResult) -> dict[str, Any]:
    """Render a sent message; digests and sequence number appear only when set."""
    rendered: dict[str, Any] = {
        "id": result.message_id,
        "md5_of_body": result.md5_of_body,
    }
    if result.md5_of_attributes is not None:
        rendered["md5_of_attributes"] = result.md5_of_attributes
    if result.sequence_number is not None:
        rendered["sequence_number"] = result.sequence_number
    return rendered


def batch_send_result(result: SendResult | EntryError) -> dict[str, Any]:
    if isinstance(result, EntryError):
        return entry_error(result)
    return {"ok": True, "entry_id": result.entry_id, **send_result(result)}


def batch_results(
    entry_ids: list[str], results: list[EntryError | None]
) -> dict[str, Any]:
    """Render the results of a batch delete or visibility change, in request order."""
    rendered = []
    for entry_id, result in zip(entry_ids, results, strict=True):
        if result is None:
            rendered.append({"ok": True, "entry_id": entry_id})
        else:
            rendered.append(entry_error(result))
    return {"results": rendered}


def move_task(task: MoveTask) -> dict[str, Any]:
    """Render a move task with queue names where SQS gives ARNs."""
    destination = task.destination_arn
    return {
        "task_handle": task.task_handle,
        "status": task.status,
        "source": parse_queue_arn(task.source_arn)[2],
        "destination": None if destination is None else parse_queue_arn(destination)[2],
        "max_per_second": task.max_per_second,
        "approximate_moved": task.approximate_moved,
        "approximate_to_move": task.approximate_to_move,
        "failure_reason": task.failure_reason,
        "started_at": task.started_at_ms,
    }
