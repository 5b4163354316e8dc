"""Runs wrk with the harness's Lua script and parses its result."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from benchmarks.harness.peers import PeerUnavailable
from benchmarks.harness.protocols import DeleteTemplate, HttpRequest, Protocol

SCRIPT = Path(__file__).with_name("lua") / "wrk_load.lua"
MARKER = "BENCH_JSON "


def check_installed() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise PeerUnavailable(
            "wrk is not installed; install it with apt-get update && apt-get install -y wrk"
        )
    return path


def _lua_string(value: bytes | str) -> str:
    data = value.encode() if isinstance(value, str) else value
    escaped = "".join(
        chr(byte) if 32 <= byte < 127 and byte not in (34, 92) else f"\\{byte:03d}"
        for byte in data
    )
    return f'"{escaped}"'


def _lua_request(request: HttpRequest) -> str:
    headers = ", ".join(
        f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in request.headers.items()
    )
    body = _lua_string(request.body) if request.body is not None else "nil"
    return (
        f"{{ method = {_lua_string(request.method)}, path = {_lua_string(request.path)}, "
        f"headers = {{ {headers} }}, body = {body} }}"
    )


def _lua_delete(template: DeleteTemplate) -> str:
    headers = ", ".join(
        f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in template.headers.items()
    )
    kind = "path" if template.path_prefix else "body"
    return (
        f"{{ kind = {_lua_string(kind)}, method = {_lua_string(template.method)}, "
        f"path = {_lua_string(template.path)}, path_prefix = {_lua_string(template.path_prefix)}, "
        f"headers = {{ {headers} }}, body_prefix = {_lua_string(template.body_prefix)}, "
        f"body_suffix = {_lua_string(template.body_suffix)} }}"
    )


@dataclass(frozen=True)
class WrkLoad:
    """The requests wrk sends: a fixed request, a receive and delete cycle, or both."""

    mode: str  # "static", "cycle" or "steady"
    send: HttpRequest | None = None
    protocol: Protocol | None = None
    messages_per_send: int = 1

    def lua_config(self) -> str:
        parts = [
            f"mode = {_lua_string(self.mode)}",
            f"messages_per_send = {self.messages_per_send}",
        ]
        if self.send is not None:
            parts.append(f"send = {_lua_request(self.send)}")
        if self.protocol is not None:
            parts.append(f"receive = {_lua_request(self.protocol.receive())}")
            parts.append(f"delete = {_lua_delete(self.protocol.delete())}")
            parts.append(
                f"handle_pattern = {_lua_string(self.protocol.handle_pattern)}"
            )
        return "local config = {\n  " + ",\n  ".join(parts) + "\n}\n"


def run(
    url: str,
    load: WrkLoad,
    clients: int,
    seconds: float,
    threads: int = 2,
    label: str = "",
) -> dict[str, Any]:
    """Run wrk against `url` and return its parsed figures.

    The returned dict has requests, duration_us, errors by kind, latency_us
    percentiles, and the sent/received message counts of the Lua script.
    """
    wrk = check_installed()
    threads = max(1, min(threads, clients))
    if load.mode == "steady":
        threads = max(2, threads - threads % 2)
        clients = max(clients, threads)
    with tempfile.NamedTemporaryFile(
        "w", suffix=".lua", prefix="nqbench-", delete=False
    ) as file:
        file.write(load.lua_config())
        file.write(SCRIPT.read_text())
        script = file.name
    command = [
        wrk,
        f"-t{threads}",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        script,
        url,
    ]
    try:
        output = _run_with_progress(command, seconds, label)
    finally:
        Path(script).unlink(missing_ok=True)
    for line in output.splitlines():
        if line.startswith(MARKER):
            result: dict[str, Any] = orjson.loads(line[len(MARKER) :])
            result["threads"] = threads
            result["connections"] = clients
            return result
    raise RuntimeError(f"wrk printed no result line; its output was:\n{output}")


def _run_with_progress(command: list[str], seconds: float, label: str) -> str:
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    chunks: list[str] = []
    reader = threading.Thread(
        target=lambda: chunks.append(process.stdout.read() if process.stdout else "")
    )
    reader.start()
    started = time.monotonic()
    try:
        with tqdm(
            total=round(seconds), desc=label or "wrk", unit="s", leave=False
        ) as bar:
            while process.poll() is None:
                time.sleep(0.25)
                bar.n = min(round(seconds), int(time.monotonic() - started))
                bar.refresh()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        reader.join()
    return "".join(chunks)
