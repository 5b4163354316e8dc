"""Operations the Python load generator runs: aiohttp for HTTP, redis-py for Redis.

A workload is built in each worker process from a picklable `WorkloadSpec`.
Its `op` coroutine runs one operation (one or two requests), records the
latency of each request and returns how many messages it moved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from benchmarks.harness.histogram import Histogram
from benchmarks.harness.protocols import (
    HttpRequest,
    NativeProtocol,
    Protocol,
    SqsProtocol,
)

REDIS_LUA = Path(__file__).with_name("lua")
ERROR_SAMPLES = 5
SLOW_US = 20_000
SLOW_SAMPLES = 2000


@dataclass(frozen=True)
class WorkloadSpec:
    """A workload and its parameters, sent to each worker process."""

    kind: str  # "http" or "redis"
    action: str  # "send", "cycle", "longpoll", "produce", "consume", "eval"
    url: str = ""
    protocol: str = ""  # "native" or "sqs"
    queue: str = "bench"
    queue_url: str = ""
    body_size: int = 100
    batch: int = 1
    wait_s: int = 20
    request: HttpRequest | None = None  # a fixed request overrides action "send"


@dataclass
class Recorder:
    """Request counts and latencies of one worker process."""

    histogram: Histogram = field(default_factory=Histogram)
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    recording: bool = False
    scheduled_at: float | None = None
    # Requests slower than SLOW_US, as (Unix time at completion, latency in
    # µs), so that a stall can be matched to what the server did then.
    slow: list[tuple[float, float]] = field(default_factory=list)

    def start_time(self) -> float:
        # In an open-loop run the latency counts from the planned send time,
        # so a request delayed by a slow server is not hidden.
        scheduled, self.scheduled_at = self.scheduled_at, None
        return scheduled if scheduled is not None else time.perf_counter()

    def done(
        self, started: float, ok: bool, error: str = "", finished: float | None = None
    ) -> None:
        """Record one request from `started` to `finished` (now if None), perf_counter seconds."""
        if not self.recording:
            return
        self.requests += 1
        if finished is None:
            finished = time.perf_counter()
        latency_us = (finished - started) * 1e6
        self.histogram.record(latency_us)
        if latency_us > SLOW_US and len(self.slow) < SLOW_SAMPLES:
            self.slow.append((time.time(), latency_us))
        if not ok:
            self.errors += 1
            if len(self.error_samples) < ERROR_SAMPLES:
                self.error_samples.append(error)


class HttpWorkload:
    """Queue operations over nanoqueue's native API or SQS JSON, via aiohttp."""

    def __init__(
        self, spec: WorkloadSpec, recorder: Recorder, connections: int
    ) -> None:
        self.spec = spec
        self.recorder = recorder
        self.connections = connections
        self.protocol: Protocol = (
            NativeProtocol(spec.queue)
            if spec.protocol == "native"
            else SqsProtocol(spec.queue_url)
        )
        bodies = [_body(spec.body_size, index) for index in range(max(1, spec.batch))]
        if spec.request is not None:
            self.send_request = spec.request
        elif spec.batch > 1:
            self.send_request = self.protocol.send_batch(bodies)
        else:
            self.send_request = self.protocol.send(bodies[0])
        self.receive_request = self.protocol.receive(
            max_messages=max(1, spec.batch),
            wait_s=spec.wait_s if spec.action == "longpoll" else 0,
        )
        self.delete_template = self.protocol.delete()
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        timeout = aiohttp.ClientTimeout(total=60)
        self.session = aiohttp.ClientSession(
            self.spec.url,
            connector=connector,
            timeout=timeout,
            skip_auto_headers=["User-Agent"],
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def call(self, request: HttpRequest) -> bytes | None:
        assert self.session is not None
        started = self.recorder.start_time()
        try:
            async with self.session.request(
                request.method, request.path, data=request.body, headers=request.headers
            ) as response:
                payload = await response.read()
                ok = response.status < 300
                self.recorder.done(
                    started, ok, f"HTTP {response.status}: {payload[:200]!r}"
                )
                return payload if ok else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.recorder.done(started, False, f"{type(exc).__name__}: {exc}")
            return None

    async def op(self) -> int:
        action = self.spec.action
        if action in ("send", "produce"):
            payload = await self.call(self.send_request)
            return 0 if payload is None else max(1, self.spec.batch)
        return await self._receive_and_delete()

    async def _receive_and_delete(self) -> int:
        payload = await self.call(self.receive_request)
        if not payload:
            return 0
        messages = orjson.loads(payload).get(self.protocol.messages_key) or []
        deleted = 0
        for message in messages:
            request = self.delete_template.build(message[self.protocol.handle_key])
            if await self.call(request) is not None:
                deleted += 1
        return deleted


class RedisWorkload:
    """The visibility-timeout queue of lua/redis_*.lua, via redis-py's asyncio client."""

    def __init__(
        self, spec: WorkloadSpec, recorder: Recorder, connections: int
    ) -> None:
        self.spec = spec
        self.recorder = recorder
        self.connections = connections
        self.bodies = [
            _body(spec.body_size, index) for index in range(max(1, spec.batch))
        ]
        self.client: Any = None
        self.scripts: dict[str, Any] = {}
        self.keys = [
            f"{spec.queue}:{part}" for part in ("ready", "inflight", "bodies", "seq")
        ]
        self.sequence = 0
        self.prefix = f"{id(self):x}-{time.monotonic_ns():x}"

    async def open(self) -> None:
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(
            self.spec.url, max_connections=self.connections + 4
        )
        for name in ("send", "receive", "delete", "incr"):
            source = (REDIS_LUA / f"redis_{name}.lua").read_text()
            self.scripts[name] = self.client.register_script(source)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    async def call(self, name: str, args: list[Any]) -> Any:
        import redis

        started = self.recorder.start_time()
        try:
            result = await self.scripts[name](keys=self.keys, args=args)
        except redis.RedisError as exc:
            self.recorder.done(started, False, f"{type(exc).__name__}: {exc}")
            return None
        self.recorder.done(started, True)
        return result

    async def op(self) -> int:
        if self.spec.action == "eval":
            return 0 if await self.call("incr", []) is None else 1
        if self.spec.action in ("send", "produce"):
            args: list[Any] = []
            for body in self.bodies:
                self.sequence += 1
                args += [f"{self.prefix}-{self.sequence}", body]
            result = await self.call("send", args)
            return 0 if result is None else len(self.bodies)
        received = await self.call("receive", [max(1, self.spec.batch), 60_000])
        if not received:
            return 0
        deleted = 0
        for message_id, receipt_handle, _body_text in received:
            if await self.call("delete", [message_id, receipt_handle]) == 1:
                deleted += 1
        return deleted


def _body(size: int, index: int) -> str:
    # Bodies differ per batch entry but not per request, so building them
    # costs the generator nothing during the run.
    text = (f"{index:04d}" + "abcdefghijklmnopqrstuvwxyz0123456789") * (size // 40 + 1)
    return text[:size]


def build(
    spec: WorkloadSpec, recorder: Recorder, connections: int
) -> HttpWorkload | RedisWorkload:
    if spec.kind == "redis":
        return RedisWorkload(spec, recorder, connections)
    return HttpWorkload(spec, recorder, connections)
