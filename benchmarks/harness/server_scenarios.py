"""Scenarios that need their own server set-up: long polls, script eval, fsync
policies, memory per message, and snapshot pause and recovery time."""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import orjson

from benchmarks.harness import loadgen
from benchmarks.harness.peers import NanoqueueServer, PeerFailed, RedisServer, running
from benchmarks.harness.procstat import UsageMonitor, established_connections, rss_bytes
from benchmarks.harness.protocols import HttpRequest, eval_request
from benchmarks.harness.scenarios import (
    Check,
    Options,
    ScenarioResult,
    skip_reason,
)
from benchmarks.harness.targets import (
    Load,
    Prepared,
    Row,
    Target,
    fill_backlog,
    http_call,
    measure,
    prepare,
    run_targets,
    workload_spec,
)

IDLE_POLLS = 1000
JSON_HEADERS = {"Content-Type": "application/json"}
# Settings that keep snapshots out of a run that must not see one.
NO_SNAPSHOTS = {"snapshot_interval_s": 604800.0, "snapshot_log_bytes": 1 << 40}
EVAL_SCRIPT = """\
local name = KEYS[1]
if not db.exists(name) then
    db.create("keyvalue", name)
end
return db.call(name, "incr", ARGV[1], 1)
"""
REPLAYED = re.compile(r"(\d+) log records replayed in ([\d.]+) s")
SNAPSHOT = re.compile(
    r"^(\S+ \S+) .*wrote snapshot (\S+) in ([\d.]+) s; "
    r"scripts waited ([\d.]+) ms, fork took ([\d.]+) ms",
    re.MULTILINE,
)


def run_longpoll(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        "longpoll",
        "1,000 idle long polls",
        f"{IDLE_POLLS} clients long-poll an empty queue with a 20 s wait, re-polling "
        "as each returns empty; the figure is the server's CPU while they wait, "
        "next to the same server with no clients.",
    )
    reason = skip_reason(options)(Target("nanoqueue", "native", "python"))
    if reason:
        result.checks.append(
            Check("1,000 idle long polls", "< 5% of one core", reason, None)
        )
        return result
    with running(NanoqueueServer()) as server:
        idle = UsageMonitor(server.pid)
        idle.start()
        time.sleep(min(5.0, options.seconds))
        idle_usage = idle.stop()
        result.figures["idle_server_cpu_cores"] = round(idle_usage.cpu_cores, 4)
        for protocol in ("native", "sqs"):
            target = Target("nanoqueue", protocol, "python", queue=f"idle-{protocol}")
            prepared = prepare(target, server, target.queue)
            spec = replace(
                workload_spec(prepared, Load("longpoll", IDLE_POLLS, 0)), wait_s=20
            )
            plan = loadgen.LoadPlan(
                spec,
                clients=IDLE_POLLS,
                seconds=options.seconds,
                warmup_s=3.0,
                processes=2,
            )
            monitor = ConnectionCountingMonitor(server.pid, server.port)
            load = loadgen.run(
                plan, label=f"{IDLE_POLLS} long polls {protocol}", monitor=monitor
            )
            row = Row(target.label, "nanoqueue", protocol, "python", IDLE_POLLS)
            figures = load.to_json()
            row.requests_per_s = figures["requests_per_s"]
            row.latency_ms = figures["latency_ms"]
            row.errors = load.errors
            row.error_samples = load.error_samples
            row.server = monitor.usage.to_json() if monitor.usage else {}
            row.extra["connections_at_start"] = monitor.connections_at_start
            row.extra["event_loop"] = server.event_loop
            result.rows.append(row)
    for row in result.rows:
        cores = row.server.get("cpu_cores", 0.0)
        result.checks.append(
            Check(
                f"1,000 idle long polls, {row.protocol}",
                "< 5% of one core",
                f"{cores:.1%} of one core (idle server: {idle_usage.cpu_cores:.1%}) "
                f"with {row.extra['connections_at_start']} connections open",
                cores < 0.05 and row.extra["connections_at_start"] >= IDLE_POLLS,
            )
        )
    return result


