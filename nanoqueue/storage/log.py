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
import socket
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import crc32c
import msgpack  # type: ignore[import-untyped]

from nanoqueue.errors import LogWriteFailed, StorageError
from nanoqueue.storage import syncer
from nanoqueue.storage.memdb import Committed
from nanoqueue.storage.stores import RedoEntry

logger = logging.getLogger(__name__)

MAGIC = b"NQ"
VERSION = 1
HEADER = struct.Struct("<2sBxII")
HEADER_SIZE = HEADER.size + 4
MAX_PAYLOAD_BYTES = 1 << 31

FSYNC_EVERYSEC_INTERVAL_S = 1.0
# A syncer process that stops this many times in a row without replying
# fails the records waiting for it.
MAX_SYNCER_DEATHS = 3
# Seconds `close` waits for the last fdatasync before it logs that it waits.
CLOSE_WARNING_S = 5.0


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
    """Appends records to the log file under an fsync policy.

    `append` runs on the event loop and only copies bytes into a buffer.
    Once per pass of the loop the buffer is written to the file, and then:

    - `always`: a future completes after an fdatasync that covers its
      record. The syncer process calls it (see syncer.py); records written
      while one fdatasync runs share the next.
    - `everysec`: a future completes once its record is written to the
      file. A timer asks the syncer for an fdatasync each second while
      records are unsynced, and rotation and close ask for one too.
    - `no`: a future completes once its record is written to the file.

    When a write or fdatasync fails, the log cuts the file back to its last
    durable record, stops writing and calls the failure handler. The owner
    then calls `rewind` while no transaction is open, and writing resumes.
    """

    def __init__(self, path: Path, fsync: str) -> None:
        if fsync not in ("always", "everysec", "no"):
            raise ValueError(f"unknown fsync policy {fsync!r}")
        self.fsync = fsync
        self.path = path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_failure: Callable[[], None] | None = None
        self._syncer: _Syncer | None = None
        self._everysec_timer: asyncio.TimerHandle | None = None
        # Logged once when it starts failing and once when it works again.
        self._everysec_failing = False
        # Set by `close` while it waits for the last fdatasync.
        self._final: tuple[int, asyncio.Future[None]] | None = None

        # Records appended during one pass of the event loop collect in
        # `_pending` and reach the file in one write.
        self._pending = bytearray()
        self._pending_seq = 0
        self._flush_scheduled = False
        # Sequence numbers of appended, written, durable and fdatasync'd
        # records. They only grow, even when a failure takes records back,
        # so that a late reply from the syncer cannot complete later ones.
        self._next_seq = 0
        self._written_seq = 0
        self._durable_seq = 0
        self._synced_seq = 0
        # Each record not yet durable: its sequence number, where it ends in
        # the file, and its transaction, which a failure reverts.
        self._unsynced: deque[tuple[int, int, Committed]] = deque()
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._error: Exception | None = None
        self._truncate_pending = False
        self._closing = False
        self._size_limit: int | None = None
        self._on_size_limit: Callable[[], None] | None = None
        # fdatasync calls so far, for tests and benchmarks of group commit.
        self.syncs = 0
        self._fd = self._open(path)
        # Bytes appended to the current file, and where its last durable
        # record ends.
        self.size = os.fstat(self._fd).st_size
        self._good_offset = self.size

    @staticmethod
    def _open(path: Path) -> int:
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise StorageError(
                f"cannot open the log file {str(path)!r}: {exc}"
            ) from exc

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the syncer process; raises StorageError if it cannot start."""
        self._loop = loop
        self._syncer = _Syncer(
            loop, self._fd, self.path.parent, self._on_synced, self._on_sync_failed
        )
        if self.fsync == "everysec":
            self._everysec_timer = loop.call_later(
                FSYNC_EVERYSEC_INTERVAL_S, self._everysec_tick
            )

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
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        self.size += len(record)
        if self._size_limit is not None and self.size >= self._size_limit:
            assert self._on_size_limit is not None
            self._on_size_limit()
        self._unsynced.append((seq, self.size, committed))
        future = self._loop.create_future()
        self._waiters.append((seq, future))
        return future

    def _flush(self) -> None:
        """Write the records of this pass of the loop to the file."""
        self._flush_scheduled = False
        if not self._pending or self._error is not None:
            return
        data, self._pending = self._pending, bytearray()
        try:
            if self._truncate_pending:
                os.ftruncate(self._fd, self._good_offset)
                self._truncate_pending = False
            _write_all(self._fd, data)
        except OSError as exc:
            self._fail(exc)
            return
        self._written_seq = self._pending_seq
        if self.fsync == "always":
            assert self._syncer is not None
            self._syncer.request(self._written_seq)
        else:
            self._complete(self._written_seq)

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
        exactly the records before this call. Raises StorageError, leaving
        the old file in use, if the new one cannot be created.
        """
        assert not self._unsynced, "rotate with records pending"
        fd = self._open(path)
        try:
            dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            os.close(fd)
            raise StorageError(
                f"cannot open the data directory {str(path.parent)!r}: {exc}"
            ) from exc
        try:
            # The syncer makes the new file's directory entry durable
            # before it reports any record in the file durable.
            if self._syncer is not None:
                self._syncer.switch(fd, dir_fd)
            else:
                os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        os.close(self._fd)
        self._fd = fd
        self._good_offset = 0
        self._truncate_pending = False
        self.size = 0
        self.path = path

    def rewind(self, revert: Callable[[Committed], None]) -> int:
        """Take back every record not yet durable after a write failure.

        Calls `revert` for each transaction newest first, fails its future
        and lets later appends write again. The file has been cut back to
        the last durable record already. Returns how many transactions were
        reverted.
        """
        if self._error is None:
            return 0
        error = self._error
        reverted = 0
        while self._unsynced:
            _, _, committed = self._unsynced.pop()
            revert(committed)
            reverted += 1
        advice = (
            "Free disk space or fix the disk and retry"
            if isinstance(error, OSError)
            else "Retry; the server's log says why"
        )
        message = (
            f"writing the log file {str(self.path)!r} failed: {error}; "
            f"the change was rolled back. {advice}"
        )
        while self._waiters:
            _, future = self._waiters.popleft()
            if not future.done():
                future.set_exception(LogWriteFailed(message))
        self._durable_seq = self._written_seq = self._next_seq
        if self.fsync == "always":
            # The file now ends at the last record an fdatasync covered.
            self._synced_seq = self._next_seq
        self.size = self._good_offset
        self._pending.clear()
        self._error = None
        return reverted

    async def close(self) -> None:
        """Write and fdatasync every queued record, then stop the syncer.

        Closing a closed log does nothing.
        """
        if self._fd < 0:
            return
        self._flush()
        self._closing = True
        if self._everysec_timer is not None:
            self._everysec_timer.cancel()
        if self._truncate_pending:
            self._cut_back()
        syncer = self._syncer
        if syncer is not None:
            target = self._written_seq
            if self.fsync != "no" and self._error is None and target > self._synced_seq:
                assert self._loop is not None
                done = self._loop.create_future()
                self._final = (target, done)
                syncer.request(target)
                try:
                    await asyncio.wait_for(asyncio.shield(done), CLOSE_WARNING_S)
                except TimeoutError:
                    logger.warning(
                        "still waiting for the last fdatasync of the log file %s "
                        "after %g s; the disk or the syncer process is stalled",
                        self.path,
                        CLOSE_WARNING_S,
                    )
                    await done
            await syncer.stop()
        os.close(self._fd)
        self._fd = -1

    def _everysec_tick(self) -> None:
        assert self._loop is not None and self._syncer is not None
        self._everysec_timer = self._loop.call_later(
            FSYNC_EVERYSEC_INTERVAL_S, self._everysec_tick
        )
        if self._written_seq > self._synced_seq:
            self._syncer.request(self._written_seq)

    def _on_synced(self, seq: int) -> None:
        self.syncs += 1
        self._synced_seq = max(self._synced_seq, seq)
        if self.fsync == "always":
            self._complete(seq)
        elif self._everysec_failing:
            logger.warning("fdatasync of the log file %s works again", self.path)
            self._everysec_failing = False
        self._finish_close(seq)

    def _on_sync_failed(self, exc: Exception) -> None:
        self._finish_close(None)
        if self.fsync != "always":
            # The records are acknowledged already, so a failure here cannot
            # be reported to their clients; the next second tries again.
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
        logger.critical(
            "fdatasync of the log file %s failed: %s",
            self.path,
            exc,
            extra={"path": str(self.path)},
        )
        self._fail(exc)

    def _finish_close(self, seq: int | None) -> None:
        if self._final is None:
            return
        target, done = self._final
        if seq is None or seq >= target:
            self._final = None
            if not done.done():
                done.set_result(None)

    def _complete(self, seq: int) -> None:
        if self._error is not None:
            return
        self._durable_seq = max(self._durable_seq, seq)
        unsynced = self._unsynced
        while unsynced and unsynced[0][0] <= seq:
            self._good_offset = unsynced.popleft()[1]
        waiters = self._waiters
        while waiters and waiters[0][0] <= seq:
            _, future = waiters.popleft()
            if not future.done():
                future.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if self._error is not None:
            return
        logger.error(
            "writing the log file %s failed: %s",
            self.path,
            exc,
            extra={"path": str(self.path)},
        )
        self._error = exc
        self._cut_back()
        assert self._loop is not None
        self._loop.call_soon(self._failed_on_loop)

    def _failed_on_loop(self) -> None:
        if self._on_failure is not None:
            self._on_failure()

    def _cut_back(self) -> None:
        # Records after the last durable one may be in the file already, and
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
            self._truncate_pending = True
            return
        self._truncate_pending = False


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class _Syncer:
    """The syncer process and the event loop's end of its socket.

    At most one fdatasync request is outstanding. A request made while one
    is outstanding waits for its reply and is sent then, covering every
    record written in the meantime. If the process dies, a new one starts
    and the outstanding request is sent to it again.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        log_fd: int,
        log_dir: Path,
        on_synced: Callable[[int], None],
        on_failed: Callable[[Exception], None],
    ) -> None:
        self._loop = loop
        self._log_fd = log_fd
        self._log_dir = log_dir
        self._on_synced = on_synced
        self._on_failed = on_failed
        self._requested_seq = 0
        self._sent_seq = 0
        self._outstanding = False
        # Processes that stopped in a row without replying.
        self._deaths = 0
        self._stopping = False
        self._channel: socket.socket | None = None
        self._partial = b""
        # Messages waiting for room in the socket, each with its own copies
        # of the descriptors it carries.
        self._outbox: deque[tuple[bytes, list[int]]] = deque()
        self._process: subprocess.Popen[bytes] | None = None
        self._spawn()

    def _spawn(self) -> None:
        try:
            dir_fd = os.open(self._log_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise StorageError(
                f"cannot open the log directory {str(self._log_dir)!r}: {exc}"
            ) from exc
        ours, theirs = socket.socketpair()
        fds = (self._log_fd, theirs.fileno(), dir_fd)
        command = [sys.executable, "-I", "-S", syncer.__file__, *map(str, fds)]
        try:
            self._process = subprocess.Popen(
                command, pass_fds=fds, stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            ours.close()
            raise StorageError(f"cannot start the log syncer process: {exc}") from exc
        finally:
            theirs.close()
            os.close(dir_fd)
        ours.setblocking(False)
        self._channel = ours
        self._loop.add_reader(ours.fileno(), self._on_readable)

    def request(self, seq: int) -> None:
        """Ask for an fdatasync covering every record up to `seq`."""
        self._requested_seq = max(self._requested_seq, seq)
        if not self._outstanding:
            self._send_request()

    def switch(self, log_fd: int, dir_fd: int) -> None:
        """Move the syncer to the new log file `log_fd` in directory `dir_fd`."""
        self._log_fd = log_fd
        if self._channel is None:
            # The next process starts with the new file and syncs its
            # directory before it replies.
            return
        if self._outbox and self._outbox[-1][1]:
            # A switch the syncer has not received yet is replaced, because
            # no request came after it. Its file then misses the fdatasync
            # of a switch, which only `everysec` and `no` records can need.
            _close_all(self._outbox.pop()[1])
        self._send(syncer.WORD.pack(syncer.SWITCH), [log_fd, dir_fd])

    async def stop(self) -> None:
        """Close the socket, which makes the process exit, and wait for it."""
        self._stopping = True
        self._close_channel()
        if self._process is not None:
            await self._loop.run_in_executor(None, self._process.wait)

    def _send_request(self) -> None:
        if self._stopping:
            return
        self._outstanding = True
        self._sent_seq = self._requested_seq
        try:
            if self._channel is None:
                self._spawn()
        except StorageError as exc:
            self._outstanding = False
            self._on_failed(exc)
            return
        self._send(syncer.WORD.pack(self._requested_seq))

    def _send(self, word: bytes, fds: list[int] | None = None) -> None:
        """Send one word, and descriptors with it, or queue them while the socket is full."""
        if not self._outbox:
            try:
                self._send_now(word, fds)
                return
            except BlockingIOError:
                # A stalled syncer stops reading; the messages wait in order.
                assert self._channel is not None
                self._loop.add_writer(self._channel.fileno(), self._flush_outbox)
            except OSError:
                self._restart()
                return
        # The caller may close its descriptors once this returns.
        self._outbox.append((word, [os.dup(fd) for fd in fds or ()]))

    def _send_now(self, word: bytes, fds: list[int] | None) -> None:
        assert self._channel is not None
        if fds:
            socket.send_fds(self._channel, [word], fds)
        else:
            self._channel.send(word)

    def _flush_outbox(self) -> None:
        while self._outbox:
            word, fds = self._outbox[0]
            try:
                self._send_now(word, fds)
            except BlockingIOError:
                return
            except OSError:
                self._restart()
                return
            self._outbox.popleft()
            _close_all(fds)
        assert self._channel is not None
        self._loop.remove_writer(self._channel.fileno())

    def _on_readable(self) -> None:
        assert self._channel is not None
        try:
            data = self._channel.recv(syncer.WORD.size * 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._restart()
            return
        self._deaths = 0
        # Replies are whole words, but a stream socket may split one.
        data = self._partial + data
        whole = len(data) - len(data) % syncer.WORD.size
        self._partial = data[whole:]
        for (word,) in syncer.WORD.iter_unpack(data[:whole]):
            self._outstanding = False
            if word & syncer.FAILED:
                code = word & ~syncer.FAILED
                self._on_failed(OSError(code, os.strerror(code)))
            else:
                self._on_synced(word)
        if not self._outstanding and self._requested_seq > self._sent_seq:
            self._send_request()

    def _restart(self) -> None:
        self._close_channel()
        if self._stopping:
            return
        status = self._reap()
        self._deaths += 1
        logger.error(
            "the log syncer process stopped (exit status %s); a new one starts "
            "with the next fdatasync",
            "not yet known" if status is None else status,
        )
        if not self._outstanding:
            return
        if self._deaths >= MAX_SYNCER_DEATHS:
            self._outstanding = False
            self._deaths = 0
            self._on_failed(
                StorageError(
                    f"the log syncer process stopped {MAX_SYNCER_DEATHS} times "
                    "in a row without replying"
                )
            )
            return
        self._send_request()

    def _reap(self) -> int | None:
        """Return the exit status of the stopped process, or None if not known yet."""
        process, self._process = self._process, None
        if process is None:
            return None
        status = process.poll()
        if status is None:
            # It closed its socket as it exits. A process stuck in fdatasync
            # exits only when the call returns, so the wait runs in a thread.
            self._loop.run_in_executor(None, process.wait)
        return status

    def _close_channel(self) -> None:
        self._partial = b""
        while self._outbox:
            _close_all(self._outbox.popleft()[1])
        if self._channel is not None:
            self._loop.remove_reader(self._channel.fileno())
            self._loop.remove_writer(self._channel.fileno())
            self._channel.close()
            self._channel = None


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)
