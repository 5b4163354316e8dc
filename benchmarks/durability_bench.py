"""Durability benchmark: log write throughput per fsync policy, snapshot pause, recovery.

    python -m benchmarks.durability_bench [--seconds 5] [--messages 1000000]

Part one starts `nanoqueue serve` for each fsync policy on a temp data dir.
A separate load process runs one registered script, which pushes one
100-byte message onto a queue, over HTTP with 1, 16 and 128 concurrent
clients, and reports writes per second and p50/p99 latency. Then N
messages are pushed into a server over HTTP, and one client compares its
write latency with no snapshots and with a snapshot every second.

Part two builds a database in this process: a Queue of N 100-byte messages
and a KeyValue of N entries, as a queue service keeps per-message state. It
takes a snapshot while a task keeps writing, and reports how long scripts
were held up and the longest wait of a write. It then times recovery from
that snapshot, and from a log holding the same messages.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import server_process
from nanoqueue.config import StorageConfig
from nanoqueue.scripting.engine import ScriptEngine
from nanoqueue.storage.durability import Storage
from nanoqueue.storage.log import encode_record

POLICIES = ("always", "everysec", "no")
CLIENTS = (1, 16, 128)
BODY = "m" * 100
PUSH = 'return db.call("bench", "push_right", ARGV[1])'


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


async def drive(url: str, sha: str, clients: int, seconds: float) -> dict[str, Any]:
    """Run `clients` concurrent loops of the script for `seconds`."""
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal errors
            payload = {"args": [BODY]}
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.post(f"{url}/db/scripts/{sha}", json=payload) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "writes_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": errors,
    }


def load_process(url: str, sha: str, clients: int, seconds: float, out: Any) -> None:
    out.put(asyncio.run(drive(url, sha, clients, seconds)))


def start_server(
    data_dir: Path, policy: str, work: Path, snapshot_interval_s: float = 3600.0
) -> tuple[subprocess.Popen[bytes], str]:
    config_text = (
        f'[storage]\nfsync = "{policy}"\n'
        f"snapshot_interval_s = {snapshot_interval_s}\n"
        f"snapshot_log_bytes = {1 << 30}\n"
    )
    return server_process.start_server(config_text, data_dir, work, data_dir.name)


async def prepare(url: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/db/eval", json={"script": 'db.create("queue", "bench")'}
        ) as response:
            assert response.status == 200, await response.text()
        async with session.post(f"{url}/db/scripts", json={"script": PUSH}) as response:
            return str((await response.json())["sha"])


def bench_policies(seconds: float, work: Path) -> list[dict[str, Any]]:
    rows = []
    context = multiprocessing.get_context("spawn")
    for policy in POLICIES:
        data_dir = work / f"data-{policy}"
        process, url = start_server(data_dir, policy, work)
        try:
            sha = asyncio.run(prepare(url))
            for clients in CLIENTS:
                out = context.Queue()
                loader = context.Process(
                    target=load_process, args=(url, sha, clients, seconds, out)
                )
                loader.start()
                result = out.get()
                loader.join()
                rows.append({"policy": policy, "clients": clients, **result})
                print(
                    f"fsync={policy:8} clients={clients:3}  "
                    f"{result['writes_per_s']:8.0f} writes/s  "
                    f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
                    f"errors {result['errors']}",
                    flush=True,
                )
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    return rows


async def load_messages(url: str, messages: int) -> None:
    batch = 10_000
    push = 'return db.call("messages", "push_right_many", ARGV)'
    async with aiohttp.ClientSession() as session:
        create = {"script": 'db.create("queue", "messages")'}
        async with session.post(f"{url}/db/eval", json=create) as response:
            assert response.status == 200, await response.text()
        for start in range(0, messages, batch):
            values = [f"{n:012d}" + BODY[12:] for n in range(start, start + batch)]
            body = {"script": push, "args": values}
            async with session.post(f"{url}/db/eval", json=body) as response:
                assert response.status == 200, await response.text()


async def probe_writes(url: str, seconds: float) -> list[float]:
    """Write one key every 2 ms for `seconds`; return each write's latency."""
    latencies = []
    script = {"script": 'db.create("keyvalue", "probe")'}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/db/eval", json=script) as response:
            await response.read()
        write = {"script": 'db.call("probe", "set", "n", ARGV[1])', "args": [0]}
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.post(f"{url}/db/eval", json=write) as response:
                await response.read()
                assert response.status == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.002)
    return sorted(latencies)


