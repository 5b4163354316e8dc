"""The data directory: its files, its lock, and recovery at start-up.

    nanoqueue.lock                     the pid of the server that locked the directory
    snapshot-00000000000000000007.nqs  every record of the logs numbered below 7
    log-00000000000000000007.nql       records written after that snapshot
    snapshot-00000000000000000005.nqs.damaged  a snapshot that failed its check
    backup-20261204T153000Z/           files that `check-data --repair` replaced

Recovery loads the newest valid snapshot, falling back to the one before
it, and replays every log numbered from that snapshot on, in order.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from nanoqueue.errors import (
    DataDirLocked,
    LogCorrupted,
    NanoqueueError,
    SnapshotInvalid,
    StorageError,
)
from nanoqueue.storage.log import decode_payload, iter_records, scan
from nanoqueue.storage.memdb import MemDB
from nanoqueue.storage.snapshot import read_snapshot

logger = logging.getLogger(__name__)

LOCK_NAME = "nanoqueue.lock"
SEQ_DIGITS = 20
FILE_PATTERN = re.compile(r"^(snapshot|log)-(\d{20})\.(nqs|nql)$")
FIRST_LOG_SEQ = 1


class DataDir:
    """The files of one data directory, named by sequence number."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None

    def log_path(self, seq: int) -> Path:
        return self.path / f"log-{seq:0{SEQ_DIGITS}d}.nql"

    def snapshot_path(self, seq: int) -> Path:
        return self.path / f"snapshot-{seq:0{SEQ_DIGITS}d}.nqs"

    def _files(self, kind: str) -> list[tuple[int, Path]]:
        found = []
        for entry in self.path.iterdir():
            match = FILE_PATTERN.match(entry.name)
            if match and match.group(1) == kind:
                found.append((int(match.group(2)), entry))
        return sorted(found)

    def logs(self) -> list[tuple[int, Path]]:
        """Return `(seq, path)` of every log file, oldest first."""
        return self._files("log")

    def snapshots(self) -> list[tuple[int, Path]]:
        """Return `(seq, path)` of every snapshot file, oldest first."""
        return self._files("snapshot")

    @property
    def lock_fd(self) -> int | None:
        return self._lock_fd

    def lock(self) -> None:
        """Create the directory if missing and take its lock.

        The lock is an flock on the directory itself, so deleting the lock
        file, which only records the holder's pid, does not release it.
        Raises DataDirLocked if another process holds the lock and
        StorageError if the directory cannot be created or written.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise self._not_writable(exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise DataDirLocked(
                f"data directory {str(self.path)!r} is in use by another nanoqueue "
                f"server (pid {self._holder()}); stop it or choose another "
                "storage.data_dir"
            ) from exc
        try:
            (self.path / LOCK_NAME).write_text(f"{os.getpid()}\n", encoding="ascii")
            probe = self.path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            os.close(fd)
            raise self._not_writable(exc) from exc
        self._lock_fd = fd

    def _holder(self) -> str:
        try:
            text = (self.path / LOCK_NAME).read_text(encoding="ascii", errors="replace")
        except OSError:
            return "unknown"
        return text.strip() or "unknown"

    def _not_writable(self, exc: OSError) -> StorageError:
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return StorageError(
                f"data directory {str(self.path)!r} is not writable ({reason}); "
                "mount it read-write, fix its permissions or choose another "
                "storage.data_dir"
            )
        return StorageError(f"cannot use data directory {str(self.path)!r}: {reason}")

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove_temp_files(self) -> None:
        """Delete snapshots left half-written by a crash."""
        for entry in self.path.glob("snapshot-*.nqs.tmp"):
            entry.unlink(missing_ok=True)


@dataclass(frozen=True)
class Recovery:
    """The result of recovery: the log to continue and what was replayed."""

    snapshot_seq: int | None
    log_seq: int
    records: int
    dropped_bytes: int


def recover(data_dir: DataDir, db: MemDB) -> Recovery:
    """Rebuild `db` from the newest valid snapshot and the logs after it.

    Cuts a torn last record off the last log, with a WARNING. Raises
    LogCorrupted naming the file and offset for damage before the end, and
    SnapshotInvalid when no valid snapshot covers the logs that remain.
    """
    snapshot_seq = _load_snapshot(data_dir, db)
    start = FIRST_LOG_SEQ if snapshot_seq is None else snapshot_seq
    logs = [(seq, path) for seq, path in data_dir.logs() if seq >= start]
    expected = start
    for seq, _ in logs:
        if seq != expected:
            raise LogCorrupted(
                f"log file {str(data_dir.log_path(expected))!r} is missing, but "
                "later logs exist; restore it from a backup"
            )
        expected += 1
    records = 0
    dropped = 0
    for index, (seq, path) in enumerate(logs):
        replayed, cut = _replay(db, path, last=index == len(logs) - 1)
        records += replayed
        dropped += cut
    log_seq = logs[-1][0] if logs else start
    return Recovery(snapshot_seq, log_seq, records, dropped)


def _load_snapshot(data_dir: DataDir, db: MemDB) -> int | None:
    snapshots = data_dir.snapshots()
    for seq, path in reversed(snapshots):
        try:
            stored_seq, dumped = read_snapshot(path)
            if stored_seq != seq:
                raise SnapshotInvalid(
                    f"snapshot {str(path)!r} contains sequence number {stored_seq}, "
                    "not the one in its name"
                )
        except SnapshotInvalid as exc:
            # Renamed so that it no longer counts among the snapshots that
            # are kept, which would push out the valid one used instead.
            aside = path.with_name(path.name + ".damaged")
            try:
                path.rename(aside)
            except OSError as rename_error:
                raise StorageError(
                    f"cannot rename the damaged snapshot {str(path)!r}: {rename_error}"
                ) from rename_error
            logger.warning(
                "skipping snapshot: %s; renamed it to %s",
                exc.message,
                aside.name,
                extra={"path": str(path)},
            )
            continue
        db.load(dumped)
        logger.info("loaded snapshot %s", path.name, extra={"path": str(path)})
        return seq
    # Without a snapshot, only the logs from the very first one rebuild the
    # database; damaged snapshots were renamed to *.damaged above.
    logs = data_dir.logs()
    had_snapshots = bool(snapshots) or any(data_dir.path.glob("snapshot-*.nqs.damaged"))
    if (had_snapshots and not logs) or (logs and logs[0][0] != FIRST_LOG_SEQ):
        raise SnapshotInvalid(
            f"no valid snapshot in {str(data_dir.path)!r}, and the logs from the "
            "start are gone; restore the directory from a backup"
        )
    return None


def _replay(db: MemDB, path: Path, *, last: bool) -> tuple[int, int]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read the log file {str(path)!r}: {exc}") from exc
    records = 0
    for offset, payload in iter_records(data):
        try:
            db.apply(decode_payload(payload))
        except (NanoqueueError, ValueError, TypeError) as exc:
            db.rollback()
            raise LogCorrupted(
                f"log file {str(path)!r}: the record at offset {offset} cannot be "
                f"replayed: {exc}"
            ) from exc
        records += 1
    result = scan(data)
    damage = result.damage
    if damage is None:
        return records, 0
    if not (last and damage.at_tail):
        raise LogCorrupted(
            f"log file {str(path)!r} is damaged at offset {damage.offset}: "
            f"{damage.reason}; run `nanoqueue check-data {str(path.parent)!r} "
            "--repair` to cut the log there, keeping a backup"
        )
    dropped = result.size - damage.offset
    _truncate(path, damage.offset)
    logger.warning(
        "dropped %d bytes at the end of log file %s (%s): a write cut short "
        "by a crash, never acknowledged",
        dropped,
        path.name,
        damage.reason,
        extra={"path": str(path), "offset": damage.offset},
    )
    return records, dropped


def _truncate(path: Path, size: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StorageError(
            f"cannot truncate the log file {str(path)!r}: {exc}"
        ) from exc
