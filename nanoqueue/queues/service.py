"""The queue service: SQS semantics as registered Lua scripts over MemDB."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from nanoqueue.queues.model import (
    EntryError,
    Message,
    MoveTask,
    QueueInfo,
    SendEntry,
    SendResult,
)
from nanoqueue.scripting.engine import ScriptEngine

logger = logging.getLogger(__name__)

DeleteEntry = tuple[str, str]
VisibilityEntry = tuple[str, str, int]


class QueueService:
    """Standard and FIFO queues with Amazon SQS semantics.

    Every operation runs as one registered Lua script, so it is atomic,
    rolled back on error and logged durably by the engine. A queue is
    identified by (region, name); `region=None` means the default region.
    `clock` returns Unix seconds and is the only source of time, so tests
    can move it.
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

    async def start(self) -> None:
        """Load the queues and start the retry task that runs due timers."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop the retry task and the message move tasks, and wake long polls."""
        raise NotImplementedError

    async def create_queue(
        self,
        name: str,
        attributes: Mapping[str, object] | None = None,
        tags: Mapping[str, str] | None = None,
        *,
        region: str | None = None,
    ) -> tuple[QueueInfo, bool]:
        """Create a queue; return its info and whether it was created now.

        Raises QueueAlreadyExists if the queue exists and an attribute given
        differs from its value, InvalidParameterValue for a bad name.
        """
        raise NotImplementedError

    async def get_queue(self, name: str, *, region: str | None = None) -> QueueInfo:
        """Return a queue's attributes, timestamps, tags and counts."""
        raise NotImplementedError

    async def list_queues(
        self, prefix: str = "", *, region: str | None = None
    ) -> list[str]:
        """Return the names of the region's queues that start with `prefix`, sorted."""
        raise NotImplementedError

    async def set_attributes(
        self,
        name: str,
        attributes: Mapping[str, object],
        *,
        region: str | None = None,
    ) -> QueueInfo:
        """Change some attributes of a queue; return its new info."""
        raise NotImplementedError

    async def delete_queue(self, name: str, *, region: str | None = None) -> None:
        """Delete a queue and all its messages."""
        raise NotImplementedError

    async def purge_queue(self, name: str, *, region: str | None = None) -> None:
        """Delete every message of a queue.

        Raises PurgeQueueInProgress within 60 s of the previous purge.
        """
        raise NotImplementedError

    async def send(
        self,
        name: str,
        entries: Sequence[SendEntry],
        *,
        region: str | None = None,
    ) -> list[SendResult | EntryError]:
        """Send one to 10 messages; return one result or error per entry, in order."""
        raise NotImplementedError

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
        """Receive up to `max_messages` messages, waiting up to `wait_s` for one."""
        raise NotImplementedError

    async def delete_messages(
        self,
        name: str,
        entries: Sequence[DeleteEntry],
        *,
        require_in_flight: bool = False,
        region: str | None = None,
    ) -> list[None | EntryError]:
        """Delete messages by (entry id, receipt handle); return None or an error each."""
        raise NotImplementedError

    async def change_visibility(
        self,
        name: str,
        entries: Sequence[VisibilityEntry],
        *,
        region: str | None = None,
    ) -> list[None | EntryError]:
        """Set the visibility timeout of in-flight messages by receipt handle."""
        raise NotImplementedError

    async def list_dead_letter_source_queues(
        self, name: str, *, region: str | None = None
    ) -> list[str]:
        """Return the names of queues whose redrive policy targets `name`, sorted."""
        raise NotImplementedError

    async def start_move_task(
        self,
        source: str,
        destination: str | None = None,
        max_per_second: int | None = None,
        *,
        region: str | None = None,
    ) -> str:
        """Start moving a dead-letter queue's messages; return the task handle."""
        raise NotImplementedError

    async def list_move_tasks(
        self, source: str, max_results: int = 1, *, region: str | None = None
    ) -> list[MoveTask]:
        """Return the newest move tasks of a source queue, newest first."""
        raise NotImplementedError

    async def cancel_move_task(self, task_handle: str) -> int:
        """Cancel a running move task; return how many messages it moved."""
        raise NotImplementedError

    async def tag_queue(
        self, name: str, tags: Mapping[str, str], *, region: str | None = None
    ) -> None:
        """Add or replace tags of a queue."""
        raise NotImplementedError

    async def untag_queue(
        self, name: str, keys: Sequence[str], *, region: str | None = None
    ) -> None:
        """Remove tags of a queue by key."""
        raise NotImplementedError

    async def list_tags(
        self, name: str, *, region: str | None = None
    ) -> dict[str, str]:
        """Return the tags of a queue."""
        raise NotImplementedError

    async def add_permission(
        self,
        name: str,
        label: str,
        account_ids: Sequence[str],
        actions: Sequence[str],
        *,
        region: str | None = None,
    ) -> None:
        """Add a statement to the queue's Policy attribute, labelled `label`."""
        raise NotImplementedError

    async def remove_permission(
        self, name: str, label: str, *, region: str | None = None
    ) -> None:
        """Remove the Policy statement labelled `label`."""
        raise NotImplementedError

    def queue_arn(self, name: str, *, region: str | None = None) -> str:
        """Return the ARN of a queue, whether or not it exists."""
        raise NotImplementedError
