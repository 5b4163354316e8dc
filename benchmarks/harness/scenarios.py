"""The throughput and latency scenarios: what each measures, on which targets.

Each scenario returns a `ScenarioResult` with one row per target and the
checks against nanoqueue's targets. Comparisons are made only between rows
driven by the same load generator in the same run, because absolute numbers
on a shared machine drift.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness import wrk
from benchmarks.harness.peers import PeerUnavailable
from benchmarks.harness.targets import (
    Load,
    Prepared,
    Row,
    Target,
    fill_backlog,
    measure,
    run_targets,
)

logger = logging.getLogger(__name__)

ALL_PEERS = ("noop", "nanoqueue", "moto", "redis-always", "redis-everysec")
# Guesses of each peer's receive and delete rate in messages per second, used
# only to size the backlog a cycle run starts with.
CYCLE_RATE_GUESS = {
    "nanoqueue": 6000,
    "moto": 60,
    "redis-always": 12000,
    "redis-everysec": 12000,
}


@dataclass
class Options:
    clients: int = 64
    seconds: float = 20.0
    warmup_s: float = 1.0
    peers: tuple[str, ...] = ALL_PEERS
    messages: int = 1_000_000
    profile: bool = False


@dataclass
class Check:
    """One performance target of nanoqueue, and the figure measured against it."""

    figure: str
    target: str
    measured: str
    passed: bool | None  # None when it could not be measured

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ScenarioResult:
    name: str
    title: str
    description: str
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    seconds_taken: float = 0.0

    def row(
        self, peer: str, protocol: str | None = None, generator: str | None = None
    ) -> Row | None:
        for row in self.rows:
            if row.skipped:
                continue
            if (
                row.peer == peer
                and protocol in (None, row.protocol)
                and generator in (None, row.generator)
            ):
                return row
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "rows": [row.to_json() for row in self.rows],
            "checks": [check.to_json() for check in self.checks],
            "comparisons": comparisons(self.rows),
            "notes": self.notes,
            "figures": self.figures,
            "seconds_taken": round(self.seconds_taken, 1),
        }


def skip_reason(options: Options) -> Callable[[Target], str]:
    """Return a function giving why a target cannot run here, or ''."""

    def reason(target: Target) -> str:
        if target.peer not in options.peers:
            return "not selected with --peers"
        if target.generator == "wrk":
            try:
                wrk.check_installed()
            except PeerUnavailable as exc:
                return str(exc)
        if target.peer == "moto" and shutil.which("moto_server") is None:
            return "moto_server is not installed; install it with pip install -e '.[bench]'"
        if target.peer.startswith("redis"):
            if shutil.which("redis-server") is None:
                return (
                    "redis-server is not installed; install it with "
                    "apt-get update && apt-get install -y redis-server"
                )
            try:
                import redis  # noqa: F401
            except ImportError:
                return "redis-py is not installed; install it with pip install -e '.[bench]'"
        return ""

    return reason


def queue_targets(with_sqs_noop: bool = False) -> list[Target]:
    """Return the targets of the queue scenarios, in the order they run."""
    targets = [
        Target("noop", "native", "wrk"),
        Target("nanoqueue", "native", "wrk"),
        Target("nanoqueue", "sqs", "wrk"),
        Target("moto", "sqs", "wrk"),
        Target("noop", "native", "python"),
        Target("nanoqueue", "native", "python"),
        Target("redis-always", "redis", "python"),
        Target("redis-everysec", "redis", "python"),
    ]
    if with_sqs_noop:
        targets.insert(1, Target("noop", "sqs", "wrk"))
    return targets


def comparisons(rows: list[Row]) -> list[dict[str, Any]]:
    """Return each nanoqueue row's ratio to the peer rows of the same load.

    A peer row counts when it has the same generator, batch size and number
    of clients. Where a scenario has several client counts, the labels name
    them.
    """
    ratios: list[dict[str, Any]] = []
    several_counts = len({row.clients for row in rows if not row.skipped}) > 1

    def label(row: Row) -> str:
        if not several_counts:
            return row.target
        return f"{row.target}, {row.clients} client{'' if row.clients == 1 else 's'}"

    for ours in rows:
        if ours.peer != "nanoqueue" or ours.skipped or not ours.messages_per_s:
            continue
        # Memory rows and paced rows have no throughput to compare.
        if ours.protocol == "memory" or "rate_per_s" in ours.extra:
            continue
        for theirs in rows:
            if (
                theirs.peer == "nanoqueue"
                or theirs.skipped
                or theirs.generator != ours.generator
                or theirs.clients != ours.clients
                or theirs.extra.get("batch") != ours.extra.get("batch")
            ):
                continue
            if theirs.peer == "noop":
                if theirs.protocol != ours.protocol and any(
                    r.peer == "noop"
                    and r.protocol == ours.protocol
                    and r.generator == ours.generator
                    for r in rows
                ):
                    continue
                base = theirs.requests_per_s
                ratio = ours.requests_per_s / base if base else None
                kind = "fraction of the no-op ceiling (requests/s)"
            else:
                base = theirs.messages_per_s
                ratio = ours.messages_per_s / base if base else None
                kind = "times the peer's messages/s"
            ratios.append(
                {
                    "nanoqueue": label(ours),
                    "peer": label(theirs),
                    "kind": kind,
                    "ratio": ratio,
                }
            )
    return ratios


def _messages_check(
    result: ScenarioResult, figure: str, minimum: float, unit: str = "messages/s"
) -> None:
    row = result.row("nanoqueue", "native", "wrk")
    if row is None:
        result.checks.append(
            Check(figure, f">= {minimum:,.0f} {unit}", "not measured", None)
        )
        return
    result.checks.append(
        Check(
            figure,
            f">= {minimum:,.0f} {unit}",
            f"{row.messages_per_s:,.0f} {unit}",
            row.messages_per_s >= minimum,
        )
    )


def _cpu_fraction(noop: Row, ours: Row) -> str:
    """Describe the server CPU per request of `ours` as a fraction of the no-op app's."""
    ours_us = ours.extra.get("server_cpu_us_per_request")
    noop_us = noop.extra.get("server_cpu_us_per_request")
    if not ours_us or not noop_us:
        return ""
    return (
        f"; by server CPU per request {noop_us / ours_us:.0%} "
        f"({ours_us:,.0f} µs against {noop_us:,.0f} µs)"
    )


