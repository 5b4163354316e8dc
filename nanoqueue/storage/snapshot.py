"""Snapshots: the whole database in one checksummed file, written by a fork.

A snapshot file is a header followed by the payload:

    offset  size  field
    0       8     magic b"NQSNAP\\r\\n"
    8       4     format version (1)
    12      8     sequence number: the snapshot contains every record of
                  the log files numbered below it
    20      8     payload length
    28      4     CRC-32C of the payload
    32      4     CRC-32C of bytes 0-31
    36      n     payload: one msgpack value per structure,
                  [kind, name, contents] as `MemDB.dump` returns them

A snapshot is written to `<name>.tmp`, fsynced, renamed into place and the
directory fsynced, so a crash leaves the old snapshot or the new one.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import signal
import struct
from pathlib import Path
from typing import Any

import crc32c
import msgpack  # type: ignore[import-untyped]

from nanoqueue.errors import SnapshotInvalid, StorageError
from nanoqueue.storage.log import fsync_dir
from nanoqueue.storage.memdb import MemDB

logger = logging.getLogger(__name__)

MAGIC = b"NQSNAP\r\n"
VERSION = 1
HEADER = struct.Struct("<8sIQQI")
HEADER_SIZE = HEADER.size + 4

INCREMENTAL_SYNC_BYTES = 4 * 1024 * 1024

# prctl option that sends the child a signal when its parent dies (Linux).
PR_SET_PDEATHSIG = 1


def _find_prctl() -> Any:
    # Looked up before any fork: the child must not take the dynamic
    # loader's lock, which another thread may hold at the moment of fork.
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _find_prctl()


def write_snapshot(path: Path, seq: int, db: MemDB) -> None:
    """Write the whole of `db` as the snapshot `path`, durably.

    Raises OSError on any write failure and leaves no file at `path` then.
    """
    # NOTE: each structure is encoded whole before it is written, so memory
    # peaks at the encoding of the largest structure (about 110 MiB for a
    # queue of 1 million 100-byte messages) on top of the copied pages.
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, bytes(HEADER_SIZE))
        length = 0
        crc = 0
        for name, store in sorted(db.structures.items()):
            chunk = msgpack.packb([store.kind, name, store.dump()], use_bin_type=True)
            _write_all(fd, chunk)
            length += len(chunk)
            crc = crc32c.crc32c(chunk, crc)
        head = HEADER.pack(MAGIC, VERSION, seq, length, crc)
        os.pwrite(fd, head + struct.pack("<I", crc32c.crc32c(head)), 0)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.rename(temp, path)
    fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    # Flushing every few MiB keeps the final fsync short: one large flush
    # would stall the server's own log fdatasync behind it on the same disk.
    view = memoryview(data)
    while view:
        step = view[:INCREMENTAL_SYNC_BYTES]
        while step:
            written = os.write(fd, step)
            step = step[written:]
            view = view[written:]
        os.fdatasync(fd)


def read_snapshot(path: Path) -> tuple[int, list[list[Any]]]:
    """Return the sequence number and the dumped structures of a snapshot.

    Raises SnapshotInvalid naming the file when its header, length or
    checksum is wrong, and StorageError when it cannot be read.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StorageError(f"cannot read the snapshot {str(path)!r}: {exc}") from exc
    if len(data) < HEADER_SIZE:
        raise SnapshotInvalid(
            f"snapshot {str(path)!r} is {len(data)} bytes long, shorter than its header"
        )
    magic, version, seq, length, crc = HEADER.unpack_from(data)
    (header_crc,) = struct.unpack_from("<I", data, HEADER.size)
    if crc32c.crc32c(data[: HEADER.size]) != header_crc or magic != MAGIC:
        raise SnapshotInvalid(f"snapshot {str(path)!r} has a damaged header")
    if version != VERSION:
        raise SnapshotInvalid(
            f"snapshot {str(path)!r} has format version {version}; "
            f"this nanoqueue reads version {VERSION}"
        )
    payload = memoryview(data)[HEADER_SIZE:]
    if len(payload) != length:
        raise SnapshotInvalid(
            f"snapshot {str(path)!r} has {len(payload)} payload bytes; "
            f"its header says {length}"
        )
    if crc32c.crc32c(payload) != crc:
        raise SnapshotInvalid(f"snapshot {str(path)!r} fails its checksum")
    unpacker = msgpack.Unpacker(
        raw=False, use_list=True, strict_map_key=False, max_buffer_size=0
    )
    unpacker.feed(payload)
    try:
        dumped = list(unpacker)
    except ValueError as exc:
        raise SnapshotInvalid(
            f"snapshot {str(path)!r} cannot be decoded: {exc}"
        ) from exc
    return seq, dumped


class SnapshotChild:
    """A forked process that writes a snapshot of its copy of the database.

    The child reads the database as it was at the fork, thanks to the
    kernel's copy-on-write pages, while the parent keeps serving. The child
    uses no event loop, logging handler or thread, and leaves by `os._exit`.
    """

    def __init__(self, pid: int, path: Path) -> None:
        self.pid = pid
        self.path = path

    @classmethod
    def fork(
        cls, db: MemDB, path: Path, seq: int, close_fds: list[int]
    ) -> SnapshotChild:
        """Fork a child that writes `db` to `path` and exits 0 on success."""
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            _child_main(db, path, seq, close_fds, parent)
        return cls(pid, path)

    async def wait(self) -> int:
        """Wait for the child to exit without blocking the loop; return its status."""
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            return await loop.run_in_executor(None, self._wait_blocking)
        exited: asyncio.Future[None] = loop.create_future()

        def on_exit() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(pidfd, on_exit)
        try:
            await exited
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        return self._wait_blocking()

    def _wait_blocking(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _child_main(
    db: MemDB, path: Path, seq: int, close_fds: list[int], parent: int
) -> None:
    code = 1
    try:
        # A collection would write to every object's header and so copy
        # pages the child otherwise shares with the parent.
        gc.disable()
        # Die with the parent, so that a killed server leaves no writer
        # behind to race the next server on the same directory.
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)
        for fd in close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        write_snapshot(path, seq, db)
        code = 0
    finally:
        # Never return into the parent's code: an exception ends here too.
        os._exit(code)
