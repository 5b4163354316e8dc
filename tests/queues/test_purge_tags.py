"""Purge, tags and permissions."""

from __future__ import annotations

import orjson
import pytest
from queue_helpers import FakeClock, receive_all, send_one

from nanoqueue.queues.errors import (
    InvalidParameterValue,
    MissingParameter,
    OverLimit,
    PurgeQueueInProgress,
    QueueDoesNotExist,
)
from nanoqueue.queues.model import SendEntry
from nanoqueue.queues.service import QueueService


async def test_purge_deletes_everything(
    service: QueueService, clock: FakeClock
) -> None:
    await service.create_queue("full")
    await service.send("full", [SendEntry(str(i), "x") for i in range(3)])
    await send_one(service, "full", "later", delay_s=30)
    await service.receive("full")
    await service.purge_queue("full")
    info = await service.get_queue("full")
    assert (info.visible, info.in_flight, info.delayed) == (0, 0, 0)
    clock.advance(60)
    await service.run_timers()
    assert await receive_all(service, "full") == []


async def test_purge_in_progress(service: QueueService, clock: FakeClock) -> None:
    await service.create_queue("full")
    await service.purge_queue("full")
    clock.advance(59)
    with pytest.raises(PurgeQueueInProgress):
        await service.purge_queue("full")
    clock.advance(1)
    await service.purge_queue("full")


async def test_purge_missing_queue(service: QueueService) -> None:
    with pytest.raises(QueueDoesNotExist):
        await service.purge_queue("absent")


async def test_send_after_purge(service: QueueService) -> None:
    await service.create_queue("reused")
    await send_one(service, "reused", "before")
    await service.purge_queue("reused")
    await send_one(service, "reused", "after")
    (message,) = await receive_all(service, "reused")
    assert message.body == "after"


async def test_tags(service: QueueService) -> None:
    await service.create_queue("tagged", tags={"team": "a"})
    await service.tag_queue("tagged", {"env": "prod", "team": "b"})
    assert await service.list_tags("tagged") == {"team": "b", "env": "prod"}
    await service.untag_queue("tagged", ["team", "absent"])
    assert await service.list_tags("tagged") == {"env": "prod"}


async def test_tag_limits(service: QueueService) -> None:
    await service.create_queue("tagged")
    await service.tag_queue("tagged", {f"k{i}": "v" for i in range(50)})
    with pytest.raises(OverLimit):
        await service.tag_queue("tagged", {"one-more": "v"})
    with pytest.raises(InvalidParameterValue):
        await service.tag_queue("tagged", {"aws:reserved": "v"})
    with pytest.raises(InvalidParameterValue):
        await service.tag_queue("tagged", {"k": "v" * 257})
    with pytest.raises(InvalidParameterValue):
        await service.tag_queue("tagged", {"k" * 129: "v"})


async def test_add_permission(service: QueueService) -> None:
    await service.create_queue("shared")
    await service.add_permission("shared", "send", ["111122223333"], ["SendMessage"])
    await service.add_permission(
        "shared", "all", ["111122223333", "444455556666"], ["*"]
    )
    policy = (await service.get_queue("shared")).attributes.policy
    assert policy is not None
    document = orjson.loads(policy)
    assert [s["Sid"] for s in document["Statement"]] == ["send", "all"]
    first = document["Statement"][0]
    assert first["Action"] == "SQS:SendMessage"
    assert first["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert first["Resource"] == "arn:aws:sqs:us-east-1:000000000000:shared"


async def test_add_permission_errors(service: QueueService) -> None:
    await service.create_queue("shared")
    await service.add_permission("shared", "send", ["111122223333"], ["SendMessage"])
    with pytest.raises(InvalidParameterValue):
        await service.add_permission(
            "shared", "send", ["111122223333"], ["SendMessage"]
        )
    with pytest.raises(InvalidParameterValue):
        await service.add_permission("shared", "x", ["123"], ["SendMessage"])
    with pytest.raises(InvalidParameterValue):
        await service.add_permission("shared", "x", ["111122223333"], ["Explode"])
    with pytest.raises(MissingParameter):
        await service.add_permission("shared", "x", [], ["SendMessage"])


async def test_remove_permission(service: QueueService) -> None:
    await service.create_queue("shared")
    await service.add_permission("shared", "a", ["111122223333"], ["SendMessage"])
    await service.add_permission("shared", "b", ["111122223333"], ["ReceiveMessage"])
    await service.remove_permission("shared", "a")
    policy = (await service.get_queue("shared")).attributes.policy
    assert policy is not None
    assert [s["Sid"] for s in orjson.loads(policy)["Statement"]] == ["b"]
    await service.remove_permission("shared", "b")
    assert (await service.get_queue("shared")).attributes.policy is None
    with pytest.raises(InvalidParameterValue):
        await service.remove_permission("shared", "b")
