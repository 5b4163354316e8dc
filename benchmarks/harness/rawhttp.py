"""A lean open-loop HTTP generator: one fixed request at a fixed rate.

The aiohttp client spends more CPU per request than the server it drives,
and where both share the cores that CPU shows up in the measured latency.
This generator formats its request once as bytes, keeps one request in
flight on each keep-alive connection and parses only what it needs of each
response: the status line, the headers and a Content-Length body. Requests
are due on a fixed schedule, and each latency counts from the planned send
time, so neither a stalled server nor a wait for a free connection is hidden.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing.connection
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit

from benchmarks.harness.eventloop import new_event_loop
from benchmarks.harness.histogram import Histogram
from benchmarks.harness.loadgen import LoadResult, merge, run_processes
from benchmarks.harness.procstat import UsageMonitor
from benchmarks.harness.protocols import HttpRequest
from benchmarks.harness.workloads import ERROR_SAMPLES, Recorder

MAX_HEAD_BYTES = 64 * 1024
HEAD_CACHE_SIZE = 64
CONNECT_TIMEOUT_S = 10.0
# How long requests still unanswered at the end of the schedule may take
# before they count as errors.
DRAIN_TIMEOUT_S = 30.0


class ResponseError(Exception):
    """A response the parser cannot read: malformed, chunked or of unknown length."""


class Response(NamedTuple):
    status: int
    body: bytes
    keep_alive: bool = True


def format_request(request: HttpRequest, host: str) -> bytes:
    """Return `request` as the bytes of one HTTP/1.1 request to `host` ("host:port").

    Host and Content-Length are added unless the request's headers have them;
    keep-alive is HTTP/1.1's default, so no Connection header is sent.
    """
    for part in (request.method, request.path, *request.headers.items()):
        text = " ".join(part) if isinstance(part, tuple) else part
        if "\r" in text or "\n" in text:
            raise ValueError(f"invalid line break in request line or header {text!r}")
    present = {name.lower() for name in request.headers}
    lines = [f"{request.method} {request.path} HTTP/1.1"]
    if "host" not in present:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    if request.body is not None and "content-length" not in present:
        lines.append(f"Content-Length: {len(request.body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin-1") + (request.body or b"")


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """Return the status, body length and keep-alive of a response head.

    `head` is everything before the blank line. Raises ResponseError on a
    malformed status or header line, an interim (1xx) response, any
    Transfer-Encoding, and a missing or conflicting Content-Length.
    """
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ResponseError(f"invalid status line {lines[0][:100]!r}")
    status = int(code)
    length = -1
    # HTTP/1.1 keeps a connection open by default and HTTP/1.0 closes it,
    # unless a Connection header overrides that.
    keep_alive = version == b"HTTP/1.1"
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ResponseError(f"invalid header line {line[:100]!r}")
        name = name.strip().lower()
        value = value.strip()
        if name == b"content-length":
            if not value.isdigit() or (length >= 0 and int(value) != length):
                raise ResponseError(f"invalid Content-Length {value[:40]!r}")
            length = int(value)
        elif name == b"transfer-encoding":
            raise ResponseError(
                f"HTTP {status} response with Transfer-Encoding {value[:40]!r} "
                "rejected: the raw generator reads only bodies with a Content-Length"
            )
        elif name == b"connection":
            tokens = {token.strip() for token in value.lower().split(b",")}
            if b"close" in tokens:
                keep_alive = False
            elif b"keep-alive" in tokens:
                keep_alive = True
    if status < 200:
        raise ResponseError(f"unexpected interim response HTTP {status}")
    # RFC 9110 gives 204 and 304 responses no body, whatever their headers.
    if status in (204, 304):
        return status, 0, keep_alive
    if length < 0:
        raise ResponseError(
            f"HTTP {status} response without Content-Length rejected: "
            "the raw generator reads only bodies with a Content-Length"
        )
    return status, length, keep_alive


class ResponseParser:
    """An incremental parser of HTTP/1.1 responses with Content-Length bodies."""

    def __init__(self) -> None:
        self._pending = b""
        self._status = 0
        self._keep_alive = True
        # The body length of the response being read, or -1 while its head
        # is incomplete.
        self._body_length = -1
        # Replies to one fixed request differ mostly in their Date header,
        # which changes once a second, so nearly every head was seen before.
        self._heads: dict[bytes, tuple[int, int, bool]] = {}

    def feed(self, data: bytes) -> list[Response]:
        """Add the bytes of one read; return every response they complete.

        The bytes of an unfinished response are kept for the next call.
        Raises ResponseError as `parse_head` does, and when a head grows
        past MAX_HEAD_BYTES without its blank line.
        """
        if self._pending:
            data = self._pending + data
        responses = []
        start = 0
        while True:
            if self._body_length < 0:
                end = data.find(b"\r\n\r\n", start)
                if end < 0:
                    if len(data) - start > MAX_HEAD_BYTES:
                        raise ResponseError(
                            f"response head longer than {MAX_HEAD_BYTES} bytes"
                        )
                    break
                head = self._parse_head(data[start:end])
                self._status, self._body_length, self._keep_alive = head
                start = end + 4
            body_end = start + self._body_length
            if body_end > len(data):
                break
            body = data[start:body_end]
            responses.append(Response(self._status, body, self._keep_alive))
            start = body_end
            self._body_length = -1
        self._pending = data[start:]
        return responses

    def _parse_head(self, head: bytes) -> tuple[int, int, bool]:
        parsed = self._heads.get(head)
        if parsed is None:
            parsed = parse_head(head)
            if len(self._heads) >= HEAD_CACHE_SIZE:
                self._heads.clear()
            self._heads[head] = parsed
        return parsed


class RawConnection(asyncio.Protocol):
    """One keep-alive connection of an `OpenLoopSender`, one request in flight."""

    def __init__(self, sender: OpenLoopSender) -> None:
        self.sender = sender
        self.transport: asyncio.Transport | None = None
        self.parser = ResponseParser()
        # The planned send time of the request in flight, or None when idle.
        self.planned: float | None = None
        self.reusable = True
        self.error = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport has the methods of asyncio.Transport but is
        # not a subclass of it, so this is a cast, not a check.
        self.transport = cast(asyncio.Transport, transport)

    def send(self, payload: bytes, planned: float) -> None:
        assert self.transport is not None and self.planned is None
        self.planned = planned
        self.transport.write(payload)

    def data_received(self, data: bytes) -> None:
        try:
            responses = self.parser.feed(data)
        except ResponseError as exc:
            self._fail(f"invalid response: {exc}")
            return
        for response in responses:
            planned, self.planned = self.planned, None
            if planned is None:
                self._fail(f"HTTP {response.status} response with no request sent")
                return
            if not response.keep_alive:
                self.reusable = False
            self.sender.on_response(self, planned, response)
        if not self.reusable and self.transport is not None:
            self.transport.close()

    def _fail(self, error: str) -> None:
        self.error = error
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        planned, self.planned = self.planned, None
        error = self.error or (
            f"connection lost: {exc}" if exc else "connection closed by the server"
        )
        self.sender.on_lost(self, planned, error)


class OpenLoopSender:
    """Sends one fixed request at a fixed rate over a pool of keep-alive connections.

    Request k is due at `first + k * interval_s` (perf_counter seconds). A
    due request goes out on the connection idle longest. When every
    connection is busy, it waits for the next one to become free. Its latency
    counts from the planned time either way. Only requests planned in
    [measure_from, deadline) are recorded.
    """

    def __init__(
        self,
        payload: bytes,
        interval_s: float,
        recorder: Recorder,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.payload = payload
        self.interval_s = interval_s
        self.recorder = recorder
        self.recorder.recording = True
        self.clock = clock
        self.first = self.measure_from = self.deadline = 0.0
        self.slot = 0
        self.connections: list[RawConnection] = []
        self.idle: deque[RawConnection] = deque()
        self.waiting: deque[float] = deque()
        self.in_flight = 0
        self.scheduling = True
        self.ok_requests = 0
        # Delay from the planned time to the write of each measured request:
        # timer lateness plus any wait for a free connection.
        self.send_lag = Histogram()
        self.drained = asyncio.Event()
        # Called with a lost connection, to open a replacement.
        self.reopen: Callable[[RawConnection], None] | None = None

    def start(self, first: float, measure_from: float, deadline: float) -> None:
        self.first, self.measure_from, self.deadline = first, measure_from, deadline

    def add_connection(self, connection: RawConnection) -> None:
        """Add a new connection to the pool."""
        self.connections.append(connection)
        self._release(connection)

    def _release(self, connection: RawConnection) -> None:
        # A free connection takes the oldest waiting request at once.
        if self.waiting:
            self._send(connection, self.waiting.popleft())
        else:
            self.idle.append(connection)

    def issue_due(self, now: float) -> float | None:
        """Send or queue every request planned up to `now`; return the next planned time.

        Returns None once the next request would be planned at or after the
        deadline, and then sends nothing more.
        """
        while True:
            planned = self.first + self.slot * self.interval_s
            if planned >= self.deadline:
                self.scheduling = False
                self._check_drained()
                return None
            if planned > now:
                return planned
            self.slot += 1
            if self.idle:
                self._send(self.idle.popleft(), planned)
            else:
                self.waiting.append(planned)

    def _send(self, connection: RawConnection, planned: float) -> None:
        self.in_flight += 1
        if self.measure_from <= planned < self.deadline:
            self.send_lag.record((self.clock() - planned) * 1e6)
        connection.send(self.payload, planned)

    def on_response(
        self, connection: RawConnection, planned: float, response: Response
    ) -> None:
        finished = self.clock()
        self.in_flight -= 1
        if 200 <= response.status < 300:
            self._record(planned, finished, True, "")
        else:
            error = f"HTTP {response.status}: {response.body[:200]!r}"
            self._record(planned, finished, False, error)
        if connection.reusable:
            self._release(connection)
        self._check_drained()

    def on_lost(
        self, connection: RawConnection, planned: float | None, error: str
    ) -> None:
        if connection in self.idle:
            self.idle.remove(connection)
        if connection in self.connections:
            self.connections.remove(connection)
        if planned is not None:
            self.in_flight -= 1
            self._record(planned, self.clock(), False, error)
        if self.reopen is not None and (self.scheduling or self.waiting):
            self.reopen(connection)
        self._check_drained()

    def give_up(self, error: str) -> int:
        """Record every request still unanswered as failed now; return how many."""
        now = self.clock()
        unanswered = list(self.waiting)
        self.waiting.clear()
        for connection in self.connections:
            if connection.planned is not None:
                unanswered.append(connection.planned)
                # Closing the connection later must not record it again.
                connection.planned = None
        for planned in unanswered:
            self._record(planned, now, False, error)
        return len(unanswered)

    def _record(self, planned: float, finished: float, ok: bool, error: str) -> None:
        if not self.measure_from <= planned < self.deadline:
            return
        self.recorder.done(planned, ok, error, finished)
        if ok:
            self.ok_requests += 1

    def _check_drained(self) -> None:
        if not self.scheduling and not self.in_flight and not self.waiting:
            self.drained.set()


async def drive(sender: OpenLoopSender) -> None:
    """Run the sender's schedule on loop timers until every request has a response.

    Requests still unanswered DRAIN_TIMEOUT_S after the deadline are
    recorded as failed.
    """
    loop = asyncio.get_running_loop()
    clock = sender.clock

    def tick() -> None:
        next_time = sender.issue_due(clock())
        if next_time is None:
            return
        # uvloop 0.23 rounds a timer's delay to whole milliseconds and runs
        # one under half a millisecond at once (call_later in its loop.pyx),
        # which would spin until the planned time. So each wait is rounded
        # up to whole milliseconds. A request may then leave up to about 1 ms
        # after its planned time, and send_lag measures that delay.
        delay_ms = max(1, math.ceil((next_time - clock()) * 1000))
        loop.call_later(delay_ms / 1000, tick)

    tick()
    timeout_s = max(0.0, sender.deadline - clock()) + DRAIN_TIMEOUT_S
    try:
        await asyncio.wait_for(sender.drained.wait(), timeout_s)
    except TimeoutError:
        sender.give_up(f"no response within {DRAIN_TIMEOUT_S:.0f} s after the run")


async def open_connection(sender: OpenLoopSender, host: str, port: int) -> None:
    """Open one keep-alive connection to host:port and add it to the sender's pool."""
    loop = asyncio.get_running_loop()
    _, connection = await asyncio.wait_for(
        loop.create_connection(lambda: RawConnection(sender), host, port),
        CONNECT_TIMEOUT_S,
    )
    sender.add_connection(connection)


