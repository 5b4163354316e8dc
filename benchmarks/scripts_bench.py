"""MemDB script microbenchmark: scripts per second, in process and over HTTP.

    python -m benchmarks.scripts_bench [--seconds 5] [--clients 1 8 32]

Two registered scripts: `trivial` returns 1, and `ten_calls` makes ten
db.call's (five KeyValue sets, five gets). In process, one asyncio task runs
them through ScriptEngine.run, with no log. Over HTTP, `nanoqueue serve`
runs as a subprocess on 127.0.0.1 with fsync = "no", so the figures measure
scripts and HTTP, not the disk, and the given number of concurrent aiohttp
clients in this process post to /db/scripts/{sha} for the given time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks import server_process
from nanoqueue.scripting.engine import ScriptEngine

SCRIPTS = {
    "trivial": "return 1",
    "ten_calls": (
        "local kv, key, value = KEYS[1], KEYS[2], ARGV[1]\n"
        "for i = 1, 5 do db.call(kv, 'set', key .. i, value) end\n"
        "for i = 1, 5 do db.call(kv, 'get', key .. i) end\n"
        "return 10"
    ),
}
KEYS = ["bench", "key"]
ARGS = ["v" * 100]
SETUP = "db.create('keyvalue', 'bench')"


async def in_process(seconds: float) -> dict[str, float]:
    """Return scripts per second of each script run through ScriptEngine.run."""
    engine = ScriptEngine()
    await engine.eval(SETUP)
    rates = {}
    for name, source in SCRIPTS.items():
        sha = engine.register(source)
        count = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            for _ in range(100):
                await engine.run(sha, KEYS, ARGS)
            count += 100
        rates[name] = count / (time.perf_counter() - started)
    return rates


def start_server(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    config_text = '[storage]\nfsync = "no"\n'
    return server_process.start_server(config_text, work / "data", work, "server")


async def over_http(
    url: str, clients: list[int], seconds: float
) -> dict[str, dict[int, float]]:
    """Return scripts per second of each script for each number of clients."""
    rates: dict[str, dict[int, float]] = {}
    connector = aiohttp.TCPConnector(limit=max(clients))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(f"{url}/db/eval", json={"script": SETUP}) as response:
            assert response.status == 200, await response.text()
        for name, source in SCRIPTS.items():
            async with session.post(
                f"{url}/db/scripts", json={"script": source}
            ) as response:
                sha = (await response.json())["sha"]
            rates[name] = {}
            for count in clients:
                rates[name][count] = await drive(
                    session, f"{url}/db/scripts/{sha}", count, seconds
                )
    return rates


async def drive(
    session: aiohttp.ClientSession, url: str, clients: int, seconds: float
) -> float:
    body = {"keys": KEYS, "args": ARGS}
    deadline = time.perf_counter() + seconds
    done = 0

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with session.post(url, json=body) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"script failed with HTTP {response.status}")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.perf_counter() - started)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per figure")
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=[1, 8, 32],
        help="concurrent HTTP clients",
    )
    parser.add_argument(
        "--skip-http", action="store_true", help="measure in process only"
    )
    options = parser.parse_args()

    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"machine: {machine()}")
    print(f"commit: {commit()}")
    print(f"python: {platform.python_version()}")

    print("\nin process (ScriptEngine.run, one task):")
    for name, rate in asyncio.run(in_process(options.seconds)).items():
        print(f"  {name:10} {rate:10,.0f} scripts/s")

    if options.skip_http:
        return
    with tempfile.TemporaryDirectory(prefix="scripts-bench-") as work:
        process, url = start_server(Path(work))
        try:
            rates = asyncio.run(over_http(url, options.clients, options.seconds))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    print("\nover HTTP (POST /db/scripts/{sha}, fsync = no):")
    for name, by_clients in rates.items():
        for clients, rate in by_clients.items():
            print(f"  {name:10} {clients:3} clients {rate:10,.0f} scripts/s")


if __name__ == "__main__":
    main()
