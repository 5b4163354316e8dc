"""The log syncer process: replies, failures, restarts and its exit."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import types
from pathlib import Path
from typing import Any

import pytest
from durability_support import ServerProcess

from nanoqueue.errors import LogWriteFailed
from nanoqueue.storage import syncer
from nanoqueue.storage.log import AppendLog, decode_payload, iter_records
from nanoqueue.storage.memdb import Committed


def committed(value: str) -> Committed:
    return Committed([], [("kv", "set", (value, 1))])


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def gone(pid: int) -> bool:
    """True once `pid` has exited, whether or not its parent reaped it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def logged_values(path: Path) -> list[str]:
    return [
        entry[2][0]
        for _, payload in iter_records(path.read_bytes())
        for entry in decode_payload(payload)
    ]


def test_serve_replies_and_switches(tmp_path: Path) -> None:
    first = os.open(tmp_path / "a", os.O_WRONLY | os.O_CREAT)
    second = os.open(tmp_path / "b", os.O_WRONLY | os.O_CREAT)
    directory = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    ours, theirs = socket.socketpair()
    with ours:
        ours.sendall(syncer.WORD.pack(7))
        socket.send_fds(ours, [syncer.WORD.pack(syncer.SWITCH)], [second, directory])
        ours.sendall(syncer.WORD.pack(9))
        ours.shutdown(socket.SHUT_WR)
        with theirs:
            syncer.serve(first, theirs)
        replies = [word for (word,) in syncer.WORD.iter_unpack(ours.recv(64))]
    assert replies == [7, 9]
    # The syncer closed the old file at the switch.
    with pytest.raises(OSError):
        os.fstat(first)
    os.close(second)
    os.close(directory)


def test_serve_reports_failed_fdatasync() -> None:
    # fdatasync of a pipe fails with EINVAL.
    read_end, write_end = os.pipe()
    ours, theirs = socket.socketpair()
    with ours:
        ours.sendall(syncer.WORD.pack(3))
        ours.shutdown(socket.SHUT_WR)
        with theirs:
            syncer.serve(write_end, theirs)
        (reply,) = syncer.WORD.unpack(ours.recv(8))
    # The syncer closes its log file when the server closes the socket.
    with pytest.raises(OSError):
        os.fstat(write_end)
    os.close(read_end)
    assert reply == syncer.FAILED | 22


def test_serve_reports_failed_directory_sync(tmp_path: Path) -> None:
    # A pipe in place of the directory: its fsync fails with EINVAL, and the
    # first request after it fails although the log's own fdatasync works.
    log_fd = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT)
    read_end, write_end = os.pipe()
    ours, theirs = socket.socketpair()
    with ours:
        ours.sendall(syncer.WORD.pack(4))
        ours.sendall(syncer.WORD.pack(5))
        ours.shutdown(socket.SHUT_WR)
        with theirs:
            syncer.serve(log_fd, theirs, write_end)
        replies = [word for (word,) in syncer.WORD.iter_unpack(ours.recv(64))]
    os.close(read_end)
    assert replies == [syncer.FAILED | 22, 5]


async def test_failed_fdatasync_reverts_records(caplog: Any) -> None:
    # Writes to /dev/null succeed and its fdatasync fails, as a disk that
    # loses its data after the write would.
    log = AppendLog(Path("/dev/null"), "always")
    reverted: list[Committed] = []
    log.set_failure_handler(lambda: log.rewind(reverted.append))
    log.start(asyncio.get_running_loop())
    try:
        records = [committed("a"), committed("b")]
        futures = [log.append(record) for record in records]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert all(isinstance(result, LogWriteFailed) for result in results)
        assert "Invalid argument" in str(results[0])
        assert reverted == records[::-1]
        assert log.barrier() is None
    finally:
        await log.close()
    assert "fdatasync of the log file /dev/null failed" in caplog.text


async def test_killed_syncer_is_replaced(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.ERROR)
    path = tmp_path / "log"
    log = AppendLog(path, "always")
    log.start(asyncio.get_running_loop())
    try:
        await log.append(committed("before"))
        (first,) = children(os.getpid())
        os.kill(first, signal.SIGKILL)
        await asyncio.wait_for(log.append(committed("after")), timeout=10)
        (second,) = [pid for pid in children(os.getpid()) if not gone(pid)]
        assert second != first
    finally:
        await log.close()
    assert "the log syncer process stopped" in caplog.text
    assert logged_values(path) == ["before", "after"]
    assert children(os.getpid()) == [] or all(map(gone, children(os.getpid())))


async def test_rotate_moves_the_syncer(tmp_path: Path) -> None:
    log = AppendLog(tmp_path / "log-1", "always")
    log.start(asyncio.get_running_loop())
    try:
        await log.append(committed("old"))
        log.rotate(tmp_path / "log-2")
        syncs = log.syncs
        await log.append(committed("new"))
        assert log.syncs == syncs + 1
    finally:
        await log.close()
    assert logged_values(tmp_path / "log-1") == ["old"]
    assert logged_values(tmp_path / "log-2") == ["new"]


async def test_syncer_dying_unanswered_fails_records(
    tmp_path: Path, monkeypatch: Any, caplog: Any
) -> None:
    # A syncer that exits on its first request, as one that cannot run would.
    crash = tmp_path / "crash.py"
    crash.write_text(
        "import socket, sys\n"
        "socket.socket(fileno=int(sys.argv[2])).recv(8)\n"
        "sys.exit(3)\n"
    )
    stub = types.SimpleNamespace(
        WORD=syncer.WORD, SWITCH=syncer.SWITCH, FAILED=syncer.FAILED, __file__=crash
    )
    monkeypatch.setattr("nanoqueue.storage.log.syncer", stub)
    log = AppendLog(tmp_path / "log", "always")
    reverted: list[Committed] = []
    log.set_failure_handler(lambda: log.rewind(reverted.append))
    log.start(asyncio.get_running_loop())
    try:
        record = committed("a")
        with pytest.raises(LogWriteFailed, match="stopped 3 times in a row") as failure:
            await asyncio.wait_for(log.append(record), timeout=20)
        assert "Retry; the server's log says why" in failure.value.message
        assert reverted == [record]
    finally:
        await log.close()
    assert caplog.text.count("a new one starts with the next fdatasync") == 3


async def test_stalled_syncer_queues_switches(tmp_path: Path, caplog: Any) -> None:
    # A stopped syncer stops reading, so its socket fills up with switches.
    caplog.set_level(logging.WARNING)
    log = AppendLog(tmp_path / "log-0", "everysec")
    log.start(asyncio.get_running_loop())
    (child,) = children(os.getpid())
    os.kill(child, signal.SIGSTOP)
    try:
        for number in range(1, 1001):
            await log.append(committed(str(number)))
            log.rotate(tmp_path / f"log-{number}")
    finally:
        os.kill(child, signal.SIGCONT)
    await log.append(committed("last"))
    await log.close()
    assert children(os.getpid()) == [] or gone(child)
    assert "syncer process stopped" not in caplog.text
    assert logged_values(tmp_path / "log-1000") == ["last"]


@pytest.mark.parametrize("fsync", ["always", "everysec", "no"])
async def test_close_stops_the_syncer(tmp_path: Path, fsync: str) -> None:
    log = AppendLog(tmp_path / "log", fsync)
    log.start(asyncio.get_running_loop())
    (child,) = children(os.getpid())
    await log.append(committed("a"))
    await log.close()
    assert gone(child)
    assert logged_values(tmp_path / "log") == ["a"]


def test_syncer_exits_with_a_killed_server(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path)
    process = server.start()
    try:
        (child,) = children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone(child)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
