"""The native JSON API against the real app, queue service and engine."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from nanoqueue.config import Config
from nanoqueue.http.app import create_app
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine


@pytest.fixture
async def client(aiohttp_client: Any) -> AsyncIterator[TestClient[Any, Any]]:
    engine = ScriptEngine()
    queues = QueueService(engine)
    await queues.start()
    try:
        yield await aiohttp_client(create_app(Config(), engine, queues))
    finally:
        await queues.stop()


async def create(client: TestClient[Any, Any], name: str, **attributes: Any) -> None:
    response = await client.post(
        "/queues", json={"name": name, "attributes": attributes}
    )
    assert response.status == 201, await response.text()


async def send(client: TestClient[Any, Any], name: str, body: str) -> str:
    response = await client.post(f"/queues/{name}/messages", json={"body": body})
    assert response.status == 201, await response.text()
    message_id: str = (await response.json())["id"]
    return message_id


async def receive(
    client: TestClient[Any, Any], name: str, **options: Any
) -> list[dict[str, Any]]:
    response = await client.post(f"/queues/{name}/receive", json=options)
    assert response.status == 200, await response.text()
    messages: list[dict[str, Any]] = (await response.json())["messages"]
    return messages


async def counts(client: TestClient[Any, Any], name: str) -> dict[str, int]:
    response = await client.get(f"/queues/{name}")
    assert response.status == 200, await response.text()
    result: dict[str, int] = (await response.json())["counts"]
    return result


async def error_of(response: Any) -> dict[str, Any]:
    body = await response.json()
    error: dict[str, Any] = body["error"]
    return error


# Queues


async def test_create_queue_returns_201(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/queues", json={"name": "jobs", "attributes": {"visibility_timeout_s": 5}}
    )

    assert response.status == 201
    assert response.headers["Location"] == "/queues/jobs"
    body = await response.json()
    assert body["name"] == "jobs"
    assert body["attributes"]["visibility_timeout_s"] == 5
    assert body["counts"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert isinstance(body["created_at"], int)
    assert body["created_at"] > 1_600_000_000_000


async def test_create_queue_defaults(client: TestClient[Any, Any]) -> None:
    response = await client.post("/queues", json={"name": "jobs"})

    attributes = (await response.json())["attributes"]
    assert attributes["visibility_timeout_s"] == 30
    assert attributes["delay_s"] == 0
    assert attributes["retention_s"] == 345_600
    assert attributes["max_message_bytes"] == 1_048_576
    assert attributes["receive_wait_s"] == 0
    assert attributes["redrive_policy"] is None
    assert attributes["fifo"] is False
    assert "content_based_deduplication" not in attributes


async def test_create_queue_equal_attributes_200(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs", visibility_timeout_s=5)

    response = await client.post(
        "/queues", json={"name": "jobs", "attributes": {"visibility_timeout_s": 5}}
    )

    assert response.status == 200


async def test_create_queue_from_own_attributes(client: TestClient[Any, Any]) -> None:
    first = await client.post("/queues", json={"name": "jobs"})
    attributes = (await first.json())["attributes"]

    again = await client.post(
        "/queues", json={"name": "jobs", "attributes": attributes}
    )

    assert again.status == 200, await again.text()


async def test_create_queue_other_attributes_409(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs", visibility_timeout_s=5)

    response = await client.post(
        "/queues", json={"name": "jobs", "attributes": {"visibility_timeout_s": 6}}
    )

    assert response.status == 409
    assert (await error_of(response))["code"] == "QueueAlreadyExists"


async def test_create_queue_bad_name_400(client: TestClient[Any, Any]) -> None:
    response = await client.post("/queues", json={"name": "no spaces"})

    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "InvalidParameterValue"
    assert "no spaces" in error["message"]


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ({}, ["name"]),
        ({"name": 5}, ["name", "number"]),
        ({"name": "q", "attributes": []}, ["attributes", "array"]),
        (
            {"name": "q", "attributes": {"visibility_timeout_s": "30"}},
            ["visibility_timeout_s", "integer"],
        ),
        ({"name": "q", "attributes": {"fifo": 1}}, ["fifo", "true or false"]),
        (
            {"name": "q", "attributes": {"VisibilityTimeout": 3}},
            ["VisibilityTimeout", "visibility_timeout_s"],
        ),
        ({"name": "q", "attributes": {"colour": "red"}}, ["colour", "retention_s"]),
        ({"name": "q", "colour": "red"}, ["colour", "attributes"]),
        (
            {
                "name": "q",
                "attributes": {
                    "redrive_policy": {"dead_letter_queue": "d", "max_receives": 3}
                },
            },
            ["max_receives", "max_receive_count"],
        ),
        ({"name": "q", "tags": {"team": 1}}, ["tags.team", "string"]),
    ],
)
async def test_create_queue_invalid_request(
    client: TestClient[Any, Any], payload: dict[str, Any], names: list[str]
) -> None:
    response = await client.post("/queues", json=payload)

    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "InvalidRequest"
    for name in names:
        assert name in error["message"]


async def test_create_queue_out_of_bounds(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/queues", json={"name": "q", "attributes": {"visibility_timeout_s": 43201}}
    )

    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "InvalidAttributeValue"
    assert "visibility_timeout_s" in error["message"]
    assert "43201" in error["message"]
    assert "43200" in error["message"]


async def test_create_queue_not_json(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/queues", data=b"{name", headers={"Content-Type": "application/json"}
    )

    assert response.status == 400
    assert (await error_of(response))["code"] == "InvalidRequest"


async def test_list_queues_by_prefix(client: TestClient[Any, Any]) -> None:
    for name in ("orders", "jobs-b", "jobs-a"):
        await create(client, name)

    everything = await client.get("/queues")
    jobs = await client.get("/queues", params={"prefix": "jobs"})

    assert (await everything.json())["queues"] == ["jobs-a", "jobs-b", "orders"]
    assert (await jobs.json())["queues"] == ["jobs-a", "jobs-b"]


async def test_list_queues_unknown_parameter(client: TestClient[Any, Any]) -> None:
    response = await client.get("/queues", params={"perfix": "jobs"})

    assert response.status == 400
    assert "perfix" in (await error_of(response))["message"]


async def test_get_queue_missing_404(client: TestClient[Any, Any]) -> None:
    response = await client.get("/queues/nothing")

    assert response.status == 404
    error = await error_of(response)
    assert error["code"] == "QueueDoesNotExist"
    assert "nothing" in error["message"]


async def test_get_queue_counts(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "a")
    await send(client, "jobs", "b")
    await client.post("/queues/jobs/messages", json={"body": "c", "delay_seconds": 60})
    await receive(client, "jobs")

    assert await counts(client, "jobs") == {"visible": 1, "in_flight": 1, "delayed": 1}


async def test_patch_queue_sets_attributes(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs", delay_s=3)

    response = await client.patch(
        "/queues/jobs", json={"attributes": {"visibility_timeout_s": 90}}
    )

    assert response.status == 200
    attributes = (await response.json())["attributes"]
    assert attributes["visibility_timeout_s"] == 90
    assert attributes["delay_s"] == 3


async def test_patch_queue_needs_attributes(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    response = await client.patch("/queues/jobs", json={})

    assert response.status == 400
    assert "attributes" in (await error_of(response))["message"]


async def test_patch_queue_redrive_policy(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs-dlq")
    await create(client, "jobs")
    policy = {"dead_letter_queue": "jobs-dlq", "max_receive_count": 3}

    response = await client.patch(
        "/queues/jobs", json={"attributes": {"redrive_policy": policy}}
    )

    assert response.status == 200, await response.text()
    assert (await response.json())["attributes"]["redrive_policy"] == policy


async def test_tag_queue_adds_tags(client: TestClient[Any, Any]) -> None:
    await client.post("/queues", json={"name": "jobs", "tags": {"team": "a"}})

    response = await client.post("/queues/jobs/tags", json={"tags": {"env": "dev"}})
    after = await client.get("/queues/jobs")

    assert response.status == 200, await response.text()
    assert (await response.json())["tags"] == {"team": "a", "env": "dev"}
    assert (await after.json())["tags"] == {"team": "a", "env": "dev"}


async def test_untag_queue_removes_tag(client: TestClient[Any, Any]) -> None:
    await client.post(
        "/queues", json={"name": "jobs", "tags": {"team": "a", "env": "dev"}}
    )

    removed = await client.delete("/queues/jobs/tags/team")
    missing = await client.delete("/queues/jobs/tags/absent")
    after = await client.get("/queues/jobs")

    assert removed.status == 204
    assert missing.status == 204
    assert (await after.json())["tags"] == {"env": "dev"}


async def test_tag_queue_invalid_request(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    missing = await client.post("/queues/jobs/tags", json={})
    wrong = await client.post("/queues/jobs/tags", json={"tags": {"env": 1}})

    assert missing.status == 400
    assert "tags" in (await error_of(missing))["message"]
    assert wrong.status == 400
    assert "tags.env" in (await error_of(wrong))["message"]


async def test_delete_queue_then_404(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    deleted = await client.delete("/queues/jobs")
    after = await client.get("/queues/jobs")

    assert deleted.status == 204
    assert after.status == 404


async def test_purge_queue_empties_it(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "a")
    await send(client, "jobs", "b")

    response = await client.post("/queues/jobs/purge")

    assert response.status == 204
    assert await counts(client, "jobs") == {"visible": 0, "in_flight": 0, "delayed": 0}


async def test_purge_queue_missing_404(client: TestClient[Any, Any]) -> None:
    response = await client.post("/queues/nothing/purge")

    assert response.status == 404


# Sending


async def test_send_returns_id_and_md5(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    response = await client.post("/queues/jobs/messages", json={"body": "hello"})

    assert response.status == 201
    body = await response.json()
    assert body["md5_of_body"] == hashlib.md5(b"hello").hexdigest()
    assert isinstance(body["id"], str)
    assert body["id"]
    assert "md5_of_attributes" not in body


async def test_send_attributes_md5(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    attributes = {
        "attribName1": {"data_type": "String", "string_value": "attribValue 1"}
    }

    response = await client.post(
        "/queues/jobs/messages", json={"body": "x", "attributes": attributes}
    )

    assert response.status == 201, await response.text()
    assert (await response.json())[
        "md5_of_attributes"
    ] == "19e27d4e946b072f3f58da80d94fd778"


async def test_send_attributes_round_trip(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    attributes = {
        "text": {"data_type": "String", "string_value": "héllo"},
        "count": {"data_type": "Number.int", "string_value": "42"},
        "blob": {
            "data_type": "Binary",
            "binary_value": base64.b64encode(b"\x00\xff").decode(),
        },
    }
    await client.post(
        "/queues/jobs/messages", json={"body": "x", "attributes": attributes}
    )

    (message,) = await receive(client, "jobs")

    assert message["attributes"] == attributes
    assert isinstance(message["md5_of_attributes"], str)


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ({}, ["body"]),
        ({"body": 7}, ["body", "number"]),
        ({"body": "x", "delay_seconds": "5"}, ["delay_seconds", "integer"]),
        ({"body": "x", "delay_seconds": 1.5}, ["delay_seconds", "integer"]),
        ({"body": "x", "delay_seconds": True}, ["delay_seconds", "boolean true"]),
        ({"body": "x", "attributes": {"a": "b"}}, ["attributes.a", "data_type"]),
        (
            {"body": "x", "attributes": {"a": {"data_type": "String"}}},
            ["attributes.a", "string_value"],
        ),
        (
            {
                "body": "x",
                "attributes": {"a": {"data_type": "Binary", "binary_value": "!!"}},
            },
            ["attributes.a.binary_value", "base64"],
        ),
        ({"body": "x", "delay": 5}, ["delay", "delay_seconds"]),
        ({"body": "x", "entry_id": "a"}, ["entry_id", "request body"]),
        ({"messages": [{"body": "x"}, {"body": 5}]}, ["messages[1].body"]),
        ({"messages": {"body": "x"}}, ["messages", "array"]),
    ],
)
async def test_send_invalid_request(
    client: TestClient[Any, Any], payload: dict[str, Any], names: list[str]
) -> None:
    await create(client, "jobs")

    response = await client.post("/queues/jobs/messages", json=payload)

    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "InvalidRequest"
    for name in names:
        assert name in error["message"]


async def test_send_delay_out_of_bounds(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    response = await client.post(
        "/queues/jobs/messages", json={"body": "x", "delay_seconds": 901}
    )

    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "InvalidParameterValue"
    assert "delay_seconds" in error["message"]
    assert "901" in error["message"]


async def test_send_too_long_400(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs", max_message_bytes=1024)

    response = await client.post("/queues/jobs/messages", json={"body": "x" * 1025})

    assert response.status == 400
    assert (await error_of(response))["code"] == "MessageTooLong"


async def test_send_missing_queue_404(client: TestClient[Any, Any]) -> None:
    response = await client.post("/queues/nothing/messages", json={"body": "x"})

    assert response.status == 404
    assert (await error_of(response))["code"] == "QueueDoesNotExist"


async def test_send_batch_partial_failure(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs", max_message_bytes=1024)
    messages = [{"body": "a"}, {"body": "b" * 1025}, {"body": "c", "entry_id": "third"}]

    response = await client.post("/queues/jobs/messages", json={"messages": messages})

    assert response.status == 200, await response.text()
    first, second, third = (await response.json())["results"]
    assert first["ok"] is True
    assert first["entry_id"] == "0"
    assert first["md5_of_body"] == hashlib.md5(b"a").hexdigest()
    assert second["ok"] is False
    assert second["entry_id"] == "1"
    assert second["error"]["code"] == "MessageTooLong"
    assert third["ok"] is True
    assert third["entry_id"] == "third"
    assert (await counts(client, "jobs"))["visible"] == 2


async def test_send_batch_error_names_field(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    messages = [{"body": "a"}, {"body": "b", "delay_seconds": 901}]

    response = await client.post("/queues/jobs/messages", json={"messages": messages})

    second = (await response.json())["results"][1]
    assert second["error"]["code"] == "InvalidParameterValue"
    assert "delay_seconds" in second["error"]["message"]
    assert "DelaySeconds" not in second["error"]["message"]


async def test_send_batch_too_many(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    messages = [{"body": str(n)} for n in range(11)]

    response = await client.post("/queues/jobs/messages", json={"messages": messages})

    assert response.status == 400
    assert (await error_of(response))["code"] == "TooManyEntriesInBatchRequest"


async def test_send_batch_empty(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    response = await client.post("/queues/jobs/messages", json={"messages": []})

    assert response.status == 400
    assert (await error_of(response))["code"] == "EmptyBatchRequest"


async def test_send_batch_duplicate_entry_ids(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    messages = [{"body": "a", "entry_id": "x"}, {"body": "b", "entry_id": "x"}]

    response = await client.post("/queues/jobs/messages", json={"messages": messages})

    assert response.status == 400
    assert (await error_of(response))["code"] == "BatchEntryIdsNotDistinct"


async def test_send_batch_entry_id_clashes_default(
    client: TestClient[Any, Any],
) -> None:
    await create(client, "jobs")
    messages = [{"body": "a", "entry_id": "1"}, {"body": "b"}]

    response = await client.post("/queues/jobs/messages", json={"messages": messages})

    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "BatchEntryIdsNotDistinct"
    assert "messages[1] has no entry_id" in error["message"]
    assert (await client.get("/queues/jobs")).status == 200
    receive = await client.post("/queues/jobs/receive", json={"max_messages": 10})
    assert (await receive.json())["messages"] == []


async def test_send_body_not_utf8(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    response = await client.post(
        "/queues/jobs/messages",
        data=b'{"body": "\xff"}',
        headers={"Content-Type": "application/json"},
    )

    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "InvalidRequest"
    assert "not valid UTF-8: byte 10 is b'\\xff'" in error["message"]


async def test_send_bad_number_names_value(
    client: TestClient[Any, Any],
) -> None:
    await create(client, "jobs")
    attributes = {"n": {"data_type": "Number", "string_value": "abc"}}

    response = await client.post(
        "/queues/jobs/messages", json={"body": "x", "attributes": attributes}
    )

    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == "InvalidParameterValue"
    assert "the value 'abc' of Number message attribute 'n'" in error["message"]


# Receiving


async def test_receive_returns_message_fields(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    message_id = await send(client, "jobs", "hello")

    (message,) = await receive(client, "jobs")

    assert message["id"] == message_id
    assert message["body"] == "hello"
    assert message["receive_count"] == 1
    assert message["md5_of_body"] == hashlib.md5(b"hello").hexdigest()
    assert message["attributes"] == {}
    assert message["sender_id"] == "000000000000"
    assert "md5_of_attributes" not in message
    assert "group_id" not in message
    assert isinstance(message["receipt_handle"], str)
    assert message["sent_at"] > 1_600_000_000_000
    assert message["first_received_at"] >= message["sent_at"]


async def test_receive_hides_message(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "hello")

    first = await receive(client, "jobs", visibility_timeout=60)
    second = await receive(client, "jobs")

    assert len(first) == 1
    assert second == []


async def test_receive_empty_queue(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    assert await receive(client, "jobs") == []


async def test_receive_max_messages(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    for n in range(5):
        await send(client, "jobs", str(n))

    messages = await receive(client, "jobs", max_messages=3)

    assert len(messages) == 3


async def test_receive_empty_body_means_defaults(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "hello")

    response = await client.post("/queues/jobs/receive")

    assert response.status == 200
    assert len((await response.json())["messages"]) == 1


@pytest.mark.parametrize(
    ("payload", "code", "names"),
    [
        ({"max_messages": "2"}, "InvalidRequest", ["max_messages", "integer"]),
        ({"wait_seconds": True}, "InvalidRequest", ["wait_seconds", "integer"]),
        ({"visibility": 5}, "InvalidRequest", ["visibility", "visibility_timeout"]),
        ({"max_messages": 11}, "InvalidParameterValue", ["max_messages", "11"]),
        ({"max_messages": 0}, "InvalidParameterValue", ["max_messages", "0"]),
        ({"wait_seconds": 21}, "InvalidParameterValue", ["wait_seconds", "21"]),
        (
            {"visibility_timeout": 43201},
            "InvalidParameterValue",
            ["visibility_timeout", "43201"],
        ),
    ],
)
async def test_receive_invalid_request(
    client: TestClient[Any, Any], payload: dict[str, Any], code: str, names: list[str]
) -> None:
    await create(client, "jobs")

    response = await client.post("/queues/jobs/receive", json=payload)

    assert response.status == 400
    error = await error_of(response)
    assert error["code"] == code
    for name in names:
        assert name in error["message"]


async def test_receive_long_poll_gets_sent_message(
    client: TestClient[Any, Any],
) -> None:
    await create(client, "jobs")

    polling = asyncio.create_task(receive(client, "jobs", wait_seconds=10))
    await asyncio.sleep(0.1)
    await send(client, "jobs", "late")
    messages = await asyncio.wait_for(polling, timeout=9)

    assert [m["body"] for m in messages] == ["late"]


async def test_receive_fifo_fields(client: TestClient[Any, Any]) -> None:
    await create(client, "orders.fifo", fifo=True)
    response = await client.post(
        "/queues/orders.fifo/messages",
        json={"body": "x", "group_id": "customer-1", "deduplication_id": "order-1"},
    )
    sent = await response.json()

    (message,) = await receive(client, "orders.fifo")

    assert response.status == 201, sent
    assert isinstance(sent["sequence_number"], str)
    assert message["group_id"] == "customer-1"
    assert message["deduplication_id"] == "order-1"
    assert message["sequence_number"] == sent["sequence_number"]


async def test_send_fifo_deduplicates(client: TestClient[Any, Any]) -> None:
    await create(client, "orders.fifo", fifo=True)
    for _ in range(2):
        await client.post(
            "/queues/orders.fifo/messages",
            json={"body": "x", "group_id": "g", "deduplication_id": "same"},
        )

    assert (await counts(client, "orders.fifo"))["visible"] == 1


async def test_send_fifo_needs_group_id(client: TestClient[Any, Any]) -> None:
    await create(client, "orders.fifo", fifo=True, content_based_deduplication=True)

    response = await client.post("/queues/orders.fifo/messages", json={"body": "x"})

    assert response.status == 400
    assert (await error_of(response))["code"] == "MissingParameter"


# Deleting and changing visibility


async def test_delete_message_204(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "hello")
    (message,) = await receive(client, "jobs")

    response = await client.delete(f"/queues/jobs/messages/{message['receipt_handle']}")

    assert response.status == 204
    assert await counts(client, "jobs") == {"visible": 0, "in_flight": 0, "delayed": 0}


async def test_delete_message_malformed_handle(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    response = await client.delete("/queues/jobs/messages/not-a-handle")

    assert response.status == 400
    assert (await error_of(response))["code"] == "ReceiptHandleIsInvalid"


async def test_delete_message_expired_handle(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "hello")
    (message,) = await receive(client, "jobs")
    handle = message["receipt_handle"]
    made_visible = await client.post(
        f"/queues/jobs/messages/{handle}/visibility", json={"timeout": 0}
    )

    response = await client.delete(f"/queues/jobs/messages/{handle}")

    assert made_visible.status == 204
    assert response.status == 409
    assert (await error_of(response))["code"] == "MessageNotInflight"
    assert (await counts(client, "jobs"))["visible"] == 1


async def test_delete_old_handle_keeps_new_delivery(
    client: TestClient[Any, Any],
) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "hello")
    (first,) = await receive(client, "jobs")
    await client.post(
        f"/queues/jobs/messages/{first['receipt_handle']}/visibility",
        json={"timeout": 0},
    )
    (second,) = await receive(client, "jobs")

    response = await client.delete(f"/queues/jobs/messages/{first['receipt_handle']}")

    assert response.status == 409
    assert second["receive_count"] == 2
    assert (await counts(client, "jobs"))["in_flight"] == 1


async def test_change_visibility_zero_shows_message(
    client: TestClient[Any, Any],
) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "hello")
    (message,) = await receive(client, "jobs", visibility_timeout=300)

    response = await client.post(
        f"/queues/jobs/messages/{message['receipt_handle']}/visibility",
        json={"timeout": 0},
    )
    again = await receive(client, "jobs")

    assert response.status == 204
    assert [m["id"] for m in again] == [message["id"]]


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        ({}, ["timeout"]),
        ({"timeout": "0"}, ["timeout", "integer"]),
        ({"timeout": 43201}, ["timeout", "43201"]),
    ],
)
async def test_change_visibility_invalid_request(
    client: TestClient[Any, Any], payload: dict[str, Any], names: list[str]
) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "hello")
    (message,) = await receive(client, "jobs")

    response = await client.post(
        f"/queues/jobs/messages/{message['receipt_handle']}/visibility", json=payload
    )

    assert response.status == 400
    for name in names:
        assert name in (await error_of(response))["message"]


async def test_delete_batch_partial_failure(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "a")
    await send(client, "jobs", "b")
    messages = await receive(client, "jobs", max_messages=2)
    handles = [m["receipt_handle"] for m in messages] + ["not-a-handle"]

    response = await client.post(
        "/queues/jobs/messages/delete", json={"receipt_handles": handles}
    )

    assert response.status == 200
    results = (await response.json())["results"]
    assert [r["ok"] for r in results] == [True, True, False]
    assert [r["entry_id"] for r in results] == ["0", "1", "2"]
    assert results[2]["error"]["code"] == "ReceiptHandleIsInvalid"
    assert await counts(client, "jobs") == {"visible": 0, "in_flight": 0, "delayed": 0}


async def test_delete_batch_invalid_request(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    response = await client.post(
        "/queues/jobs/messages/delete", json={"receipt_handles": ["a", 5]}
    )

    assert response.status == 400
    assert "receipt_handles[1]" in (await error_of(response))["message"]


async def test_change_visibility_batch(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")
    await send(client, "jobs", "a")
    await send(client, "jobs", "b")
    messages = await receive(client, "jobs", max_messages=2, visibility_timeout=300)
    entries = [{"receipt_handle": m["receipt_handle"], "timeout": 0} for m in messages]
    entries.append({"receipt_handle": "not-a-handle", "timeout": 0})

    response = await client.post(
        "/queues/jobs/messages/visibility", json={"entries": entries}
    )

    assert response.status == 200
    results = (await response.json())["results"]
    assert [r["ok"] for r in results] == [True, True, False]
    assert results[2]["error"]["code"] == "ReceiptHandleIsInvalid"
    assert (await counts(client, "jobs"))["visible"] == 2


async def test_change_visibility_batch_invalid_request(
    client: TestClient[Any, Any],
) -> None:
    await create(client, "jobs")

    response = await client.post(
        "/queues/jobs/messages/visibility",
        json={"entries": [{"receipt_handle": "h", "timeout": "soon"}]},
    )

    assert response.status == 400
    assert "entries[0].timeout" in (await error_of(response))["message"]


# Dead-letter queues


async def test_receive_past_max_moves_to_dlq(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs-dlq")
    policy = {"dead_letter_queue": "jobs-dlq", "max_receive_count": 2}
    await create(client, "jobs", redrive_policy=policy)
    message_id = await send(client, "jobs", "poison")

    deliveries = 0
    for _ in range(3):
        for message in await receive(client, "jobs"):
            deliveries += 1
            await client.post(
                f"/queues/jobs/messages/{message['receipt_handle']}/visibility",
                json={"timeout": 0},
            )
    (dead,) = await receive(client, "jobs-dlq")

    assert deliveries == 2
    assert dead["id"] == message_id
    assert dead["body"] == "poison"


async def dead_letter(client: TestClient[Any, Any], bodies: list[str]) -> None:
    """Create jobs and jobs-dlq, and move messages with `bodies` to jobs-dlq."""
    await create(client, "jobs-dlq")
    policy = {"dead_letter_queue": "jobs-dlq", "max_receive_count": 1}
    await create(client, "jobs", redrive_policy=policy)
    for body in bodies:
        await send(client, "jobs", body)
    for message in await receive(client, "jobs", max_messages=10):
        await client.post(
            f"/queues/jobs/messages/{message['receipt_handle']}/visibility",
            json={"timeout": 0},
        )
    assert await receive(client, "jobs") == []
    assert (await counts(client, "jobs-dlq"))["visible"] == len(bodies)


async def test_dead_letter_sources_listed(client: TestClient[Any, Any]) -> None:
    await dead_letter(client, [])

    response = await client.get("/queues/jobs-dlq/dead-letter-sources")

    assert response.status == 200
    assert (await response.json())["queues"] == ["jobs"]


async def test_move_task_returns_messages(client: TestClient[Any, Any]) -> None:
    await dead_letter(client, ["a", "b"])

    started = await client.post("/queues/jobs-dlq/move-tasks")
    assert started.status == 201, await started.text()
    handle = (await started.json())["task_handle"]

    for _ in range(200):
        listed = await client.get("/queues/jobs-dlq/move-tasks")
        (task,) = (await listed.json())["tasks"]
        if task["status"] != "RUNNING":
            break
        await asyncio.sleep(0.05)
    assert task["task_handle"] == handle
    assert task["status"] == "COMPLETED"
    assert task["source"] == "jobs-dlq"
    assert task["destination"] is None
    assert task["approximate_moved"] == 2
    assert (await counts(client, "jobs"))["visible"] == 2
    assert (await counts(client, "jobs-dlq"))["visible"] == 0


async def test_move_task_cancel(client: TestClient[Any, Any]) -> None:
    await dead_letter(client, [str(n) for n in range(5)])
    started = await client.post(
        "/queues/jobs-dlq/move-tasks", json={"max_per_second": 1}
    )
    handle = (await started.json())["task_handle"]

    cancelled = await client.post(f"/move-tasks/{handle}/cancel")

    assert cancelled.status == 200, await cancelled.text()
    assert 0 <= (await cancelled.json())["approximate_moved"] <= 5


async def test_move_task_needs_dead_letter_queue(client: TestClient[Any, Any]) -> None:
    await create(client, "jobs")

    response = await client.post("/queues/jobs/move-tasks")

    assert response.status == 400
    assert (await error_of(response))["code"] == "InvalidParameterValue"


async def test_move_task_invalid_request(client: TestClient[Any, Any]) -> None:
    await dead_letter(client, [])

    response = await client.post(
        "/queues/jobs-dlq/move-tasks", json={"max_per_second": "fast"}
    )
    listed = await client.get(
        "/queues/jobs-dlq/move-tasks", params={"max_results": "x"}
    )

    assert response.status == 400
    assert "max_per_second" in (await error_of(response))["message"]
    assert listed.status == 400
    assert "max_results" in (await error_of(listed))["message"]


async def test_cancel_unknown_move_task(client: TestClient[Any, Any]) -> None:
    response = await client.post("/move-tasks/not-a-handle/cancel")

    assert response.status == 400
    assert (await error_of(response))["code"] == "InvalidParameterValue"


# The document


async def test_openapi_lists_queue_routes(client: TestClient[Any, Any]) -> None:
    response = await client.get("/openapi.json")
    paths = (await response.json())["paths"]

    for resource in client.app.router.resources():
        info = resource.get_info()
        path = info.get("formatter") or info.get("path")
        if not path.startswith(("/queues", "/move-tasks")):
            continue
        assert path in paths
        for route in resource:
            # aiohttp adds HEAD to every GET route by itself.
            if route.method != "HEAD":
                assert route.method.lower() in paths[path], (route.method, path)
