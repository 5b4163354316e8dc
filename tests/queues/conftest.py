"""Fixtures: a queue service on a real ScriptEngine and MemDB, with a clock tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from queue_helpers import FakeClock

from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine


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
