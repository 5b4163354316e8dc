"""SQS validation rules for batches, messages and message attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from nanoqueue.queues.errors import (
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidMessageContents,
    InvalidParameterValue,
    MessageTooLong,
    MissingParameter,
    TooManyEntriesInBatchRequest,
)
from nanoqueue.queues.model import MessageAttribute, QueueAttributes, SendEntry

MAX_BATCH_ENTRIES = 10
MAX_MESSAGE_ATTRIBUTES = 10
MAX_ATTRIBUTE_NAME_LENGTH = 256
MAX_DATA_TYPE_LENGTH = 256
MAX_DELAY_S = 900
# SQS accepts Number attributes of up to 38 significant digits between
# 10^-128 and 10^126.
MAX_NUMBER_DIGITS = 38

_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
# The characters SQS allows in bodies and String values: #x9, #xA, #xD,
# #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF.
_INVALID_CHARACTER = re.compile(
    "[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\.[A-Za-z0-9_.-]+)?")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
# Group and deduplication IDs: letters, digits and ASCII punctuation.
_TOKEN = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
SYSTEM_ATTRIBUTE_NAMES = frozenset({"AWSTraceHeader"})


def check_batch_ids(entry_ids: Sequence[str]) -> None:
    """Check the entry IDs of a batch request as SQS does.

    Raises EmptyBatchRequest, TooManyEntriesInBatchRequest,
    InvalidBatchEntryId or BatchEntryIdsNotDistinct.
    """
    if len(entry_ids) == 1:
        _check_entry_id(entry_ids[0])
        return
    if not entry_ids:
        raise EmptyBatchRequest("the batch request has no entries; send 1 to 10")
    if len(entry_ids) > MAX_BATCH_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"the batch request has {len(entry_ids)} entries; the maximum is "
            f"{MAX_BATCH_ENTRIES}"
        )
    seen: set[str] = set()
    for entry_id in entry_ids:
        _check_entry_id(entry_id)
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(
                f"batch entry ID {entry_id!r} appears more than once; "
                "give each entry its own ID"
            )
        seen.add(entry_id)


def _check_entry_id(entry_id: object) -> None:
    if not isinstance(entry_id, str) or not _ENTRY_ID.fullmatch(entry_id):
        raise InvalidBatchEntryId(
            f"invalid batch entry ID {entry_id!r}; use 1 to 80 letters, "
            "digits, hyphens and underscores"
        )


def check_text(text: str, what: str) -> None:
    """Raise InvalidMessageContents if `text` has a character SQS rejects."""
    # Every printable character is in SQS's allowed ranges, and
    # str.isprintable is much faster than the pattern on the common case.
    if text.isprintable():
        return
    match = _INVALID_CHARACTER.search(text)
    if match is not None:
        raise InvalidMessageContents(
            f"{what} contains the character U+{ord(match.group()):04X} at "
            f"position {match.start()}, which SQS does not allow; remove it"
        )


def check_token(value: str, parameter: str) -> None:
    """Check a MessageGroupId or MessageDeduplicationId."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise InvalidParameterValue(
            f"invalid {parameter} {value!r}; use 1 to 128 letters, digits and "
            "punctuation characters"
        )


def attributes_size(attributes: Mapping[str, MessageAttribute]) -> int:
    """Return the bytes message attributes add to a message's size, as SQS counts."""
    size = 0
    for name, attribute in attributes.items():
        size += len(name.encode()) + len(attribute.data_type.encode())
        if attribute.binary_value is not None:
            size += len(attribute.binary_value)
        else:
            size += len((attribute.string_value or "").encode())
    return size


def check_attributes(attributes: Mapping[str, MessageAttribute]) -> None:
    """Check message attributes against SQS's names, types, values and limits."""
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameterValue(
            f"the message has {len(attributes)} attributes; the maximum is "
            f"{MAX_MESSAGE_ATTRIBUTES}"
        )
    for name, attribute in attributes.items():
        _check_attribute_name(name)
        _check_attribute_value(name, attribute)


def _check_attribute_name(name: str) -> None:
    lowered = name.lower()
    valid = (
        isinstance(name, str)
        and 0 < len(name) <= MAX_ATTRIBUTE_NAME_LENGTH
        and _ATTRIBUTE_NAME.fullmatch(name) is not None
        and not name.startswith(".")
        and not name.endswith(".")
        and ".." not in name
        and not lowered.startswith(("aws.", "amazon."))
    )
    if not valid:
        raise InvalidParameterValue(
            f"invalid message attribute name {name!r}; use up to 256 letters, "
            "digits, hyphens, underscores and periods, with no leading, "
            "trailing or doubled period and no AWS. or Amazon. prefix"
        )


def _check_attribute_value(name: str, attribute: MessageAttribute) -> None:
    data_type = attribute.data_type
    if (
        not isinstance(data_type, str)
        or len(data_type) > MAX_DATA_TYPE_LENGTH
        or not _DATA_TYPE.fullmatch(data_type)
    ):
        raise InvalidParameterValue(
            f"invalid data type {data_type!r} of message attribute {name!r}; "
            "use String, Number or Binary, optionally with a .suffix"
        )
    if data_type.startswith("Binary"):
        if not attribute.binary_value:
            raise InvalidParameterValue(
                f"message attribute {name!r} of type {data_type} needs a "
                "non-empty binary value"
            )
        return
    value = attribute.string_value
    if not value:
        raise InvalidParameterValue(
            f"message attribute {name!r} of type {data_type} needs a non-empty "
            "string value"
        )
    check_text(value, f"the value of message attribute {name!r}")
    if data_type.startswith("Number"):
        _check_number(name, value)


def _check_number(name: str, value: str) -> None:
    problem = None
    if not _NUMBER.fullmatch(value):
        problem = "is not a number"
    else:
        try:
            number = Decimal(value)
        except InvalidOperation:
            problem = "is not a number"
        else:
            significant = list(number.as_tuple().digits)
            while len(significant) > 1 and significant[-1] == 0:
                significant.pop()
            if len(significant) > MAX_NUMBER_DIGITS:
                problem = f"has more than {MAX_NUMBER_DIGITS} significant digits"
            elif number != 0 and not (
                Decimal("1e-128") <= abs(number) <= Decimal("1e126")
            ):
                problem = "is outside the range 10^-128 to 10^126"
    if problem is not None:
        value_text = value if len(value) <= 60 else value[:57] + "..."
        raise InvalidParameterValue(
            f"the value {value_text!r} of Number message attribute {name!r} {problem}"
        )


def check_system_attributes(attributes: Mapping[str, MessageAttribute]) -> None:
    """Check message system attributes: only AWSTraceHeader, as a String."""
    for name, attribute in attributes.items():
        if name not in SYSTEM_ATTRIBUTE_NAMES:
            raise InvalidParameterValue(
                f"unknown message system attribute {name!r}; the only one is "
                "AWSTraceHeader"
            )
        if attribute.data_type != "String" or not attribute.string_value:
            raise InvalidParameterValue(
                "message system attribute AWSTraceHeader needs a non-empty String value"
            )


def check_message(entry: SendEntry, attributes: QueueAttributes) -> int:
    """Check one message for a queue; return its size in bytes as SQS counts it.

    Raises the QueueError SQS gives for the first rule the message breaks.
    """
    body = entry.body
    if not isinstance(body, str) or body == "":
        raise MissingParameter("the message body is missing; send 1 or more characters")
    check_text(body, "the message body")
    # An ASCII string has one byte per character, and isascii costs nothing.
    size = len(body) if body.isascii() else len(body.encode())
    if entry.attributes:
        check_attributes(entry.attributes)
        size += attributes_size(entry.attributes)
    if entry.system_attributes:
        check_system_attributes(entry.system_attributes)
    if size > attributes.max_message_bytes:
        raise MessageTooLong(
            f"the message is {size} bytes long with its attributes; the queue's "
            f"maximum is {attributes.max_message_bytes} bytes"
        )
    if (
        attributes.fifo
        or entry.delay_s is not None
        or entry.group_id is not None
        or entry.deduplication_id is not None
    ):
        _check_delay_and_fifo(entry, attributes)
    return size


def _check_delay_and_fifo(entry: SendEntry, attributes: QueueAttributes) -> None:
    if entry.delay_s is not None:
        if not 0 <= entry.delay_s <= MAX_DELAY_S:
            raise InvalidParameterValue(
                f"invalid DelaySeconds {entry.delay_s}; use 0 to {MAX_DELAY_S}"
            )
        if attributes.fifo:
            raise InvalidParameterValue(
                "DelaySeconds per message is not allowed on FIFO queues; set the "
                "queue's DelaySeconds attribute instead"
            )
    if entry.group_id is not None:
        check_token(entry.group_id, "MessageGroupId")
    if entry.deduplication_id is not None:
        check_token(entry.deduplication_id, "MessageDeduplicationId")
    if not attributes.fifo:
        if entry.deduplication_id is not None:
            raise InvalidParameterValue(
                "MessageDeduplicationId is allowed only on FIFO queues; remove it"
            )
        return
    if entry.group_id is None:
        raise MissingParameter("MessageGroupId is required for FIFO queues")
    if entry.deduplication_id is None and not attributes.content_based_deduplication:
        raise InvalidParameterValue(
            "the FIFO queue has no ContentBasedDeduplication, so the message "
            "needs a MessageDeduplicationId"
        )
