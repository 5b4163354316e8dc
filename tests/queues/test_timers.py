"""The retry task's timers: only due ones are touched, idle queues cost nothing."""

from __future__ import annotations

import asyncio
import logging

import pytest
from queue_helpers import FakeClock, send_one

from nanoqueue.queues.service import QueueService


async def _tick(service: QueueService, clock: FakeClock) -> list:
    # The retry task stops first, so that it cannot run the due timers itself.
    await service.stop()
    result: list = await service.scripts.run("tick", [int(clock() * 1000), 1000])
    return result


async def test_tick_skips_timers_not_due(
    service: QueueService, clock: FakeClock
) -> None:
    for i in range(50):
        await service.create_queue(f"idle-{i}", {"VisibilityTimeout": "100"})
        await send_one(service, f"idle-{i}", "x")
        await service.receive(f"idle-{i}")
    await service.create_queue("busy", {"VisibilityTimeout": "10"})
    await send_one(service, "busy", "x")
    await service.receive("busy")
    await service.run_timers()
    clock.advance(10)
    woken, moves, next_due_ms, handled = await _tick(service, clock)
    assert handled == 1
    assert woken == [["us-east-1/busy", 1]]
    assert moves == []
    assert next_due_ms == int((clock() + 90) * 1000)


async def test_tick_reports_no_timer(service: QueueService, clock: FakeClock) -> None:
    await service.create_queue("empty")
    _, _, next_due_ms, handled = await _tick(service, clock)
    assert handled == 0
    assert next_due_ms is False


async def test_retention_sweep_scheduled_once(
    service: QueueService, clock: FakeClock
) -> None:
    await service.create_queue("kept", {"MessageRetentionPeriod": "60"})
    for i in range(5):
        await send_one(service, "kept", f"m{i}")
        clock.advance(1)
    _, _, next_due_ms, _ = await _tick(service, clock)
    assert next_due_ms == int((clock() - 5 + 60) * 1000)
    clock.advance(55)
    _, _, next_due_ms, handled = await _tick(service, clock)
    assert handled == 1
    assert (await service.get_queue("kept")).visible == 4
    assert next_due_ms == int((clock() + 1) * 1000)


async def test_timer_failure_logged_once(
    service: QueueService, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0
    run = service.scripts.run

    async def failing_tick(name: str, args: list) -> object:
        nonlocal calls
        if name == "tick":
            calls += 1
            if calls <= 3:
                raise RuntimeError("tick failed")
        return await run(name, args)

    caplog.set_level(logging.INFO, logger="nanoqueue.queues")
    await service.stop()
    service.scripts.run = failing_tick  # type: ignore[method-assign]
    service._stopping = False
    loop_task = asyncio.create_task(service._run_timer_loop())
    async with asyncio.timeout(10):
        while calls < 4:
            await asyncio.sleep(0.05)
    service._stopping = True
    service._timer_event.set()
    await loop_task
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    recovered = [r for r in caplog.records if "works again" in r.getMessage()]
    assert len(errors) == 1
    assert len(recovered) == 1
