"""A real `nanoqueue serve` subprocess on 127.0.0.1 and a small HTTP client for it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT_S = 30.0


class ServerProcess:
    """One `python -m nanoqueue serve` process, with its stderr collected by line."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.args = args
        self.cwd = cwd
        self.lines: list[str] = []
        self.port: int | None = None
        self._changed = threading.Condition()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._reader_done = False

    @property
    def url(self) -> str:
        assert self.port is not None, "the server has not reported its port"
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process; call `wait_ready` to wait for its port."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "nanoqueue", "serve", *self.args],
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        self._process.stderr.close()
        with self._changed:
            self._reader_done = True
            self._changed.notify_all()

    def wait_for_line(self, pattern: str, timeout_s: float = START_TIMEOUT_S) -> str:
        """Return the first stderr line matching `pattern`, waiting up to `timeout_s`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for line in self.lines:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._reader_done:
                    raise AssertionError(
                        f"no log line matched {pattern!r}; stderr was:\n"
                        + "\n".join(self.lines)
                    )
                self._changed.wait(min(remaining, 0.2))

    def wait_ready(self) -> None:
        """Wait for the `listening on` line and take the port from it."""
        line = self.wait_for_line(LISTENING.pattern)
        match = LISTENING.search(line)
        assert match is not None
        self.port = int(match.group(1))

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait_exit(self, timeout_s: float = START_TIMEOUT_S) -> int:
        """Wait for the process to exit and for its last stderr lines."""
        assert self._process is not None and self._reader is not None
        code = self._process.wait(timeout=timeout_s)
        self._reader.join(timeout=timeout_s)
        assert not self._reader.is_alive(), "stderr stayed open after exit"
        return code

    def kill(self) -> None:
        """Send SIGKILL, as a crash or an out-of-memory kill would."""
        if self._process is not None and self.running():
            self._process.send_signal(signal.SIGKILL)
            self.wait_exit()

    def terminate(self) -> int:
        """Send SIGTERM and return the exit status."""
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def stderr(self) -> str:
        with self._changed:
            return "\n".join(self.lines)


class Reply:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:300]!r})"


def request(
    server: ServerProcess,
    method: str,
    path: str,
    body: Any = None,
    timeout_s: float = 30,
) -> Reply:
    """Send one request to `server` and return its status and body, errors included."""
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"Content-Type": "application/json"}
    prepared = urllib.request.Request(
        server.url + path, data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(prepared, timeout=timeout_s) as response:
            return Reply(response.status, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read())


def create_queue(server: ServerProcess, name: str, **attributes: Any) -> None:
    """Create queue `name` with `attributes`; fail unless it is new."""
    reply = request(server, "POST", "/queues", {"name": name, "attributes": attributes})
    assert reply.status == 201, reply


def poll_until(check: Any, timeout_s: float, what: str) -> Any:
    """Call `check` until it returns a truthy value; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


StartServer = Callable[..., ServerProcess]
