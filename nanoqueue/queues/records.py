"""Encodings the queue scripts store: message records, receipt handles, config."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

from nanoqueue.queues.errors import ReceiptHandleIsInvalid
from nanoqueue.queues.model import MessageAttribute, QueueAttributes

# Receipt handles carry a digest keyed with a random secret of the database.
# A mistyped handle is rejected as malformed, and a client without the secret
# cannot forge the handle of another consumer's delivery. The secret is
# stored in MemDB, so handles stay valid across restarts.
_HANDLE_TAG_BYTES = 9


@dataclass(frozen=True, slots=True)
class Delivery:
    """The message and receive a receipt handle names."""

    queue_id: int
    seq: int
    receive_count: int


def encode_receipt_handle(
    secret: bytes, queue_id: int, seq: int, receive_count: int
) -> str:
    """Return a URL-safe receipt handle for one delivery of a message."""
    text = f"{queue_id}:{seq}:{receive_count}".encode()
    tag = hashlib.blake2b(text, key=secret, digest_size=_HANDLE_TAG_BYTES)
    return base64.urlsafe_b64encode(tag.digest() + text).decode().rstrip("=")


def decode_receipt_handle(secret: bytes, handle: str) -> Delivery:
    """Return the delivery a receipt handle names.

    Raises ReceiptHandleIsInvalid if the handle was not made by
    `encode_receipt_handle` with the same secret.
    """
    invalid = ReceiptHandleIsInvalid(
        "the receipt handle is not valid; use the handle of a received message"
    )
    if not isinstance(handle, str) or not 16 <= len(handle) <= 200:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))
    except (binascii.Error, ValueError) as exc:
        raise invalid from exc
    tag, text = raw[:_HANDLE_TAG_BYTES], raw[_HANDLE_TAG_BYTES:]
    expected = hashlib.blake2b(text, key=secret, digest_size=_HANDLE_TAG_BYTES)
    if expected.digest() != tag:
        raise invalid
    queue_id, seq, receive_count = (int(part) for part in text.decode().split(":"))
    return Delivery(queue_id, seq, receive_count)


def config_line(attributes: QueueAttributes, region: str) -> str:
    """Return the configuration line the scripts parse for a queue.

    Fields: visibility timeout s, delay s, retention s, max receive count
    (0 for none), dead-letter queue key, FIFO flag, deduplication scope.
    """
    redrive = attributes.redrive_policy
    max_receives = 0 if redrive is None else redrive.max_receive_count
    dead_letter_key = "" if redrive is None else f"{region}/{redrive.dead_letter_queue}"
    scope = "g" if attributes.deduplication_scope == "messageGroup" else "q"
    return (
        f"{attributes.visibility_timeout_s},{attributes.delay_s},"
        f"{attributes.retention_s},{max_receives},{dead_letter_key},"
        f"{int(attributes.fifo)},{scope}"
    )


def encode_attributes(attributes: Mapping[str, MessageAttribute]) -> str:
    """Return message attributes as compact JSON, or "" when there are none."""
    if not attributes:
        return ""
    rows = []
    for name, attribute in attributes.items():
        if attribute.binary_value is not None:
            value = base64.b64encode(attribute.binary_value).decode()
            rows.append([name, attribute.data_type, value, 1])
        else:
            rows.append([name, attribute.data_type, attribute.string_value or ""])
    return orjson.dumps(rows).decode()


def decode_attributes(text: str) -> dict[str, MessageAttribute]:
    """Return the attributes `encode_attributes` encoded."""
    if not text:
        return {}
    result: dict[str, MessageAttribute] = {}
    for row in orjson.loads(text):
        if len(row) == 4:
            binary = base64.b64decode(row[2])
            result[row[0]] = MessageAttribute(row[1], None, binary)
        else:
            result[row[0]] = MessageAttribute(row[1], row[2], None)
    return result


def encode_payload(
    message_id: str,
    deduplication_id: str,
    attributes: str,
    system_attributes: str,
    body: str,
) -> str:
    """Return the immutable part of a message record.

    The first line is the message ID, which the scripts read; the body comes
    last because only it may contain line breaks.
    """
    return (
        f"{message_id}\n{deduplication_id}\n{attributes}\n{system_attributes}\n{body}"
    )


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message record as the scripts return it."""

    state: str
    seq: int
    receive_count: int
    first_received_ms: int
    last_received_ms: int
    sent_ms: int
    source: str
    group: str
    message_id: str
    deduplication_id: str
    attributes: str
    system_attributes: str
    body: str


def parse_record(record: str) -> StoredMessage:
    """Split a record into its header fields and payload parts."""
    header, _, payload = record.partition("\n")
    state, seq, receives, first, last, sent, source, group = header.split(",", 7)
    message_id, deduplication_id, attributes, system, body = payload.split("\n", 4)
    return StoredMessage(
        state,
        int(seq),
        int(receives),
        int(first),
        int(last),
        int(sent),
        source,
        group,
        message_id,
        deduplication_id,
        attributes,
        system,
        body,
    )
