"""Producers and consumers against a running server, over the native API."""

from __future__ import annotations

from typing import Any

from .server import (
    ServerProcess,
    StartServer,
    create_queue,
    poll_until,
    request,
)

# Short enough for a fast test, long enough that the second receive comes
# before the message is visible again, even on a busy machine.
VISIBILITY_TIMEOUT_S = 2
RETRY_TIMEOUT_S = 15.0


def counts(server: ServerProcess, name: str) -> dict[str, int]:
    reply = request(server, "GET", f"/queues/{name}")
    assert reply.status == 200, reply
    result: dict[str, int] = reply.json()["counts"]
    return result


def receive(server: ServerProcess, name: str, **options: Any) -> list[dict[str, Any]]:
    reply = request(server, "POST", f"/queues/{name}/receive", options)
    assert reply.status == 200, reply
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


def test_walkthrough_send_receive_delete(start_server: StartServer) -> None:
    server = start_server()

    create_queue(server, "items", visibility_timeout_s=VISIBILITY_TIMEOUT_S)

    sent = request(server, "POST", "/queues/items/messages", {"body": "item 1"})
    assert sent.status == 201, sent
    message_id = sent.json()["id"]

    (first,) = receive(server, "items")
    assert first["id"] == message_id
    assert first["body"] == "item 1"
    assert first["receive_count"] == 1

    assert receive(server, "items") == []
    assert counts(server, "items")["in_flight"] == 1

    # The message comes back by the retry task alone: no receive runs
    # while this waits.
    poll_until(
        lambda: counts(server, "items")["visible"] == 1,
        RETRY_TIMEOUT_S,
        "the retry task to make the message visible again",
    )

    (second,) = receive(server, "items", visibility_timeout=30)
    assert second["id"] == message_id
    assert second["receive_count"] == 2
    assert second["receipt_handle"] != first["receipt_handle"]

    deleted = request(
        server, "DELETE", f"/queues/items/messages/{second['receipt_handle']}"
    )
    assert deleted.status == 204, deleted
    assert counts(server, "items") == {"visible": 0, "in_flight": 0, "delayed": 0}

    expired = request(
        server, "DELETE", f"/queues/items/messages/{first['receipt_handle']}"
    )
    assert expired.status == 409, expired
    assert expired.json()["error"]["code"] == "MessageNotInflight"


def test_expired_handle_keeps_newer_delivery(start_server: StartServer) -> None:
    server = start_server()
    create_queue(server, "items", visibility_timeout_s=VISIBILITY_TIMEOUT_S)
    request(server, "POST", "/queues/items/messages", {"body": "item 1"})
    (first,) = receive(server, "items")
    poll_until(
        lambda: counts(server, "items")["visible"] == 1,
        RETRY_TIMEOUT_S,
        "the message to become visible again",
    )
    (second,) = receive(server, "items", visibility_timeout=30)

    stale = request(
        server, "DELETE", f"/queues/items/messages/{first['receipt_handle']}"
    )

    assert stale.status == 409, stale
    assert stale.json()["error"]["code"] == "MessageNotInflight"
    assert counts(server, "items")["in_flight"] == 1
    assert second["receive_count"] == 2


def test_dead_letter_move_is_logged(start_server: StartServer) -> None:
    server = start_server()
    request(server, "POST", "/queues", {"name": "items-dlq"})
    policy = {"dead_letter_queue": "items-dlq", "max_receive_count": 1}
    created = request(
        server,
        "POST",
        "/queues",
        {"name": "items", "attributes": {"redrive_policy": policy}},
    )
    assert created.status == 201, created
    request(server, "POST", "/queues/items/messages", {"body": "poison"})
    (message,) = receive(server, "items")
    request(
        server,
        "POST",
        f"/queues/items/messages/{message['receipt_handle']}/visibility",
        {"timeout": 0},
    )

    assert receive(server, "items") == []
    (dead,) = poll_until(
        lambda: receive(server, "items-dlq"), RETRY_TIMEOUT_S, "the DLQ message"
    )
    assert dead["id"] == message["id"]
    line = server.wait_for_line(r"WARNING .*dead-letter", timeout_s=5)
    assert "items-dlq" in line
    assert "poison" not in line


def test_openapi_served(start_server: StartServer) -> None:
    server = start_server()

    reply = request(server, "GET", "/openapi.json")

    assert reply.status == 200
    paths = reply.json()["paths"]
    assert "/queues/{name}/messages/{receipt_handle}" in paths
    assert "delete" in paths["/queues/{name}/messages/{receipt_handle}"]
