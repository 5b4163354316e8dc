"""Reading native-API request fields into queue-service arguments.

Each check raises InvalidRequest with a message that names the field, the
value and what the field takes. Bounds that SQS sets (delays, timeouts,
batch sizes) are checked by the queue service, which raises their SQS codes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from nanoqueue.errors import InvalidRequest
from nanoqueue.http.body import json_type
from nanoqueue.queues import model
from nanoqueue.queues.model import MessageAttribute, SendEntry

# The JSON type of each send field; null means absent for every one of them.
SEND_FIELD_TYPES: dict[str, type] = {
    "entry_id": str,
    "body": str,
    "delay_seconds": int,
    "attributes": dict,
    "group_id": str,
    "deduplication_id": str,
    "trace_header": str,
}
SEND_FIELDS = set(SEND_FIELD_TYPES)
ATTRIBUTE_FIELDS = {"data_type", "string_value", "binary_value"}
REDRIVE_POLICY_FIELDS = {"dead_letter_queue", "max_receive_count"}


def _shown(value: object) -> str:
    """Render a bad value for an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _described(value: object) -> str:
    """Name a bad JSON value's type and show it, spelled as in JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    return f"{json_type(value)} {_shown(value)}"


def require_field(
    body: dict[str, Any], field: str, expected: str, prefix: str = ""
) -> Any:
    if field not in body:
        raise InvalidRequest(f"missing field {prefix + field!r}: it must be {expected}")
    return body[field]


def optional_int(
    body: dict[str, Any], field: str, unit: str, prefix: str = ""
) -> int | None:
    """Return `field` as an integer count of `unit`, None when absent or null."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(
            f"field {prefix + field!r} must be an integer number of {unit}, "
            f"got {_described(value)}"
        )
    return value


def required_int(body: dict[str, Any], field: str, unit: str, prefix: str = "") -> int:
    require_field(body, field, f"an integer number of {unit}", prefix)
    value = optional_int(body, field, unit, prefix)
    if value is None:
        raise InvalidRequest(
            f"field {prefix + field!r} must be an integer number of {unit}, got null"
        )
    return value


def optional_string(body: dict[str, Any], field: str, prefix: str = "") -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(
            f"field {prefix + field!r} must be a string, got {_described(value)}"
        )
    return value


def required_string(body: dict[str, Any], field: str, prefix: str = "") -> str:
    require_field(body, field, "a string", prefix)
    value = optional_string(body, field, prefix)
    if value is None:
        raise InvalidRequest(f"field {prefix + field!r} must be a string, got null")
    return value


def optional_object(body: dict[str, Any], field: str) -> dict[str, Any]:
    """Return `field` as a JSON object; absent or null is an empty one."""
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"field {field!r} must be an object, got {_described(value)}"
        )
    return value


def required_array(body: dict[str, Any], field: str, of: str) -> list[Any]:
    value = require_field(body, field, f"an array of {of}")
    if not isinstance(value, list):
        raise InvalidRequest(
            f"field {field!r} must be an array of {of}, got {json_type(value)}"
        )
    return value


