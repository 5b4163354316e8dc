"""Instructions per request of nanoqueue and the no-op app, counted by callgrind.

Throughput on a shared virtual machine drifts by 20% or more between runs,
while the instructions a server runs per request varied by under 5% between
repeated runs on the machine in benchmarks/README.md. So this is the figure
to compare two versions of the code by. Each server runs
under valgrind's callgrind while wrk sends it one fixed request. The counters
are zeroed after a warm-up and dumped after the measured seconds, and the
instructions of that window are divided by the requests wrk completed in it.

What the count leaves out: callgrind counts user-space instructions only, so
system calls are missing, and it runs the server about 30 times slower, one
thread at a time. So fewer requests arrive together, and a send run joins
fewer of them than in a native run at the same number of clients.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import wrk
from benchmarks.harness.peers import (
    NanoqueueServer,
    NoopServer,
    PeerUnavailable,
    Server,
    running,
)
from benchmarks.harness.targets import Load, Target, prepare, wrk_load

# Under callgrind the no-op app answered about 600 requests a second against
# 20,000 without it, and start-up, imports included, slows down as much.
CALLGRIND_START_TIMEOUT_S = 300.0
COUNTED = ("send", "batch")


@dataclass(frozen=True)
class Count:
    """The instructions one server ran for the requests of the measured window."""

    target: str
    requests: int
    instructions: int

    @property
    def per_request(self) -> float:
        return self.instructions / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "requests": self.requests,
            "instructions": self.instructions,
            "instructions_per_request": round(self.per_request),
        }


def check_installed() -> tuple[str, str]:
    """Return the paths of valgrind and callgrind_control, or raise PeerUnavailable."""
    valgrind = shutil.which("valgrind")
    control = shutil.which("callgrind_control")
    if valgrind is None or control is None:
        raise PeerUnavailable(
            "valgrind is not installed; install it with "
            "apt-get update && apt-get install -y valgrind"
        )
    return valgrind, control


def run(
    scenario: str, clients: int, seconds: float, warmup_s: float, folder: Path
) -> list[Count]:
    """Count the instructions per request of the no-op app and of nanoqueue."""
    folder.mkdir(parents=True, exist_ok=True)
    load = Load("send", clients, seconds, batch=10 if scenario == "batch" else 1)
    counts = []
    for server, target in (
        (NoopServer(), Target("noop", "native", "wrk")),
        (NanoqueueServer(fsync="always"), Target("nanoqueue", "native", "wrk")),
    ):
        counts.append(
            _count(server, target, load, warmup_s, folder / f"callgrind-{server.name}")
        )
    return counts


def _count(
    server: Server, target: Target, load: Load, warmup_s: float, out_file: Path
) -> Count:
    valgrind, control = check_installed()
    server.command_prefix = [
        valgrind,
        "--tool=callgrind",
        f"--callgrind-out-file={out_file}",
        "--dump-instr=no",
    ]
    server.start_timeout_s = CALLGRIND_START_TIMEOUT_S
    with running(server):
        prepared = prepare(target, server, "instructions")
        requests = wrk_load(prepared, load)
        label = target.label
        wrk.run(
            prepared.url, requests, load.clients, warmup_s, label=f"warm-up {label}"
        )
        _control(control, "--zero", server.pid)
        result = wrk.run(
            prepared.url, requests, load.clients, load.seconds, label=label
        )
        _control(control, "--dump", server.pid)
        # The dump of the measured window is the only numbered file so far,
        # because the server writes the rest of its run when it stops.
        dumps = sorted(out_file.parent.glob(f"{out_file.name}.*"))
        if not dumps:
            raise RuntimeError(f"callgrind wrote no dump next to {out_file}")
        instructions = _total(dumps[-1])
    completed = result["requests"] - result["errors"]["status"]
    return Count(label, completed, instructions)


def _control(control: str, action: str, pid: int) -> None:
    subprocess.run(
        [control, action, str(pid)], check=True, capture_output=True, timeout=120
    )


def _total(dump: Path) -> int:
    """Return the instruction total of a callgrind dump file."""
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"{dump} has no totals line")


def summary(scenario: str, counts: list[Count]) -> str:
    """Render the counts as a Markdown table with each one's ratio to the first."""
    base = counts[0].per_request
    lines = [
        f"{scenario}: instructions per request under callgrind",
        "",
        "| target | requests | instructions per request | against the no-op app |",
        "| --- | ---: | ---: | ---: |",
    ]
    for count in counts:
        ratio = count.per_request / base if base else 0.0
        lines.append(
            f"| {count.target} | {count.requests:,} | {count.per_request:,.0f} "
            f"| {ratio:.2f}x |"
        )
    return "\n".join(lines)
