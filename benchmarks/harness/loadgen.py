"""The Python load generator: worker processes, each an asyncio client loop.

A single Python process spends more CPU per request than a lean server, so
the load is spread over several processes. Each worker runs its share of the
clients as coroutines, records latencies in its own histogram and returns
it; the parent merges them. Closed loop by default (each client sends its
next request when the last one returns); with a rate, the workers follow a
fixed schedule and latency counts from the planned send time.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tqdm import tqdm

from benchmarks.harness.histogram import Histogram
from benchmarks.harness.procstat import UsageMonitor
from benchmarks.harness.workloads import Recorder, WorkloadSpec, build

START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LoadPlan:
    spec: WorkloadSpec
    clients: int
    seconds: float = 10.0
    warmup_s: float = 1.0
    processes: int = 0  # 0 means one per core
    rate_per_s: float | None = None
    # Stop after this many operations in total instead of after `seconds`.
    operations: int | None = None
    # A second workload run by every other client, for producers and
    # consumers together; its messages are counted as received.
    mix: WorkloadSpec | None = None


@dataclass
class LoadResult:
    requests: int
    messages: int
    errors: int
    elapsed_s: float
    histogram: Histogram
    error_samples: list[str] = field(default_factory=list)
    processes: int = 1
    received: int = 0
    # Requests slower than workloads.SLOW_US: (Unix time, latency in µs).
    slow: list[tuple[float, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "messages": self.messages,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 3),
            "requests_per_s": round(self.requests / self.elapsed_s, 1)
            if self.elapsed_s
            else 0,
            "messages_per_s": round(self.messages / self.elapsed_s, 1)
            if self.elapsed_s
            else 0,
            "latency_ms": {
                k: round(v, 3) for k, v in self.histogram.summary_ms().items()
            },
            "error_samples": self.error_samples,
            "processes": self.processes,
        }


def _shares(total: int, parts: int) -> list[int]:
    return [
        total // parts + (1 if index < total % parts else 0) for index in range(parts)
    ]


class Timed(Protocol):
    """The parts of a plan that the progress bar and the CPU monitor follow."""

    @property
    def seconds(self) -> float: ...

    @property
    def warmup_s(self) -> float: ...

    @property
    def operations(self) -> int | None: ...


def run(
    plan: LoadPlan, label: str = "", monitor: UsageMonitor | None = None
) -> LoadResult:
    """Run `plan` in worker processes with a progress bar and merge their results.

    A `monitor` is started when the warm-up ends and stopped when the first
    worker finishes, so it covers the measured window; read it with
    `monitor.usage` afterwards.
    """
    processes = plan.processes or os.cpu_count() or 1
    processes = max(1, min(processes, plan.clients))
    clients = _shares(plan.clients, processes)
    operations = (
        _shares(plan.operations, processes)
        if plan.operations is not None
        else [None] * processes
    )
    rate = plan.rate_per_s / processes if plan.rate_per_s else None
    arguments = [
        (plan, clients[index], operations[index], rate) for index in range(processes)
    ]
    results = run_processes(plan, _worker_main, arguments, label, monitor)
    return merge(results, processes)


def run_processes(
    plan: Timed,
    target: Callable[..., None],
    arguments: list[tuple[Any, ...]],
    label: str,
    monitor: UsageMonitor | None,
) -> list[dict[str, Any]]:
    """Run `target` in one process per entry of `arguments`; return what each sent.

    Each process is called with its arguments followed by an operation
    counter, an event that starts all of them together, and a pipe on which
    it sends "ready" and then its result. A process that fails to start
    raises RuntimeError.
    """
    context = multiprocessing.get_context("spawn")
    counters = [context.RawValue("q", 0) for _ in arguments]
    go = context.Event()
    pipes = []
    workers = []
    for index, worker_arguments in enumerate(arguments):
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(
            target=target,
            args=(*worker_arguments, counters[index], go, sender),
            daemon=True,
        )
        worker.start()
        sender.close()
        pipes.append(receiver)
        workers.append(worker)
    try:
        for pipe in pipes:
            _wait_ready(pipe)
        go.set()
        _show_progress(plan, counters, pipes, label, monitor)
        return [pipe.recv() for pipe in pipes]
    finally:
        for worker in workers:
            worker.join(5)
            if worker.is_alive():
                worker.kill()
                worker.join()


def _wait_ready(pipe: multiprocessing.connection.Connection) -> None:
    try:
        message = pipe.recv() if pipe.poll(START_TIMEOUT_S) else "timed out"
    except EOFError:
        message = "exited"
    if message != "ready":
        detail = message.get("failure") if isinstance(message, dict) else message
        raise RuntimeError(f"a load generator worker failed to start: {detail}")


def _show_progress(
    plan: Timed,
    counters: list[Any],
    pipes: list[Any],
    label: str,
    monitor: UsageMonitor | None,
) -> None:
    started = time.monotonic()
    warmup_s = 0.0 if plan.operations is not None else plan.warmup_s
    monitoring = False
    if plan.operations is not None:
        total, unit = plan.operations, "op"
    else:
        total, unit = round(plan.warmup_s + plan.seconds), "s"
    with tqdm(
        total=total, desc=label or "load", unit=unit, leave=False, mininterval=0.5
    ) as bar:
        while not all(pipe.poll() for pipe in pipes):
            time.sleep(0.05)
            if (
                monitor is not None
                and not monitoring
                and time.monotonic() - started >= warmup_s
            ):
                monitor.start()
                monitoring = True
            if (
                monitor is not None
                and monitoring
                and any(pipe.poll() for pipe in pipes)
            ):
                monitor.stop()
                monitoring = False
                monitor = None
            if plan.operations is not None:
                bar.n = min(total, sum(counter.value for counter in counters))
            else:
                bar.n = min(total, int(time.monotonic() - started))
            bar.refresh()
    if monitoring and monitor is not None:
        monitor.stop()


def merge(results: list[dict[str, Any]], processes: int) -> LoadResult:
    """Merge the results that worker processes sent; raise a worker's failure."""
    histogram = Histogram()
    samples: list[str] = []
    slow: list[tuple[float, float]] = []
    for result in results:
        if "failure" in result:
            raise RuntimeError(f"a load generator worker failed: {result['failure']}")
        histogram.merge(Histogram.from_json(result["histogram"]))
        samples += result["error_samples"]
        slow += [tuple(entry) for entry in result["slow"]]
    return LoadResult(
        requests=sum(r["requests"] for r in results),
        messages=sum(r["messages"] for r in results),
        errors=sum(r["errors"] for r in results),
        elapsed_s=max(r["elapsed_s"] for r in results),
        histogram=histogram,
        error_samples=samples[:10],
        slow=sorted(slow),
        processes=processes,
        received=sum(r["received"] for r in results),
    )


