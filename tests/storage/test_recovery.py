"""Recovery from damaged logs and snapshots, the directory lock, and check-data."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nanoqueue.errors import DataDirLocked, LogCorrupted, SnapshotInvalid
from nanoqueue.storage.log import HEADER_SIZE, encode_record, scan
from nanoqueue.storage.memdb import MemDB
from nanoqueue.storage.recovery import DataDir, recover
from nanoqueue.storage.snapshot import read_snapshot, write_snapshot


def build_log(data_dir: DataDir, seq: int, count: int, start: int = 0) -> list[int]:
    """Write `count` records that each set one key; return their offsets."""
    data_dir.path.mkdir(parents=True, exist_ok=True)
    offsets = []
    data = b""
    if seq == 1 and start == 0:
        data += encode_record([("", "create", ("keyvalue", "kv"))])
    for number in range(start, start + count):
        offsets.append(len(data))
        data += encode_record([("kv", "set", (f"key{number}", number))])
    data_dir.log_path(seq).write_bytes(data)
    return offsets


def recovered(path: Path) -> tuple[MemDB, Any]:
    db = MemDB()
    return db, recover(DataDir(path), db)


def keys_of(db: MemDB) -> set[str]:
    return set(db.get("kv").data) if db.exists("kv") else set()


def test_recover_empty_dir(tmp_path: Path) -> None:
    db, result = recovered(tmp_path)
    assert result.records == 0
    assert result.snapshot_seq is None
    assert db.dump() == []


def test_recover_replays_log(tmp_path: Path) -> None:
    build_log(DataDir(tmp_path), 1, 10)
    db, result = recovered(tmp_path)
    assert result.records == 11
    assert keys_of(db) == {f"key{n}" for n in range(10)}


def test_recover_cuts_torn_last_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = DataDir(tmp_path)
    build_log(data_dir, 1, 10)
    path = data_dir.log_path(1)
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.truncate(size - 5)
    with caplog.at_level(logging.WARNING):
        db, result = recovered(tmp_path)
    assert keys_of(db) == {f"key{n}" for n in range(9)}
    last_record = len(encode_record([("kv", "set", ("key9", 9))]))
    assert result.dropped_bytes == last_record - 5
    assert f"dropped {last_record - 5} bytes" in caplog.text
    assert path.stat().st_size == size - last_record


def test_recover_cuts_bad_checksum_at_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = DataDir(tmp_path)
    build_log(data_dir, 1, 3)
    path = data_dir.log_path(1)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        db, _ = recovered(tmp_path)
    assert keys_of(db) == {"key0", "key1"}
    assert "payload fails its checksum" in caplog.text


def test_recover_cuts_zero_tail(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    build_log(data_dir, 1, 3)
    path = data_dir.log_path(1)
    path.write_bytes(path.read_bytes() + bytes(4096))
    db, result = recovered(tmp_path)
    assert keys_of(db) == {"key0", "key1", "key2"}
    assert result.dropped_bytes == 4096


def test_recover_rejects_flipped_byte(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    offsets = build_log(data_dir, 1, 10)
    path = data_dir.log_path(1)
    data = bytearray(path.read_bytes())
    data[offsets[4] + HEADER_SIZE + 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(LogCorrupted) as raised:
        recovered(tmp_path)
    assert str(path) in raised.value.message
    assert f"offset {offsets[4]}" in raised.value.message


def test_recover_rejects_damaged_length(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    offsets = build_log(data_dir, 1, 10)
    path = data_dir.log_path(1)
    data = bytearray(path.read_bytes())
    data[offsets[3] + 6] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(LogCorrupted, match=f"offset {offsets[3]}: record header"):
        recovered(tmp_path)


def test_recover_rejects_damage_in_older_log(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    build_log(data_dir, 1, 3)
    build_log(data_dir, 2, 3, start=3)
    path = data_dir.log_path(1)
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(LogCorrupted, match="log-00000000000000000001"):
        recovered(tmp_path)


def test_recover_rejects_missing_log(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    build_log(data_dir, 1, 3)
    build_log(data_dir, 3, 3, start=3)
    with pytest.raises(LogCorrupted, match="is missing"):
        recovered(tmp_path)


def snapshot_of(data_dir: DataDir, seq: int, keys: range) -> None:
    db = MemDB()
    db.create("keyvalue", "kv")
    for number in keys:
        db.call("kv", "set", f"key{number}", number)
    db.commit()
    write_snapshot(data_dir.snapshot_path(seq), seq, db)


def test_recover_from_snapshot_and_log(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    build_log(data_dir, 1, 5)
    snapshot_of(data_dir, 2, range(5))
    build_log(data_dir, 2, 5, start=5)
    db, result = recovered(tmp_path)
    assert result.snapshot_seq == 2
    assert result.records == 5
    assert keys_of(db) == {f"key{n}" for n in range(10)}


def test_recover_falls_back_to_older_snapshot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = DataDir(tmp_path)
    snapshot_of(data_dir, 2, range(5))
    build_log(data_dir, 2, 5, start=5)
    snapshot_of(data_dir, 3, range(10))
    build_log(data_dir, 3, 5, start=10)
    newest = data_dir.snapshot_path(3)
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0x10
    newest.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        db, result = recovered(tmp_path)
    assert result.snapshot_seq == 2
    assert keys_of(db) == {f"key{n}" for n in range(15)}
    assert "fails its checksum" in caplog.text
    assert [seq for seq, _ in data_dir.snapshots()] == [2]
    assert newest.with_name(newest.name + ".damaged").exists()


def test_recover_rejects_only_snapshot_damaged(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    snapshot_of(data_dir, 2, range(5))
    build_log(data_dir, 2, 5, start=5)
    path = data_dir.snapshot_path(2)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(SnapshotInvalid, match="no valid snapshot"):
        recovered(tmp_path)
    with pytest.raises(SnapshotInvalid, match="no valid snapshot"):
        recovered(tmp_path)


def test_snapshot_keeps_types(tmp_path: Path) -> None:
    db = MemDB()
    db.create("sortedset", "s")
    db.create("queue", "q")
    db.create("keyvalue", "kv")
    db.call("s", "add", "low", float("-inf"))
    db.call("s", "add", "high", float("inf"))
    db.call("q", "push_right_many", [1, 1.0, "1", 2**62, -0.5])
    db.call("kv", "set", 3, 4.5)
    db.commit()
    path = tmp_path / "snapshot-00000000000000000002.nqs"
    write_snapshot(path, 2, db)
    seq, dumped = read_snapshot(path)
    assert seq == 2
    assert dumped == db.dump()
    queue = dumped[1][2]
    assert [type(value) for value in queue] == [int, float, str, int, float]


def test_lock_rejects_second_holder(tmp_path: Path) -> None:
    first = DataDir(tmp_path / "data")
    first.lock()
    try:
        with pytest.raises(DataDirLocked, match="in use by another nanoqueue server"):
            DataDir(tmp_path / "data").lock()
    finally:
        first.unlock()
    second = DataDir(tmp_path / "data")
    second.lock()
    second.unlock()


def test_lock_survives_deleted_lock_file(tmp_path: Path) -> None:
    first = DataDir(tmp_path / "data")
    first.lock()
    try:
        (tmp_path / "data" / "nanoqueue.lock").unlink()
        with pytest.raises(DataDirLocked, match="in use by another nanoqueue server"):
            DataDir(tmp_path / "data").lock()
    finally:
        first.unlock()


def test_lock_names_holder_pid(tmp_path: Path) -> None:
    first = DataDir(tmp_path / "data")
    first.lock()
    try:
        with pytest.raises(DataDirLocked, match=rf"pid {os.getpid()}\)"):
            DataDir(tmp_path / "data").lock()
    finally:
        first.unlock()


def test_lock_creates_missing_dir(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path / "a" / "b")
    data_dir.lock()
    data_dir.unlock()
    assert (tmp_path / "a" / "b" / "nanoqueue.lock").exists()


def check_data(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nanoqueue", "check-data", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_data_reports_and_repairs(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    offsets = build_log(data_dir, 1, 10)
    build_log(data_dir, 2, 3, start=10)
    path = data_dir.log_path(1)
    original = path.read_bytes()
    data = bytearray(original)
    data[offsets[6] + HEADER_SIZE] ^= 0x01
    path.write_bytes(bytes(data))

    result = check_data(str(tmp_path))
    assert result.returncode == 1
    assert f"damaged at offset {offsets[6]}" in result.stdout
    assert "log-00000000000000000002.nql: valid, 3 records" in result.stdout

    result = check_data(str(tmp_path), "--repair")
    assert result.returncode == 0, result.stderr
    backups = list(tmp_path.glob("backup-*"))
    assert len(backups) == 1
    assert (backups[0] / path.name).read_bytes() == bytes(data)
    assert (backups[0] / data_dir.log_path(2).name).exists()
    assert not data_dir.log_path(2).exists()
    assert path.stat().st_size == offsets[6]
    assert scan(path.read_bytes()).damage is None

    db, _ = recovered(tmp_path)
    assert keys_of(db) == {f"key{n}" for n in range(6)}
    assert check_data(str(tmp_path)).returncode == 0


def test_check_data_repair_needs_lock(tmp_path: Path) -> None:
    build_log(DataDir(tmp_path), 1, 2)
    holder = DataDir(tmp_path)
    holder.lock()
    try:
        result = check_data(str(tmp_path), "--repair")
    finally:
        holder.unlock()
    assert result.returncode == 1
    assert "in use by another nanoqueue server" in result.stderr


def test_check_data_names_torn_tail(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    build_log(data_dir, 1, 3)
    path = data_dir.log_path(1)
    path.write_bytes(path.read_bytes()[:-4])
    result = check_data(str(tmp_path))
    assert result.returncode == 1
    assert "a write cut short by a crash, which start-up cuts off" in result.stdout


def test_recover_rejects_damaged_snapshot_alone(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    snapshot_of(data_dir, 2, range(5))
    path = data_dir.snapshot_path(2)
    path.write_bytes(path.read_bytes()[:-1])
    for _ in range(2):
        with pytest.raises(SnapshotInvalid, match="no valid snapshot"):
            recovered(tmp_path)
