"""Value types of the queue service: attributes, messages, results, tasks."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from nanoqueue.queues.errors import InvalidAttributeName, InvalidAttributeValue

MAX_QUEUE_NAME_LENGTH = 80
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ARN = re.compile(r"arn:aws:sqs:([a-z0-9-]+):([0-9]+):([A-Za-z0-9_.-]+)")


def queue_arn(region: str, account_id: str, name: str) -> str:
    """Return the ARN of a queue, `arn:aws:sqs:REGION:ACCOUNT:NAME`."""
    return f"arn:aws:sqs:{region}:{account_id}:{name}"


def parse_queue_arn(arn: str) -> tuple[str, str, str]:
    """Split a queue ARN into (region, account id, name).

    Raises ValueError if `arn` is not an SQS queue ARN.
    """
    match = _ARN.fullmatch(arn)
    if match is None:
        raise ValueError(f"{arn!r} is not an SQS queue ARN")
    return match.group(1), match.group(2), match.group(3)


def is_valid_queue_name(name: str) -> bool:
    """Tell whether `name` is a valid SQS queue name.

    A name has 1 to 80 characters: letters, digits, hyphens and
    underscores, and a FIFO queue's name ends in `.fifo` within those 80.
    """
    base = name.removesuffix(".fifo")
    return (
        len(name) <= MAX_QUEUE_NAME_LENGTH and _QUEUE_NAME.fullmatch(base) is not None
    )


@dataclass(frozen=True)
class RedrivePolicy:
    """The dead-letter queue of a queue and the receive count that sends messages there."""

    dead_letter_queue: str
    max_receive_count: int

    def to_json(self, region: str, account_id: str) -> str:
        """Return the policy as the JSON text of the SQS RedrivePolicy attribute."""
        arn = queue_arn(region, account_id, self.dead_letter_queue)
        return orjson.dumps(
            {"deadLetterTargetArn": arn, "maxReceiveCount": self.max_receive_count}
        ).decode()


# SQS attribute name, field name, low bound, high bound, for the integer
# attributes. SQS sends every attribute value as a string.
INTEGER_ATTRIBUTES: tuple[tuple[str, str, int, int], ...] = (
    ("VisibilityTimeout", "visibility_timeout_s", 0, 43200),
    ("DelaySeconds", "delay_s", 0, 900),
    ("MessageRetentionPeriod", "retention_s", 60, 1_209_600),
    ("MaximumMessageSize", "max_message_bytes", 1024, 1_048_576),
    ("ReceiveMessageWaitTimeSeconds", "receive_wait_s", 0, 20),
    ("KmsDataKeyReusePeriodSeconds", "kms_data_key_reuse_period_s", 60, 86400),
)
BOOLEAN_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("FifoQueue", "fifo"),
    ("ContentBasedDeduplication", "content_based_deduplication"),
    ("SqsManagedSseEnabled", "sqs_managed_sse"),
)
CHOICE_ATTRIBUTES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("DeduplicationScope", "deduplication_scope", ("queue", "messageGroup")),
    ("FifoThroughputLimit", "fifo_throughput_limit", ("perQueue", "perMessageGroupId")),
)
TEXT_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("Policy", "policy"),
    ("RedriveAllowPolicy", "redrive_allow_policy"),
    ("KmsMasterKeyId", "kms_master_key_id"),
)
FIFO_ONLY_ATTRIBUTES = frozenset(
    {"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
)
# Attributes that GetQueueAttributes returns but no request can set.
READ_ONLY_ATTRIBUTES = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "QueueArn",
    }
)

_SQS_TO_FIELD: dict[str, str] = {
    **{sqs: name for sqs, name, _, _ in INTEGER_ATTRIBUTES},
    **{sqs: name for sqs, name in BOOLEAN_ATTRIBUTES},
    **{sqs: name for sqs, name, _ in CHOICE_ATTRIBUTES},
    **{sqs: name for sqs, name in TEXT_ATTRIBUTES},
    "RedrivePolicy": "redrive_policy",
}
_FIELD_TO_SQS = {name: sqs for sqs, name in _SQS_TO_FIELD.items()}
SETTABLE_ATTRIBUTES = frozenset(_SQS_TO_FIELD)

MAX_POLICY_BYTES = 20 * 1024


@dataclass(frozen=True)
class QueueAttributes:
    """The settable attributes of a queue, with Amazon SQS defaults.

    `kms_master_key_id`, `kms_data_key_reuse_period_s` and `sqs_managed_sse`
    are stored and returned only: nanoqueue encrypts nothing.
    """

    visibility_timeout_s: int = 30
    delay_s: int = 0
    retention_s: int = 345_600
    max_message_bytes: int = 1_048_576
    receive_wait_s: int = 0
    redrive_policy: RedrivePolicy | None = None
    redrive_allow_policy: str | None = None
    fifo: bool = False
    content_based_deduplication: bool = False
    deduplication_scope: str = "queue"
    fifo_throughput_limit: str = "perQueue"
    policy: str | None = None
    kms_master_key_id: str | None = None
    kms_data_key_reuse_period_s: int = 300
    sqs_managed_sse: bool = True

    @classmethod
    def from_mapping(
        cls, attributes: Mapping[str, Any], base: QueueAttributes | None = None
    ) -> QueueAttributes:
        """Validate `attributes` and return `base` (or the defaults) with them set.

        Names may be SQS attribute names (`VisibilityTimeout`) or field
        names (`visibility_timeout_s`), and values strings, as SQS sends
        them, or numbers and booleans. Raises InvalidAttributeName for an
        unknown or read-only name and InvalidAttributeValue naming the value
        and its allowed range.
        """
        changes = parse_attribute_changes(attributes)
        return dataclasses.replace(base or cls(), **changes)

    def to_sqs(self, region: str, account_id: str) -> dict[str, str]:
        """Return the attributes as SQS names and string values.

        FIFO-only attributes appear only on FIFO queues, and unset optional
        attributes not at all, as GetQueueAttributes returns them.
        """
        result: dict[str, str] = {}
        for sqs, name, _, _ in INTEGER_ATTRIBUTES:
            if sqs == "KmsDataKeyReusePeriodSeconds" and self.kms_master_key_id is None:
                continue
            result[sqs] = str(getattr(self, name))
        result["SqsManagedSseEnabled"] = "true" if self.sqs_managed_sse else "false"
        for sqs, name in TEXT_ATTRIBUTES:
            value = getattr(self, name)
            if value is not None:
                result[sqs] = value
        if self.redrive_policy is not None:
            result["RedrivePolicy"] = self.redrive_policy.to_json(region, account_id)
        if self.fifo:
            result["FifoQueue"] = "true"
            result["ContentBasedDeduplication"] = (
                "true" if self.content_based_deduplication else "false"
            )
            result["DeduplicationScope"] = self.deduplication_scope
            result["FifoThroughputLimit"] = self.fifo_throughput_limit
        return result

    def to_dict(self) -> dict[str, Any]:
        """Return the attributes as plain JSON values under their field names."""
        result = dataclasses.asdict(self)
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueAttributes:
        """Rebuild attributes that `to_dict` returned, without validation."""
        values = dict(data)
        redrive = values.get("redrive_policy")
        if redrive is not None:
            values["redrive_policy"] = RedrivePolicy(**redrive)
        return cls(**values)


def parse_attribute_changes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate attribute names and values; return them keyed by field name.

    Raises InvalidAttributeName or InvalidAttributeValue, as `from_mapping`
    documents.
    """
    changes: dict[str, Any] = {}
    for key, value in attributes.items():
        sqs = _FIELD_TO_SQS.get(key, key)
        if sqs not in _SQS_TO_FIELD:
            if sqs in READ_ONLY_ATTRIBUTES:
                raise InvalidAttributeName(
                    f"attribute {key} is read-only; remove it from the request"
                )
            raise InvalidAttributeName(
                f"unknown queue attribute {key!r}; the settable attributes are "
                + ", ".join(sorted(SETTABLE_ATTRIBUTES))
            )
        changes[_SQS_TO_FIELD[sqs]] = _parse_value(sqs, value)
    return changes