class Reconnector:
    """Opens a replacement for each connection the sender lost, in a task."""

    def __init__(self, sender: OpenLoopSender, host: str, port: int) -> None:
        self.sender = sender
        self.host = host
        self.port = port
        # The loop keeps only a weak reference to a task, so keep one here.
        self.tasks: set[asyncio.Task[None]] = set()
        self.errors: list[str] = []

    def __call__(self, lost: RawConnection) -> None:
        task = asyncio.get_running_loop().create_task(self._replace())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def cancel(self) -> None:
        """Stop opening replacements, at the end of a run."""
        for task in self.tasks:
            task.cancel()

    async def _replace(self) -> None:
        try:
            await open_connection(self.sender, self.host, self.port)
        except (OSError, TimeoutError) as exc:
            if len(self.errors) < ERROR_SAMPLES:
                self.errors.append(f"reconnecting failed: {type(exc).__name__}: {exc}")


async def close_connections(sender: OpenLoopSender) -> None:
    """Close every connection of the sender's pool."""
    for connection in list(sender.connections):
        if connection.transport is not None:
            connection.transport.close()
    # Let the transports run connection_lost before the loop closes.
    await asyncio.sleep(0)


@dataclass(frozen=True)
class RawPlan:
    """A paced run of one fixed request over keep-alive connections."""

    url: str
    request: HttpRequest
    rate_per_s: float
    connections: int
    seconds: float = 10.0
    warmup_s: float = 1.0
    # One process leaves the other core to the server. In alternating runs
    # against nanoqueue at 1,500 sends/s on the 2-core machine described in
    # benchmarks/README.md, one process spent about 75 µs of CPU per request
    # and two about 95 µs. 0 means one per core.
    processes: int = 1
    messages_per_request: int = 1

    @property
    def operations(self) -> None:
        # A paced run always lasts warmup_s + seconds; the progress bar
        # counts seconds.
        return None


