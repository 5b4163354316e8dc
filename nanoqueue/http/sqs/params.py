"""Reading SQS request parameters, with SQS's messages for missing or bad ones.

The JSON protocol sends numbers as numbers and the Query protocol as text,
so every reader accepts both.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from nanoqueue.queues.errors import InvalidParameterValue, MissingParameter

Params = Mapping[str, Any]


def optional_string(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameterValue(
            f"Value {value!r} for parameter {name} is invalid. Reason: must be a string."
        )
    return value


def required_string(params: Params, name: str) -> str:
    value = optional_string(params, name)
    if value is None or value == "":
        raise MissingParameter(f"The request must contain the parameter {name}.")
    return value


def optional_integer(params: Params, name: str, low: int, high: int) -> int | None:
    """Return `name` as an integer from `low` to `high`, or None when absent."""
    value = params.get(name)
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise InvalidParameterValue(
            f"Value {value} for parameter {name} is invalid. "
            f"Reason: must be an integer from {low} to {high}."
        )
    return number


def required_integer(params: Params, name: str, low: int, high: int) -> int:
    number = optional_integer(params, name, low, high)
    if number is None:
        raise MissingParameter(f"The request must contain the parameter {name}.")
    return number


def string_list(params: Params, name: str) -> list[str]:
    """Return `name` as a list of strings; absent means empty."""
    value = params.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidParameterValue(
            f"Value for parameter {name} is invalid. Reason: must be a list of strings."
        )
    return value


def string_map(params: Params, name: str) -> dict[str, str]:
    """Return `name` as a map of strings to strings; absent means empty."""
    value = params.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameterValue(
            f"Value for parameter {name} is invalid. Reason: must be a map of strings."
        )
    result: dict[str, str] = {}
    for key, item in value.items():
        if item is None:
            item = ""
        if not isinstance(item, str):
            raise InvalidParameterValue(
                f"Value for {name}.{key} is invalid. Reason: must be a string."
            )
        result[str(key)] = item
    return result


def object_list(params: Params, name: str) -> list[dict[str, Any]]:
    """Return `name` as a list of parameter objects, such as batch entries."""
    value = params.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidParameterValue(
            f"Value for parameter {name} is invalid. Reason: must be a list of objects."
        )
    return value


def decode_binary(value: object, name: str) -> bytes:
    """Decode a base64 Binary value, as both protocols send it."""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise InvalidParameterValue(
            f"Value for {name} is invalid. Reason: must be base64-encoded binary."
        )
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise InvalidParameterValue(
            f"Value for {name} is invalid. Reason: {exc}; send base64-encoded binary."
        ) from exc
