"""The queue service: SQS semantics as registered Lua scripts over MemDB."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from nanoqueue.queues import policy as policies
from nanoqueue.queues.base import QueueState, queue_from_info, queue_key
from nanoqueue.queues.coalesce import SendCoalescer
from nanoqueue.queues.errors import (
    InvalidAttributeName,
    InvalidParameterValue,
    PurgeQueueInProgress,
    QueueAlreadyExists,
)
from nanoqueue.queues.messages import DeleteEntry, MessageOperations, VisibilityEntry
from nanoqueue.queues.model import (
    FIFO_ONLY_ATTRIBUTES,
    MoveTask,
    QueueAttributes,
    QueueInfo,
    is_valid_queue_name,
    parse_attribute_changes,
    queue_arn,
    sqs_attribute_name,
)
from nanoqueue.queues.move_tasks import MoveTasks
from nanoqueue.queues.records import (
    config_line,
)
from nanoqueue.queues.scripts import QueueScripts
from nanoqueue.queues.waiters import Waiters
from nanoqueue.scripting.engine import ScriptEngine

logger = logging.getLogger(__name__)

__all__ = ["DeleteEntry", "QueueService", "VisibilityEntry"]

# In-flight messages per queue beyond which SQS receives no more: standard
# queues then raise OverLimit, FIFO queues return nothing.
MAX_IN_FLIGHT = 120_000
# Timers handled per tick script run; more due timers run in further runs.
TICK_LIMIT = 1000
# Maximum sleep of the retry task, which also bounds how late a timer runs
# if the clock jumps.
MAX_TICK_INTERVAL_S = 1.0


class QueueService(MessageOperations):
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
        self.sends = SendCoalescer(self.scripts, self._now_ms)
        self.waiters = Waiters()
        self._queues: dict[str, QueueState] = {}
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
        secret = await self.scripts.run("init", [secrets.token_hex(16)])
        self.handle_secret = bytes.fromhex(secret)
        self._queues.clear()
        for key, info, queue_id in await self.scripts.run("load_queues", []):
            self._queues[key] = queue_from_info(key, int(queue_id), info)
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
        await self.sends.wait_idle()
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
        key = queue_key(region, name)
        async with self._metadata_lock:
            existing = self._queues.get(key)
            if existing is not None:
                self._check_same_attributes(existing, changes)
                return await self.get_queue(name, region=region), False
            new_attributes = dataclasses.replace(QueueAttributes(), **changes)
            self._check_redrive(region, name, new_attributes)
            now_s = int(self.clock())
            queue = QueueState(
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
            queue = queue_from_info(key, int(queue_id), info)
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

    def _check_same_attributes(
        self, queue: QueueState, changes: Mapping[str, Any]
    ) -> None:
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
        if redrive.dead_letter_queue == name:
            raise InvalidParameterValue(
                f"queue {name} cannot be its own dead-letter queue; name another "
                "queue in the RedrivePolicy"
            )
        target = self._queues.get(queue_key(region, redrive.dead_letter_queue))
        if target is None:
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
        key = queue_key(region or self.default_region, name)
        result = await self.scripts.run("get_queue", [key])
        if result is False:
            raise self._missing(key)
        info, visible, in_flight, delayed, queue_id = result
        queue = self._queues.get(key)
        if queue is None or queue.info_json() != info:
            queue = self._queues[key] = queue_from_info(key, int(queue_id), info)
        return self._info(queue, visible, in_flight, delayed)

    def _info(
        self, queue: QueueState, visible: int, in_flight: int, delayed: int
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
            queue = self._require(queue_key(region, name))
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

    async def _write_info(self, queue: QueueState) -> None:
        done = await self.scripts.run(
            "set_info",
            [queue.key, config_line(queue.attributes, queue.region), queue.info_json()],
        )
        if not done:
            raise self._missing(queue.key)
        self._queues[queue.key] = queue

    async def delete_queue(self, name: str, *, region: str | None = None) -> None:
        """Delete a queue and all its messages; long polls on it return empty."""
        key = queue_key(region or self.default_region, name)
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
        key = queue_key(region or self.default_region, name)
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

    # Dead-letter queues and move tasks.

    async def list_dead_letter_source_queues(
        self, name: str, *, region: str | None = None
    ) -> list[str]:
        """Return the names of queues whose redrive policy targets `name`, sorted."""
        region = region or self.default_region
        key = queue_key(region, name)
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
        self,
        name: str,
        region: str | None,
        change: Callable[[QueueState], dict[str, Any]],
    ) -> None:
        key = queue_key(region or self.default_region, name)
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
        # A failure that repeats every second is logged when it starts and
        # when it ends, not on each retry.
        failing = False
        while not self._stopping:
            try:
                next_due_s = await self.run_timers()
            except Exception:
                if not failing:
                    logger.exception(
                        "running queue timers failed; retrying each second"
                    )
                failing = True
                next_due_s = None
            else:
                if failing:
                    logger.info("running queue timers works again")
                failing = False
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
