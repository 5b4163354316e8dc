"""The append-only log: record format, reading, and the background writer.

A log file is a sequence of records, one per committed transaction:

    offset  size  field
    0       2     magic b"NQ"
    2       1     format version (1)
    3       1     reserved, 0
    4       4     payload length, little-endian
    8       4     CRC-32C of the payload
    12      4     CRC-32C of bytes 0-11
    16      n     payload: msgpack array of redo entries [name, op, args]

The header has its own checksum so that a damaged length is detected as
damage and never mistaken for a record cut short by a crash.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import crc32c
import msgpack  # type: ignore[import-untyped]

from nanoqueue.errors import LogWriteFailed, StorageError
from nanoqueue.storage.memdb import Committed
from nanoqueue.storage.stores import RedoEntry

logger = logging.getLogger(__name__)

MAGIC = b"NQ"
VERSION = 1
HEADER = struct.Struct("<2sBxII")
HEADER_SIZE = HEADER.size + 4
MAX_PAYLOAD_BYTES = 1 << 31

FSYNC_EVERYSEC_INTERVAL_S = 1.0


def encode_record(redo: list[RedoEntry]) -> bytes:
    """Return the log record of one transaction's redo entries.

    Raises StorageError if a value cannot be encoded, such as an integer
    outside the 64-bit range.
    """
    try:
        payload: bytes = msgpack.packb(redo, use_bin_type=True)
    except (OverflowError, TypeError, ValueError) as exc:
        raise StorageError(f"cannot encode the transaction for the log: {exc}") from exc
    head = HEADER.pack(MAGIC, VERSION, len(payload), crc32c.crc32c(payload))
    return head + struct.pack("<I", crc32c.crc32c(head)) + payload


def decode_payload(payload: bytes) -> list[RedoEntry]:
    entries = msgpack.unpackb(payload, raw=False, use_list=True, strict_map_key=False)
    return [(name, op, tuple(args)) for name, op, args in entries]


@dataclass(frozen=True)
class Damage:
    """The first unreadable spot of a log file: its offset and the reason."""

    offset: int
    reason: str
    # True when everything from `offset` on can be a write cut short by a
    # crash: the record runs past the end of the file, or only zero bytes
    # follow, or the last record fails its checksum.
    at_tail: bool


@dataclass(frozen=True)
class ScanResult:
    records: int
    good_bytes: int
    size: int
    damage: Damage | None


def iter_records(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield `(offset, payload)` for each intact record at the start of `data`.

    Stops at the first damage, which `scan` describes.
    """
    offset = 0
    while _damage_at(data, offset) is None and offset < len(data):
        length = HEADER.unpack_from(data, offset)[2]
        start = offset + HEADER_SIZE
        yield offset, data[start : start + length]
        offset = start + length


def scan(data: bytes) -> ScanResult:
    """Check every record of a log file's contents."""
    offset = 0
    records = 0
    size = len(data)
    while offset < size:
        damage = _damage_at(data, offset)
        if damage is not None:
            return ScanResult(records, offset, size, damage)
        offset += HEADER_SIZE + HEADER.unpack_from(data, offset)[2]
        records += 1
    return ScanResult(records, offset, size, None)


