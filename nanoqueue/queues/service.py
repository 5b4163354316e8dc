"""The queue service: SQS semantics as registered Lua scripts over MemDB."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from nanoqueue.queues import policy as policies
from nanoqueue.queues.errors import (
    BatchRequestTooLong,
    InvalidAttributeName,
    InvalidParameterValue,
    MessageNotInflight,
    OverLimit,
    PurgeQueueInProgress,
    QueueAlreadyExists,
    QueueDoesNotExist,
    QueueError,
    ReceiptHandleIsInvalid,
)
from nanoqueue.queues.md5 import (
    md5_of_attributes,
    md5_of_body,
    md5_of_system_attributes,
)
from nanoqueue.queues.model import (
    FIFO_ONLY_ATTRIBUTES,
    EntryError,
    Message,
    MoveTask,
    QueueAttributes,
    QueueInfo,
    SendEntry,
    SendResult,
    is_valid_queue_name,
    parse_attribute_changes,
    queue_arn,
    sqs_attribute_name,
)
from nanoqueue.queues.move_tasks import MoveTasks
from nanoqueue.queues.records import (
    config_line,
    decode_attributes,
    decode_receipt_handle,
    encode_attributes,
    encode_payload,
    encode_receipt_handle,
    parse_record,
)
from nanoqueue.queues.scripts import QueueScripts
from nanoqueue.queues.validation import check_batch_ids, check_message, check_token
from nanoqueue.queues.waiters import Waiters
from nanoqueue.scripting.engine import ScriptEngine

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
# In-flight messages per queue beyond which SQS receives no more: standard
# queues then raise OverLimit, FIFO queues return nothing.
MAX_IN_FLIGHT = 120_000
# Timers handled per tick script run; more due timers run in further runs.
TICK_LIMIT = 1000
# Maximum sleep of the retry task, which also bounds how late a timer runs
# if the clock jumps.
MAX_TICK_INTERVAL_S = 1.0


@dataclasses.dataclass(slots=True)
class _Queue:
    """The cached state of a queue, used to check requests before scripts run."""

    key: str
    queue_id: int
    name: str
    region: str
    attributes: QueueAttributes
    created_at: int
    last_modified_at: int
    tags: dict[str, str]

    def info_json(self) -> str:
        return orjson.dumps(
            {
                "name": self.name,
                "region": self.region,
                "attributes": self.attributes.to_dict(),
                "created_at": self.created_at,
                "last_modified_at": self.last_modified_at,
                "tags": self.tags,
            }
        ).decode()


class QueueService:
    """Standard and FIFO queues with Amazon SQS semantics.

    Every operation runs as one registered Lua script, so it is atomic,
    rolled back on error and logged durably by the engine. A queue is
    identified by (region, name); `region=None` means the default region.
    `clock` returns Unix seconds and is the only source of time, so tests
    can move it. Metadata changes (create, set attributes, tags, delete) run
    one at a time under a lock, because each reads the info document before
    its script writes it.

    A deleted queue's name can be created again at once; SQS would reject
    that for 60 s with QueueDeletedRecently.
    """

    def __init__(
        self,
        engine: ScriptEngine,
        *,
        default_region: str = "us-east-1",
        account_id: str = "000000000000",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.default_region = default_region
        self.account_id = account_id
        self.clock = clock
        self.scripts = QueueScripts(engine)
        self.waiters = Waiters()
        self._queues: dict[str, _Queue] = {}
        self._metadata_lock = asyncio.Lock()
        self._timer_task: asyncio.Task[None] | None = None
        self._timer_event = asyncio.Event()
        self._next_tick_s = 0.0
        self._stopping = False
        self.move_tasks = MoveTasks(self)
        self.max_in_flight = MAX_IN_FLIGHT

    # Start and stop.

    async def start(self) -> None:
        """Load the queues and start the retry task that runs due timers."""
        await self.scripts.run("init", [])
        self._queues.clear()
        for key, info, queue_id in await self.scripts.run("load_queues", []):
            self._queues[key] = _queue_from_info(key, int(queue_id), info)
        self._stopping = False
        self._timer_task = asyncio.create_task(self._run_timer_loop())
        logger.info("queue service started with %d queues", len(self._queues))

    async def stop(self) -> None:
        """Stop the retry task and the message move tasks, and wake long polls."""
        self._stopping = True
        await self.move_tasks.stop()
        if self._timer_task is not None:
            self._timer_event.set()
            await self._timer_task
            self._timer_task = None
        self.waiters.notify_all()
        logger.info("queue service stopped")

    # Queues.

    def queue_arn(self, name: str, *, region: str | None = None) -> str:
        """Return the ARN of a queue, whether or not it exists."""
        return queue_arn(region or self.default_region, self.account_id, name)

    async def create_queue(
        self,
        name: str,
        attributes: Mapping[str, object] | None = None,
        tags: Mapping[str, str] | None = None,
        *,
        region: str | None = None,
    ) -> tuple[QueueInfo, bool]:
        """Create a queue; return its info and whether it was created now.

        An existing queue is returned as it is when every attribute given
        equals its value, as SQS does; tags are then ignored. Raises
        QueueAlreadyExists when one differs, and InvalidParameterValue,
        InvalidAttributeName or InvalidAttributeValue for a bad name or
        attribute.
        """
        region = region or self.default_region
        if not isinstance(name, str) or not is_valid_queue_name(name):
            raise InvalidParameterValue(
                f"invalid queue name {name!r}; use 1 to 80 letters, digits, hyphens "
                "and underscores, with the suffix .fifo for a FIFO queue"
            )
        given = dict(attributes or {})
        changes = parse_attribute_changes(given)
        is_fifo = name.endswith(".fifo")
        if changes.get("fifo", is_fifo) != is_fifo:
            raise InvalidParameterValue(
                f"queue {name!r}: a FIFO queue's name must end in .fifo and only "
                "a FIFO queue's may; change FifoQueue or the name"
            )
        changes["fifo"] = is_fifo
        self._check_fifo_only(given, is_fifo)
        key = _queue_key(region, name)
        async with self._metadata_lock:
            existing = self._queues.get(key)
            if existing is not None:
                self._check_same_attributes(existing, changes)
                return await self.get_queue(name, region=region), False
            new_attributes = dataclasses.replace(QueueAttributes(), **changes)
            self._check_redrive(region, name, new_attributes)
            now_s = int(self.clock())
            queue = _Queue(
                key,
                0,
                name,
                region,
                new_attributes,
                now_s,
                now_s,
                policies.merge_tags({}, tags or {}),
            )
            created, info, queue_id = await self.scripts.run(
                "create_queue",
                [
                    key,
                    config_line(new_attributes, region),
                    queue.info_json(),
                    "1" if is_fifo else "0",
                ],
            )
            queue = _queue_from_info(key, int(queue_id), info)
            self._queues[key] = queue
        if not created:
            self._check_same_attributes(queue, changes)
            return await self.get_queue(name, region=region), False
        logger.info("created queue %s", key, extra={"queue": key})
        return self._info(queue, 0, 0, 0), True

    def _check_fifo_only(self, given: Mapping[str, object], is_fifo: bool) -> None:
        if is_fifo:
            return
        for key in given:
            if sqs_attribute_name(key) in FIFO_ONLY_ATTRIBUTES:
                raise InvalidAttributeName(
                    f"attribute {sqs_attribute_name(key)} applies to FIFO queues "
                    "only; remove it or name the queue with the suffix .fifo"
                )

    def _check_same_attributes(self, queue: _Queue, changes: Mapping[str, Any]) -> None:
        for field, value in changes.items():
            current = getattr(queue.attributes, field)
            if current != value:
                raise QueueAlreadyExists(
                    f"queue {queue.name} exists already with a different value of "
                    f"{field} ({current!r}, not {value!r}); use another name or "
                    "the same attributes"
                )

    def _check_redrive(
        self, region: str, name: str, attributes: QueueAttributes
    ) -> None:
        redrive = attributes.redrive_policy
        if redrive is None:
            return
        target = self._queues.get(_queue_key(region, redrive.dead_letter_queue))
        if target is None or redrive.dead_letter_queue == name:
            raise InvalidParameterValue(
                f"the dead-letter queue {redrive.dead_letter_queue} of the "
                "RedrivePolicy does not exist; create it first in the same region"
            )
        if target.attributes.fifo != attributes.fifo:
            raise InvalidParameterValue(
                "the dead-letter queue of a FIFO queue must be a FIFO queue, and "
                "that of a standard queue a standard queue"
            )
        allow = target.attributes.redrive_allow_policy
        if allow is None:
            return
        document = orjson.loads(allow)
        permission = document.get("redrivePermission")
        source = queue_arn(region, self.account_id, name)
        if permission == "denyAll" or (
            permission == "byQueue"
            and source not in document.get("sourceQueueArns", [])
        ):
            raise InvalidParameterValue(
                f"the RedriveAllowPolicy of {target.name} does not allow {name} as "
                "a source queue"
            )

    async def get_queue(self, name: str, *, region: str | None = None) -> QueueInfo:
        """Return a queue's attributes, timestamps, tags and approximate counts."""
        key = _queue_key(region or self.default_region, name)
        result = await self.scripts.run("get_queue", [key])
        if result is False:
            raise self._missing(key)
        info, visible, in_flight, delayed, queue_id = result
        queue = self._queues.get(key)
        if queue is None or queue.info_json() != info:
            queue = self._queues[key] = _queue_from_info(key, int(queue_id), info)
        return self._info(queue, visible, in_flight, delayed)

    def _info(
        self, queue: _Queue, visible: int, in_flight: int, delayed: int
    ) -> QueueInfo:
        return QueueInfo(
            name=queue.name,
            region=queue.region,
            attributes=queue.attributes,
            created_at=queue.created_at,
            last_modified_at=queue.last_modified_at,
            visible=max(visible, 0),
            in_flight=max(in_flight, 0),
            delayed=max(delayed, 0),
            tags=dict(queue.tags),
        )

    async def list_queues(
        self, prefix: str = "", *, region: str | None = None
    ) -> list[str]:
        """Return the names of the region's queues that start with `prefix`, sorted."""
        region_prefix = f"{region or self.default_region}/"
        keys = await self.scripts.run("list_queues", [region_prefix + prefix])
        return [key[len(region_prefix) :] for key in keys]

    async def set_attributes(
        self,
        name: str,
        attributes: Mapping[str, object],
        *,
        region: str | None = None,
    ) -> QueueInfo:
        """Change some attributes of a queue; return its new info.

        Raises InvalidAttributeName for FifoQueue (fixed at creation) and for
        FIFO-only attributes on a standard queue.
        """
        region = region or self.default_region
        changes = parse_attribute_changes(attributes)
        async with self._metadata_lock:
            queue = self._require(_queue_key(region, name))
            if "fifo" in changes and changes["fifo"] != queue.attributes.fifo:
                raise InvalidAttributeName(
                    "FifoQueue cannot be changed after a queue is created; create "
                    "a new queue instead"
                )
            self._check_fifo_only(attributes, queue.attributes.fifo)
            new_attributes = dataclasses.replace(queue.attributes, **changes)
            self._check_redrive(region, name, new_attributes)
            updated = dataclasses.replace(
                queue, attributes=new_attributes, last_modified_at=int(self.clock())
            )
            await self._write_info(updated)
        logger.info(
            "changed attributes of queue %s", queue.key, extra={"queue": queue.key}
        )
        return await self.get_queue(name, region=region)

    async def _write_info(self, queue: _Queue) -> None:
        done = await self.scripts.run(
            "set_info",
            [queue.key, config_line(queue.attributes, queue.region), queue.info_json()],
        )
        if not done:
            raise self._missing(queue.key)
        self._queues[queue.key] = queue

    async def delete_queue(self, name: str, *, region: str | None = None) -> None:
        """Delete a queue and all its messages; long polls on it return empty."""
        key = _queue_key(region or self.default_region, name)
        async with self._metadata_lock:
            deleted = await self.scripts.run("delete_queue", [key])
            self._queues.pop(key, None)
        if not deleted:
            raise self._missing(key)
        self.move_tasks.forget_queue(key)
        self.waiters.notify(key, 1 << 30)
        logger.info("deleted queue %s", key, extra={"queue": key})

    async def purge_queue(self, name: str, *, region: str | None = None) -> None:
        """Delete every message of a queue.

        Raises PurgeQueueInProgress within 60 s of the previous purge, as SQS
        does. Deduplication entries of a FIFO queue stay.
        """
        key = _queue_key(region or self.default_region, name)
        result = await self.scripts.run("purge_queue", [key, self._now_ms()])
        if result is False:
            raise self._missing(key)
        purged, last_ms = result
        if not purged:
            raise PurgeQueueInProgress(
                f"queue {name} was purged at {last_ms} ms and can be purged again "
                "60 seconds after that"
            )
        logger.info("purged queue %s", key, extra={"queue": key})

    # Messages.

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
        key = _queue_key(region or self.default_region, name)
        queue = self._require(key)
        check_batch_ids([entry.entry_id for entry in entries])
        attributes = queue.attributes
        results: list[SendResult | EntryError | None] = [None] * len(entries)
        args: list[Any] = [key, self._now_ms(), 0]
        accepted: list[tuple[int, SendResult]] = []
        total_bytes = 0
        receivable = 0
        for index, entry in enumerate(entries):
            try:
                total_bytes += check_message(entry, attributes)
            except QueueError as exc:
                results[index] = EntryError(entry.entry_id, exc.code, exc.message)
                continue
            message_id = str(uuid.uuid4())
            deduplication_id = entry.deduplication_id or ""
            deduplication_key = ""
            if attributes.fifo:
                if not deduplication_id:
                    deduplication_id = hashlib.sha256(entry.body.encode()).hexdigest()
                deduplication_key = deduplication_id
                if attributes.deduplication_scope == "messageGroup":
                    deduplication_key = f"{entry.group_id}\t{deduplication_id}"
            payload = encode_payload(
                message_id,
                deduplication_id,
                encode_attributes(entry.attributes),
                encode_attributes(entry.system_attributes),
                entry.body,
            )
            delay = "" if entry.delay_s is None else entry.delay_s
            args += [payload, delay, entry.group_id or "", deduplication_key]
            if (attributes.delay_s if entry.delay_s is None else entry.delay_s) == 0:
                receivable += 1
            accepted.append(
                (
                    index,
                    SendResult(
                        entry.entry_id,
                        message_id,
                        md5_of_body(entry.body),
                        md5_of_attributes(entry.attributes),
                        md5_of_system_attributes(entry.system_attributes),
                    ),
                )
            )
        if total_bytes > MAX_BATCH_BYTES:
            raise BatchRequestTooLong(
                f"the messages of the batch are {total_bytes} bytes long together; "
                f"the maximum is {MAX_BATCH_BYTES}"
            )
        if accepted:
            args[2] = len(accepted)
            outcomes = await self.scripts.run("send", args)
            if outcomes is False:
                raise self._missing(key)
            for (index, result), (fresh, detail) in zip(accepted, outcomes):
                results[index] = self._sent(result, fresh, detail, attributes.fifo)
            if receivable:
                self.waiters.notify(key, receivable)
            if receivable < len(accepted):
                self._note_timer(self.clock() + attributes.delay_s)
            logger.debug(
                "sent %d messages to %s", len(accepted), key, extra={"queue": key}
            )
        return [result for result in results if result is not None]

    def _sent(
        self, result: SendResult, fresh: bool, detail: Any, fifo: bool
    ) -> SendResult:
        if fresh:
            seq = int(detail)
        else:
            _, seq_text, message_id = str(detail).split(",", 2)
            seq = int(seq_text)
            result = dataclasses.replace(result, message_id=message_id)
        if fifo:
            result = dataclasses.replace(
                result, sequence_number=str(SEQUENCE_NUMBER_BASE + seq)
            )
        return result

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
        key = _queue_key(region or self.default_region, name)
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
                await self.waiters.wait(key, remaining)
            if key not in self._queues:
                raise self._missing(key)

    async def _receive_once(
        self,
        queue: _Queue,
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

    def _message(self, queue: _Queue, record: str) -> Message:
        stored = parse_record(record)
        attributes = decode_attributes(stored.attributes)
        system_attributes = decode_attributes(stored.system_attributes)
        fifo = queue.attributes.fifo
        source = stored.source.partition("/")[2] or None
        return Message(
            message_id=stored.message_id,
            receipt_handle=encode_receipt_handle(
                queue.queue_id, stored.seq, stored.receive_count
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
        self, queue: _Queue, handles: Sequence[str]
    ) -> list[tuple[int, int] | None]:
        result: list[tuple[int, int] | None] = []
        for handle in handles:
            try:
                delivery = decode_receipt_handle(handle)
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
        key = _queue_key(region or self.default_region, name)
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
        key = _queue_key(region or self.default_region, name)
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

    # Dead-letter queues and move tasks.

    async def list_dead_letter_source_queues(
        self, name: str, *, region: str | None = None
    ) -> list[str]:
        """Return the names of queues whose redrive policy targets `name`, sorted."""
        region = region or self.default_region
        key = _queue_key(region, name)
        self._require(key)
        keys = await self.scripts.run("list_sources", [key, f"{region}/"])
        return [source.partition("/")[2] for source in keys]

    async def start_move_task(
        self,
        source: str,
        destination: str | None = None,
        max_per_second: int | None = None,
        *,
        region: str | None = None,
    ) -> str:
        """Start moving a dead-letter queue's messages; return the task handle.

        Without `destination` each message goes back to the queue it was
        dead-lettered from. See `MoveTasks.start` for the errors.
        """
        region = region or self.default_region
        return await self.move_tasks.start(region, source, destination, max_per_second)

    async def list_move_tasks(
        self, source: str, max_results: int = 1, *, region: str | None = None
    ) -> list[MoveTask]:
        """Return the newest move tasks of a source queue, newest first."""
        region = region or self.default_region
        return self.move_tasks.list(region, source, max_results)

    async def cancel_move_task(self, task_handle: str) -> int:
        """Cancel a running move task; return how many messages it moved."""
        return await self.move_tasks.cancel(task_handle)

    # Tags and permissions.

    async def tag_queue(
        self, name: str, tags: Mapping[str, str], *, region: str | None = None
    ) -> None:
        """Add or replace tags of a queue (at most 50 tags in all)."""
        await self._update(
            name, region, lambda queue: {"tags": policies.merge_tags(queue.tags, tags)}
        )

    async def untag_queue(
        self, name: str, keys: Sequence[str], *, region: str | None = None
    ) -> None:
        """Remove tags of a queue by key; keys it lacks are ignored."""
        await self._update(
            name,
            region,
            lambda queue: {
                "tags": {k: v for k, v in queue.tags.items() if k not in set(keys)}
            },
        )

    async def list_tags(
        self, name: str, *, region: str | None = None
    ) -> dict[str, str]:
        """Return the tags of a queue."""
        return (await self.get_queue(name, region=region)).tags

    async def add_permission(
        self,
        name: str,
        label: str,
        account_ids: Sequence[str],
        actions: Sequence[str],
        *,
        region: str | None = None,
    ) -> None:
        """Add an Allow statement to the queue's Policy attribute, labelled `label`."""
        arn = self.queue_arn(name, region=region)
        await self._update(
            name,
            region,
            lambda queue: {
                "attributes": dataclasses.replace(
                    queue.attributes,
                    policy=policies.add_statement(
                        queue.attributes.policy, arn, label, account_ids, actions
                    ),
                )
            },
        )

    async def remove_permission(
        self, name: str, label: str, *, region: str | None = None
    ) -> None:
        """Remove the Policy statement labelled `label`."""
        arn = self.queue_arn(name, region=region)
        await self._update(
            name,
            region,
            lambda queue: {
                "attributes": dataclasses.replace(
                    queue.attributes,
                    policy=policies.remove_statement(
                        queue.attributes.policy, arn, label
                    ),
                )
            },
        )

    async def _update(
        self, name: str, region: str | None, change: Callable[[_Queue], dict[str, Any]]
    ) -> None:
        key = _queue_key(region or self.default_region, name)
        async with self._metadata_lock:
            queue = self._require(key)
            await self._write_info(dataclasses.replace(queue, **change(queue)))

    # Timers.

    async def run_timers(self) -> float | None:
        """Run every timer that is due now; return when the next one is due, in s.

        The retry task calls this; tests that move the clock call it too.
        """
        while True:
            woken, moves, next_due_ms, handled = await self.scripts.run(
                "tick", [self._now_ms(), TICK_LIMIT]
            )
            self._report_moves(moves)
            for key, count in woken:
                self.waiters.notify(key, count)
            if handled < TICK_LIMIT:
                return None if next_due_ms is False else next_due_ms / 1000

    async def _run_timer_loop(self) -> None:
        while not self._stopping:
            try:
                next_due_s = await self.run_timers()
            except Exception:
                logger.exception("running queue timers failed; retrying in 1 s")
                next_due_s = None
            now_s = self.clock()
            sleep_s = MAX_TICK_INTERVAL_S
            if next_due_s is not None:
                sleep_s = min(sleep_s, max(next_due_s - now_s, 0.0))
            self._next_tick_s = now_s + sleep_s
            if self._stopping:
                return
            self._timer_event.clear()
            try:
                async with asyncio.timeout(sleep_s):
                    await self._timer_event.wait()
            except TimeoutError:
                pass

    def _note_timer(self, due_s: float) -> None:
        if due_s < self._next_tick_s:
            self._timer_event.set()

    def _report_moves(self, moves: Sequence[Sequence[str]]) -> None:
        for source, target, message_id in moves:
            logger.warning(
                "moved message %s from queue %s to its dead-letter queue %s",
                message_id,
                source,
                target,
                extra={
                    "queue": source,
                    "dead_letter_queue": target,
                    "message_id": message_id,
                },
            )
        for target in {move[1] for move in moves}:
            self.waiters.notify(target, sum(1 for move in moves if move[1] == target))

    # Helpers.

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _require(self, key: str) -> _Queue:
        queue = self._queues.get(key)
        if queue is None:
            raise self._missing(key)
        return queue

    def _missing(self, key: str) -> QueueDoesNotExist:
        self._queues.pop(key, None)
        region, _, name = key.partition("/")
        return QueueDoesNotExist(
            f"queue {name} does not exist in region {region}; create it first"
        )


def _queue_key(region: str, name: str) -> str:
    return f"{region}/{name}"


def _queue_from_info(key: str, queue_id: int, info: str) -> _Queue:
    data = orjson.loads(info)
    return _Queue(
        key=key,
        queue_id=queue_id,
        name=data["name"],
        region=data["region"],
        attributes=QueueAttributes.from_dict(data["attributes"]),
        created_at=data["created_at"],
        last_modified_at=data["last_modified_at"],
        tags=dict(data["tags"]),
    )


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