def bench_snapshot_http(messages: int, seconds: float, work: Path) -> None:
    """Compare write latency over HTTP with and without snapshots running."""
    for label, interval in (("no snapshots", 3600.0), ("snapshot every 1 s", 1.0)):
        data_dir = work / f"data-http-{int(interval)}"
        process, url = start_server(data_dir, "always", work, interval)
        try:
            asyncio.run(load_messages(url, messages))
            log_path = work / f"{data_dir.name}.log"
            before = log_path.read_text().count("wrote snapshot")
            latencies = asyncio.run(probe_writes(url, seconds))
            snapshots = log_path.read_text().count("wrote snapshot") - before
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=120)
        print(
            f"HTTP writes with {messages} messages queued, {label}: "
            f"{len(latencies)} writes, p50 {percentile(latencies, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.2f} ms, "
            f"max {latencies[-1] * 1000:.2f} ms, {snapshots} snapshots written",
            flush=True,
        )


def fill(storage: Storage, messages: int) -> None:
    """Build the database directly, without scripts, as a loaded server has it."""
    db = storage.db
    db.create("queue", "messages")
    db.create("keyvalue", "state")
    db.commit()
    queue = db.get("messages")
    state = db.get("state")
    queue.items.extend(f"{n:012d}" + BODY[12:] for n in range(messages))  # type: ignore[attr-defined]
    state.data.update((f"{n:012d}", n) for n in range(messages))  # type: ignore[attr-defined]


def write_message_log(log_dir: Path, messages: int) -> int:
    """Write a log that pushes `messages` onto a queue, 1,000 per record."""
    log_dir.mkdir()
    path = log_dir / "log-00000000000000000001.nql"
    with open(path, "wb") as file:
        file.write(encode_record([("", "create", ("queue", "messages"))]))
        batch = 1000
        for start in range(0, messages, batch):
            values = [f"{n:012d}" + BODY[12:] for n in range(start, start + batch)]
            file.write(encode_record([("messages", "push_right_many", (values,))]))
    return path.stat().st_size


async def bench_snapshot(messages: int, work: Path) -> dict[str, Any]:
    data_dir = work / "data-snapshot"
    storage = Storage(StorageConfig(data_dir=str(data_dir), snapshot_interval_s=3600))
    storage.open()
    engine = ScriptEngine(storage.db, None, storage.log)
    await storage.start(engine.lock)
    started = time.perf_counter()
    fill(storage, messages)
    fill_s = time.perf_counter() - started
    await engine.eval('db.create("keyvalue", "probe")')

    waits: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        number = 0
        while not stop.is_set():
            number += 1
            began = time.perf_counter()
            await engine.eval('db.call("probe", "set", "n", ARGV[1])', [], [number])
            waits.append(time.perf_counter() - began)
            await asyncio.sleep(0.001)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.2)
    result = await storage.snapshot()
    await asyncio.sleep(0.2)
    stop.set()
    await prober
    await storage.close()
    assert result is not None
    snapshot_bytes = storage.data_dir.snapshot_path(result.seq).stat().st_size

    started = time.perf_counter()
    reopened = Storage(StorageConfig(data_dir=str(data_dir)))
    recovery = reopened.open()
    recover_snapshot_s = time.perf_counter() - started
    assert reopened.db.get("messages").len() == messages
    await reopened.close()

    log_dir = work / "data-log"
    log_bytes = write_message_log(log_dir, messages)
    started = time.perf_counter()
    from_log = Storage(StorageConfig(data_dir=str(log_dir)))
    log_recovery = from_log.open()
    recover_log_s = time.perf_counter() - started
    assert from_log.db.get("messages").len() == messages
    await from_log.close()

    return {
        "messages": messages,
        "fill_s": fill_s,
        "pause_ms": result.pause_s * 1000,
        "fork_ms": result.fork_s * 1000,
        "snapshot_s": result.total_s,
        "snapshot_mib": snapshot_bytes / (1 << 20),
        "max_wait_ms": max(waits) * 1000,
        "probe_writes": len(waits),
        "recover_snapshot_s": recover_snapshot_s,
        "recover_snapshot_records": recovery.records,
        "recover_log_s": recover_log_s,
        "log_records": log_recovery.records,
        "log_mib": log_bytes / (1 << 20),
    }


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per run")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--skip-http", action="store_true")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nanoqueue-bench-"))
    try:
        print(f"machine: {machine()}", flush=True)
        if not options.skip_http:
            bench_policies(options.seconds, work)
            bench_snapshot_http(options.messages, options.seconds, work)
        snapshot = asyncio.run(bench_snapshot(options.messages, work))
        for key, value in snapshot.items():
            print(
                f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
