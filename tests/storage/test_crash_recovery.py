"""A real server killed with SIGKILL, restarted, and checked against its replies."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from durability_support import ServerProcess, remount, run_script

pytestmark = pytest.mark.timeout(180)

SETUP = """
db.create("queue", "q")
db.create("keyvalue", "kv")
return true
"""

# Two mutations in one script: the value goes into the queue and the
# key-value store together, so a half-applied script shows as a mismatch.
WRITE = """
local value = ARGV[1]
db.call("q", "push_right", value)
db.call("kv", "set", value, ARGV[2])
return db.call("q", "len")
"""

READ_ALL = """
local values = {}
local count = db.call("q", "len")
for _ = 1, count do
    local value = db.call("q", "pop_left")
    values[#values + 1] = value
    db.call("q", "push_right", value)
end
local pairs_found = {}
for _, value in ipairs(values) do
    pairs_found[#pairs_found + 1] = db.call("kv", "get", value) or "missing"
end
return {values, pairs_found, db.call("kv", "len")}
"""


async def write_until_cancelled(
    session: aiohttp.ClientSession, url: str, writer: int, acked: set[str]
) -> None:
    number = 0
    while True:
        number += 1
        value = f"w{writer}-{uuid.uuid4().hex}-" + "x" * random.randint(0, 200)
        try:
            status, _ = await run_script(session, url, WRITE, args=[value, str(number)])
        except (aiohttp.ClientError, TimeoutError):
            return
        if status == 200:
            acked.add(value)


async def read_state(url: str) -> tuple[list[str], list[str], int]:
    async with aiohttp.ClientSession() as session:
        status, body = await run_script(session, url, READ_ALL)
    assert status == 200, body
    values, kv_values, kv_len = body["result"]
    return values, kv_values, kv_len


def check_state(state: tuple[list[str], list[str], int], acked: set[str]) -> None:
    values, kv_values, kv_len = state
    present = set(values)
    assert acked <= present, f"{len(acked - present)} acknowledged writes lost"
    assert "missing" not in kv_values, "a queue value without its key"
    assert kv_len == len(values), "a key without its queue value"


async def run_and_kill(
    server: ServerProcess,
    acked: set[str],
    writers: int,
    kill_when: Any,
    signal_name: str = "SIGKILL",
) -> int:
    """Write from `writers` clients until `kill_when` returns, then stop the server.

    Returns the exit code: negative for SIGKILL, the server's own for SIGTERM.
    """
    connector = aiohttp.TCPConnector(limit=writers)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [
            asyncio.create_task(write_until_cancelled(session, server.url, n, acked))
            for n in range(writers)
        ]
        await kill_when()
        if signal_name == "SIGKILL":
            server.kill()
            code = -9
        else:
            code = await asyncio.get_running_loop().run_in_executor(None, server.stop)
        await asyncio.gather(*tasks)
    return code


async def setup_database(server: ServerProcess) -> None:
    async with aiohttp.ClientSession() as session:
        status, body = await run_script(session, server.url, SETUP)
    assert status == 200, body


@pytest.mark.parametrize("policy", ["always", "everysec", "no"])
async def test_sigkill_keeps_acknowledged_writes(
    server_factory: Any, policy: str
) -> None:
    # Every policy promises that a process crash loses nothing acknowledged,
    # because the record is written to the file before the reply.
    server = server_factory(fsync=policy, snapshot_log_bytes=64 * 1024)
    server.start()
    await setup_database(server)
    acked: set[str] = set()
    for _ in range(3):
        await run_and_kill(
            server, acked, 8, lambda: asyncio.sleep(random.uniform(0.2, 1.0))
        )
        server.start()
        assert server.url, server.log()
        check_state(await read_state(server.url), acked)
    assert len(acked) > 0
    assert list(server.data_dir.glob("snapshot-*.nqs")), "no snapshot was taken"


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
async def test_stop_during_snapshot(server_factory: Any, signal_name: str) -> None:
    server = server_factory(fsync="always", snapshot_log_bytes=1024 * 1024)
    server.start()
    await setup_database(server)
    filler = "y" * 1000
    async with aiohttp.ClientSession() as session:
        for batch in range(20):
            script = (
                'for i = 1, 500 do db.call("kv", "set", ARGV[1] .. i, ARGV[2]) end '
                "return true"
            )
            status, body = await run_script(
                session, server.url, script, args=[f"fill{batch}-", filler]
            )
            assert status == 200, body
    acked: set[str] = set()

    async def snapshot_started() -> None:
        deadline = asyncio.get_running_loop().time() + 60
        while not list(server.data_dir.glob("snapshot-*.nqs.tmp")):
            assert asyncio.get_running_loop().time() < deadline, "no snapshot began"
            await asyncio.sleep(0.001)

    code = await run_and_kill(server, acked, 8, snapshot_started, signal_name)
    if signal_name == "SIGTERM":
        assert code == 0, server.log()
        assert "Traceback" not in server.log()
    server.start()
    assert server.url, server.log()
    values, kv_values, kv_len = await read_state(server.url)
    present = set(values)
    assert acked <= present
    assert "missing" not in kv_values
    assert kv_len == len(values) + 20 * 500


async def test_graceful_shutdown_loses_nothing(server_factory: Any) -> None:
    for policy in ("always", "everysec", "no"):
        server = server_factory(data_dir=None, fsync=policy)
        server.data_dir = server.work_dir / f"data-{policy}"
        server.start()
        await setup_database(server)
        acked: set[str] = set()
        async with aiohttp.ClientSession() as session:
            tasks = [
                asyncio.create_task(
                    write_until_cancelled(session, server.url, n, acked)
                )
                for n in range(4)
            ]
            await asyncio.sleep(0.3)
            assert server.stop() == 0, server.log()
            await asyncio.gather(*tasks)
        assert "stopped" in server.log()
        server.start()
        check_state(await read_state(server.url), acked)
        assert server.stop() == 0


async def test_second_server_rejected(server_factory: Any) -> None:
    first = server_factory()
    first.start()
    second = server_factory(data_dir=first.data_dir)
    process = second.start()
    assert process.wait(timeout=20) != 0
    assert "is in use by another nanoqueue server" in second.log()
    assert first.process is not None and first.process.poll() is None


async def test_read_only_data_dir(server_factory: Any, tmpfs: Any) -> None:
    point = tmpfs("ro", "1m")
    remount(point, "ro")
    server = server_factory(data_dir=point / "data")
    process = server.start()
    assert process.wait(timeout=20) != 0
    assert "is not writable" in server.log()
    assert "Traceback" not in server.log()
    server = server_factory(data_dir=point)
    process = server.start()
    assert process.wait(timeout=20) != 0
    assert "is not writable (Read-only file system)" in server.log()


async def test_disk_full_fails_request(server_factory: Any, tmpfs: Any) -> None:
    point = tmpfs("small", "2m")
    server = server_factory(data_dir=point / "data", snapshot_interval_s=86400.0)
    server.start()
    await setup_database(server)
    acked: set[str] = set()
    failure: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        for number in range(200):
            value = f"big{number}-" + "z" * 50_000
            status, body = await run_script(
                session, server.url, WRITE, args=[value, str(number)]
            )
            if status != 200:
                failure = {"status": status, "body": body, "value": value}
                break
            acked.add(value)
        assert failure, "the 2 MiB file system never filled up"
        assert failure["status"] == 503
        assert failure["body"]["error"]["code"] == "LogWriteFailed"
        assert "No space left on device" in failure["body"]["error"]["message"]
        status, body = await run_script(
            session,
            server.url,
            'return {db.call("kv", "get", ARGV[1]) or "absent", '
            'db.call("kv", "len"), db.call("q", "len")}',
            args=[failure["value"]],
        )
        assert status == 200, body
        assert body["result"] == ["absent", len(acked), len(acked)]

        remount(point, "size=16m")
        state = await read_state(server.url)
        check_state(state, acked)
        assert failure["value"] not in state[0]
        status, body = await run_script(
            session, server.url, WRITE, args=["after-remount", "1"]
        )
        assert status == 200, body
        acked.add("after-remount")
    server.kill()
    server.start()
    state = await read_state(server.url)
    check_state(state, acked)
    assert failure["value"] not in state[0]
    assert "CRITICAL" not in server.log()


async def test_empty_data_dir_starts(server_factory: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "empty"
    data_dir.mkdir()
    server = server_factory(data_dir=data_dir)
    server.start()
    assert server.url, server.log()
    assert "0 log records replayed" in server.log()
    await setup_database(server)
    assert server.stop() == 0


async def test_torn_tail_logged_at_start(server_factory: Any) -> None:
    server = server_factory()
    server.start()
    await setup_database(server)
    server.kill()
    log_path = next(server.data_dir.glob("log-*.nql"))
    size = log_path.stat().st_size
    log_path.write_bytes(log_path.read_bytes() + b"NQ\x01\x00" + b"\xff" * 7)
    server.start()
    assert server.url, server.log()
    assert "WARNING" in server.log()
    assert f"dropped 11 bytes at the end of log file {log_path.name}" in server.log()
    assert log_path.stat().st_size == size
    state = await read_state(server.url)
    assert state == ([], [], 0)


async def test_flipped_byte_stops_start(server_factory: Any) -> None:
    server = server_factory()
    server.start()
    await setup_database(server)
    async with aiohttp.ClientSession() as session:
        for number in range(3):
            status, _ = await run_script(
                session, server.url, WRITE, args=[f"v{number}", "1"]
            )
            assert status == 200
    server.kill()
    log_path = next(server.data_dir.glob("log-*.nql"))
    data = bytearray(log_path.read_bytes())
    data[20] ^= 0x01
    log_path.write_bytes(bytes(data))
    process = server.start()
    assert process.wait(timeout=20) != 0
    assert f"log file '{log_path}' is damaged at offset 0" in server.log()
    assert "check-data" in server.log()
    assert "Traceback" not in server.log()


async def test_damaged_snapshot_falls_back(server_factory: Any) -> None:
    server = server_factory(snapshot_log_bytes=16 * 1024)
    server.start()
    await setup_database(server)
    acked: set[str] = set()
    async with aiohttp.ClientSession() as session:
        number = 0
        while len(list(server.data_dir.glob("snapshot-*.nqs"))) < 2:
            number += 1
            value = f"s{number}-" + "x" * 500
            status, body = await run_script(
                session, server.url, WRITE, args=[value, str(number)]
            )
            assert status == 200, body
            acked.add(value)
            assert number < 5000, "fewer than two snapshots were written"
    assert server.stop() == 0
    newest = max(server.data_dir.glob("snapshot-*.nqs"))
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    server.start()
    assert server.url, server.log()
    assert f"skipping snapshot: snapshot '{newest}' fails its checksum" in server.log()
    assert not newest.exists()
    assert newest.with_name(newest.name + ".damaged").exists()
    check_state(await read_state(server.url), acked)
