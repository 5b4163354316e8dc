"""Scripts sent over the MemDB API cannot reach the queue service's structures."""

from __future__ import annotations

import pytest
from queue_helpers import FakeClock, receive_all, send_one

from nanoqueue.errors import ScriptError
from nanoqueue.queues.service import QueueService


async def user_eval(service: QueueService, script: str, *keys: str) -> object:
    return await service.scripts.engine.eval(script, list(keys), [])


async def test_user_structure_beside_queue(service: QueueService) -> None:
    await service.create_queue("jobs")
    await send_one(service, "jobs", "important")

    result = await user_eval(
        service,
        "local created = db.create('queue', KEYS[1]) "
        "return {created, db.call(KEYS[1], 'pop_left')}",
        "q1v",
    )

    assert result == [True]
    (message,) = await receive_all(service, "jobs")
    assert message.body == "important"


async def test_user_script_cannot_see_queue_index(service: QueueService) -> None:
    await service.create_queue("jobs")

    assert await user_eval(service, "return db.exists('Q')") is False
    assert await user_eval(service, "return db.kind('T')") is None


@pytest.mark.parametrize("name", ["~Q", "~T", "~q1v"])
async def test_reserved_prefix_rejected(service: QueueService, name: str) -> None:
    await service.create_queue("jobs")

    with pytest.raises(ScriptError) as caught:
        await user_eval(service, "return db.call(KEYS[1], 'len')", name)

    assert "reserved for the queue service" in caught.value.message


async def test_user_timer_set_leaves_delays(
    service: QueueService, clock: FakeClock
) -> None:
    await service.create_queue("delayed")
    await send_one(service, "delayed", "later", delay_s=1)
    await user_eval(
        service,
        "db.create('sortedset', KEYS[1]) return db.call(KEYS[1], 'add', 'mine', 1)",
        "T",
    )

    clock.advance(2)
    await service.scripts.run("tick", [int(clock() * 1000), 1000])

    (message,) = await receive_all(service, "delayed")
    assert message.body == "later"


async def test_queue_script_text_gains_nothing(service: QueueService) -> None:
    await service.create_queue("jobs")
    engine = service.scripts.engine
    sha = service.scripts.shas["load_queues"]

    reserved = await engine.run(sha, reserved=True)
    with pytest.raises(ScriptError) as caught:
        await engine.run(sha)

    assert [row[0] for row in reserved] == ["us-east-1/jobs"]
    assert "no structure named 'N'" in caught.value.message
