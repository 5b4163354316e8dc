"""Message move tasks: moving a dead-letter queue's messages back, as SQS does."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import orjson

from nanoqueue.queues.errors import (
    InvalidParameterValue,
    ResourceNotFoundException,
    UnsupportedOperation,
)
from nanoqueue.queues.model import MoveTask, queue_arn

if TYPE_CHECKING:
    from nanoqueue.queues.service import QueueService

logger = logging.getLogger(__name__)

MAX_MESSAGES_PER_SECOND = 500
# Messages one script run moves when no rate is set: enough to keep the
# overhead small, few enough that other scripts wait under a millisecond.
UNLIMITED_BATCH = 100
MAX_LISTED_TASKS = 10


@dataclass
class _Task:
    report: MoveTask
    source_key: str
    destination_key: str
    runner: asyncio.Task[None] | None = None


class MoveTasks:
    """The message move tasks of a queue service, newest last per source.

    NOTE: tasks live in memory only. After a restart ListMessageMoveTasks no
    longer lists them and a task that was running has stopped, but the
    messages it moved stay moved, because each move is a committed script.
    """

    def __init__(self, service: QueueService) -> None:
        self.service = service
        self._tasks: dict[str, _Task] = {}

    async def start(
        self,
        region: str,
        source: str,
        destination: str | None,
        max_per_second: int | None,
    ) -> str:
        """Start a task and return its handle.

        Raises ResourceNotFoundException when the source or destination queue
        does not exist, InvalidParameterValue when the source is no queue's
        dead-letter queue or the rate is outside 1 to 500, and
        UnsupportedOperation when a task of that source is still running.
        """
        service = self.service
        source_key = f"{region}/{source}"
        if source_key not in service._queues:
            raise ResourceNotFoundException(
                f"the source queue {source} does not exist in region {region}"
            )
        destination_key = ""
        if destination is not None:
            destination_key = f"{region}/{destination}"
            if destination_key not in service._queues:
                raise ResourceNotFoundException(
                    f"the destination queue {destination} does not exist in "
                    f"region {region}"
                )
        if max_per_second is not None and not (
            1 <= max_per_second <= MAX_MESSAGES_PER_SECOND
        ):
            raise InvalidParameterValue(
                f"invalid MaxNumberOfMessagesPerSecond {max_per_second}; use 1 to "
                f"{MAX_MESSAGES_PER_SECOND}"
            )
        if not await service.list_dead_letter_source_queues(source, region=region):
            raise InvalidParameterValue(
                f"queue {source} is no queue's dead-letter queue; a move task needs "
                "a dead-letter queue as its source"
            )
        for task in self._tasks.values():
            if task.source_key == source_key and task.report.status == "RUNNING":
                raise UnsupportedOperation(
                    f"a message move task of queue {source} is running already; "
                    "cancel it or wait until it ends"
                )
        to_move = (await service.get_queue(source, region=region)).visible
        source_arn = queue_arn(region, service.account_id, source)
        handle = base64.urlsafe_b64encode(
            orjson.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source_arn})
        ).decode()
        task = _Task(
            MoveTask(
                task_handle=handle,
                status="RUNNING",
                source_arn=source_arn,
                destination_arn=(
                    None
                    if destination is None
                    else queue_arn(region, service.account_id, destination)
                ),
                max_per_second=max_per_second,
                approximate_moved=0,
                approximate_to_move=to_move,
                failure_reason=None,
                started_at_ms=int(service.clock() * 1000),
            ),
            source_key,
            destination_key,
        )
        self._tasks[handle] = task
        task.runner = asyncio.create_task(self._run(task))
        logger.info(
            "started moving %d messages from queue %s",
            to_move,
            source_key,
            extra={"queue": source_key},
        )
        return handle

    def list(self, region: str, source: str, max_results: int) -> list[MoveTask]:
        """Return up to `max_results` (1 to 10) tasks of a source, newest first."""
        source_key = f"{region}/{source}"
        if source_key not in self.service._queues:
            raise ResourceNotFoundException(
                f"the source queue {source} does not exist in region {region}"
            )
        if not 1 <= max_results <= MAX_LISTED_TASKS:
            raise InvalidParameterValue(
                f"invalid MaxResults {max_results}; use 1 to {MAX_LISTED_TASKS}"
            )
        tasks = [t.report for t in self._tasks.values() if t.source_key == source_key]
        return tasks[::-1][:max_results]

    async def cancel(self, task_handle: str) -> int:
        """Cancel a running task; return how many messages it had moved."""
        task = self._tasks.get(task_handle)
        if task is None:
            _check_handle(task_handle)
            raise ResourceNotFoundException(
                "no message move task has this handle; list the tasks of the "
                "source queue for their handles"
            )
        if task.report.status != "RUNNING":
            raise UnsupportedOperation(
                f"the message move task is {task.report.status}; only a RUNNING "
                "task can be cancelled"
            )
        task.report = replace(task.report, status="CANCELLING")
        await self._halt(task)
        task.report = replace(task.report, status="CANCELLED")
        logger.info(
            "cancelled moving messages from queue %s",
            task.source_key,
            extra={"queue": task.source_key},
        )
        return task.report.approximate_moved

    def forget_queue(self, key: str) -> None:
        """Fail the running tasks of a deleted source queue."""
        for task in self._tasks.values():
            if task.source_key == key and task.report.status == "RUNNING":
                if task.runner is not None:
                    task.runner.cancel()
                task.report = replace(
                    task.report,
                    status="FAILED",
                    failure_reason="the source queue was deleted",
                )

    async def stop(self) -> None:
        """Stop every running task."""
        for task in self._tasks.values():
            await self._halt(task)

    async def _halt(self, task: _Task) -> None:
        runner = task.runner
        if runner is None or runner.done():
            return
        runner.cancel()
        try:
            await runner
        except asyncio.CancelledError:
            pass

    async def _run(self, task: _Task) -> None:
        service = self.service
        rate = task.report.max_per_second
        to_move = task.report.approximate_to_move or 0
        while task.report.approximate_moved < to_move:
            batch = min(
                rate or UNLIMITED_BATCH, to_move - task.report.approximate_moved
            )
            result = await service.scripts.run(
                "move_messages",
                [task.source_key, task.destination_key, batch, service._now_ms()],
            )
            if result is False:
                self._fail(task, "the source queue was deleted")
                return
            moved, targets, failure = result
            task.report = replace(
                task.report, approximate_moved=task.report.approximate_moved + moved
            )
            for target in targets:
                service.waiters.notify(target, moved)
            if failure is not False:
                self._fail(task, str(failure))
                return
            if moved == 0:
                break
            await asyncio.sleep(1.0 if rate else 0)
        task.report = replace(task.report, status="COMPLETED")
        logger.info(
            "moved %d messages from queue %s",
            task.report.approximate_moved,
            task.source_key,
            extra={"queue": task.source_key},
        )

    def _fail(self, task: _Task, reason: str) -> None:
        task.report = replace(task.report, status="FAILED", failure_reason=reason)
        logger.warning(
            "moving messages from queue %s failed: %s",
            task.source_key,
            reason,
            extra={"queue": task.source_key},
        )


def _check_handle(task_handle: str) -> None:
    try:
        document = orjson.loads(base64.urlsafe_b64decode(task_handle))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidParameterValue(
            f"invalid message move task handle {task_handle!r}; use a TaskHandle "
            "that StartMessageMoveTask returned"
        ) from exc
    if not isinstance(document, dict) or "taskId" not in document:
        raise InvalidParameterValue(
            f"invalid message move task handle {task_handle!r}; use a TaskHandle "
            "that StartMessageMoveTask returned"
        )