def _worker_main(
    plan: LoadPlan,
    clients: int,
    operations: int | None,
    rate_per_s: float | None,
    counter: Any,
    go: Any,
    pipe: multiprocessing.connection.Connection,
) -> None:
    try:
        result = asyncio.run(
            _worker(plan, clients, operations, rate_per_s, counter, go, pipe)
        )
    except Exception as exc:  # noqa: BLE001 - the parent raises it with this text
        result = {"failure": f"{type(exc).__name__}: {exc}"}
    pipe.send(result)
    pipe.close()


async def _worker(
    plan: LoadPlan,
    clients: int,
    operations: int | None,
    rate_per_s: float | None,
    counter: Any,
    go: Any,
    pipe: multiprocessing.connection.Connection,
) -> dict[str, Any]:
    recorder = Recorder()
    workload = build(plan.spec, recorder, clients)
    await workload.open()
    consumer = build(plan.mix, recorder, clients) if plan.mix is not None else None
    if consumer is not None:
        await consumer.open()
    pipe.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, go.wait)
    warmup_s = 0.0 if operations is not None else plan.warmup_s
    started = time.perf_counter()
    measure_from = started + warmup_s
    deadline = measure_from + plan.seconds
    messages = 0
    received = 0
    remaining = [operations]
    slots = [0]
    interval = 1 / rate_per_s if rate_per_s else 0.0
    recorder.recording = warmup_s == 0

    async def client(index: int) -> None:
        nonlocal messages, received
        runs = consumer if consumer is not None and index % 2 else workload
        assert runs is not None
        while True:
            now = time.perf_counter()
            if operations is None and now >= deadline:
                return
            if remaining[0] is not None:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            if not recorder.recording and now >= measure_from:
                recorder.recording = True
                measure_started[0] = now
            if interval:
                planned = started + slots[0] * interval
                slots[0] += 1
                if planned > now:
                    await asyncio.sleep(planned - now)
                recorder.scheduled_at = planned
            moved = await runs.op()
            if recorder.recording:
                if runs is workload:
                    messages += moved
                else:
                    received += moved
                counter.value += 1

    measure_started = [started]
    try:
        await asyncio.gather(*(client(index) for index in range(clients)))
    finally:
        await workload.close()
        if consumer is not None:
            await consumer.close()
    elapsed = time.perf_counter() - measure_started[0]
    return {
        "requests": recorder.requests,
        "messages": messages,
        "received": received,
        "errors": recorder.errors,
        "elapsed_s": elapsed,
        "histogram": recorder.histogram.to_json(),
        "error_samples": recorder.error_samples,
        "slow": recorder.slow,
    }
