"""Tests of the raw open-loop HTTP generator: response parser, schedule, sockets."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.harness import rawhttp
from benchmarks.harness.http1 import (
    Response,
    ResponseError,
    ResponseParser,
    format_request,
)
from benchmarks.harness.protocols import HttpRequest, NativeProtocol
from benchmarks.harness.rawhttp import OpenLoopSender
from benchmarks.harness.workloads import Recorder

OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Date: Thu, 04 Dec 2026 17:00:00 GMT\r\nContent-Length: 11\r\n\r\n"
    b'{"id":"42"}'
)
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
)


def test_format_request_bytes() -> None:
    request = HttpRequest(
        "POST", "/queues/q/messages", {"Content-Type": "application/json"}, b"{}"
    )
    assert format_request(request, "127.0.0.1:8000") == (
        b"POST /queues/q/messages HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )


def test_format_request_without_body() -> None:
    request = NativeProtocol("q").delete().build("handle")
    assert format_request(request, "h:1") == (
        b"DELETE /queues/q/messages/handle HTTP/1.1\r\nHost: h:1\r\n\r\n"
    )


def test_format_request_rejects_line_break() -> None:
    request = HttpRequest("GET", "/", {"X-Bad": "a\r\nInjected: 1"})
    with pytest.raises(ValueError, match="line break"):
        format_request(request, "h:1")


def test_parser_split_reads() -> None:
    parser = ResponseParser()
    responses = []
    for index in range(len(OK)):
        responses += parser.feed(OK[index : index + 1])
    assert responses == [Response(200, b'{"id":"42"}', True)]


def test_parser_several_in_one_read() -> None:
    parser = ResponseParser()
    first = parser.feed(OK + UNAVAILABLE + OK[:30])
    assert [response.status for response in first] == [200, 503]
    assert first[1].body == b"busy"
    assert parser.feed(OK[30:]) == [Response(200, b'{"id":"42"}', True)]


def test_parser_non_2xx_is_a_response() -> None:
    assert ResponseParser().feed(UNAVAILABLE) == [Response(503, b"busy", True)]


def test_parser_rejects_chunked() -> None:
    with pytest.raises(ResponseError, match="Transfer-Encoding"):
        ResponseParser().feed(CHUNKED)


def test_parser_rejects_missing_length() -> None:
    with pytest.raises(ResponseError, match="without Content-Length"):
        ResponseParser().feed(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nbody")


def test_parser_rejects_bad_status_line() -> None:
    with pytest.raises(ResponseError, match="invalid status line"):
        ResponseParser().feed(b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n")


def test_parser_no_content_without_length() -> None:
    assert ResponseParser().feed(b"HTTP/1.1 204 No Content\r\n\r\n") == [
        Response(204, b"", True)
    ]


def test_parser_connection_close() -> None:
    reply = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    assert ResponseParser().feed(reply) == [Response(200, b"", False)]


class FakeConnection:
    """A connection that records each request sent on it; tests send the responses."""

    def __init__(self) -> None:
        self.planned: float | None = None
        self.reusable = True
        self.sent: list[float] = []

    def send(self, payload: bytes, planned: float) -> None:
        self.planned = planned
        self.sent.append(planned)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_sender(clock: FakeClock, measure_from: float = 0.0) -> OpenLoopSender:
    # 100 requests a second: one due every 10 ms from time 0 to 100 ms.
    sender = OpenLoopSender(b"GET / HTTP/1.1\r\n\r\n", 0.010, Recorder(), clock=clock)
    sender.start(first=0.0, measure_from=measure_from, deadline=0.100)
    return sender


def answer(
    sender: OpenLoopSender, connection: FakeConnection, status: int = 200
) -> None:
    planned, connection.planned = connection.planned, None
    assert planned is not None
    sender.on_response(connection, planned, Response(status, b"x"))  # type: ignore[arg-type]


def test_schedule_counts_from_planned_time() -> None:
    clock = FakeClock()
    sender = make_sender(clock)
    connection = FakeConnection()
    sender.add_connection(connection)  # type: ignore[arg-type]

    assert sender.issue_due(0.0) == pytest.approx(0.010)
    clock.now = 0.025
    assert sender.issue_due(clock.now) == pytest.approx(0.030)
    # The requests due at 10 and 20 ms wait, because the one connection is busy.
    assert list(sender.waiting) == pytest.approx([0.010, 0.020])

    clock.now = 0.050
    answer(sender, connection)
    # The freed connection takes the oldest waiting request at once.
    assert connection.sent == pytest.approx([0.0, 0.010])
    clock.now = 0.051
    answer(sender, connection)

    histogram = sender.recorder.histogram
    assert histogram.total == 2
    assert histogram.max_us == pytest.approx(50_000)
    # The second request left at 50 ms but was planned at 10 ms.
    assert histogram.percentile(50) == pytest.approx(41_000, rel=0.011)
    assert sender.send_lag.max_us == pytest.approx(40_000)


def test_schedule_skips_warmup_requests() -> None:
    clock = FakeClock()
    sender = make_sender(clock, measure_from=0.020)
    connection = FakeConnection()
    sender.add_connection(connection)  # type: ignore[arg-type]
    for step in range(3):
        clock.now = step * 0.010
        sender.issue_due(clock.now)
        answer(sender, connection)
    assert sender.recorder.requests == 1
    assert sender.ok_requests == 1


def test_schedule_counts_non_2xx_as_error() -> None:
    clock = FakeClock()
    sender = make_sender(clock)
    connection = FakeConnection()
    sender.add_connection(connection)  # type: ignore[arg-type]
    sender.issue_due(0.0)
    answer(sender, connection, status=500)
    assert sender.recorder.errors == 1
    assert sender.recorder.error_samples == ["HTTP 500: b'x'"]
    assert sender.ok_requests == 0


def test_schedule_ends_at_deadline() -> None:
    clock = FakeClock()
    sender = make_sender(clock)
    connection = FakeConnection()
    sender.add_connection(connection)  # type: ignore[arg-type]
    for step in range(9):
        clock.now = step * 0.010
        assert sender.issue_due(clock.now) is not None
        answer(sender, connection)
    # The last request is planned at 90 ms, because the next would be at
    # the deadline.
    clock.now = 0.090
    assert sender.issue_due(clock.now) is None
    assert not sender.drained.is_set()
    answer(sender, connection)
    assert sender.drained.is_set()
    assert sender.recorder.requests == 10


def test_give_up_records_unanswered() -> None:
    clock = FakeClock()
    sender = make_sender(clock)
    connection = FakeConnection()
    sender.add_connection(connection)  # type: ignore[arg-type]
    clock.now = 0.015
    sender.issue_due(clock.now)
    clock.now = 1.0
    assert sender.give_up("timed out") == 2
    assert sender.recorder.errors == 2
    assert sender.recorder.histogram.max_us == pytest.approx(1_000_000)
    assert connection.planned is None


async def serve_reply(reply: bytes) -> asyncio.Server:
    """Start a server on 127.0.0.1 that sends `reply` for each request head."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)  # the body "{}" of the test request
                writer.write(reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def drive_against(reply: bytes, connections: int = 2) -> OpenLoopSender:
    """Send 100 requests in 0.2 s to a server that sends `reply`; return the sender."""
    server = await serve_reply(reply)
    port = server.sockets[0].getsockname()[1]
    request = HttpRequest("POST", "/", {}, b"{}")
    sender = OpenLoopSender(
        format_request(request, f"127.0.0.1:{port}"), 1 / 500, Recorder()
    )
    reconnector = rawhttp.Reconnector(sender, "127.0.0.1", port)
    sender.reopen = reconnector
    try:
        for _ in range(connections):
            await rawhttp.open_connection(sender, "127.0.0.1", port)
        now = sender.clock()
        sender.start(first=now, measure_from=now, deadline=now + 0.2)
        await rawhttp.drive(sender)
        reconnector.cancel()
        await rawhttp.close_connections(sender)
    finally:
        server.close()
        await server.wait_closed()
    return sender


async def test_drive_over_sockets() -> None:
    sender = await drive_against(OK)
    assert sender.recorder.requests == 100
    assert sender.recorder.errors == 0
    assert sender.ok_requests == 100


async def test_drive_counts_503_as_errors() -> None:
    sender = await drive_against(UNAVAILABLE)
    assert sender.recorder.requests == 100
    assert sender.recorder.errors == 100
    assert sender.recorder.error_samples[0] == "HTTP 503: b'busy'"


async def test_drive_rejects_chunked_reply() -> None:
    sender = await drive_against(CHUNKED, connections=1)
    assert sender.ok_requests == 0
    assert sender.recorder.errors == sender.recorder.requests
    assert "Transfer-Encoding" in sender.recorder.error_samples[0]
