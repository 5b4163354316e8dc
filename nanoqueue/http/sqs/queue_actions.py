"""SQS actions on queues: create, find, list, attributes, tags, permissions,
dead-letter sources and message move tasks."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any

from nanoqueue.http.sqs.context import ActionContext
from nanoqueue.http.sqs.params import (
    Params,
    optional_integer,
    optional_string,
    required_string,
    string_list,
    string_map,
)
from nanoqueue.queues.errors import (
    InvalidAttributeName,
    InvalidParameterValue,
    MissingParameter,
    QueueDoesNotExist,
)
from nanoqueue.queues.model import MoveTask, QueueInfo

Action = Callable[[ActionContext, Params], Awaitable[dict[str, Any]]]

# Every name GetQueueAttributes accepts, in the order SQS documents them.
QUEUE_ATTRIBUTE_NAMES = (
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
)
MAX_LIST_RESULTS = 1000
MAX_MOVE_TASK_RESULTS = 10
MAX_MOVE_RATE_PER_SECOND = 500


async def create_queue(context: ActionContext, params: Params) -> dict[str, Any]:
    name = required_string(params, "QueueName")
    attributes = string_map(params, "Attributes")
    tags = string_map(params, "tags")
    # SQS makes a queue without FifoQueue a standard queue, whose name may
    # not contain a dot, so it rejects "jobs.fifo" alone. The native API
    # takes a FIFO queue from the name.
    if name.endswith(".fifo") and "FifoQueue" not in attributes:
        raise InvalidParameterValue(
            f"Value {name} for parameter QueueName is invalid. Reason: a queue "
            "named with the suffix .fifo needs the attribute FifoQueue=true."
        )
    await context.service.create_queue(
        name, attributes, tags or None, region=context.region
    )
    return {"QueueUrl": context.queue_url(name)}


async def get_queue_url(context: ActionContext, params: Params) -> dict[str, Any]:
    name = required_string(params, "QueueName")
    owner = optional_string(params, "QueueOwnerAWSAccountId")
    if owner is not None and owner != context.account_id:
        raise QueueDoesNotExist(
            f"The specified queue {name} does not exist for account {owner}; "
            f"this endpoint serves account {context.account_id}."
        )
    await context.service.get_queue(name, region=context.region)
    return {"QueueUrl": context.queue_url(name)}


async def list_queues(context: ActionContext, params: Params) -> dict[str, Any]:
    prefix = optional_string(params, "QueueNamePrefix") or ""
    names = await context.service.list_queues(prefix, region=context.region)
    page, next_token = _paginate(names, params)
    result: dict[str, Any] = {}
    if page:
        result["QueueUrls"] = [context.queue_url(name) for name in page]
    if next_token is not None:
        result["NextToken"] = next_token
    return result


async def delete_queue(context: ActionContext, params: Params) -> dict[str, Any]:
    await context.service.delete_queue(
        context.queue_name(params), region=context.region
    )
    return {}


async def purge_queue(context: ActionContext, params: Params) -> dict[str, Any]:
    await context.service.purge_queue(context.queue_name(params), region=context.region)
    return {}


async def get_queue_attributes(
    context: ActionContext, params: Params
) -> dict[str, Any]:
    name = context.queue_name(params)
    requested = string_list(params, "AttributeNames")
    for attribute in requested:
        if attribute != "All" and attribute not in QUEUE_ATTRIBUTE_NAMES:
            raise InvalidAttributeName(f"Unknown Attribute {attribute}.")

    info = await context.service.get_queue(name, region=context.region)
    attributes = queue_attributes(context, info)
    if "All" not in requested:
        attributes = {
            key: value for key, value in attributes.items() if key in requested
        }
    return {"Attributes": attributes} if attributes else {}


def queue_attributes(context: ActionContext, info: QueueInfo) -> dict[str, str]:
    """Return every attribute of a queue as SQS names it, values as strings."""
    attributes = info.attributes.to_sqs(info.region, context.account_id)
    attributes.update(
        {
            "QueueArn": context.queue_arn(info.name),
            "ApproximateNumberOfMessages": str(info.visible),
            "ApproximateNumberOfMessagesNotVisible": str(info.in_flight),
            "ApproximateNumberOfMessagesDelayed": str(info.delayed),
            "CreatedTimestamp": str(info.created_at),
            "LastModifiedTimestamp": str(info.last_modified_at),
        }
    )
    order = {name: index for index, name in enumerate(QUEUE_ATTRIBUTE_NAMES)}
    return dict(sorted(attributes.items(), key=lambda item: order.get(item[0], 99)))


async def set_queue_attributes(
    context: ActionContext, params: Params
) -> dict[str, Any]:
    name = context.queue_name(params)
    if params.get("Attributes") is None:
        raise MissingParameter("The request must contain the parameter Attributes.")
    attributes = string_map(params, "Attributes")
    await context.service.set_attributes(name, attributes, region=context.region)
    return {}


async def tag_queue(context: ActionContext, params: Params) -> dict[str, Any]:
    name = context.queue_name(params)
    tags = string_map(params, "Tags")
    if not tags:
        raise MissingParameter("The request must contain the parameter Tags.")
    await context.service.tag_queue(name, tags, region=context.region)
    return {}


async def untag_queue(context: ActionContext, params: Params) -> dict[str, Any]:
    name = context.queue_name(params)
    keys = string_list(params, "TagKeys")
    if not keys:
        raise MissingParameter("The request must contain the parameter TagKeys.")
    await context.service.untag_queue(name, keys, region=context.region)
    return {}


async def list_queue_tags(context: ActionContext, params: Params) -> dict[str, Any]:
    tags = await context.service.list_tags(
        context.queue_name(params), region=context.region
    )
    return {"Tags": tags} if tags else {}


async def add_permission(context: ActionContext, params: Params) -> dict[str, Any]:
    name = context.queue_name(params)
    label = required_string(params, "Label")
    account_ids = string_list(params, "AWSAccountIds")
    actions = string_list(params, "Actions")
    if not account_ids:
        raise MissingParameter("The request must contain the parameter AWSAccountIds.")
    if not actions:
        raise MissingParameter("The request must contain the parameter Actions.")
    await context.service.add_permission(
        name, label, account_ids, actions, region=context.region
    )
    return {}


async def remove_permission(context: ActionContext, params: Params) -> dict[str, Any]:
    name = context.queue_name(params)
    label = required_string(params, "Label")
    await context.service.remove_permission(name, label, region=context.region)
    return {}


async def list_dead_letter_source_queues(
    context: ActionContext, params: Params
) -> dict[str, Any]:
    names = await context.service.list_dead_letter_source_queues(
        context.queue_name(params), region=context.region
    )
    page, next_token = _paginate(names, params)
    result: dict[str, Any] = {"queueUrls": [context.queue_url(name) for name in page]}
    if next_token is not None:
        result["NextToken"] = next_token
    return result


async def start_message_move_task(
    context: ActionContext, params: Params
) -> dict[str, Any]:
    region, source = context.queue_from_arn(
        required_string(params, "SourceArn"), "SourceArn"
    )
    destination = None
    destination_arn = optional_string(params, "DestinationArn")
    if destination_arn:
        _, destination = context.queue_from_arn(destination_arn, "DestinationArn")
    rate = optional_integer(
        params, "MaxNumberOfMessagesPerSecond", 1, MAX_MOVE_RATE_PER_SECOND
    )
    handle = await context.service.start_move_task(
        source, destination, rate, region=region
    )
    return {"TaskHandle": handle}


async def list_message_move_tasks(
    context: ActionContext, params: Params
) -> dict[str, Any]:
    region, source = context.queue_from_arn(
        required_string(params, "SourceArn"), "SourceArn"
    )
    max_results = optional_integer(params, "MaxResults", 1, MAX_MOVE_TASK_RESULTS)
    tasks = await context.service.list_move_tasks(
        source, max_results or 1, region=region
    )
    return {"Results": [_move_task_entry(task) for task in tasks]}


async def cancel_message_move_task(
    context: ActionContext, params: Params
) -> dict[str, Any]:
    handle = required_string(params, "TaskHandle")
    moved = await context.service.cancel_move_task(handle)
    return {"ApproximateNumberOfMessagesMoved": moved}


def _move_task_entry(task: MoveTask) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Status": task.status,
        "SourceArn": task.source_arn,
        "ApproximateNumberOfMessagesMoved": task.approximate_moved,
        "StartedTimestamp": task.started_at_ms,
    }
    # SQS names the handle only while the task can still be cancelled.
    if task.status == "RUNNING":
        entry["TaskHandle"] = task.task_handle
    optional = {
        "DestinationArn": task.destination_arn,
        "MaxNumberOfMessagesPerSecond": task.max_per_second,
        "ApproximateNumberOfMessagesToMove": task.approximate_to_move,
        "FailureReason": task.failure_reason,
    }
    entry.update({key: value for key, value in optional.items() if value is not None})
    return entry


def _paginate(names: list[str], params: Params) -> tuple[list[str], str | None]:
    """Return one page of sorted `names` and the token of the next page.

    Without MaxResults SQS returns up to 1000 names and no token.
    """
    max_results = optional_integer(params, "MaxResults", 1, MAX_LIST_RESULTS)
    token = optional_string(params, "NextToken")
    if token:
        after = _decode_token(token)
        names = [name for name in names if name > after]
    if max_results is None:
        return names[:MAX_LIST_RESULTS], None
    page = names[:max_results]
    next_token = _encode_token(page[-1]) if len(names) > max_results else None
    return page, next_token


def _encode_token(last_name: str) -> str:
    return base64.urlsafe_b64encode(last_name.encode("utf-8")).decode("ascii")


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidParameterValue(
            f"Invalid NextToken value {token!r}; pass the NextToken of the previous reply."
        ) from exc


QUEUE_ACTIONS: dict[str, Action] = {
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "ListQueues": list_queues,
    "DeleteQueue": delete_queue,
    "PurgeQueue": purge_queue,
    "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
    "ListQueueTags": list_queue_tags,
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "StartMessageMoveTask": start_message_move_task,
    "ListMessageMoveTasks": list_message_move_tasks,
    "CancelMessageMoveTask": cancel_message_move_task,
}