def _moto_check(result: ScenarioResult) -> None:
    ours = result.row("nanoqueue", "sqs", "wrk")
    moto = result.row("moto", "sqs", "wrk")
    if ours is None or moto is None or not moto.messages_per_s:
        result.checks.append(
            Check("against moto_server, SQS JSON", ">= 50x", "not measured", None)
        )
        return
    ratio = ours.messages_per_s / moto.messages_per_s
    result.checks.append(
        Check("against moto_server, SQS JSON", ">= 50x", f"{ratio:,.1f}x", ratio >= 50)
    )


def _generator_check(result: ScenarioResult, needed_per_s: float, what: str) -> None:
    """Record how far the generator gets against the no-op app, against what the target needs."""
    noop = result.row("noop", None, "wrk")
    if noop is None:
        return
    result.checks.append(
        Check(
            f"load generator (wrk) not the limit: {what}",
            f"well above {needed_per_s:,.0f} requests/s",
            f"{noop.requests_per_s:,.0f} requests/s against the no-op app "
            f"({noop.requests_per_s / needed_per_s:.1f}x)",
            noop.requests_per_s >= 1.5 * needed_per_s,
        )
    )


def _measure_each(
    options: Options, load: Load, per_target: Callable[[Target], Load] | None = None
) -> Callable[[Prepared], list[Row]]:
    def each(prepared: Prepared) -> list[Row]:
        target_load = per_target(prepared.target) if per_target else load
        if target_load.backlog:
            fill_backlog(prepared, target_load.backlog, target_load.body_size)
        return [measure(prepared, target_load, options.warmup_s)]

    return each


