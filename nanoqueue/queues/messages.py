"""Message operations of the queue service: send, receive, delete, visibility."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Sequence
from typing import Any

from nanoqueue.queues.base import QueueState, ServiceBase, queue_key
from nanoqueue.queues.coalesce import VALUES_PER_MESSAGE
from nanoqueue.queues.errors import (
    BatchRequestTooLong,
    InvalidParameterValue,
    MessageNotInflight,
    OverLimit,
    QueueError,
    ReceiptHandleIsInvalid,
)
from nanoqueue.queues.md5 import (
    md5_of_attributes,
    md5_of_body,
    md5_of_system_attributes,
)
from nanoqueue.queues.model import (
    EntryError,
    Message,
    QueueAttributes,
    SendEntry,
    SendResult,
)
from nanoqueue.queues.records import (
    decode_attributes,
    decode_receipt_handle,
    encode_attributes,
    encode_payload,
    encode_receipt_handle,
    parse_record,
)
from nanoqueue.queues.validation import check_batch_ids, check_message, check_token

logger = logging.getLogger(__name__)

DeleteEntry = tuple[str, str]
VisibilityEntry = tuple[str, str, int]

MAX_RECEIVE_MESSAGES = 10
MAX_VISIBILITY_TIMEOUT_S = 43200
MAX_WAIT_S = 20
# SQS caps the sum of the message sizes of one batch at the size of one
# message.
MAX_BATCH_BYTES = 1_048_576
# FIFO sequence numbers are the per-queue counter plus this offset, so they
# have 20 digits like those of SQS and still increase.
SEQUENCE_NUMBER_BASE = 10**19


class MessageOperations(ServiceBase):
    """Sending, receiving, deleting and changing the visibility of messages."""

    async def send(
        self,
        name: str,
        entries: Sequence[SendEntry],
        *,
        region: str | None = None,
    ) -> list[SendResult | EntryError]:
        """Send one to 10 messages; return one result or error per entry, in order.

        Raises EmptyBatchRequest, TooManyEntriesInBatchRequest,
        InvalidBatchEntryId or BatchEntryIdsNotDistinct for the batch as a
        whole, and BatchRequestTooLong when the messages together pass 1 MiB.
        """
        key = queue_key(region or self.default_region, name)
        queue = self._require(key)
        check_batch_ids([entry.entry_id for entry in entries])
        attributes = queue.attributes
        results: list[SendResult | EntryError] = []
        values: list[Any] = []
        total_bytes = 0
        receivable = 0
        for entry in entries:
            try:
                total_bytes += check_message(entry, attributes)
            except QueueError as exc:
                results.append(EntryError(entry.entry_id, exc.code, exc.message))
                continue
            result, message_values = _prepare_message(entry, attributes)
            values += message_values
            delay_s = attributes.delay_s if entry.delay_s is None else entry.delay_s
            if delay_s == 0:
                receivable += 1
            results.append(result)
        if total_bytes > MAX_BATCH_BYTES:
            raise BatchRequestTooLong(
                f"the messages of the batch are {total_bytes} bytes long together; "
                f"the maximum is {MAX_BATCH_BYTES}"
            )
        if not values:
            return results
        outcomes = await self.sends.send(key, values, total_bytes)
        if outcomes is False:
            raise self._missing(key)
        sent = iter(outcomes)
        for item in results:
            if type(item) is SendResult:
                _complete(item, next(sent), attributes.fifo)
        if receivable:
            self.waiters.notify(key, receivable)
        accepted = len(values) // VALUES_PER_MESSAGE
        if receivable < accepted:
            self._note_timer(self.clock() + attributes.delay_s)
        logger.debug("sent %d messages to %s", accepted, key, extra={"queue": key})
        return results

    async def receive(
        self,
        name: str,
        max_messages: int = 1,
        visibility_timeout_s: int | None = None,
        wait_s: int | None = None,
        attempt_id: str | None = None,
        *,
        region: str | None = None,
    ) -> list[Message]:
        """Receive up to `max_messages` messages, waiting up to `wait_s` for one.

        `wait_s` None means the queue's ReceiveMessageWaitTimeSeconds. A long
        poll returns as soon as a message becomes receivable: on a send, on a
        visibility timeout changed to 0, on a message whose timeout passed.
        `attempt_id` (FIFO queues only) repeated within 5 minutes returns the
        same deliveries while they are in flight. A standard queue with
        `max_in_flight` (120,000, as SQS) messages in flight raises OverLimit,
        and a FIFO queue then returns nothing, as SQS does.
        """
        key = queue_key(region or self.default_region, name)
        queue = self._require(key)
        _check_range("MaxNumberOfMessages", max_messages, 1, MAX_RECEIVE_MESSAGES)
        if visibility_timeout_s is not None:
            _check_range(
                "VisibilityTimeout", visibility_timeout_s, 0, MAX_VISIBILITY_TIMEOUT_S
            )
        if wait_s is None:
            wait_s = queue.attributes.receive_wait_s
        _check_range("WaitTimeSeconds", wait_s, 0, MAX_WAIT_S)
        if attempt_id is not None:
            check_token(attempt_id, "ReceiveRequestAttemptId")
            if not queue.attributes.fifo:
                attempt_id = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            version = self.waiters.version(key)
            messages = await self._receive_once(
                queue, max_messages, visibility_timeout_s, attempt_id
            )
            remaining = deadline - loop.time()
            if messages or remaining <= 0 or self._stopping:
                return messages
            if self.waiters.version(key) == version:
                logger.debug(
                    "long poll on %s waits up to %.1f s",
                    key,
                    remaining,
                    extra={"queue": key},
                )
                await self.waiters.wait(key, remaining)
            if key not in self._queues:
                raise self._missing(key)

    async def _receive_once(
        self,
        queue: QueueState,
        max_messages: int,
        visibility_timeout_s: int | None,
        attempt_id: str | None,
    ) -> list[Message]:
        result = await self.scripts.run(
            "receive",
            [
                queue.key,
                self._now_ms(),
                max_messages,
                "" if visibility_timeout_s is None else visibility_timeout_s,
                attempt_id or "",
                self.max_in_flight,
            ],
        )
        if result is False:
            raise self._missing(queue.key)
        records, moves, at_limit = result
        self._report_moves(moves)
        if at_limit and not queue.attributes.fifo:
            raise OverLimit(
                f"queue {queue.name} has {self.max_in_flight} messages in flight, "
                "the maximum; delete messages or let their visibility time out"
            )
        if records:
            timeout = queue.attributes.visibility_timeout_s
            if visibility_timeout_s is not None:
                timeout = visibility_timeout_s
            self._note_timer(self.clock() + timeout)
        return [self._message(queue, record) for record in records]

    def _message(self, queue: QueueState, record: str) -> Message:
        stored = parse_record(record)
        attributes = decode_attributes(stored.attributes)
        system_attributes = decode_attributes(stored.system_attributes)
        fifo = queue.attributes.fifo
        source = stored.source.partition("/")[2] or None
        return Message(
            message_id=stored.message_id,
            receipt_handle=encode_receipt_handle(
                self.handle_secret, queue.queue_id, stored.seq, stored.receive_count
            ),
            body=stored.body,
            md5_of_body=md5_of_body(stored.body),
            attributes=attributes,
            md5_of_attributes=md5_of_attributes(attributes),
            system_attributes=system_attributes,
            md5_of_system_attributes=md5_of_system_attributes(system_attributes),
            receive_count=stored.receive_count,
            sent_at_ms=stored.sent_ms,
            first_received_at_ms=stored.first_received_ms,
            sender_id=self.account_id,
            group_id=stored.group or None,
            deduplication_id=(stored.deduplication_id or None) if fifo else None,
            sequence_number=str(SEQUENCE_NUMBER_BASE + stored.seq) if fifo else None,
            dead_letter_source=source,
        )

    def _deliveries(
        self, queue: QueueState, handles: Sequence[str]
    ) -> list[tuple[int, int] | None]:
        result: list[tuple[int, int] | None] = []
        for handle in handles:
            try:
                delivery = decode_receipt_handle(self.handle_secret, handle)
            except ReceiptHandleIsInvalid:
                delivery = None
            if delivery is None or delivery.queue_id != queue.queue_id:
                result.append(None)
            else:
                result.append((delivery.seq, delivery.receive_count))
        return result

    async def delete_messages(
        self,
        name: str,
        entries: Sequence[DeleteEntry],
        *,
        require_in_flight: bool = False,
        region: str | None = None,
    ) -> list[None | EntryError]:
        """Delete messages by (entry ID, receipt handle); return None or an error each.

        A handle from an earlier receive of a message received again since
        never deletes the newer delivery. With `require_in_flight` False (the
        SQS rule) the latest handle also deletes a message whose visibility
        timeout passed if no receive took it since, and any other handle of
        the queue succeeds without effect. With True (the native API rule)
        every handle but that of the current in-flight delivery fails with
        MessageNotInflight. A malformed handle, or one of another queue,
        fails with ReceiptHandleIsInvalid.
        """
        key = queue_key(region or self.default_region, name)
        queue = self._require(key)
        check_batch_ids([entry_id for entry_id, _ in entries])
        deliveries = self._deliveries(queue, [handle for _, handle in entries])
        args: list[Any] = [key, "1" if require_in_flight else "0", 0]
        for delivery in deliveries:
            if delivery is not None:
                args += list(delivery)
        args[2] = (len(args) - 3) // 2
        outcomes: list[bool] = []
        if args[2]:
            result = await self.scripts.run("delete_messages", args)
            if result is False:
                raise self._missing(key)
            outcomes, woken = result
            if woken:
                self.waiters.notify(key, woken)
        replies: list[None | EntryError] = []
        done = iter(outcomes)
        for (entry_id, _), delivery in zip(entries, deliveries):
            if delivery is None:
                replies.append(_invalid_handle(entry_id))
            elif next(done):
                replies.append(None)
            else:
                error = MessageNotInflight(
                    "the message of this receipt handle is not in flight: its "
                    "visibility timeout passed, or it was deleted or received again"
                )
                replies.append(EntryError(entry_id, error.code, error.message))
        return replies

    async def change_visibility(
        self,
        name: str,
        entries: Sequence[VisibilityEntry],
        *,
        region: str | None = None,
    ) -> list[None | EntryError]:
        """Set the visibility timeout of in-flight messages by receipt handle.

        Timeouts are 0 to 43200 s and may reach at most 12 hours past the
        receive, as in SQS. 0 makes the message receivable at once. A
        delivery that is not in flight fails with MessageNotInflight.
        """
        key = queue_key(region or self.default_region, name)
        queue = self._require(key)
        check_batch_ids([entry[0] for entry in entries])
        deliveries = self._deliveries(queue, [entry[1] for entry in entries])
        replies: list[None | EntryError] = [None] * len(entries)
        args: list[Any] = [key, self._now_ms(), 0]
        sent: list[int] = []
        for index, ((entry_id, _, timeout_s), delivery) in enumerate(
            zip(entries, deliveries)
        ):
            if delivery is None:
                replies[index] = _invalid_handle(entry_id)
                continue
            if (
                not isinstance(timeout_s, int)
                or not 0 <= timeout_s <= MAX_VISIBILITY_TIMEOUT_S
            ):
                replies[index] = _entry_error(
                    entry_id,
                    InvalidParameterValue(
                        f"invalid VisibilityTimeout {timeout_s!r}; use 0 to "
                        f"{MAX_VISIBILITY_TIMEOUT_S} seconds"
                    ),
                )
                continue
            args += [delivery[0], delivery[1], timeout_s]
            sent.append(index)
        if not sent:
            return replies
        args[2] = len(sent)
        result = await self.scripts.run("change_visibility", args)
        if result is False:
            raise self._missing(key)
        codes, left, woken = result
        for index, code, left_s in zip(sent, codes, left):
            entry_id, _, timeout_s = entries[index]
            if code == 1:
                replies[index] = _entry_error(
                    entry_id,
                    MessageNotInflight(
                        "the message of this receipt handle is not in flight: its "
                        "visibility timeout passed, or it was deleted or received again"
                    ),
                )
            elif code == 2:
                replies[index] = _entry_error(
                    entry_id,
                    InvalidParameterValue(
                        f"VisibilityTimeout {timeout_s} would pass the limit of 12 "
                        f"hours after the receive; use at most {left_s} seconds"
                    ),
                )
            elif timeout_s > 0:
                self._note_timer(self.clock() + timeout_s)
        if woken:
            self.waiters.notify(key, woken)
        return replies


# Version 4 UUID bits: the version nibble and the RFC 4122 variant.
_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID_SET = (0x4 << 76) | (0x2 << 62)


def new_message_id() -> str:
    """Return a random version 4 UUID as text, the form of SQS message ids.

    It draws from `random`, which the OS seeds at start-up, and takes about
    a third of the time of `uuid.uuid4()`, which makes a system call per id.
    Message ids are not secrets: receipt handles carry their own digest.
    """
    digits = "%032x" % (random.getrandbits(128) & _UUID_CLEAR | _UUID_SET)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _prepare_message(
    entry: SendEntry, attributes: QueueAttributes
) -> tuple[SendResult, list[Any]]:
    """Return the result of a checked message and its send-script values.

    The result lacks what only the send script decides: a duplicate's
    message ID and a FIFO sequence number.
    """
    body = entry.body
    message_id = new_message_id()
    deduplication_id = entry.deduplication_id or ""
    deduplication_key = ""
    if attributes.fifo:
        if not deduplication_id:
            deduplication_id = hashlib.sha256(body.encode()).hexdigest()
        deduplication_key = deduplication_id
        if attributes.deduplication_scope == "messageGroup":
            deduplication_key = f"{entry.group_id}\t{deduplication_id}"
    result = SendResult(entry.entry_id, message_id, md5_of_body(body))
    encoded_attributes = encoded_system_attributes = ""
    if entry.attributes:
        encoded_attributes = encode_attributes(entry.attributes)
        result.md5_of_attributes = md5_of_attributes(entry.attributes)
    if entry.system_attributes:
        encoded_system_attributes = encode_attributes(entry.system_attributes)
        result.md5_of_system_attributes = md5_of_system_attributes(
            entry.system_attributes
        )
    payload = encode_payload(
        message_id,
        deduplication_id,
        encoded_attributes,
        encoded_system_attributes,
        body,
    )
    delay = "" if entry.delay_s is None else entry.delay_s
    return result, [payload, delay, entry.group_id or "", deduplication_key]


def _complete(result: SendResult, outcome: int | str, fifo: bool) -> None:
    """Fill in what the send script decided for the message of `result`.

    The script returns the sequence number of a new message and
    "EXPIRES,SEQ,MESSAGE_ID" of the message that a duplicate repeats.
    """
    if type(outcome) is int:
        seq = outcome
    else:
        _, seq_text, result.message_id = str(outcome).split(",", 2)
        seq = int(seq_text)
    if fifo:
        result.sequence_number = str(SEQUENCE_NUMBER_BASE + seq)


def _check_range(parameter: str, value: object, low: int, high: int) -> None:
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise InvalidParameterValue(
            f"invalid {parameter} {value!r}; use an integer from {low} to {high}"
        )


def _entry_error(entry_id: str, error: QueueError) -> EntryError:
    return EntryError(entry_id, error.code, error.message)


def _invalid_handle(entry_id: str) -> EntryError:
    return _entry_error(
        entry_id,
        ReceiptHandleIsInvalid(
            "the receipt handle is not valid for this queue; use the handle of a "
            "message received from it"
        ),
    )
