"""Quick tests of the harness's own parts; run with `pytest benchmarks/tests`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks.__main__ import main
from benchmarks.harness import instructions, procstat, wrk
from benchmarks.harness.histogram import Histogram
from benchmarks.harness.peers import ROOT, SOURCE, NanoqueueServer
from benchmarks.harness.protocols import NativeProtocol, SqsProtocol
from benchmarks.harness.scenarios import comparisons
from benchmarks.harness.targets import Row


def test_histogram_percentiles_within_one_percent() -> None:
    histogram = Histogram()
    for value in range(1, 10_001):
        histogram.record(float(value))
    assert abs(histogram.percentile(50) - 5000) / 5000 < 0.011
    assert abs(histogram.percentile(99) - 9900) / 9900 < 0.011
    assert histogram.percentile(100) == 10_000
    assert histogram.max_us == 10_000


def test_histogram_merge_adds_counts() -> None:
    first, second = Histogram(), Histogram()
    first.record(100.0)
    second.record(900.0)
    second.record(800.0)
    merged = Histogram.from_json(first.to_json())
    merged.merge(Histogram.from_json(second.to_json()))
    assert merged.total == 3
    assert merged.max_us == 900.0
    assert merged.percentile(33) < 110


def test_histogram_empty_is_zero() -> None:
    assert Histogram().percentile(99) == 0.0


def test_cpu_seconds_grows_with_work() -> None:
    before = procstat.cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    assert procstat.cpu_seconds(os.getpid()) > before


def test_cpu_seconds_counts_live_and_reaped_children() -> None:
    # The child spins for 0.3 s of CPU and then waits for its stdin to close.
    spin = (
        "import sys, time\n"
        "end = time.process_time() + 0.3\n"
        "while time.process_time() < end: pass\n"
        "print(flush=True); sys.stdin.read()"
    )
    before = procstat.cpu_seconds(os.getpid())
    child = subprocess.Popen(
        [sys.executable, "-c", spin], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdout is not None and child.stdin is not None
    child.stdout.readline()
    assert child.pid in procstat.child_pids(os.getpid())
    live = procstat.cpu_seconds(os.getpid()) - before
    child.stdin.close()
    child.wait()
    child.stdout.close()
    reaped = procstat.cpu_seconds(os.getpid()) - before
    assert live >= 0.3
    assert reaped >= 0.3


def test_memory_reports_rss_and_peak() -> None:
    figures = procstat.memory_kib(os.getpid())
    assert figures["VmRSS"] > 0
    assert figures["VmHWM"] >= figures["VmRSS"]


def event_loop_of_child(code: str) -> str:
    """Run `code` in a child Python, then read its event loop name while it waits."""
    with subprocess.Popen(
        [sys.executable, "-c", f"{code}; print(1, flush=True); input()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as child:
        try:
            assert child.stdout is not None
            child.stdout.readline()
            return procstat.event_loop_name(child.pid)
        finally:
            child.kill()


def test_event_loop_name_finds_uvloop() -> None:
    pytest.importorskip("uvloop")
    assert event_loop_of_child("import uvloop") == "uvloop"


def test_event_loop_name_without_uvloop() -> None:
    assert event_loop_of_child("import asyncio") == "asyncio"


def test_lua_string_escapes_quotes_and_bytes() -> None:
    assert wrk._lua_string('a"b\\c') == '"a\\034b\\092c"'
    assert wrk._lua_string(b"\n\xff") == '"\\010\\255"'


def test_wrk_config_has_every_request() -> None:
    protocol = SqsProtocol("http://127.0.0.1:1/000000000000/q")
    load = wrk.WrkLoad("steady", send=protocol.send("x"), protocol=protocol)
    config = load.lua_config()
    assert "AmazonSQS.SendMessage" in config
    assert "AmazonSQS.ReceiveMessage" in config
    assert "ReceiptHandle" in config


def test_native_delete_quotes_handle() -> None:
    request = NativeProtocol("q").delete().build("a/b+c")
    assert request.path == "/queues/q/messages/a%2Fb%2Bc"
    assert request.body is None


def test_comparisons_pair_same_generator() -> None:
    rows = [
        Row("noop", "noop", "native", "wrk", 64, requests_per_s=10_000),
        Row(
            "nq",
            "nanoqueue",
            "native",
            "wrk",
            64,
            requests_per_s=6000,
            messages_per_s=6000,
        ),
        Row("redis", "redis-always", "redis", "python", 64, messages_per_s=3000),
    ]
    ratios = comparisons(rows)
    assert len(ratios) == 1
    assert ratios[0]["ratio"] == 0.6


def test_comparisons_pair_same_clients() -> None:
    rows = [
        Row("noop", "noop", "native", "wrk", clients, requests_per_s=rate)
        for clients, rate in ((1, 5000), (64, 20_000))
    ] + [
        Row(
            "nq",
            "nanoqueue",
            "native",
            "wrk",
            clients,
            requests_per_s=rate,
            messages_per_s=rate,
        )
        for clients, rate in ((1, 2000), (64, 12_000))
    ]

    ratios = comparisons(rows)

    assert [ratio["ratio"] for ratio in ratios] == [0.4, 0.6]
    assert ratios[0]["nanoqueue"] == "nq, 1 client"
    assert ratios[1]["peer"] == "noop, 64 clients"


def test_callgrind_total_read_from_dump(tmp_path: Path) -> None:
    dump = tmp_path / "callgrind.out.1"
    dump.write_text(
        "version: 1\ncreator: callgrind\nevents: Ir\nfn=(1) main\n0 5\ntotals: 123456\n"
    )

    assert instructions._total(dump) == 123_456


def test_instruction_summary_ratio() -> None:
    counts = [
        instructions.Count("no-op", 1000, 200_000_000),
        instructions.Count("nanoqueue", 500, 170_000_000),
    ]

    text = instructions.summary("send", counts)

    assert "| no-op | 1,000 | 200,000 | 1.00x |" in text
    assert "| nanoqueue | 500 | 340,000 | 1.70x |" in text


def test_worktree_flag_selects_work_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SOURCE, "use_worktree", False)

    # The unknown scenario stops the run before any server starts.
    result = CliRunner().invoke(main, ["run", "no-such-scenario", "--worktree"])

    assert result.exit_code == 2
    assert SOURCE.use_worktree
    assert SOURCE.describe() == "work tree"


def test_worktree_server_imports_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SOURCE, "use_worktree", True)
    monkeypatch.delenv("PYTHONPATH", raising=False)

    server = NanoqueueServer()
    environment = server.environment()
    shutil.rmtree(server.directory)

    first = environment["PYTHONPATH"].split(os.pathsep)[0]
    assert first == str(ROOT)
    assert (Path(first) / "nanoqueue" / "__init__.py").is_file()