@dataclass
class RawResult:
    """The merged figures of a raw run, with the generator's own cost."""

    load: LoadResult
    cpu_s: float
    send_lag: Histogram
    event_loop: str

    @property
    def cpu_us_per_request(self) -> float:
        requests = self.load.requests
        return self.cpu_s / requests * 1e6 if requests else 0.0


def run(
    plan: RawPlan, label: str = "", monitor: UsageMonitor | None = None
) -> RawResult:
    """Run `plan` in worker processes with a progress bar and merge their results.

    The rate is split evenly between the processes, and their schedules are
    offset so that the requests of all of them together stay evenly spaced.
    A `monitor` covers the measured window, as in `loadgen.run`.
    """
    if plan.rate_per_s <= 0:
        raise ValueError(f"rate_per_s must be positive, got {plan.rate_per_s}")
    processes = plan.processes or os.cpu_count() or 1
    processes = max(1, min(processes, plan.connections))
    shares = [
        plan.connections // processes
        + (1 if index < plan.connections % processes else 0)
        for index in range(processes)
    ]
    arguments = [
        (plan, shares[index], plan.rate_per_s / processes, index / plan.rate_per_s)
        for index in range(processes)
    ]
    results = run_processes(plan, _worker_main, arguments, label, monitor)
    load = merge(results, processes)
    send_lag = Histogram()
    for result in results:
        send_lag.merge(Histogram.from_json(result["send_lag"]))
    return RawResult(
        load=load,
        cpu_s=sum(result["cpu_s"] for result in results),
        send_lag=send_lag,
        event_loop=results[0]["event_loop"],
    )


