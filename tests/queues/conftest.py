"""Fixtures: a queue service on a real ScriptEngine and MemDB, with a clock tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine


class FakeClock:
    """A clock in Unix seconds that moves only when a test moves it."""

    def __init__(self, start_s: float = 1_700_000_000.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def service(clock: FakeClock) -> AsyncIterator[QueueService]:
    queue_service = QueueService(ScriptEngine(), clock=clock)
    await queue_service.start()
    yield queue_service
    await queue_service.stop()


@pytest.fixture
async def real_service() -> AsyncIterator[QueueService]:
    queue_service = QueueService(ScriptEngine())
    await queue_service.start()
    yield queue_service
    await queue_service.stop()
