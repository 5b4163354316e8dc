"""CPU time and resident memory of a server process, read from /proc."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """Return user plus system CPU seconds used by `pid` and its child processes.

    nanoqueue's children work for it: the log syncer calls fdatasync, and
    each snapshot is written by a forked child. Children that have exited
    and been reaped count through the cutime and cstime fields of `pid`.
    """
    ticks = _ticks(pid, reaped_children=True)
    for child in child_pids(pid):
        try:
            ticks += _ticks(child, reaped_children=False)
        except FileNotFoundError:
            continue
    return ticks / CLOCK_TICKS


def _ticks(pid: int, reaped_children: bool) -> int:
    with open(f"/proc/{pid}/stat") as file:
        text = file.read()
    # The command name in field 2 may contain spaces, so split after its ")".
    fields = text[text.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


def child_pids(pid: int) -> list[int]:
    """Return the process IDs of the children of every thread of `pid`."""
    pids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return pids
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as file:
                pids.extend(int(child) for child in file.read().split())
        except FileNotFoundError:
            continue
    return pids


def runqueue_wait_s(pid: int) -> float:
    """Return the seconds the main thread of `pid` was runnable but waited for a CPU.

    The second field of /proc/PID/schedstat is that time in nanoseconds. It
    shows how much other processes on the machine held the server back.
    """
    try:
        with open(f"/proc/{pid}/schedstat") as file:
            return int(file.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def event_loop_name(pid: int) -> str:
    """Return "uvloop" if `pid` has uvloop's extension module mapped, else "asyncio".

    nanoqueue and the no-op app import uvloop only to run on its loop, so a
    mapped uvloop module means that loop runs. Read it once the server
    accepts connections, because the import happens before the loop starts.
    Returns "unknown" where the map cannot be read.
    """
    try:
        with open(f"/proc/{pid}/maps") as file:
            for line in file:
                if "/uvloop/" in line:
                    return "uvloop"
    except OSError:
        return "unknown"
    return "asyncio"


def memory_kib(pid: int) -> dict[str, int]:
    """Return VmRSS and VmHWM (peak resident set) of `pid` in KiB."""
    figures: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                figures[name] = int(value.split()[0])
    return figures


def rss_bytes(pid: int) -> int:
    """Return the current resident set of `pid` in bytes, from /proc/PID/statm."""
    with open(f"/proc/{pid}/statm") as file:
        return int(file.read().split()[1]) * PAGE_BYTES


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM of `pid` to its current RSS; return False where not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        return False
    return True


@dataclass
class ProcessUsage:
    """CPU and memory of one process over a measurement window."""

    cpu_s: float
    wall_s: float
    peak_rss_bytes: int
    peak_rss_since_start_bytes: int
    runqueue_wait_s: float = 0.0

    @property
    def cpu_cores(self) -> float:
        """CPU used as a fraction of one core."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "cpu_s": round(self.cpu_s, 3),
            "wall_s": round(self.wall_s, 3),
            "cpu_cores": round(self.cpu_cores, 4),
            "peak_rss_mib": round(self.peak_rss_bytes / 2**20, 1),
            "peak_rss_since_start_mib": round(
                self.peak_rss_since_start_bytes / 2**20, 1
            ),
            "runqueue_wait_fraction": round(self.runqueue_wait_s / self.wall_s, 4)
            if self.wall_s > 0
            else 0.0,
        }


class UsageMonitor:
    """Samples a process's RSS ten times a second between start() and stop()."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._peak_rss = 0
        self._cpu_start = 0.0
        self._wall_start = 0.0
        self._wait_start = 0.0
        self.usage: ProcessUsage | None = None

    def start(self) -> None:
        reset_peak_rss(self.pid)
        self._peak_rss = rss_bytes(self.pid)
        self._cpu_start = cpu_seconds(self.pid)
        self._wait_start = runqueue_wait_s(self.pid)
        self._wall_start = time.monotonic()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self._peak_rss = max(self._peak_rss, rss_bytes(self.pid))
            except OSError:
                return

    def stop(self) -> ProcessUsage:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        wall_s = time.monotonic() - self._wall_start
        cpu_s = cpu_seconds(self.pid) - self._cpu_start
        memory = memory_kib(self.pid)
        peak = max(self._peak_rss, memory.get("VmRSS", 0) * 1024)
        self.usage = ProcessUsage(
            cpu_s=cpu_s,
            wall_s=wall_s,
            peak_rss_bytes=peak,
            peak_rss_since_start_bytes=memory.get("VmHWM", 0) * 1024,
            runqueue_wait_s=runqueue_wait_s(self.pid) - self._wait_start,
        )
        return self.usage


def established_connections(port: int) -> int:
    """Count established IPv4 TCP connections to local `port`, from /proc/net/tcp."""
    count = 0
    with open("/proc/net/tcp") as file:
        next(file)
        for line in file:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            # State 01 is TCP_ESTABLISHED in the kernel's numbering.
            if local_port == port and fields[3] == "01":
                count += 1
    return count