def run_send(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        "send",
        "Single sends",
        f"Each of {options.clients} clients sends one 100-byte message per request, "
        "closed loop, for the measured seconds after a warm-up.",
    )
    load = Load("send", options.clients, options.seconds)
    result.rows = run_targets(
        queue_targets(), _measure_each(options, load), skip_reason(options)
    )
    noop = result.row("noop", "native", "wrk")
    ours = result.row("nanoqueue", "native", "wrk")
    if noop and ours:
        fraction = ours.messages_per_s / noop.requests_per_s
        result.checks.append(
            Check(
                f"single sends, {options.clients} clients",
                ">= 60% of the no-op ceiling",
                f"{fraction:.0%} ({ours.messages_per_s:,.0f} of {noop.requests_per_s:,.0f}/s)"
                + _cpu_fraction(noop, ours),
                fraction >= 0.6,
            )
        )
    _moto_check(result)
    _generator_check(result, 6000, "single sends")
    return result


def run_batch(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        "batch",
        "Batch sends of 10",
        f"Each of {options.clients} clients sends batches of ten 100-byte messages, closed loop.",
    )
    load = Load("send", options.clients, options.seconds, batch=10)
    result.rows = run_targets(
        queue_targets(), _measure_each(options, load), skip_reason(options)
    )
    _messages_check(result, f"batch sends of 10, {options.clients} clients", 40_000)
    _moto_check(result)
    _generator_check(result, 4000, "batch requests for 40,000 messages/s")
    return result


def run_cycle(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        "cycle",
        "Receive and delete on a backlog",
        f"The queue starts with a backlog of 100-byte messages; each of {options.clients} "
        "clients receives one message, deletes it by its receipt handle and repeats. "
        "Messages/s counts deleted messages; requests/s counts both calls. The no-op "
        "app answers every receive with one fixed message.",
    )

    def per_target(target: Target) -> Load:
        rate = CYCLE_RATE_GUESS.get(target.peer, 0)
        backlog = int(rate * (options.seconds + 2 * options.warmup_s + 2) * 1.5)
        return Load("cycle", options.clients, options.seconds, backlog=backlog)

    load = Load("cycle", options.clients, options.seconds)
    result.rows = run_targets(
        queue_targets(), _measure_each(options, load, per_target), skip_reason(options)
    )
    for row in result.rows:
        if row.extra.get("empty_receives"):
            result.notes.append(
                f"{row.target}: {row.extra['empty_receives']} receives found the queue "
                "empty, so its backlog ran out and its figure is a lower bound."
            )
    _messages_check(result, "receive+delete cycle, single messages", 2000)
    _moto_check(result)
    _generator_check(result, 4000, "receive and delete calls for 2,000 messages/s")
    return result


def run_steady(options: Options) -> ScenarioResult:
    result = ScenarioResult(
        "steady",
        "Producers and consumers together",
        f"Half of {options.clients} clients send single 100-byte messages while the "
        "other half receive and delete, on one queue that starts empty. Messages/s is "
        "the send rate; the received rate is in the last columns.",
    )
    load = Load("steady", options.clients, options.seconds)
    result.rows = run_targets(
        queue_targets(), _measure_each(options, load), skip_reason(options)
    )
    _moto_check(result)
    return result


