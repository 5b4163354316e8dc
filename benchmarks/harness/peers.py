"""Peer servers the harness starts on 127.0.0.1 and always stops again.

Each server runs as a child process with a temporary directory for its data
and log, on a free ephemeral port. It runs in its own session, so Ctrl-C in
the terminal reaches only the harness, which then stops every child it
started.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.harness.procstat import event_loop_name

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class PeerUnavailable(Exception):
    """A peer cannot run here; the message names the install step."""


class PeerFailed(Exception):
    """A peer process exited or did not come up in time."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A child process serving on 127.0.0.1:port with a temporary directory."""

    name = "server"
    # True for the Python servers that pick their asyncio event loop at start.
    has_event_loop = False

    def __init__(self) -> None:
        self.port = 0
        # A program that runs the server, such as valgrind, and the start-up
        # time it needs.
        self.command_prefix: list[str] = []
        self.start_timeout_s = START_TIMEOUT_S
        # "uvloop", "asyncio" or "unknown" once a server with an event loop has
        # started, as procstat.event_loop_name found it.
        self.event_loop = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.directory = Path(tempfile.mkdtemp(prefix=f"nqbench-{self.name}-"))
        self.log_path = self.directory / "server.log"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise PeerFailed(f"{self.name} is not running")
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def check_installed(self) -> None:
        """Raise PeerUnavailable naming the install step if this peer cannot run."""

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def is_ready(self) -> bool:
        return _accepts_connections(self.port)

    def start(self) -> None:
        self.check_installed()
        if not self.port:
            self.port = free_port()
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [*self.command_prefix, *self.command()],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=self.environment(),
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while not self.is_ready():
            if self.process.poll() is not None:
                tail = self.log_tail()
                last = tail.splitlines()[-1] if tail else ""
                raise PeerFailed(
                    f"{self.name} exited with status {self.process.returncode} "
                    f"at start: {last}\n{tail}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise PeerFailed(
                    f"{self.name} did not accept connections on port {self.port} "
                    f"within {self.start_timeout_s:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)
        if self.has_event_loop:
            self.event_loop = event_loop_name(self.pid)
        logger.info("started %s on %s (pid %d)", self.name, self.url, self.pid)

    def stop(self) -> None:
        """Stop with SIGTERM, then SIGKILL after a grace period."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Kill with SIGKILL, as a crash would, and wait for the exit."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ready(port: int, path: str) -> bool:
    """Return True once GET `path` gets any HTTP reply."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
            )
            return sock.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


ROOT = Path(__file__).resolve().parents[2]


class NanoqueueSource:
    """The nanoqueue code that servers run: one commit exported, or the work tree.

    By default HEAD's `nanoqueue/` is exported with `git archive` into a
    temporary directory put first on the server's PYTHONPATH, so that edits
    in progress in the shared work tree do not change a run, and each figure
    belongs to one commit.
    """

    def __init__(self) -> None:
        self.use_worktree = False
        self.commit = ""
        self._directory: Path | None = None

    def path(self) -> Path:
        """Return the directory to import nanoqueue from.

        For the work tree that is this checkout's root, so that the server
        runs the code next to the harness and not whichever nanoqueue pip
        installed. Otherwise it is the export of HEAD.
        """
        if self.use_worktree:
            return ROOT
        if self._directory is None:
            self.commit = _git_output("rev-parse", "--short", "HEAD")
            directory = Path(tempfile.mkdtemp(prefix=f"nqbench-source-{self.commit}-"))
            archive = subprocess.run(
                ["git", "archive", "HEAD", "nanoqueue"],
                cwd=ROOT,
                capture_output=True,
                check=True,
            )
            subprocess.run(
                ["tar", "-x", "-C", str(directory)], input=archive.stdout, check=True
            )
            atexit.register(shutil.rmtree, directory, True)
            self._directory = directory
        return self._directory

    def describe(self) -> str:
        if self.use_worktree:
            return "work tree"
        self.path()
        return f"commit {self.commit}"


def _git_output(*args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


SOURCE = NanoqueueSource()


class NanoqueueServer(Server):
    """`nanoqueue serve` with a generated config file."""

    name = "nanoqueue"
    has_event_loop = True

    def __init__(
        self, fsync: str = "always", storage: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.fsync = fsync
        self.storage = dict(storage or {})
        self.data_dir = self.directory / "data"
        self.config_path = self.directory / "nanoqueue.toml"

    def command(self) -> list[str]:
        lines = ["[storage]", f'fsync = "{self.fsync}"']
        for key, value in self.storage.items():
            lines.append(f"{key} = {_toml_value(value)}")
        self.config_path.write_text("\n".join(lines) + "\n")
        return [
            sys.executable,
            "-c",
            "from nanoqueue.cli import main; main()",
            "serve",
            "--config",
            str(self.config_path),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "INFO",
        ]

    def is_ready(self) -> bool:
        return _http_ready(self.port, "/openapi.json")

    def environment(self) -> dict[str, str]:
        paths = [
            str(SOURCE.path()),
            *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)),
        ]
        return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class NoopServer(Server):
    """The no-op aiohttp app of benchmarks/harness/noop_app.py."""

    name = "noop"
    has_event_loop = True

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "benchmarks.harness.noop_app",
            "--port",
            str(self.port),
        ]

    def environment(self) -> dict[str, str]:
        # The child imports the benchmarks package from the checkout root.
        root = str(Path(__file__).resolve().parents[2])
        paths = [
            root,
            *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)),
        ]
        return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


class MotoServer(Server):
    """moto's `moto_server`, which serves SQS among other AWS services."""

    name = "moto"

    def check_installed(self) -> None:
        if shutil.which("moto_server") is None:
            raise PeerUnavailable(
                "moto_server is not installed; install it with pip install -e '.[bench]'"
            )

    def command(self) -> list[str]:
        return [
            shutil.which("moto_server") or "moto_server",
            "-H",
            HOST,
            "-p",
            str(self.port),
        ]


class RedisServer(Server):
    """Debian's redis-server with the append-only file on and no RDB saves."""

    name = "redis"

    def __init__(self, appendfsync: str = "always") -> None:
        self.appendfsync = appendfsync
        self.name = f"redis-{appendfsync}"
        super().__init__()

    def check_installed(self) -> None:
        if shutil.which("redis-server") is None:
            raise PeerUnavailable(
                "redis-server is not installed; install it with "
                "apt-get update && apt-get install -y redis-server"
            )
        try:
            import redis  # noqa: F401
        except ImportError as exc:
            raise PeerUnavailable(
                "redis-py is not installed; install it with pip install -e '.[bench]'"
            ) from exc

    def command(self) -> list[str]:
        return [
            shutil.which("redis-server") or "redis-server",
            "--bind",
            HOST,
            "--port",
            str(self.port),
            "--protected-mode",
            "yes",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    """Start `server`, yield it, and stop it and remove its directory after."""
    try:
        server.start()
        yield server
    finally:
        server.remove()


def raise_keyboard_interrupt_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so every started peer is stopped."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
