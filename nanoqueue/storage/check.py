"""Offline check and repair of a data directory, for `nanoqueue check-data`."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from nanoqueue.errors import SnapshotInvalid, StorageError
from nanoqueue.storage.log import scan
from nanoqueue.storage.recovery import FIRST_LOG_SEQ, DataDir
from nanoqueue.storage.snapshot import read_snapshot


@dataclass
class FileReport:
    """The state of one snapshot or log file."""

    seq: int
    path: Path
    ok: bool
    detail: str
    # For a damaged log: where its last good record ends.
    good_bytes: int | None = None
    at_tail: bool = False


@dataclass
class CheckReport:
    snapshots: list[FileReport] = field(default_factory=list)
    logs: list[FileReport] = field(default_factory=list)

    @property
    def damaged(self) -> list[FileReport]:
        return [report for report in self.snapshots + self.logs if not report.ok]

    @property
    def replay_from(self) -> int:
        """Return the first log number that recovery replays."""
        valid = [snapshot.seq for snapshot in self.snapshots if snapshot.ok]
        return valid[-1] if valid else FIRST_LOG_SEQ


def check(data_dir: DataDir) -> CheckReport:
    """Read every snapshot and log of `data_dir` and report what is damaged.

    Raises StorageError if the directory does not exist.
    """
    if not data_dir.path.is_dir():
        raise StorageError(f"data directory {str(data_dir.path)!r} does not exist")
    report = CheckReport()
    for seq, path in data_dir.snapshots():
        try:
            stored_seq, dumped = read_snapshot(path)
        except SnapshotInvalid as exc:
            report.snapshots.append(FileReport(seq, path, False, exc.message))
            continue
        if stored_seq != seq:
            detail = f"contains sequence number {stored_seq}, not the one in its name"
            report.snapshots.append(FileReport(seq, path, False, detail))
            continue
        detail = f"valid, {len(dumped)} structures"
        report.snapshots.append(FileReport(seq, path, True, detail))
    logs = data_dir.logs()
    for seq, path in logs:
        result = scan(path.read_bytes())
        if result.damage is None:
            detail = f"valid, {result.records} records, {result.size} bytes"
            report.logs.append(FileReport(seq, path, True, detail))
            continue
        damage = result.damage
        detail = (
            f"damaged at offset {damage.offset}: {damage.reason}; "
            f"{result.records} good records before it, "
            f"{result.size - damage.offset} bytes after it"
        )
        if damage.at_tail and seq == logs[-1][0]:
            detail += "; a write cut short by a crash, which start-up cuts off"
        report.logs.append(
            FileReport(seq, path, False, detail, damage.offset, damage.at_tail)
        )
    return report


def repair(data_dir: DataDir, report: CheckReport) -> list[str]:
    """Cut damaged logs at their last good record, keeping backups.

    Everything replaced goes to a `backup-<UTC time>` directory first.
    Damaged snapshots are moved there, and so are damaged logs older than
    the newest valid snapshot, which recovery does not read. The first
    damaged log that recovery reads is copied there and cut at its last
    good record, and the logs after it are moved there, because their
    records follow lost ones. Returns one line per action. The caller
    holds the directory lock.
    """
    backup = data_dir.path / time.strftime("backup-%Y%m%dT%H%M%SZ", time.gmtime())
    actions: list[str] = []
    replay_from = report.replay_from

    def move(item: FileReport, why: str) -> None:
        backup.mkdir(exist_ok=True)
        shutil.move(item.path, backup / item.path.name)
        actions.append(f"moved {item.path.name} to {backup.name}/: {why}")

    for snapshot in report.snapshots:
        if not snapshot.ok:
            move(snapshot, "it is damaged")
    replayed = [log for log in report.logs if log.seq >= replay_from]
    for log in report.logs:
        if log.seq < replay_from and not log.ok:
            move(log, "it is damaged, and a newer snapshot holds its records")
    damaged_index = next(
        (index for index, log in enumerate(replayed) if not log.ok), None
    )
    if damaged_index is None:
        return actions
    damaged = replayed[damaged_index]
    assert damaged.good_bytes is not None
    backup.mkdir(exist_ok=True)
    shutil.copy2(damaged.path, backup / damaged.path.name)
    with open(damaged.path, "r+b") as file:
        file.truncate(damaged.good_bytes)
        os.fsync(file.fileno())
    actions.append(
        f"copied {damaged.path.name} to {backup.name}/ and cut it to "
        f"{damaged.good_bytes} bytes"
    )
    for later in replayed[damaged_index + 1 :]:
        move(later, "its records follow the lost ones")
    return actions