class ConnectionCountingMonitor(UsageMonitor):
    """A usage monitor that also counts the server's connections when it starts."""

    def __init__(self, pid: int, port: int) -> None:
        super().__init__(pid)
        self.port = port
        self.connections_at_start = 0

    def start(self) -> None:
        self.connections_at_start = established_connections(self.port)
        super().start()


def run_eval(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        "eval",
        "Lua script eval over HTTP",
        "POST /db/eval with a four-line script that creates a keyvalue store once "
        "and increments a counter, and the same script registered once and run by "
        "SHA-1; the no-op app gets the same request. Redis runs INCR by EVALSHA "
        "through redis-py.",
    )
    eval_load = Load(
        "request",
        options.clients,
        options.seconds,
        request=eval_request(EVAL_SCRIPT, ["bench"], ["hits"]),
    )
    targets = [
        Target("noop", "native", "wrk"),
        Target("nanoqueue", "eval", "wrk"),
        Target("nanoqueue", "script", "wrk"),
        Target("noop", "native", "python"),
        Target("nanoqueue", "eval", "python"),
        Target("redis-always", "redis", "python"),
        Target("redis-everysec", "redis", "python"),
    ]

    def each(prepared: Prepared) -> list[Row]:
        target = prepared.target
        if target.protocol == "redis":
            load = Load("eval", options.clients, options.seconds)
            return [measure(prepared, load, options.warmup_s)]
        if target.protocol == "script":
            status, reply = http_call(prepared.server.port, _register_request())
            if status != 200:
                raise RuntimeError(
                    f"registering the script failed with HTTP {status}: {reply[:200]!r}"
                )
            sha = orjson.loads(reply)["sha"]
            request = HttpRequest(
                "POST",
                f"/db/scripts/{sha}",
                JSON_HEADERS,
                orjson.dumps({"keys": ["bench"], "args": ["hits"]}),
            )
            return [
                measure(prepared, replace(eval_load, request=request), options.warmup_s)
            ]
        return [measure(prepared, eval_load, options.warmup_s)]

    result.rows = run_targets(targets, each, skip_reason(options), prepare_queue=False)
    for row in result.rows:
        row.messages_per_s = 0.0 if row.peer == "noop" else row.messages_per_s
    noop = result.row("noop", None, "wrk")
    ours = result.row("nanoqueue", "eval", "wrk")
    if noop and ours:
        result.notes.append(
            f"eval over HTTP reaches {ours.requests_per_s / noop.requests_per_s:.0%} of the no-op ceiling."
        )
    return result


def _register_request() -> HttpRequest:
    return HttpRequest(
        "POST", "/db/scripts", JSON_HEADERS, orjson.dumps({"script": EVAL_SCRIPT})
    )


def run_fsync(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        "fsync",
        "Each fsync policy",
        f"Single sends and batches of 10 from {options.clients} clients against nanoqueue "
        "with storage.fsync always, everysec and no; Redis+Lua with appendfsync always "
        "and everysec through redis-py, next to nanoqueue through the same Python generator.",
    )
    reason = skip_reason(options)(Target("nanoqueue", "native", "wrk"))
    for policy in ("always", "everysec", "no"):
        if reason:
            break
        with running(NanoqueueServer(fsync=policy)) as server:
            for generator, batch in (("wrk", 1), ("wrk", 10), ("python", 1)):
                target = Target(
                    "nanoqueue", "native", generator, queue=f"fsync-{batch}"
                )
                prepared = prepare(target, server, target.queue)
                row = measure(
                    prepared,
                    Load("send", options.clients, options.seconds, batch=batch),
                    options.warmup_s,
                )
                row.target = (
                    f"nanoqueue native fsync={policy}, batch {batch} [{generator}]"
                )
                row.extra["fsync"] = policy
                row.extra["batch"] = batch
                result.rows.append(row)
    redis_targets = [
        Target("redis-always", "redis", "python"),
        Target("redis-everysec", "redis", "python"),
    ]

    def each(prepared: Prepared) -> list[Row]:
        rows = []
        for batch in (1, 10):
            row = measure(
                prepared,
                Load("send", options.clients, options.seconds, batch=batch),
                options.warmup_s,
            )
            row.target = f"{row.target.split(' [')[0]}, batch {batch} [python]"
            row.extra["batch"] = batch
            rows.append(row)
        return rows

    result.rows += run_targets(redis_targets, each, skip_reason(options))
    return result


def _settled_rss(pid: int, settle_s: float = 2.0) -> int:
    time.sleep(settle_s)
    return rss_bytes(pid)


def _redis_memory(port: int) -> dict[str, int]:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        info = client.info("memory")
    finally:
        client.close()
    return {
        "used_memory": int(info["used_memory"]),
        "used_memory_rss": int(info["used_memory_rss"]),
    }


def run_memory(options: Options) -> ScenarioResult:
    count = options.messages
    result = ScenarioResult(
        "memory",
        f"Memory per message at {count:,} messages",
        f"A fresh server gets {count:,} messages of 100 bytes, and another {count:,} of "
        "1 KiB, in batches of 10. The figure is the growth of the resident set from "
        "a warmed-up queue of 10,000 messages, per message, minus the body. Redis "
        "(appendfsync everysec) holds the same messages for comparison.",
    )
    warm = 10_000
    redis_ready = not skip_reason(options)(Target("redis-everysec", "redis", "python"))
    for body_size in (100, 1024):
        if "nanoqueue" in options.peers:
            _try(
                result,
                f"nanoqueue, {body_size} B",
                partial(_nanoqueue_memory, result, count, warm, body_size),
            )
        if "redis-everysec" in options.peers and redis_ready:
            _try(
                result,
                f"Redis, {body_size} B",
                partial(_redis_memory_row, result, count, warm, body_size),
            )
    for ours in result.rows:
        theirs = next(
            (
                r
                for r in result.rows
                if r.peer != "nanoqueue"
                and r.extra["body_bytes"] == ours.extra["body_bytes"]
            ),
            None,
        )
        if ours.peer == "nanoqueue" and theirs is not None:
            result.notes.append(
                f"{ours.extra['body_bytes']} B bodies: nanoqueue uses "
                f"{ours.extra['bytes_per_message'] / theirs.extra['bytes_per_message']:.2f} times "
                "Redis's resident memory per message in this run."
            )
    for row in result.rows:
        if row.peer == "nanoqueue" and row.extra["body_bytes"] == 100:
            overhead = row.extra["overhead_bytes_per_message"]
            result.checks.append(
                Check(
                    f"memory, {count:,} 100-byte messages",
                    "< 300 bytes per message beyond the body",
                    f"{overhead:,.0f} bytes",
                    overhead < 300,
                )
            )
    return result


def _try(result: ScenarioResult, what: str, step: Callable[[], None]) -> None:
    """Run one part of a scenario; a failure becomes a note, so the other parts still run."""
    try:
        step()
    except (PeerFailed, RuntimeError, OSError) as exc:
        text = str(exc).strip()
        result.notes.append(
            f"{what} failed: {text.splitlines()[0] if text else type(exc).__name__}"
        )


def _nanoqueue_memory(
    result: ScenarioResult, count: int, warm: int, body_size: int
) -> None:
    server = NanoqueueServer(fsync="everysec", storage=NO_SNAPSHOTS)
    with running(server):
        prepared = prepare(
            Target("nanoqueue", "native", "python", queue="memory"), server, "memory"
        )
        fill_backlog(prepared, warm, body_size, label=f"warm-up {body_size} B")
        before = _settled_rss(server.pid)
        took = fill_backlog(
            prepared, count - warm, body_size, label=f"{count:,} x {body_size} B"
        )
        after = _settled_rss(server.pid)
    row = _memory_row(
        "nanoqueue native", "nanoqueue", body_size, count - warm, before, after, took
    )
    result.rows.append(row)


