"""Targets: one peer driven over one protocol by one load generator.

A scenario lists targets; the runner starts each peer's server once, runs
every target of that peer against it, and stops it before the next peer, so
two servers never compete for the CPU.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from benchmarks.harness import loadgen, rawhttp, wrk
from benchmarks.harness.peers import (
    HOST,
    MotoServer,
    NanoqueueServer,
    NoopServer,
    PeerFailed,
    PeerUnavailable,
    RedisServer,
    Server,
)
from benchmarks.harness.procstat import UsageMonitor
from benchmarks.harness.protocols import (
    HttpRequest,
    NativeProtocol,
    Protocol,
    SqsProtocol,
    make_body,
)
from benchmarks.harness.workloads import WorkloadSpec

logger = logging.getLogger(__name__)

PEER_LABELS = {
    "noop": "no-op aiohttp",
    "nanoqueue": "nanoqueue",
    "moto": "moto_server",
    "redis-always": "Redis+Lua always",
    "redis-everysec": "Redis+Lua everysec",
}

NANOQUEUE_INTERFACES = {
    "native": " native",
    "sqs": " SQS",
    "eval": " eval",
    "script": " script by SHA-1",
}


def make_server(
    peer: str, fsync: str = "always", storage: dict[str, Any] | None = None
) -> Server:
    if peer == "noop":
        return NoopServer()
    if peer == "nanoqueue":
        return NanoqueueServer(fsync=fsync, storage=storage)
    if peer == "moto":
        return MotoServer()
    if peer.startswith("redis-"):
        return RedisServer(peer.removeprefix("redis-"))
    raise ValueError(f"unknown peer {peer!r}")


@dataclass(frozen=True)
class Load:
    """A load to measure, independent of peer and generator."""

    action: str  # "send", "cycle", "steady", "longpoll", "request"
    clients: int
    seconds: float
    batch: int = 1
    body_size: int = 100
    rate_per_s: float | None = None
    request: HttpRequest | None = None  # the fixed request of action "request"
    backlog: int = 0  # messages sent before a "cycle" run


@dataclass(frozen=True)
class Target:
    peer: str
    protocol: str  # "native", "sqs" or "redis"
    generator: str  # "wrk", "python" or "raw"
    queue: str = "bench"

    @property
    def label(self) -> str:
        name = PEER_LABELS[self.peer]
        if self.peer == "nanoqueue":
            name += NANOQUEUE_INTERFACES[self.protocol]
        elif self.peer == "noop" and self.protocol == "sqs":
            name += " (SQS shape)"
        return f"{name} [{self.generator}]"


@dataclass
class Row:
    """The figures of one target in one scenario."""

    target: str
    peer: str
    protocol: str
    generator: str
    clients: int
    requests_per_s: float = 0.0
    messages_per_s: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    server: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""
    # Requests of the Python or raw generator slower than 20 ms: (Unix time, µs).
    slow_requests: list[tuple[float, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        figures = {key: value for key, value in self.__dict__.items()}
        figures["slow_requests"] = len(self.slow_requests)
        return figures


def http_call(
    port: int, request: HttpRequest, timeout_s: float = 30
) -> tuple[int, bytes]:
    """Send one request with the standard library; used for setup, not load."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        connection.request(
            request.method, request.path, body=request.body, headers=request.headers
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Prepared:
    """A target made ready on a running server: its URL and protocol."""

    target: Target
    server: Server
    url: str
    protocol: Protocol | None
    queue_url: str = ""


def prepare(target: Target, server: Server, queue: str | None = None) -> Prepared:
    """Create the target's queue on `server` and return how to reach it."""
    queue = queue or target.queue
    if target.protocol == "redis":
        return Prepared(target, server, f"redis://{HOST}:{server.port}/0", None)
    if target.peer == "noop":
        protocol: Protocol = (
            NativeProtocol(queue) if target.protocol == "native" else SqsProtocol("")
        )
        return Prepared(target, server, server.url, protocol)
    if target.protocol == "native":
        native = NativeProtocol(queue)
        status, reply = http_call(server.port, native.create_queue(queue))
        if status not in (200, 201):
            raise RuntimeError(
                f"creating queue {queue!r} failed with HTTP {status}: {reply[:300]!r}"
            )
        return Prepared(target, server, server.url, native)
    status, reply = http_call(server.port, SqsProtocol("").create_queue(queue))
    if status != 200:
        raise RuntimeError(
            f"CreateQueue {queue!r} failed with HTTP {status}: {reply[:300]!r}"
        )
    queue_url = orjson.loads(reply)["QueueUrl"]
    return Prepared(target, server, server.url, SqsProtocol(queue_url), queue_url)


