"""Native field names in place of SQS parameter names in queue-service errors.

The queue service names parameters as SQS does (`MaxNumberOfMessages`), but
a native-API client sent `max_messages`, so each route renames the
parameters it has before the error reaches the client.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from nanoqueue.errors import QueueError
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
    """Wrap a handler so that the QueueErrors it raises use native names."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def renaming(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except QueueError as exc:
                renamed = copy.copy(exc)
                renamed.message = rename(exc.message, names)
                renamed.args = (renamed.message,)
                raise renamed from exc

        return renaming

    return decorate
