"""A real nanoqueue server in a subprocess, for the durability tests."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

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


def remount(point: Path, *options: str) -> None:
    subprocess.run(
        ["mount", "-o", ",".join(("remount",) + options), str(point)], check=True
    )