def _redis_memory_row(
    result: ScenarioResult, count: int, warm: int, body_size: int
) -> None:
    server = RedisServer("everysec")
    with running(server):
        prepared = prepare(
            Target("redis-everysec", "redis", "python", queue="memory"),
            server,
            "memory",
        )
        fill_backlog(prepared, warm, body_size, label=f"redis warm-up {body_size} B")
        before = _settled_rss(server.pid, 0.5)
        took = fill_backlog(
            prepared, count - warm, body_size, label=f"redis {count:,} x {body_size} B"
        )
        after = _settled_rss(server.pid, 0.5)
        info = _redis_memory(server.port)
    row = _memory_row(
        "Redis+Lua everysec",
        "redis-everysec",
        body_size,
        count - warm,
        before,
        after,
        took,
    )
    row.extra["redis_info"] = info
    result.rows.append(row)


def _memory_row(
    label: str,
    peer: str,
    body_size: int,
    messages: int,
    before: int,
    after: int,
    took: float,
) -> Row:
    per_message = (after - before) / messages
    row = Row(f"{label}, {body_size} B bodies", peer, "memory", "python", 32)
    row.messages_per_s = round(messages / took, 1) if took else 0.0
    row.extra = {
        "body_bytes": body_size,
        "messages": messages,
        "rss_before_mib": round(before / 2**20, 1),
        "rss_after_mib": round(after / 2**20, 1),
        "bytes_per_message": round(per_message, 1),
        "overhead_bytes_per_message": round(per_message - body_size, 1),
    }
    return row


def run_snapshot(options: Options) -> ScenarioResult:
    count = options.messages
    rate = 500.0
    result = ScenarioResult(
        "snapshot",
        f"Snapshot pause and recovery with {count:,} messages",
        f"nanoqueue (fsync always) gets {count:,} messages of 100 bytes with snapshots "
        f"off. Then a paced load of {rate:.0f} sends/s runs without a snapshot, the "
        "server restarts from its log (timed), runs the same load while a snapshot is "
        "taken, is killed with SIGKILL and restarts from that snapshot (timed).",
    )
    if "nanoqueue" not in options.peers:
        result.checks.append(
            Check("snapshot pause", "no request waits > 50 ms", "not selected", None)
        )
        return result
    server = NanoqueueServer(fsync="always", storage=NO_SNAPSHOTS)
    with running(server):
        prepared = prepare(
            Target("nanoqueue", "native", "python", queue="snapshot"),
            server,
            "snapshot",
        )
        took = fill_backlog(prepared, count, 100, label=f"{count:,} x 100 B")
        result.figures["fill_messages_per_s"] = round(count / took, 1) if took else 0
        result.figures["rss_with_messages_mib"] = round(
            rss_bytes(server.pid) / 2**20, 1
        )
        baseline = _paced(prepared, rate, options.seconds, "without snapshot")
        result.rows.append(baseline)

        server.stop()
        server.storage = {"snapshot_interval_s": 5.0, "snapshot_log_bytes": 1 << 40}
        from_log = _restart(server)
        result.figures["recovery_from_log"] = from_log
        prepared = replace(prepared, server=server)
        during = _paced(prepared, rate, max(options.seconds, 15.0), "with snapshots")
        snapshots = _snapshots(server.log_path.read_text(errors="replace"))
        result.figures["snapshots"] = snapshots
        during.extra["snapshots"] = len(snapshots)
        result.rows.append(during)

        server.kill()
        server.storage = dict(NO_SNAPSHOTS)
        from_snapshot = _restart(server)
        result.figures["recovery_from_snapshot"] = from_snapshot
    max_ms = during.latency_ms.get("max", 0.0)
    waited = max((s["scripts_waited_ms"] for s in snapshots), default=None)
    overlapping, elsewhere = _split_slow(during.slow_requests, snapshots)
    result.figures["slow_requests_during_snapshots"] = len(overlapping)
    result.figures["slow_requests_elsewhere"] = len(elsewhere)
    worst_ms = max(overlapping, default=0.0)
    result.checks.append(
        Check(
            f"snapshot with {count:,} messages",
            "no request waits > 50 ms because of it",
            f"slowest request overlapping a snapshot {_slow_text(worst_ms)}; slowest "
            f"elsewhere {_slow_text(max(elsewhere, default=0.0))}; max {max_ms:.1f} ms "
            f"with {len(snapshots)} snapshot(s), {baseline.latency_ms.get('max', 0):.1f} ms "
            f"without; scripts waited at most {waited if waited is not None else 'n/a'} ms",
            (worst_ms < 50) if snapshots else None,
        )
    )
    for name, figures in (
        ("from the log", from_log),
        ("from a snapshot", from_snapshot),
    ):
        replay = figures.get("replay_s")
        result.checks.append(
            Check(
                f"recovery of {count:,} messages {name}",
                "< 5 s",
                f"{figures['ready_s']:.2f} s to first reply (replay {replay} s, {figures.get('records')} records)",
                figures["ready_s"] < 5,
            )
        )
    return result