def reject_unknown_fields(body: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(
            f"unknown field {unknown[0]!r} in {where}; "
            f"allowed fields are {', '.join(sorted(allowed))}"
        )


def reject_unknown_parameters(query: Mapping[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise InvalidRequest(
            f"unknown query parameter {unknown[0]!r}; "
            f"allowed parameters are {', '.join(sorted(allowed))}"
        )


def query_int(query: Mapping[str, str], name: str, allowed: set[str]) -> int | None:
    """Return query parameter `name` as an integer, None when absent."""
    reject_unknown_parameters(query, allowed)
    value = query.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidRequest(
            f"query parameter {name!r} must be an integer, got {_shown(value)}"
        ) from exc


def string_tags(body: dict[str, Any], field: str) -> dict[str, str]:
    tags = optional_object(body, field)
    for key, value in tags.items():
        if not isinstance(value, str):
            raise InvalidRequest(
                f"{field}.{key} must be a string, got {_described(value)}"
            )
    return tags


def _attribute_types() -> dict[str, tuple[str, tuple[type, ...]]]:
    """Map each queue attribute's field name to the JSON types it takes."""
    types: dict[str, tuple[str, tuple[type, ...]]] = {}
    for _, name, low, high in model.INTEGER_ATTRIBUTES:
        types[name] = (f"an integer from {low} to {high}", (int,))
    for _, name in model.BOOLEAN_ATTRIBUTES:
        types[name] = ("true or false", (bool,))
    for _, name, choices in model.CHOICE_ATTRIBUTES:
        types[name] = (f"one of {', '.join(choices)}", (str,))
    for _, name in model.TEXT_ATTRIBUTES:
        types[name] = ("a string or null", (str, type(None)))
    types["redrive_policy"] = (
        "an object with dead_letter_queue and max_receive_count, or null",
        (dict, type(None)),
    )
    return types


ATTRIBUTE_TYPES = _attribute_types()
FIELD_BY_SQS_NAME = {model.sqs_attribute_name(name): name for name in ATTRIBUTE_TYPES}


def queue_attributes(body: dict[str, Any], field: str) -> dict[str, Any]:
    """Return `field` as queue attributes under their snake_case names.

    Only names and JSON types are checked here, so that `"30"` is not taken
    for 30. The queue service checks bounds and raises InvalidAttributeValue.
    """
    attributes = optional_object(body, field)
    for name, value in attributes.items():
        expected = ATTRIBUTE_TYPES.get(name)
        if expected is None:
            hint = (
                f"use {FIELD_BY_SQS_NAME[name]!r}, the native name of the SQS attribute"
                if name in FIELD_BY_SQS_NAME
                else f"the attributes are {', '.join(sorted(ATTRIBUTE_TYPES))}"
            )
            raise InvalidRequest(f"unknown queue attribute {field}.{name}; {hint}")
        description, types = expected
        if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
            raise InvalidRequest(
                f"{field}.{name} must be {description}, got {_described(value)}"
            )
        if name == "redrive_policy" and isinstance(value, dict):
            reject_unknown_fields(
                value, REDRIVE_POLICY_FIELDS, f"{field}.redrive_policy"
            )
    return attributes


def message_attributes(value: object, where: str) -> dict[str, MessageAttribute]:
    """Read `{"name": {"data_type", "string_value" | "binary_value"}}`.

    Binary values travel as standard base64. Names, data types and sizes are
    checked by the queue service against SQS's rules.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"{where} must be an object of message attributes, got {json_type(value)}"
        )
    attributes: dict[str, MessageAttribute] = {}
    for name, spec in value.items():
        key = f"{where}.{name}"
        if not isinstance(spec, dict):
            raise InvalidRequest(
                f"{key} must be an object such as "
                '{"data_type": "String", "string_value": "..."}, '
                f"got {json_type(spec)}"
            )
        reject_unknown_fields(spec, ATTRIBUTE_FIELDS, key)
        attributes[name] = _message_attribute(spec, key)
    return attributes


def _message_attribute(spec: dict[str, Any], key: str) -> MessageAttribute:
    data_type = spec.get("data_type")
    if not isinstance(data_type, str):
        raise InvalidRequest(
            f"{key}.data_type must be a string such as String, Number or Binary, "
            f"got {_shown(data_type)}"
        )
    string_value = spec.get("string_value")
    encoded = spec.get("binary_value")
    if (string_value is None) == (encoded is None):
        raise InvalidRequest(
            f"{key} must have exactly one of string_value (String and Number types) "
            "and binary_value (Binary types, base64)"
        )
    if string_value is not None and not isinstance(string_value, str):
        raise InvalidRequest(
            f"{key}.string_value must be a string, got {json_type(string_value)}"
        )
    binary_value: bytes | None = None
    if encoded is not None:
        if not isinstance(encoded, str):
            raise InvalidRequest(
                f"{key}.binary_value must be a base64 string, got {json_type(encoded)}"
            )
        try:
            binary_value = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise InvalidRequest(
                f"{key}.binary_value is not valid base64: {exc}"
            ) from exc
    return MessageAttribute(
        data_type=data_type, string_value=string_value, binary_value=binary_value
    )


def send_entry(spec: object, index: int | None) -> SendEntry:
    """Read one message to send; `index` places it in a batch, None for a single send.

    One pass over the fields present checks each name and JSON type, because
    this runs once per message sent.
    """
    if not isinstance(spec, dict):
        where = "request body" if index is None else f"messages[{index}]"
        raise InvalidRequest(f"{where} must be an object, got {json_type(spec)}")
    for field, value in spec.items():
        expected = SEND_FIELD_TYPES.get(field)
        # entry_id names a result within a batch, so a single send has none.
        if expected is None or (index is None and field == "entry_id"):
            allowed = SEND_FIELDS if index is not None else SEND_FIELDS - {"entry_id"}
            reject_unknown_fields(spec, allowed, _entry_where(index))
        elif type(value) is not expected and value is not None:
            _reject_send_field(spec, field, index)
    body = spec.get("body")
    if body is None:
        body = required_string(spec, "body", _entry_prefix(index))
    entry_id = spec.get("entry_id")
    attributes = spec.get("attributes")
    trace_header = spec.get("trace_header")
    system_attributes: dict[str, MessageAttribute] = {}
    if trace_header is not None:
        system_attributes["AWSTraceHeader"] = MessageAttribute(
            data_type="String", string_value=trace_header, binary_value=None
        )
    return SendEntry(
        entry_id=str(index or 0) if entry_id is None else entry_id,
        body=body,
        delay_s=spec.get("delay_seconds"),
        attributes=(
            {}
            if attributes is None
            else message_attributes(attributes, f"{_entry_prefix(index)}attributes")
        ),
        system_attributes=system_attributes,
        group_id=spec.get("group_id"),
        deduplication_id=spec.get("deduplication_id"),
    )


def _entry_where(index: int | None) -> str:
    return "request body" if index is None else f"messages[{index}]"


def _entry_prefix(index: int | None) -> str:
    return "" if index is None else f"messages[{index}]."


def _reject_send_field(spec: dict[str, Any], field: str, index: int | None) -> None:
    """Raise the InvalidRequest that names a send field of the wrong JSON type."""
    prefix = _entry_prefix(index)
    if field == "delay_seconds":
        optional_int(spec, field, "seconds", prefix)
    elif field == "attributes":
        message_attributes(spec[field], f"{prefix}attributes")
    else:
        optional_string(spec, field, prefix)


def delete_entries(body: dict[str, Any]) -> list[tuple[str, str]]:
    """Read `{"receipt_handles": [...]}` as (entry id, handle) pairs; ids are indexes."""
    reject_unknown_fields(body, {"receipt_handles"}, "request body")
    handles = required_array(body, "receipt_handles", "receipt handles")
    entries: list[tuple[str, str]] = []
    for index, handle in enumerate(handles):
        if not isinstance(handle, str):
            raise InvalidRequest(
                f"receipt_handles[{index}] must be a string, got {json_type(handle)}"
            )
        entries.append((str(index), handle))
    return entries


def visibility_entries(body: dict[str, Any]) -> list[tuple[str, str, int]]:
    """Read `{"entries": [{"receipt_handle", "timeout"}]}`; entry ids are indexes."""
    reject_unknown_fields(body, {"entries"}, "request body")
    specs = required_array(body, "entries", "{receipt_handle, timeout} objects")
    entries: list[tuple[str, str, int]] = []
    for index, spec in enumerate(specs):
        where = f"entries[{index}]"
        if not isinstance(spec, dict):
            raise InvalidRequest(
                f"{where} must be an object with receipt_handle and timeout, "
                f"got {json_type(spec)}"
            )
        reject_unknown_fields(spec, {"receipt_handle", "timeout"}, where)
        handle = required_string(spec, "receipt_handle", f"{where}.")
        timeout_s = required_int(spec, "timeout", "seconds", f"{where}.")
        entries.append((str(index), handle, timeout_s))
    return entries
