"""Fixtures for durability tests: server processes and small tmpfs mounts."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from durability_support import ServerProcess


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
