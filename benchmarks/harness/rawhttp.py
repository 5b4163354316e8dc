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
from typing import Any, cast
from urllib.parse import urlsplit

from benchmarks.harness.eventloop import new_event_loop
from benchmarks.harness.histogram import Histogram
from benchmarks.harness.http1 import (
    Response,
    ResponseError,
    ResponseParser,
    format_request,
)
from benchmarks.harness.loadgen import LoadResult, merge, run_processes
from benchmarks.harness.procstat import UsageMonitor
from benchmarks.harness.protocols import HttpRequest
from benchmarks.harness.workloads import ERROR_SAMPLES, Recorder

CONNECT_TIMEOUT_S = 10.0
# How long requests still unanswered at the end of the schedule may take
# before they count as errors.
DRAIN_TIMEOUT_S = 30.0


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
