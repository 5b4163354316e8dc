"""Helpers for durability tests: a real server in a subprocess on a temp data dir."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

LISTENING = re.compile(r"listening on http://([\d.]+):(\d+)")
START_TIMEOUT_S = 20.0


class ServerProcess:
    """`python -m nanoqueue serve` on 127.0.0.1 with a port the kernel picks."""

    def __init__(self, data_dir: Path, work_dir: Path, **storage: Any) -> None:
        self.data_dir = data_dir
        self.work_dir = work_dir
        self.storage = {"fsync": "always", **storage}
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0

    def start(self) -> subprocess.Popen[bytes]:
        """Start the server and return once it listens, or once it exits."""
        self.starts += 1
        config = self.work_dir / f"config-{self.starts}.toml"
        lines = ["[storage]"] + [
            f"{key} = {value!r}".replace("'", '"')
            for key, value in self.storage.items()
        ]
        config.write_text("\n".join(lines) + "\n")
        self.log_path = self.work_dir / f"server-{self.starts}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "nanoqueue",
                    "serve",
                    "--config",
                    str(config),
                    "--port",
                    "0",
                    "--data-dir",
                    str(self.data_dir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log())
            if match:
                self.url = f"http://127.0.0.1:{match.group(2)}"
                return self.process
            if self.process.poll() is not None:
                return self.process
            time.sleep(0.02)
        raise AssertionError(f"server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        """Send SIGTERM and return the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def wait_exit(self, timeout_s: float = 20.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)


async def run_script(
    session: aiohttp.ClientSession,
    url: str,
    script: str,
    keys: list[Any] | None = None,
    args: list[Any] | None = None,
) -> tuple[int, Any]:
    """POST a script to /db/eval and return the status and the decoded body."""
    body = {"script": script, "keys": keys or [], "args": args or []}
    async with session.post(f"{url}/db/eval", json=body) as response:
        return response.status, await response.json()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Build ServerProcess objects and kill whatever is left running at the end."""
    servers: list[ServerProcess] = []

    def build(data_dir: Path | None = None, **storage: Any) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / "data", tmp_path, **storage)
        servers.append(server)
        return server

    yield build
    for server in servers:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Any]:
    """Mount small tmpfs file systems under tmp_path; skip if mounting is not allowed."""
    mounts: list[Path] = []

    def mount(name: str, size: str, *options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        option = ",".join((f"size={size}",) + options)
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", option, "tmpfs", str(point)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.skip(
                f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}"
            )
        mounts.append(point)
        return point

    yield mount
    for point in reversed(mounts):
        subprocess.run(["umount", "-l", str(point)], check=False)


def remount(point: Path, *options: str) -> None:
    subprocess.run(
        ["mount", "-o", ",".join(("remount",) + options), str(point)], check=True
    )


def pids_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive
