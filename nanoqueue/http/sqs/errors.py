"""SQS protocol errors, and the names each error takes on the SQS wire.

SQS spells each error in two ways. The JSON protocol names the modeled exception
shape in `__type` (`com.amazonaws.sqs#QueueDoesNotExist`), and the Query
protocol, also sent as `x-amzn-query-error` in JSON replies, uses the older
code (`AWS.SimpleQueueService.NonExistentQueue`). botocore picks the
exception class from the shape name and reports the Query code as
`Error.Code`, as it does against Amazon SQS.
"""

from __future__ import annotations

from dataclasses import dataclass

from nanoqueue.errors import InvalidRequest, NanoqueueError, QueueError
from nanoqueue.queues import errors as queue_errors

JSON_TYPE_PREFIX = "com.amazonaws.sqs#"


class AuthError(NanoqueueError):
    """A request whose credentials or signature are not accepted."""

    code = "AuthError"


class MissingAuthenticationToken(AuthError):
    code = "MissingAuthenticationToken"


class IncompleteSignature(AuthError):
    code = "IncompleteSignature"


class InvalidSecurity(AuthError):
    """A request signed with something other than Signature Version 4."""

    code = "InvalidSecurity"


class InvalidClientTokenId(AuthError):
    code = "InvalidClientTokenId"


class SignatureDoesNotMatch(AuthError):
    code = "SignatureDoesNotMatch"


class RequestExpired(AuthError):
    code = "RequestExpired"


class InvalidAction(InvalidRequest):
    """An SQS action name that does not exist."""

    code = "InvalidAction"


class MissingAction(InvalidRequest):
    code = "MissingAction"


class MalformedRequest(InvalidRequest):
    """A JSON body or form that cannot be read as SQS parameters."""

    code = "MalformedQueryString"


@dataclass(frozen=True)
class WireName:
    """The spellings of one error code on the SQS wire."""

    shape: str
    query_code: str


# Codes whose exception shape in the SQS service model has another name, and
# codes of nanoqueue that SQS spells differently. Every other code keeps its
# name as the shape, with the Query code of its queue error class.
WIRE_NAMES: dict[str, WireName] = {
    "QueueAlreadyExists": WireName("QueueNameExists", "QueueAlreadyExists"),
    # The service model has no MessageTooLong shape: Amazon SQS rejects an
    # oversized message with InvalidParameterValue.
    "MessageTooLong": WireName("InvalidParameterValue", "InvalidParameterValue"),
    # The native API's code for a request body that cannot be used.
    "InvalidRequest": WireName("InvalidParameterValue", "InvalidParameterValue"),
    "InvalidAction": WireName("UnknownOperationException", "InvalidAction"),
}


def wire_name(code: str) -> WireName:
    """Return the JSON shape and Query code that SQS uses for `code`."""
    override = WIRE_NAMES.get(code)
    if override is not None:
        return override
    queue_error = getattr(queue_errors, code, None)
    return WireName(code, str(getattr(queue_error, "query_code", code)))


class InvalidAddress(QueueError):
    """A queue URL or ARN that names no queue of this endpoint."""

    code = "InvalidAddress"