def sqs_attribute_name(key: str) -> str:
    """Return the SQS name of an attribute given by SQS name or field name."""
    return _FIELD_TO_SQS.get(key, key)


def _parse_value(sqs: str, value: Any) -> Any:
    for name, _, low, high in INTEGER_ATTRIBUTES:
        if name == sqs:
            return _parse_integer(sqs, value, low, high)
    for name, _ in BOOLEAN_ATTRIBUTES:
        if name == sqs:
            return _parse_boolean(sqs, value)
    for name, _, choices in CHOICE_ATTRIBUTES:
        if name == sqs:
            if value not in choices:
                raise InvalidAttributeValue(
                    f"invalid value {value!r} for attribute {sqs}; "
                    f"use one of {', '.join(choices)}"
                )
            return value
    if sqs == "RedrivePolicy":
        return _parse_redrive_policy(value)
    return _parse_text(sqs, value)


def _parse_integer(sqs: str, value: Any, low: int, high: int) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise InvalidAttributeValue(
            f"invalid value {value!r} for attribute {sqs}; "
            f"use an integer from {low} to {high}"
        )
    return number


def _parse_boolean(sqs: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidAttributeValue(
        f"invalid value {value!r} for attribute {sqs}; use true or false"
    )


def _parse_text(sqs: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidAttributeValue(
            f"invalid value {value!r} for attribute {sqs}; use a string"
        )
    if sqs == "Policy" and len(value.encode()) > MAX_POLICY_BYTES:
        raise InvalidAttributeValue(
            f"Policy is {len(value.encode())} bytes long; "
            f"the maximum is {MAX_POLICY_BYTES}"
        )
    if sqs in ("Policy", "RedriveAllowPolicy"):
        document = _parse_json_object(sqs, value)
        if sqs == "RedriveAllowPolicy":
            _check_redrive_allow_policy(document)
    return value


def _parse_json_object(sqs: str, value: str) -> dict[str, Any]:
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidAttributeValue(
            f"attribute {sqs} is not valid JSON: {exc}; send a JSON object"
        ) from exc
    if not isinstance(document, dict):
        raise InvalidAttributeValue(f"attribute {sqs} must be a JSON object")
    return document


def _check_redrive_allow_policy(document: dict[str, Any]) -> None:
    permission = document.get("redrivePermission")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise InvalidAttributeValue(
            f"invalid redrivePermission {permission!r} in RedriveAllowPolicy; "
            "use allowAll, denyAll or byQueue"
        )
    sources = document.get("sourceQueueArns", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise InvalidAttributeValue(
            "sourceQueueArns in RedriveAllowPolicy must be a list of queue ARNs"
        )
    if permission == "byQueue" and not 1 <= len(sources) <= 10:
        raise InvalidAttributeValue(
            "RedriveAllowPolicy with redrivePermission byQueue needs 1 to 10 "
            "sourceQueueArns"
        )
    if permission != "byQueue" and sources:
        raise InvalidAttributeValue(
            "sourceQueueArns in RedriveAllowPolicy are allowed only with "
            "redrivePermission byQueue"
        )


def _parse_redrive_policy(value: Any) -> RedrivePolicy | None:
    if value is None or value == "":
        return None
    if isinstance(value, RedrivePolicy):
        return value
    if isinstance(value, str):
        document: Any = _parse_json_object("RedrivePolicy", value)
    elif isinstance(value, Mapping):
        document = dict(value)
    else:
        raise InvalidAttributeValue(
            f"invalid RedrivePolicy {value!r}; send a JSON object with "
            "deadLetterTargetArn and maxReceiveCount"
        )
    target = document.get("deadLetterTargetArn", document.get("dead_letter_queue"))
    count = document.get("maxReceiveCount", document.get("max_receive_count"))
    if not isinstance(target, str):
        raise InvalidAttributeValue("RedrivePolicy needs deadLetterTargetArn")
    name = target
    if target.startswith("arn:"):
        try:
            name = parse_queue_arn(target)[2]
        except ValueError as exc:
            raise InvalidAttributeValue(
                f"invalid deadLetterTargetArn {target!r} in RedrivePolicy; use "
                "arn:aws:sqs:REGION:ACCOUNT:NAME"
            ) from exc
    if not is_valid_queue_name(name):
        raise InvalidAttributeValue(
            f"invalid dead-letter queue name {name!r} in RedrivePolicy"
        )
    max_receive_count = _parse_integer("maxReceiveCount", count, 1, 1000)
    return RedrivePolicy(dead_letter_queue=name, max_receive_count=max_receive_count)


@dataclass(frozen=True)
class QueueInfo:
    """A queue's identity, attributes, timestamps and approximate counts.

    Timestamps are Unix seconds, as SQS returns CreatedTimestamp.
    """

    name: str
    region: str
    attributes: QueueAttributes
    created_at: int
    last_modified_at: int
    visible: int = 0
    in_flight: int = 0
    delayed: int = 0
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageAttribute:
    """A message attribute: String, Number, Binary, or one with a custom suffix.

    `string_value` is set for String and Number types, `binary_value` for
    Binary ones; a custom suffix (`Number.float`) keeps the base type's rule.
    """

    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None


# The per-message records below are not frozen: a frozen dataclass sets each
# field through object.__setattr__, which makes creating one about four
# times slower, and the send and receive paths create them per message.
# Nothing changes them after creation.


@dataclass(slots=True)
class SendEntry:
    """One message to send, with the id it has within its batch."""

    entry_id: str
    body: str
    delay_s: int | None = None
    attributes: Mapping[str, MessageAttribute] = field(default_factory=dict)
    system_attributes: Mapping[str, MessageAttribute] = field(default_factory=dict)
    group_id: str | None = None
    deduplication_id: str | None = None


@dataclass(slots=True)
class SendResult:
    """A message accepted by send; MD5 fields are None when nothing was hashed."""

    entry_id: str
    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None = None
    md5_of_system_attributes: str | None = None
    sequence_number: str | None = None


@dataclass(frozen=True)
class EntryError:
    """A batch entry that failed, with the SQS error code and its reason."""

    entry_id: str
    code: str
    message: str
    sender_fault: bool = True


@dataclass(frozen=True)
class Message:
    """A message as one receive delivered it.

    Timestamps are Unix milliseconds. `receipt_handle` is valid for this
    delivery only. `sequence_number`, `group_id` and `deduplication_id` are
    set on FIFO queues only.
    """

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, MessageAttribute]
    md5_of_attributes: str | None
    system_attributes: dict[str, MessageAttribute]
    md5_of_system_attributes: str | None
    receive_count: int
    sent_at_ms: int
    first_received_at_ms: int
    sender_id: str
    group_id: str | None = None
    deduplication_id: str | None = None
    sequence_number: str | None = None
    dead_letter_source: str | None = None


@dataclass(frozen=True)
class MoveTask:
    """A message move task as ListMessageMoveTasks reports it.

    `status` is RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED.
    Timestamps are Unix milliseconds.
    """

    task_handle: str
    status: str
    source_arn: str
    destination_arn: str | None
    max_per_second: int | None
    approximate_moved: int
    approximate_to_move: int | None
    failure_reason: str | None
    started_at_ms: int