def _damage_at(data: bytes, offset: int) -> Damage | None:
    size = len(data)
    if offset >= size:
        return None
    rest = size - offset
    if rest < HEADER_SIZE:
        return Damage(offset, f"record header cut short ({rest} bytes)", True)
    magic, version, length, payload_crc = HEADER.unpack_from(data, offset)
    (header_crc,) = struct.unpack_from("<I", data, offset + HEADER.size)
    if crc32c.crc32c(data[offset : offset + HEADER.size]) != header_crc:
        zeros = data.count(0, offset) == rest
        return Damage(offset, "record header fails its checksum", zeros)
    if magic != MAGIC or version != VERSION:
        return Damage(offset, f"unknown record format version {version}", False)
    end = offset + HEADER_SIZE + length
    if end > size:
        return Damage(offset, f"record of {length} bytes runs past the end", True)
    if crc32c.crc32c(data[offset + HEADER_SIZE : end]) != payload_crc:
        return Damage(offset, "record payload fails its checksum", end == size)
    return None


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in directory `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AppendLog:
    """Writes records on a background thread under an fsync policy.

    `append` and `barrier` run on the event loop and only copy bytes into a
    buffer. The writer thread writes the buffer, calls fdatasync as the
    policy requires and then completes the futures on the loop:

    - `always`: a future completes after the fdatasync that covers its
      record. Records that arrive while one fdatasync runs share the next.
    - `everysec`: a future completes once the record is written to the
      file; fdatasync runs at most once a second.
    - `no`: a future completes once the record is written to the file.

    When a write or fdatasync fails, the log stops writing and calls the
    failure handler. The owner then calls `rewind` while no transaction is
    open, and writing resumes.
    """

    def __init__(self, path: Path, fsync: str) -> None:
        if fsync not in ("always", "everysec", "no"):
            raise ValueError(f"unknown fsync policy {fsync!r}")
        self.fsync = fsync
        self.path = path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_failure: Callable[[], None] | None = None
        self._cond = threading.Condition()

        # Shared with the writer thread, under `_cond`.
        self._buffer = bytearray()
        self._buffer_seq = 0
        self._rotate_to: Path | None = None
        self._truncate_pending = False
        self._failed = False
        self._closing = False
        self._synced_offset = 0
        # Logged once when it starts failing and once when it works again.
        self._everysec_failing = False

        # Loop-side state. Records appended during one pass of the event loop
        # collect in `_pending` and reach the writer together, so the writer
        # thread wakes once per pass and not once per record.
        self._pending = bytearray()
        self._pending_seq = 0
        self._handover_scheduled = False
        self._next_seq = 0
        self._durable_seq = 0
        self._unsynced: deque[tuple[int, Committed]] = deque()
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._error: BaseException | None = None
        self._size_limit: int | None = None
        self._on_size_limit: Callable[[], None] | None = None
        self.size = 0
        # fdatasync calls so far, for tests and benchmarks of group commit.
        self.syncs = 0
        self._fd = self._open(path)
        self.size = os.fstat(self._fd).st_size
        self._good_offset = self.size
        self._thread = threading.Thread(
            target=self._run, name="nanoqueue-log-writer", daemon=True
        )

    @staticmethod
    def _open(path: Path) -> int:
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise StorageError(
                f"cannot open the log file {str(path)!r}: {exc}"
            ) from exc

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread.start()

    def set_failure_handler(self, handler: Callable[[], None]) -> None:
        """Call `handler` on the loop after a write or fdatasync fails."""
        self._on_failure = handler

    def set_size_limit(self, limit: int, handler: Callable[[], None]) -> None:
        """Call `handler` from each append that leaves `limit` bytes or more."""
        self._size_limit = limit
        self._on_size_limit = handler

    @property
    def pending(self) -> bool:
        return bool(self._unsynced)

    def append(self, committed: Committed) -> asyncio.Future[None]:
        """Queue the record of `committed`; see `CommitLog.append`.

        Raises StorageError, queueing nothing, if the record cannot be
        encoded or the log is closed.
        """
        if self._closing or self._loop is None:
            raise StorageError("the log is closed; the server is shutting down")
        record = encode_record(committed.redo)
        self._next_seq += 1
        seq = self._next_seq
        self._pending += record
        self._pending_seq = seq
        if not self._handover_scheduled:
            self._handover_scheduled = True
            self._loop.call_soon(self._hand_over)
        self.size += len(record)
        if self._size_limit is not None and self.size >= self._size_limit:
            assert self._on_size_limit is not None
            self._on_size_limit()
        self._unsynced.append((seq, committed))
        future = self._loop.create_future()
        self._waiters.append((seq, future))
        return future

    def _hand_over(self) -> None:
        """Move the records of this pass of the loop to the writer thread."""
        self._handover_scheduled = False
        if not self._pending:
            return
        with self._cond:
            self._buffer += self._pending
            self._buffer_seq = self._pending_seq
            self._cond.notify()
        self._pending.clear()

    def barrier(self) -> asyncio.Future[None] | None:
        """Return a future for the durability of every record so far, or None."""
        if self._durable_seq == self._next_seq or self._loop is None:
            return None
        future = self._loop.create_future()
        self._waiters.append((self._next_seq, future))
        return future

    def rotate(self, path: Path) -> None:
        """Send records appended from now on to a new file at `path`.

        Call it when no record is pending, so that the old file contains
        exactly the records before this call.
        """
        assert not self._unsynced, "rotate with records pending"
        with self._cond:
            self._rotate_to = path
            self._cond.notify()
        self.size = 0
        self.path = path

    def rewind(self, revert: Callable[[Committed], None]) -> int:
        """Take back every record not yet durable after a write failure.

        Calls `revert` for each transaction newest first, fails its future
        and lets later appends write again. The writer thread has cut the
        file back to the last durable record already. Returns how many
        transactions were reverted.
        """
        if self._error is None:
            return 0
        error = self._error
        reverted = 0
        while self._unsynced:
            _, committed = self._unsynced.pop()
            revert(committed)
            reverted += 1
        message = (
            f"writing the log file {str(self.path)!r} failed: {error}; "
            "the change was rolled back. Free disk space or fix the disk and retry"
        )
        while self._waiters:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_exception(LogWriteFailed(message))
        self._next_seq = self._durable_seq
        self.size = self._good_offset
        self._error = None
        self._pending.clear()
        with self._cond:
            self._buffer.clear()
            self._failed = False
            self._cond.notify()
        return reverted

    async def close(self) -> None:
        """Write and fdatasync every queued record, then stop the writer thread.

        Closing a closed log does nothing.
        """
        if self._fd < 0:
            return
        self._hand_over()
        self._closing = True
        with self._cond:
            self._cond.notify()
        if self._thread.is_alive():
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        os.close(self._fd)
        self._fd = -1

    # Writer thread.

    def _run(self) -> None:
        last_sync = time.monotonic()
        while True:
            with self._cond:
                while not self._has_work(last_sync):
                    self._cond.wait(timeout=self._wait_timeout(last_sync))
                if self._closing and (self._failed or not self._buffer):
                    self._final_sync()
                    return
                data = bytes(self._buffer)
                seq = self._buffer_seq
                self._buffer.clear()
                rotate_to, self._rotate_to = self._rotate_to, None
                truncate = self._truncate_pending
            try:
                if truncate:
                    os.ftruncate(self._fd, self._good_offset)
                    with self._cond:
                        self._truncate_pending = False
                if rotate_to is not None:
                    try:
                        self._switch_file(rotate_to)
                    except OSError:
                        # Retry before the next write: a record after a
                        # snapshot must never land in the log before it.
                        with self._cond:
                            self._rotate_to = self._rotate_to or rotate_to
                        raise
                if data:
                    self._write_all(data)
                    if self.fsync == "always":
                        self._sync(len(data))
                    else:
                        self._good_offset += len(data)
                if self._everysec_due(last_sync):
                    last_sync = time.monotonic()
                    self._sync_everysec()
            except OSError as exc:
                self._cut_back()
                self._fail(exc)
                continue
            if data:
                self._report(seq)

    def _has_work(self, last_sync: float) -> bool:
        if self._failed:
            return self._closing
        # A pending rotation or truncation waits for the next write, so that
        # a failing disk fails requests instead of spinning here.
        if self._buffer or self._closing:
            return True
        return self._everysec_due(last_sync)

    def _everysec_due(self, last_sync: float) -> bool:
        return (
            self.fsync == "everysec"
            and self._dirty_since_sync()
            and time.monotonic() - last_sync >= FSYNC_EVERYSEC_INTERVAL_S
        )

    def _wait_timeout(self, last_sync: float) -> float | None:
        if self.fsync != "everysec" or not self._dirty_since_sync():
            return None
        return max(0.0, FSYNC_EVERYSEC_INTERVAL_S - (time.monotonic() - last_sync))

    def _dirty_since_sync(self) -> bool:
        return self._synced_offset != self._good_offset

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def _sync(self, written: int) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            logger.critical(
                "fdatasync of the log file %s failed: %s",
                self.path,
                exc,
                extra={"path": str(self.path)},
            )
            raise
        self.syncs += 1
        self._good_offset += written
        self._synced_offset = self._good_offset

    def _sync_everysec(self) -> None:
        # The records are acknowledged already, so a failure here cannot be
        # reported to their clients; the next second tries again.
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            if not self._everysec_failing:
                logger.critical(
                    "fdatasync of the log file %s failed: %s; acknowledged "
                    "writes since then may be lost if the machine crashes",
                    self.path,
                    exc,
                    extra={"path": str(self.path)},
                )
            self._everysec_failing = True
            return
        if self._everysec_failing:
            logger.warning("fdatasync of the log file %s works again", self.path)
            self._everysec_failing = False
        self._synced_offset = self._good_offset

    def _switch_file(self, path: Path) -> None:
        if self.fsync != "no":
            os.fdatasync(self._fd)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(path.parent)
        os.close(self._fd)
        self._fd = fd
        self._good_offset = 0
        self._synced_offset = 0

    def _cut_back(self) -> None:
        # Complete records of a failed batch may be in the file already, and
        # they are about to be reverted, so they must go before anything
        # else is written. If the truncation fails too, the next write and
        # close retry it.
        # NOTE: a crash between the failed write and this truncation leaves
        # those records in the log, so recovery applies scripts whose
        # requests failed.
        try:
            os.ftruncate(self._fd, self._good_offset)
        except OSError as exc:
            logger.error(
                "truncating the log file %s after a failed write failed: %s",
                self.path,
                exc,
            )
            with self._cond:
                self._truncate_pending = True
            return
        with self._cond:
            self._truncate_pending = False

    def _final_sync(self) -> None:
        if self._truncate_pending:
            self._cut_back()
        if self.fsync == "no" or self._failed:
            return
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            logger.critical(
                "fdatasync of the log file %s failed at shutdown: %s", self.path, exc
            )

    def _fail(self, exc: OSError) -> None:
        logger.error(
            "writing the log file %s failed: %s",
            self.path,
            exc,
            extra={"path": str(self.path)},
        )
        with self._cond:
            self._failed = True
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._failed_on_loop, exc)

    def _report(self, seq: int) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._complete, seq)

    # Loop side.

    def _failed_on_loop(self, exc: OSError) -> None:
        self._error = exc
        if self._on_failure is not None:
            self._on_failure()

    def _complete(self, seq: int) -> None:
        if self._error is not None:
            return
        self._durable_seq = max(self._durable_seq, seq)
        unsynced = self._unsynced
        while unsynced and unsynced[0][0] <= seq:
            unsynced.popleft()
        waiters = self._waiters
        while waiters and waiters[0][0] <= seq:
            _, future = waiters.popleft()
            if not future.done():
                future.set_result(None)
