"""Shortcuts for the queue service tests."""

from __future__ import annotations

from nanoqueue.queues.model import EntryError, Message, SendEntry, SendResult
from nanoqueue.queues.service import QueueService


class FakeClock:
    """A clock in Unix seconds that moves only when a test moves it."""

    def __init__(self, start_s: float = 1_700_000_000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


async def send_one(
    service: QueueService, queue: str, body: str, **fields: object
) -> SendResult:
    """Send one message and return its result, failing the test on an entry error."""
    (result,) = await service.send(queue, [SendEntry("m", body, **fields)])  # type: ignore[arg-type]
    assert isinstance(result, SendResult), result
    return result


async def send_error(service: QueueService, queue: str, entry: SendEntry) -> EntryError:
    """Send one message that must fail; return its entry error."""
    (result,) = await service.send(queue, [entry])
    assert isinstance(result, EntryError), result
    return result


async def receive_all(
    service: QueueService, queue: str, **options: object
) -> list[Message]:
    """Receive up to 10 messages without waiting."""
    return await service.receive(queue, 10, wait_s=0, **options)  # type: ignore[arg-type]


async def delete(
    service: QueueService, queue: str, handle: str, strict: bool = False
) -> EntryError | None:
    """Delete one message by receipt handle; return its entry error or None."""
    (result,) = await service.delete_messages(
        queue, [("d", handle)], require_in_flight=strict
    )
    return result