def workload_spec(
    prepared: Prepared, load: Load, action: str | None = None
) -> WorkloadSpec:
    target = prepared.target
    if target.protocol == "redis":
        return WorkloadSpec(
            "redis",
            action or load.action,
            url=prepared.url,
            queue=target.queue,
            body_size=load.body_size,
            batch=load.batch,
        )
    return WorkloadSpec(
        "http",
        action or ("send" if load.action == "request" else load.action),
        url=prepared.url,
        protocol=target.protocol,
        queue=prepared.protocol.queue
        if isinstance(prepared.protocol, NativeProtocol)
        else target.queue,
        queue_url=prepared.queue_url,
        body_size=load.body_size,
        batch=load.batch,
        request=load.request,
    )


def fill_backlog(
    prepared: Prepared, messages: int, body_size: int = 100, label: str = ""
) -> float:
    """Send `messages` messages in batches of 10; return the seconds it took."""
    if messages <= 0 or prepared.target.peer == "noop":
        return 0.0
    fill = Load("send", clients=32, seconds=0, batch=10, body_size=body_size)
    plan = loadgen.LoadPlan(
        workload_spec(prepared, fill, "send"),
        clients=32,
        operations=-(-messages // 10),
        warmup_s=0,
    )
    result = loadgen.run(plan, label=label or f"filling {prepared.target.label}")
    if result.errors:
        raise RuntimeError(f"filling the backlog failed: {result.error_samples[:3]}")
    return result.elapsed_s


def measure(prepared: Prepared, load: Load, warmup_s: float = 1.0) -> Row:
    """Run `load` against a prepared target with its generator."""
    target = prepared.target
    row = Row(
        target.label, target.peer, target.protocol, target.generator, load.clients
    )
    monitor = UsageMonitor(prepared.server.pid)
    if target.generator == "wrk":
        _measure_wrk(prepared, load, warmup_s, monitor, row)
    elif target.generator == "raw":
        _measure_raw(prepared, load, warmup_s, monitor, row)
    else:
        _measure_python(prepared, load, warmup_s, monitor, row)
    if monitor.usage is not None:
        row.server = monitor.usage.to_json()
        # CPU per request moves less than throughput when other work takes
        # the cores, so it is the steadier figure on a shared machine.
        if row.requests_per_s:
            cpu_us = monitor.usage.cpu_cores / row.requests_per_s * 1e6
            row.extra["server_cpu_us_per_request"] = round(cpu_us, 1)
    if prepared.server.event_loop:
        row.extra["event_loop"] = prepared.server.event_loop
    # Other work on a shared machine moves every figure, so each row keeps
    # the load average at its end.
    row.extra["load_average"] = float(Path("/proc/loadavg").read_text().split()[0])
    return row


def _send_request(prepared: Prepared, load: Load) -> HttpRequest:
    """Return the single or batch send request of `load`, with random bodies."""
    protocol = prepared.protocol
    assert protocol is not None
    bodies = [make_body(load.body_size) for _ in range(load.batch)]
    return protocol.send_batch(bodies) if load.batch > 1 else protocol.send(bodies[0])


def wrk_load(prepared: Prepared, load: Load) -> wrk.WrkLoad:
    if load.action == "request":
        return wrk.WrkLoad("static", send=load.request)
    send = _send_request(prepared, load)
    protocol = prepared.protocol
    if load.action == "send":
        return wrk.WrkLoad("static", send=send, messages_per_send=load.batch)
    if load.action == "cycle":
        return wrk.WrkLoad("cycle", protocol=protocol)
    if load.action == "steady":
        return wrk.WrkLoad(
            "steady", send=send, protocol=protocol, messages_per_send=load.batch
        )
    raise ValueError(f"wrk cannot run action {load.action!r}")


def _measure_wrk(
    prepared: Prepared, load: Load, warmup_s: float, monitor: UsageMonitor, row: Row
) -> None:
    requests = wrk_load(prepared, load)
    label = prepared.target.label
    if warmup_s > 0:
        wrk.run(
            prepared.url, requests, load.clients, warmup_s, label=f"warm-up {label}"
        )
    monitor.start()
    try:
        result = wrk.run(
            prepared.url, requests, load.clients, load.seconds, label=label
        )
    finally:
        monitor.stop()
    seconds = result["duration_us"] / 1e6
    errors = result["errors"]
    ok_requests = result["requests"] - errors["status"]
    if requests.mode == "static":
        messages = (
            ok_requests * requests.messages_per_send
            if load.action == "send"
            else ok_requests
        )
    elif requests.mode == "cycle":
        messages = result["received"] - result["undeleted"]
    else:
        messages = result["sent"]
        row.extra["received_per_s"] = round(
            (result["received"] - result["undeleted"]) / seconds, 1
        )
        row.extra["sent_per_s"] = round(result["sent"] / seconds, 1)
    row.requests_per_s = round(result["requests"] / seconds, 1)
    row.messages_per_s = round(messages / seconds, 1)
    row.latency_ms = {
        key: round(value / 1000, 3) for key, value in result["latency_us"].items()
    }
    row.errors = sum(errors.values())
    row.extra["errors_by_kind"] = {key: value for key, value in errors.items() if value}
    # Receives still in flight when wrk stops count as neither empty nor not.
    empty = (
        result.get("receives", 0) - result.get("nonempty_receives", 0) - load.clients
    )
    if result.get("receives") and empty > 0:
        row.extra["empty_receives"] = empty
    row.extra["wrk_threads"] = result["threads"]


def _measure_raw(
    prepared: Prepared, load: Load, warmup_s: float, monitor: UsageMonitor, row: Row
) -> None:
    if load.rate_per_s is None:
        raise ValueError("the raw generator needs a rate; it runs only paced loads")
    if load.action == "request" and load.request is not None:
        request, messages_per_request = load.request, 1
    elif load.action == "send":
        request, messages_per_request = _send_request(prepared, load), load.batch
    else:
        raise ValueError(
            f"the raw generator sends one fixed request; it cannot run {load.action!r}"
        )

    plan = rawhttp.RawPlan(
        prepared.url,
        request,
        load.rate_per_s,
        load.clients,
        seconds=load.seconds,
        warmup_s=warmup_s,
        messages_per_request=messages_per_request,
    )
    result = rawhttp.run(plan, label=prepared.target.label, monitor=monitor)

    figures = result.load.to_json()
    row.requests_per_s = figures["requests_per_s"]
    row.messages_per_s = figures["messages_per_s"]
    row.latency_ms = figures["latency_ms"]
    row.errors = result.load.errors
    row.error_samples = result.load.error_samples
    row.slow_requests = result.load.slow

    row.extra["generator_processes"] = result.load.processes
    row.extra["generator_event_loop"] = result.event_loop
    # The generator's own CPU per request, next to the server's, shows
    # whether the generator limited the run.
    row.extra["generator_cpu_us_per_request"] = round(result.cpu_us_per_request, 1)
    row.extra["generator_cpu_cores"] = round(result.cpu_s / load.seconds, 3)
    lag_ms = {
        key: round(value, 3) for key, value in result.send_lag.summary_ms().items()
    }
    row.extra["send_lag_ms"] = lag_ms
    row.extra["send_lag_p99_ms"] = lag_ms["p99"]


def _measure_python(
    prepared: Prepared, load: Load, warmup_s: float, monitor: UsageMonitor, row: Row
) -> None:
    if load.action == "steady":
        spec = workload_spec(prepared, load, "produce")
        mix = workload_spec(prepared, load, "consume")
    else:
        spec, mix = workload_spec(prepared, load), None
    plan = loadgen.LoadPlan(
        spec,
        clients=load.clients,
        seconds=load.seconds,
        warmup_s=warmup_s,
        rate_per_s=load.rate_per_s,
        mix=mix,
    )
    result = loadgen.run(plan, label=prepared.target.label, monitor=monitor)
    figures = result.to_json()
    row.requests_per_s = figures["requests_per_s"]
    row.messages_per_s = figures["messages_per_s"]
    row.latency_ms = figures["latency_ms"]
    row.errors = result.errors
    row.error_samples = result.error_samples
    row.extra["generator_processes"] = result.processes
    row.slow_requests = result.slow
    if mix is not None:
        row.extra["sent_per_s"] = figures["messages_per_s"]
        row.extra["received_per_s"] = round(result.received / result.elapsed_s, 1)


def run_targets(
    targets: list[Target],
    each: Callable[[Prepared], list[Row]],
    skip: Callable[[Target], str],
    prepare_queue: bool = True,
) -> list[Row]:
    """Start each peer once, call `each` for its targets, stop it, and collect the rows.

    With `prepare_queue` false the targets get no queue, for scenarios that
    use only the MemDB script API.
    """
    rows: list[Row] = []
    by_peer: dict[str, list[Target]] = {}
    for target in targets:
        by_peer.setdefault(target.peer, []).append(target)
    for peer, peer_targets in by_peer.items():
        reason = skip(peer_targets[0])
        if reason:
            rows += [_skipped(target, reason) for target in peer_targets]
            continue
        server = make_server(peer)
        try:
            server.start()
        except (PeerFailed, PeerUnavailable) as exc:
            server.remove()
            rows += [
                _skipped(target, f"failed to start: {_first_line(exc)}")
                for target in peer_targets
            ]
            continue
        try:
            for target in peer_targets:
                try:
                    rows += each(_prepare_target(target, server, prepare_queue))
                except (RuntimeError, OSError, KeyError, ValueError) as exc:
                    # One broken target must not lose the figures of the others.
                    logger.error("%s failed: %s", target.label, exc)
                    rows.append(_skipped(target, f"failed: {_first_line(exc)}"))
        finally:
            server.remove()
    return rows


def _prepare_target(target: Target, server: Server, prepare_queue: bool) -> Prepared:
    if not prepare_queue and target.protocol != "redis":
        return Prepared(target, server, server.url, None)
    queue = f"{target.queue}-{target.protocol}"
    return prepare(replace(target, queue=queue), server, queue)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _skipped(target: Target, reason: str) -> Row:
    logger.warning("skipping %s: %s", target.label, reason)
    return Row(
        target.label, target.peer, target.protocol, target.generator, 0, skipped=reason
    )
