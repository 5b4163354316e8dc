"""Profiles the nanoqueue server with py-spy while wrk drives one scenario."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path

from benchmarks.harness.peers import NanoqueueServer, PeerUnavailable, running
from benchmarks.harness.protocols import eval_request
from benchmarks.harness.server_scenarios import EVAL_SCRIPT
from benchmarks.harness.targets import Load, Target, fill_backlog, measure, prepare

LINE_NUMBER = re.compile(r":\d+\)$")
THREAD_FRAME = re.compile(r"^thread \((?P<id>[^)]*)\)(?:: (?P<name>.*))?$")
MAIN_THREAD = "MainThread"
THREAD_START = "Thread._bootstrap"
PROFILED = ("send", "batch", "cycle", "steady", "eval")


def load_for(scenario: str, clients: int, seconds: float) -> Load:
    if scenario == "batch":
        return Load("send", clients, seconds, batch=10)
    if scenario == "cycle":
        return Load("cycle", clients, seconds, backlog=int(8000 * (seconds + 3)))
    if scenario == "steady":
        return Load("steady", clients, seconds)
    if scenario == "eval":
        request = eval_request(EVAL_SCRIPT, ["bench"], ["hits"])
        return Load("request", clients, seconds, request=request)
    return Load("send", clients, seconds)


def run(scenario: str, clients: int, seconds: float, fsync: str, folder: Path) -> str:
    """Profile the server under `scenario`; return a text report of the top functions."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise PeerUnavailable(
            "py-spy is not installed; install it with pip install py-spy"
        )
    folder.mkdir(parents=True, exist_ok=True)
    raw_path = folder / f"profile-{scenario}.txt"
    load = load_for(scenario, clients, seconds)
    with running(NanoqueueServer(fsync=fsync)) as server:
        prepared = prepare(
            Target("nanoqueue", "native", "wrk", queue="profile"), server, "profile"
        )
        if load.backlog:
            fill_backlog(prepared, load.backlog)
        command = [
            py_spy,
            "record",
            "--pid",
            str(server.pid),
            "--duration",
            str(round(seconds)),
            "--rate",
            "250",
            "--format",
            "raw",
            # Each stack then starts with "thread (TID): NAME", so the event
            # loop's main thread can be separated from executor threads.
            "--threads",
            "--output",
            str(raw_path),
        ]
        recorder = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        output: list[str] = []
        reader = threading.Thread(
            target=lambda: output.append(recorder.communicate()[0] or "")
        )
        reader.start()
        row = measure(prepared, load, warmup_s=0)
        reader.join(seconds + 30)
    if recorder.returncode not in (0, None) or not raw_path.exists():
        raise RuntimeError(f"py-spy failed: {''.join(output)[-1000:]}")
    header = (
        f"{scenario}: {row.requests_per_s:,.0f} requests/s, {row.messages_per_s:,.0f} messages/s "
        f"while profiled (py-spy at 250 Hz slows the server), server CPU "
        f"{row.server.get('cpu_cores', 0):.0%}"
    )
    return header + "\n" + top_functions(raw_path.read_text())


def top_functions(raw: str, count: int = 25) -> str:
    """Summarise py-spy's collapsed stacks of the event loop thread.

    The event loop runs on the server's main thread, under asyncio's loop or
    uvloop alike. Percentages are of that thread's busy samples, because it
    runs every request and script; samples of other threads (executor
    threads) are counted apart.
    """
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    loop_samples = 0
    other_samples: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        weight = int(number)
        frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
        thread, frames = _split_thread(frames)
        if not frames:
            continue
        if not _is_main_thread(thread, frames):
            prefix = f"[{thread}] " if thread else ""
            other_samples[prefix + frames[-1]] += weight
            continue
        loop_samples += weight
        own[frames[-1]] += weight
        for frame in set(frames):
            total[frame] += weight
    if loop_samples == 0:
        return "no samples of the event loop thread"
    busy = f"{loop_samples} busy samples of the event loop thread"
    lines = [
        f"{busy}, {sum(other_samples.values())} of other threads",
        "",
        "event loop, own time:",
    ]
    lines += [_share(frame, n, loop_samples) for frame, n in own.most_common(count)]
    # Including callees, only nanoqueue's own functions show where time goes,
    # because the event loop and click frames are under every sample.
    ours = [
        (frame, n)
        for frame, n in total.most_common()
        if "(nanoqueue/" in frame and "(nanoqueue/cli.py)" not in frame
    ]
    lines += ["", "event loop, including callees, nanoqueue functions only:"]
    lines += [_share(frame, n, loop_samples) for frame, n in ours[:count]]
    lines += ["", "other threads, own time (as a share of the event loop's samples):"]
    lines += [
        _share(frame, n, loop_samples) for frame, n in other_samples.most_common(5)
    ]
    return "\n".join(lines)


def _split_thread(frames: list[str]) -> tuple[str, list[str]]:
    """Return the thread name of a `--threads` stack and the frames below it.

    py-spy 0.4.3 writes the thread as "thread (TID): NAME". The name is ""
    for a stack recorded without `--threads`, and the thread id where
    py-spy gives no name.
    """
    match = THREAD_FRAME.match(frames[0])
    if match is None:
        return "", frames
    return match.group("name") or match.group("id"), frames[1:]


def _is_main_thread(thread: str, frames: list[str]) -> bool:
    # Python names its main thread MainThread. Without that name, a thread
    # started by the threading module has Thread._bootstrap at the bottom of
    # every stack, and the main thread never has.
    if thread == MAIN_THREAD:
        return True
    return not frames[0].startswith(THREAD_START)


def _share(frame: str, samples: int, of: int) -> str:
    return f"  {100 * samples / of:5.1f}%  {frame}"
