"""Messages across kill -9 and restart of the server on the same data directory."""

from __future__ import annotations

import threading
import time
from typing import Any

from .server import (
    ServerProcess,
    StartServer,
    create_queue,
    poll_until,
    request,
)

RECOVERY_TIMEOUT_S = 20.0


def receive_all(server: ServerProcess, name: str, expected: int) -> dict[str, Any]:
    """Receive until `expected` distinct messages arrived; return them by body."""
    received: dict[str, Any] = {}

    def collect() -> bool:
        reply = request(
            server,
            "POST",
            f"/queues/{name}/receive",
            {"max_messages": 10, "visibility_timeout": 300},
        )
        assert reply.status == 200, reply
        for message in reply.json()["messages"]:
            assert message["body"] not in received, "a message was delivered twice"
            received[message["body"]] = message
        return len(received) >= expected

    poll_until(collect, RECOVERY_TIMEOUT_S, f"{expected} messages from {name}")
    return received


def test_kill_keeps_acknowledged_messages(start_server: StartServer) -> None:
    server = start_server("--log-level", "INFO")
    create_queue(server, "items")
    bodies = [f"item {n}" for n in range(20)]
    for body in bodies:
        reply = request(server, "POST", "/queues/items/messages", {"body": body})
        assert reply.status == 201, reply

    in_flight_reply = request(
        server, "POST", "/queues/items/receive", {"max_messages": 5}
    )
    in_flight = in_flight_reply.json()["messages"]
    assert len(in_flight) == 5
    for message in in_flight[:2]:
        deleted = request(
            server, "DELETE", f"/queues/items/messages/{message['receipt_handle']}"
        )
        assert deleted.status == 204, deleted
    deleted_bodies = {message["body"] for message in in_flight[:2]}
    received_once = {message["body"] for message in in_flight[2:]}
    # The other three stay in flight for 2 s more, so they are hidden at the
    # kill and come back after the restart only by their timeout.
    entries = [
        {"receipt_handle": message["receipt_handle"], "timeout": 2}
        for message in in_flight[2:]
    ]
    changed = request(
        server, "POST", "/queues/items/messages/visibility", {"entries": entries}
    )
    assert [result["ok"] for result in changed.json()["results"]] == [True] * 3

    server.kill()
    restarted = start_server("--log-level", "INFO")

    queues = request(restarted, "GET", "/queues").json()["queues"]
    assert queues == ["items"]
    survivors = receive_all(restarted, "items", expected=len(bodies) - 2)

    assert set(survivors) == set(bodies) - deleted_bodies
    for body, message in survivors.items():
        expected_count = 2 if body in received_once else 1
        assert message["receive_count"] == expected_count, body
    restarted.wait_for_line(r"INFO .*replayed", timeout_s=5)


def test_kill_keeps_in_flight_hidden(start_server: StartServer) -> None:
    server = start_server()
    create_queue(server, "items", visibility_timeout_s=300)
    request(server, "POST", "/queues/items/messages", {"body": "busy"})
    (message,) = request(server, "POST", "/queues/items/receive", {}).json()["messages"]

    server.kill()
    restarted = start_server()

    counts = request(restarted, "GET", "/queues/items").json()["counts"]
    assert counts == {"visible": 0, "in_flight": 1, "delayed": 0}
    changed = request(
        restarted,
        "POST",
        f"/queues/items/messages/{message['receipt_handle']}/visibility",
        {"timeout": 0},
    )
    assert changed.status == 204, changed
    (again,) = receive_all(restarted, "items", expected=1).values()
    assert again["receive_count"] == 2


def test_sigterm_stops_cleanly(start_server: StartServer) -> None:
    server = start_server()
    request(server, "POST", "/queues", {"name": "items"})
    request(server, "POST", "/queues/items/messages", {"body": "kept"})

    code = server.terminate()

    assert code == 0, server.stderr()
    assert "INFO nanoqueue.server: stopped" in server.stderr()
    restarted = start_server()
    (message,) = receive_all(restarted, "items", expected=1).values()
    assert message["body"] == "kept"


def test_sigterm_ends_long_polls(start_server: StartServer) -> None:
    server = start_server("--log-level", "DEBUG")
    request(server, "POST", "/queues", {"name": "idle"})
    replies: list[Any] = []

    def long_poll() -> None:
        body = {"wait_seconds": 20}
        replies.append(request(server, "POST", "/queues/idle/receive", body))

    poller = threading.Thread(target=long_poll)
    poller.start()
    server.wait_for_line("long poll on .*/idle waits")
    started = time.monotonic()
    code = server.terminate()
    poller.join(timeout=20)

    assert code == 0, server.stderr()
    assert time.monotonic() - started < 10
    assert len(replies) == 1
    assert replies[0].status == 200, replies[0]
    assert replies[0].json() == {"messages": []}
