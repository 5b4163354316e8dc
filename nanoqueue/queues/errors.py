"""Errors of the queue service, each named with its Amazon SQS error code.

    QueueError
    ├── QueueDoesNotExist            no queue of that name in that region
    ├── QueueAlreadyExists           the name is taken with other attributes
    ├── QueueDeletedRecently         the name was deleted less than 60 s ago
    ├── PurgeQueueInProgress         the queue was purged less than 60 s ago
    ├── ReceiptHandleIsInvalid       a receipt handle that is malformed or foreign
    ├── MessageNotInflight           the delivery of that handle is not in flight
    ├── InvalidParameterValue        a parameter out of its allowed values
    ├── InvalidAttributeName         an unknown or misplaced attribute name
    ├── InvalidAttributeValue        an attribute value out of its bounds
    ├── MissingParameter             a required parameter is absent
    ├── TooManyEntriesInBatchRequest more than 10 entries in a batch
    ├── BatchEntryIdsNotDistinct     two entries of a batch share an id
    ├── EmptyBatchRequest            a batch without entries
    ├── InvalidBatchEntryId          an entry id with characters SQS rejects
    ├── BatchRequestTooLong          a batch larger than the message size limit
    ├── MessageTooLong               a message larger than the queue allows
    ├── InvalidMessageContents       a body with characters SQS rejects
    ├── OverLimit                    a count limit, such as tags or permissions
    ├── ResourceNotFoundException    no message move task with that handle
    └── UnsupportedOperation         an operation the queue cannot do

`code` is what the SQS JSON protocol sends as the error type, and
`query_code` what the SQS Query protocol sends, where SQS spells it with the
`AWS.SimpleQueueService.` prefix. HTTP statuses are chosen in `nanoqueue.http`.
"""

from __future__ import annotations

from nanoqueue.errors import QueueError

__all__ = [
    "BatchEntryIdsNotDistinct",
    "BatchRequestTooLong",
    "EmptyBatchRequest",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidBatchEntryId",
    "InvalidMessageContents",
    "InvalidParameterValue",
    "MessageNotInflight",
    "MessageTooLong",
    "MissingParameter",
    "OverLimit",
    "PurgeQueueInProgress",
    "QueueAlreadyExists",
    "QueueDeletedRecently",
    "QueueDoesNotExist",
    "QueueError",
    "ReceiptHandleIsInvalid",
    "ResourceNotFoundException",
    "TooManyEntriesInBatchRequest",
    "UnsupportedOperation",
    "query_code",
]

_PREFIX = "AWS.SimpleQueueService."


class QueueDoesNotExist(QueueError):
    code = "QueueDoesNotExist"
    query_code = _PREFIX + "NonExistentQueue"


class QueueAlreadyExists(QueueError):
    code = "QueueAlreadyExists"


class QueueDeletedRecently(QueueError):
    code = "QueueDeletedRecently"
    query_code = _PREFIX + "QueueDeletedRecently"


class PurgeQueueInProgress(QueueError):
    code = "PurgeQueueInProgress"
    query_code = _PREFIX + "PurgeQueueInProgress"


class ReceiptHandleIsInvalid(QueueError):
    code = "ReceiptHandleIsInvalid"


class MessageNotInflight(QueueError):
    code = "MessageNotInflight"
    query_code = _PREFIX + "MessageNotInflight"


class InvalidParameterValue(QueueError):
    code = "InvalidParameterValue"


class InvalidAttributeName(QueueError):
    code = "InvalidAttributeName"


class InvalidAttributeValue(QueueError):
    code = "InvalidAttributeValue"


class MissingParameter(QueueError):
    code = "MissingParameter"


class TooManyEntriesInBatchRequest(QueueError):
    code = "TooManyEntriesInBatchRequest"
    query_code = _PREFIX + "TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(QueueError):
    code = "BatchEntryIdsNotDistinct"
    query_code = _PREFIX + "BatchEntryIdsNotDistinct"


class EmptyBatchRequest(QueueError):
    code = "EmptyBatchRequest"
    query_code = _PREFIX + "EmptyBatchRequest"


class InvalidBatchEntryId(QueueError):
    code = "InvalidBatchEntryId"
    query_code = _PREFIX + "InvalidBatchEntryId"


class BatchRequestTooLong(QueueError):
    code = "BatchRequestTooLong"
    query_code = _PREFIX + "BatchRequestTooLong"


class MessageTooLong(QueueError):
    code = "MessageTooLong"


class InvalidMessageContents(QueueError):
    code = "InvalidMessageContents"


class OverLimit(QueueError):
    code = "OverLimit"


class ResourceNotFoundException(QueueError):
    code = "ResourceNotFoundException"


class UnsupportedOperation(QueueError):
    code = "UnsupportedOperation"
    query_code = _PREFIX + "UnsupportedOperation"


def query_code(error: QueueError) -> str:
    """Return the error code the SQS Query protocol uses for `error`."""
    return str(getattr(error, "query_code", error.code))