def _worker_main(
    plan: RawPlan,
    connections: int,
    rate_per_s: float,
    offset_s: float,
    counter: Any,
    go: Any,
    pipe: multiprocessing.connection.Connection,
) -> None:
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            result = runner.run(
                _worker(plan, connections, rate_per_s, offset_s, go, pipe)
            )
    except Exception as exc:  # noqa: BLE001 - the parent raises it with this text
        result = {"failure": f"{type(exc).__name__}: {exc}"}
    pipe.send(result)
    pipe.close()


async def _worker(
    plan: RawPlan,
    connections: int,
    rate_per_s: float,
    offset_s: float,
    go: Any,
    pipe: multiprocessing.connection.Connection,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    host, port = _address(plan.url)
    recorder = Recorder()
    sender = OpenLoopSender(
        format_request(plan.request, f"{host}:{port}"),
        1 / rate_per_s,
        recorder,
    )

    for _ in range(connections):
        await open_connection(sender, host, port)
    reconnector = Reconnector(sender, host, port)
    sender.reopen = reconnector
    pipe.send("ready")
    await loop.run_in_executor(None, go.wait)

    first = time.perf_counter() + offset_s
    measure_from = first + plan.warmup_s
    sender.start(first, measure_from, measure_from + plan.seconds)
    cpu_at_start: list[float] = []
    loop.call_later(
        max(0.0, measure_from - time.perf_counter()),
        lambda: cpu_at_start.append(time.process_time()),
    )
    await drive(sender)
    cpu_s = time.process_time() - (cpu_at_start[0] if cpu_at_start else 0.0)
    reconnector.cancel()
    await close_connections(sender)
    return {
        "requests": recorder.requests,
        "messages": sender.ok_requests * plan.messages_per_request,
        "received": 0,
        "errors": recorder.errors,
        "elapsed_s": plan.seconds,
        "histogram": recorder.histogram.to_json(),
        "error_samples": (recorder.error_samples + reconnector.errors)[:10],
        "slow": recorder.slow,
        "cpu_s": cpu_s,
        "send_lag": sender.send_lag.to_json(),
        "event_loop": "uvloop"
        if type(loop).__module__.startswith("uvloop")
        else "asyncio",
    }


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(
            f"the raw generator needs an http://host:port URL, got {url!r}"
        )
    return parts.hostname, parts.port or 80
