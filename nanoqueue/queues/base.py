"""State and helpers that the parts of the queue service share."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence

import orjson

from nanoqueue.queues.coalesce import SendCoalescer
from nanoqueue.queues.errors import QueueDoesNotExist
from nanoqueue.queues.model import QueueAttributes
from nanoqueue.queues.scripts import QueueScripts
from nanoqueue.queues.waiters import Waiters

logger = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True)
class QueueState:
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


class ServiceBase:
    """The attributes and helpers that message and queue operations share."""

    default_region: str
    account_id: str
    clock: Callable[[], float]
    scripts: QueueScripts
    sends: SendCoalescer
    waiters: Waiters
    max_in_flight: int
    handle_secret: bytes
    _queues: dict[str, QueueState]
    _timer_event: asyncio.Event
    _next_tick_s: float
    _stopping: bool

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

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _require(self, key: str) -> QueueState:
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


def queue_key(region: str, name: str) -> str:
    return f"{region}/{name}"


def queue_from_info(key: str, queue_id: int, info: str) -> QueueState:
    data = orjson.loads(info)
    return QueueState(
        key=key,
        queue_id=queue_id,
        name=data["name"],
        region=data["region"],
        attributes=QueueAttributes.from_dict(data["attributes"]),
        created_at=data["created_at"],
        last_modified_at=data["last_modified_at"],
        tags=dict(data["tags"]),
    )
