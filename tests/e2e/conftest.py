"""Fixtures that start real `nanoqueue serve` processes and kill them afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import ServerProcess, StartServer


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers in `tmp_path` on an ephemeral port; SIGKILL leftovers at the end.

    By default a server uses `tmp_path / "data"` and the built-in config.
    `wait=False` returns before the server listens, for start-up failures.
    """
    started: list[ServerProcess] = []

    def start(*args: str, wait: bool = True) -> ServerProcess:
        if "--data-dir" not in args:
            args = (*args, "--data-dir", str(tmp_path / "data"))
        if "--port" not in args:
            args = (*args, "--port", "0")
        server = ServerProcess(list(args), cwd=tmp_path)
        started.append(server)
        server.start()
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.kill()
