"""The SQS digests of bodies and message attributes."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import pytest

from nanoqueue.queues.md5 import (
    md5_of_attributes,
    md5_of_body,
    md5_of_system_attributes,
)


@dataclass(frozen=True)
class Attribute:
    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None


def encoded(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def test_md5_of_body_hashes_utf8() -> None:
    assert md5_of_body("hello") == "5d41402abc4b2a76b9719d911017c592"
    assert md5_of_body("héllo ✓") == hashlib.md5("héllo ✓".encode()).hexdigest()


def test_md5_of_attributes_matches_sqs_example() -> None:
    attributes = {"attribName1": Attribute("String", "attribValue 1")}

    assert md5_of_attributes(attributes) == "19e27d4e946b072f3f58da80d94fd778"


def test_md5_of_attributes_none_without_attributes() -> None:
    assert md5_of_attributes({}) is None
    assert md5_of_system_attributes({}) is None


def test_md5_of_attributes_sorts_names() -> None:
    first = {"b": Attribute("String", "2"), "a": Attribute("Number", "1")}
    second = {"a": Attribute("Number", "1"), "b": Attribute("String", "2")}

    assert md5_of_attributes(first) == md5_of_attributes(second)


def test_md5_of_attributes_encodes_every_type() -> None:
    attributes = {
        "bin": Attribute("Binary.png", binary_value=b"\x00\xff"),
        "num": Attribute("Number.float", "1.5"),
        "str": Attribute("String", "ü"),
    }
    expected = hashlib.md5(
        encoded(b"bin")
        + encoded(b"Binary.png")
        + b"\x02"
        + encoded(b"\x00\xff")
        + encoded(b"num")
        + encoded(b"Number.float")
        + b"\x01"
        + encoded(b"1.5")
        + encoded(b"str")
        + encoded(b"String")
        + b"\x01"
        + encoded("ü".encode())
    ).hexdigest()

    assert md5_of_attributes(attributes) == expected


def test_md5_of_system_attributes_uses_same_encoding() -> None:
    trace = {
        "AWSTraceHeader": Attribute(
            "String", "Root=1-5759e988-bd862e3fe1be46a994272793"
        )
    }
    expected = hashlib.md5(
        encoded(b"AWSTraceHeader")
        + encoded(b"String")
        + b"\x01"
        + encoded(b"Root=1-5759e988-bd862e3fe1be46a994272793")
    ).hexdigest()

    assert md5_of_system_attributes(trace) == expected


def test_md5_of_attributes_rejects_missing_value() -> None:
    with pytest.raises(ValueError, match="no string_value"):
        md5_of_attributes({"a": Attribute("String")})
    with pytest.raises(ValueError, match="no binary_value"):
        md5_of_attributes({"a": Attribute("Binary")})