def _snapshots(log_text: str) -> list[dict[str, Any]]:
    """Parse the server's snapshot lines, with the Unix time each one ended."""
    snapshots = []
    for stamp, name, total_s, waited_ms, fork_ms in SNAPSHOT.findall(log_text):
        # The server logs local time with a comma before the milliseconds.
        ended = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        snapshots.append(
            {
                "file": name,
                "ended_at": ended,
                "total_s": float(total_s),
                "scripts_waited_ms": float(waited_ms),
                "fork_ms": float(fork_ms),
            }
        )
    return snapshots


def _split_slow(
    slow: list[tuple[float, float]], snapshots: list[dict[str, Any]]
) -> tuple[list[float], list[float]]:
    """Split slow requests (ms) into those overlapping a snapshot and the rest."""
    windows = [(s["ended_at"] - s["total_s"], s["ended_at"]) for s in snapshots]
    overlapping: list[float] = []
    elsewhere: list[float] = []
    for finished, latency_us in slow:
        started = finished - latency_us / 1e6
        # Log lines carry milliseconds, so allow that much slack either side.
        hit = any(
            started <= end + 0.005 and finished >= begin - 0.005
            for begin, end in windows
        )
        (overlapping if hit else elsewhere).append(latency_us / 1000)
    return overlapping, elsewhere


def _slow_text(latency_ms: float) -> str:
    return f"{latency_ms:.1f} ms" if latency_ms else "under 20 ms"


def _paced(prepared: Prepared, rate: float, seconds: float, role: str) -> Row:
    load = Load("send", 16, seconds, rate_per_s=rate)
    row = measure(prepared, load, 1.0)
    row.target = f"nanoqueue native, {rate:.0f} sends/s, {role} [python]"
    row.extra["role"] = role
    return row


def _restart(server: NanoqueueServer) -> dict[str, Any]:
    offset = server.log_path.stat().st_size if server.log_path.exists() else 0
    started = time.monotonic()
    server.start()
    ready_s = time.monotonic() - started
    text = server.log_path.read_text(errors="replace")[offset:]
    figures: dict[str, Any] = {"ready_s": round(ready_s, 3)}
    match = REPLAYED.search(text)
    if match:
        figures["records"] = int(match[1])
        figures["replay_s"] = float(match[2])
    figures["rss_mib"] = round(rss_bytes(server.pid) / 2**20, 1)
    return figures
