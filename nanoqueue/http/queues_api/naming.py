"""Native field names in place of SQS parameter names in queue-service errors.

The queue service names parameters as SQS does (`MaxNumberOfMessages`), but
a native-API client sent `max_messages`, so each route renames the
parameters it has before the error reaches the client.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from nanoqueue.queues import model
from nanoqueue.queues.model import EntryError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SEND = {
    "DelaySeconds": "delay_seconds",
    "MessageGroupId": "group_id",
    "MessageDeduplicationId": "deduplication_id",
    "AWSTraceHeader": "trace_header",
}
RECEIVE = {
    "MaxNumberOfMessages": "max_messages",
    "WaitTimeSeconds": "wait_seconds",
    "VisibilityTimeout": "visibility_timeout",
    "ReceiveRequestAttemptId": "attempt_id",
}
VISIBILITY = {"VisibilityTimeout": "timeout"}
MOVE_TASKS = {
    "MaxNumberOfMessagesPerSecond": "max_per_second",
    "MaxResults": "max_results",
}
QUEUE_ATTRIBUTES = {
    **{
        model.sqs_attribute_name(field.name): field.name
        for field in dataclasses.fields(model.QueueAttributes)
    },
    "deadLetterTargetArn": "dead_letter_queue",
    "maxReceiveCount": "max_receive_count",
}


def rename(message: str, names: Mapping[str, str]) -> str:
    """Replace each whole-word SQS name of `names` in `message` by its native name."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    return pattern.sub(lambda match: names[match.group(1)], message)


def rename_entry(error: EntryError, names: Mapping[str, str]) -> EntryError:
    return dataclasses.replace(error, message=rename(error.message, names))


def native_names(names: Mapping[str, str]) -> Callable[[Handler], Handler]:
    """Mark a handler whose QueueErrors should name parameters as in `names`.

    The handler itself is unchanged: the error wrapper that create_app puts
    around every route renames them, so a request pays for no extra call.
    """

    def decorate(handler: Handler) -> Handler:
        _NAMES[handler] = names
        return handler

    return decorate


def names_of(handler: Handler) -> Mapping[str, str] | None:
    """Return the names a handler was marked with by `native_names`, if any."""
    return _NAMES.get(handler)


_NAMES: dict[Handler, Mapping[str, str]] = {}
