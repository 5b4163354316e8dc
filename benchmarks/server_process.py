"""Start a `nanoqueue serve` subprocess on 127.0.0.1 for the small benchmarks."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

LISTENING = re.compile(r"listening on http://[\d.]+:(\d+)")
START_TIMEOUT_S = 30.0


def start_server(
    config_text: str, data_dir: Path, work: Path, name: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server with `config_text` on a free port; return it and its URL.

    The server's log goes to `work/NAME.log`. Raises RuntimeError with that
    log if the server does not report its port within START_TIMEOUT_S.
    """
    config = work / f"{name}.toml"
    config.write_text(config_text)
    log_path = work / f"{name}.log"
    command = [
        sys.executable,
        "-m",
        "nanoqueue",
        "serve",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--log-level",
        "INFO",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        match = LISTENING.search(log_path.read_text())
        if match:
            return process, f"http://127.0.0.1:{match.group(1)}"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server did not start:\n{log_path.read_text()}")
