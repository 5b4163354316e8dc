"""The log syncer: a child process that calls fdatasync on the server's log.

The server writes each log record on its event loop thread, where writing
to the page cache takes microseconds, and leaves the slow fdatasync to this
process. fdatasync flushes the file, not one descriptor, so the syncer's
copy of the descriptor covers every byte the server wrote before asking.

A thread of the server could call fdatasync too, but it shares the GIL with
the event loop. It needs the GIL each time it wakes and each time
fdatasync returns, and whenever the kernel deschedules it while it holds
the GIL, every request waits. A process has a GIL of its own.

The server and the syncer talk over a Unix stream socket in little-endian
8-byte words. The server sends:

- a sequence number `n`: call fdatasync, then reply `n`;
- `SWITCH`, with two descriptors attached: the new log file and its
  directory. The syncer calls fdatasync on the old file, fsync on the
  directory, and uses the new file from then on, without a reply.

The syncer replies `n` when every record up to sequence number `n` is
durable, or `FAILED | errno` when a call fails. A failed switch fails the
next request, whose records are in the new file and so depend on its
directory entry. The syncer exits when the server closes the socket, and
ignores SIGINT and SIGTERM, so that a terminal's Ctrl-C cannot stop it
before the server's last fdatasync.

This file runs as a script, `python -I -S syncer.py LOG_FD SOCKET_FD
DIR_FD`, and imports nothing from outside the standard library. It calls
fsync on DIR_FD, the log's directory, before it serves. A syncer that
died before it handled a switch is replaced by one started on the new
file, and this fsync makes the new file's entry durable.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys

WORD = struct.Struct("<Q")
SWITCH = (1 << 64) - 1
FAILED = 1 << 63


def serve(log_fd: int, channel: socket.socket, dir_fd: int | None = None) -> None:
    """Serve the server's requests on `channel` until the server closes it."""
    # The errno of a failed directory fsync, reported with the next reply.
    pending_error = 0 if dir_fd is None else _sync_directory(None, dir_fd)
    while True:
        data, fds, _, _ = socket.recv_fds(channel, WORD.size, 2, socket.MSG_WAITALL)
        if len(data) < WORD.size:
            os.close(log_fd)
            return
        (word,) = WORD.unpack(data)
        if word == SWITCH:
            new_fd, new_dir_fd = fds
            pending_error = _sync_directory(log_fd, new_dir_fd) or pending_error
            log_fd = new_fd
            continue
        try:
            os.fdatasync(log_fd)
        except OSError as exc:
            reply = FAILED | (exc.errno or 0)
        else:
            reply = FAILED | pending_error if pending_error else word
        pending_error = 0
        channel.sendall(WORD.pack(reply))


def _sync_directory(old_fd: int | None, dir_fd: int) -> int:
    """Flush and close `old_fd` and `dir_fd`, and return the errno of a failure or 0."""
    try:
        if old_fd is not None:
            os.fdatasync(old_fd)
        os.fsync(dir_fd)
    except OSError as exc:
        return exc.errno or 0
    finally:
        if old_fd is not None:
            os.close(old_fd)
        os.close(dir_fd)
    return 0


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log_fd, channel_fd, dir_fd = (int(arg) for arg in argv)
    with socket.socket(fileno=channel_fd) as channel:
        try:
            serve(log_fd, channel, dir_fd)
        except (BrokenPipeError, ConnectionResetError):
            # The server died with a request or a reply in flight.
            return


if __name__ == "__main__":
    main(sys.argv[1:])