def run_latency(options: Options) -> ScenarioResult:
    """Measure send latency at half the maximum send rate, open loop."""
    result = ScenarioResult(
        "latency",
        "Send latency at half the maximum rate",
        "wrk first finds nanoqueue's maximum single-send rate; then the raw generator "
        f"sends at half that rate on a fixed schedule over {options.clients} keep-alive "
        "connections, counting each latency from the planned send time. The raw "
        "generator writes one pre-formatted request per connection and parses only "
        "the status, headers and body length of each reply, so it spends less CPU "
        "per request than the server. The no-op app at the same rate shows the "
        "generator's own latency on this machine.",
    )
    rate: list[float] = []

    def measure_paced(prepared: Prepared) -> Row:
        target = Target(prepared.target.peer, prepared.target.protocol, "raw")
        paced = Prepared(target, prepared.server, prepared.url, prepared.protocol)
        load = Load("send", options.clients, options.seconds, rate_per_s=rate[0])
        row = measure(paced, load, options.warmup_s)
        row.extra["rate_per_s"] = round(rate[0], 1)
        row.extra["role"] = "half rate, open loop"
        return row

    def each(prepared: Prepared) -> list[Row]:
        rows = []
        if prepared.target.peer == "nanoqueue":
            top_load = Load("send", options.clients, max(5.0, options.seconds / 2))
            top = measure(prepared, top_load, options.warmup_s)
            top.extra["role"] = "maximum rate"
            rows.append(top)
            rate.append(top.messages_per_s / 2)
        if rate:
            rows.append(measure_paced(prepared))
        return rows

    # nanoqueue runs first, so the no-op app is paced at the rate found for it.
    targets = [Target("nanoqueue", "native", "wrk"), Target("noop", "native", "wrk")]
    result.rows = run_targets(targets, each, skip_reason(options))
    paced = result.row("nanoqueue", "native", "raw")
    if paced is None:
        result.checks.append(
            Check(
                "p99 send latency at half the max rate", "< 5 ms", "not measured", None
            )
        )
        return result
    p99 = paced.latency_ms.get("p99", 0.0)
    result.checks.append(
        Check(
            "p99 send latency at half the max rate",
            "< 5 ms",
            f"{p99:.2f} ms at {paced.extra['rate_per_s']:,.0f} sends/s",
            p99 < 5,
        )
    )
    _raw_generator_check(result, paced)
    return result


def _raw_generator_check(result: ScenarioResult, paced: Row) -> None:
    """Compare the raw generator's CPU per request with the server's it drove."""
    generator_us = paced.extra.get("generator_cpu_us_per_request")
    server_us = paced.extra.get("server_cpu_us_per_request")
    if not generator_us or not server_us:
        return
    result.checks.append(
        Check(
            "load generator (raw) not the limit at the paced rate",
            "less CPU per request than the server",
            f"{generator_us:,.0f} µs against nanoqueue's {server_us:,.0f} µs per "
            f"request; {paced.extra.get('generator_cpu_cores', 0):.0%} of a core; "
            f"send lag p99 {paced.extra.get('send_lag_p99_ms', 0):.2f} ms",
            generator_us < server_us,
        )
    )


def run_sweep(options: Options) -> ScenarioResult:
    """Measure single-send throughput at several client counts for the chart."""
    levels = [1, 4, 16, 64, 256]
    seconds = max(3.0, options.seconds / 4)
    result = ScenarioResult(
        "sweep",
        "Throughput against concurrency",
        f"Single sends with wrk at {', '.join(map(str, levels))} clients, {seconds:.0f} s each.",
    )
    targets = [
        Target("noop", "native", "wrk"),
        Target("nanoqueue", "native", "wrk"),
        Target("redis-always", "redis", "python"),
    ]

    def each(prepared: Prepared) -> list[Row]:
        rows = []
        for clients in levels:
            rows.append(
                measure(
                    prepared, Load("send", clients, seconds), min(options.warmup_s, 1.0)
                )
            )
        return rows

    result.rows = run_targets(targets, each, skip_reason(options))
    return result


def timed(
    run: Callable[[Options], ScenarioResult],
) -> Callable[[Options], ScenarioResult]:
    def wrapper(options: Options) -> ScenarioResult:
        started = time.monotonic()
        result = run(options)
        result.seconds_taken = time.monotonic() - started
        return result

    return wrapper
