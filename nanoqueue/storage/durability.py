"""Durable storage for MemDB: the data directory, its log and its snapshots."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from dataclasses import dataclass

from nanoqueue.config import StorageConfig
from nanoqueue.errors import StorageError
from nanoqueue.storage.log import AppendLog, fsync_dir
from nanoqueue.storage.memdb import MemDB
from nanoqueue.storage.recovery import DataDir, Recovery, recover
from nanoqueue.storage.snapshot import SnapshotChild

logger = logging.getLogger(__name__)

# Pause after a failed snapshot, so that a full disk does not make every
# append fork another child.
SNAPSHOT_RETRY_S = 5.0

# How long shutdown waits for a running snapshot before it kills the child.
# The log since the last snapshot stays, so nothing is lost either way.
SNAPSHOT_CLOSE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class SnapshotResult:
    """One snapshot: its sequence number and how long it took, in seconds."""

    seq: int
    pause_s: float
    fork_s: float
    total_s: float


class Storage:
    """Owns the data directory of one server, from `open` to `close`.

    `open` takes the directory's lock and rebuilds `db` from disk. `start`
    starts the log syncer and the snapshot task. `close` waits for a
    running snapshot, writes and fsyncs the log and releases the lock.
    """

    def __init__(self, config: StorageConfig) -> None:
        self.config = config
        self.data_dir = DataDir(config.data_dir)
        self.db = MemDB()
        self._log: AppendLog | None = None
        self._log_seq = 0
        self._lock: asyncio.Lock | None = None
        self._task: asyncio.Task[None] | None = None
        self._snapshot: asyncio.Task[SnapshotResult | None] | None = None
        self._child: SnapshotChild | None = None
        self._last_snapshot = time.monotonic()
        self._log_full = asyncio.Event()

    @property
    def log(self) -> AppendLog:
        if self._log is None:
            raise StorageError("storage is not open")
        return self._log

    def open(self) -> Recovery:
        """Lock the data directory and recover the database from it.

        Raises DataDirLocked, LogCorrupted, SnapshotInvalid or StorageError,
        and leaves the directory unlocked then.
        """
        self.data_dir.lock()
        try:
            self.data_dir.remove_temp_files()
            recovery = recover(self.data_dir, self.db)
            self._log_seq = recovery.log_seq
            self._log = AppendLog(
                self.data_dir.log_path(recovery.log_seq), self.config.fsync
            )
            fsync_dir(self.data_dir.path)
        except BaseException:
            self.data_dir.unlock()
            raise
        return recovery

    async def start(self, lock: asyncio.Lock) -> None:
        """Start writing the log and taking snapshots.

        `lock` is the lock scripts run under; a snapshot holds it from the
        moment the log is drained until the fork.
        """
        self._lock = lock
        self.log.set_size_limit(self.config.snapshot_log_bytes, self._log_full.set)
        self.log.start(asyncio.get_running_loop())
        self._task = asyncio.create_task(self._snapshot_loop(), name="snapshots")

    async def close(self) -> None:
        """Finish a running snapshot, fsync the log and release the directory."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        running = self._snapshot
        if running is not None:
            done, _ = await asyncio.wait([running], timeout=SNAPSHOT_CLOSE_TIMEOUT_S)
            if not done and self._child is not None:
                logger.error(
                    "snapshot %s still running after %g s; stopping it",
                    self._child.path.name,
                    SNAPSHOT_CLOSE_TIMEOUT_S,
                )
                self._child.kill()
            await asyncio.gather(running, return_exceptions=True)
        if self._log is not None:
            await self._log.close()
        self.data_dir.unlock()

    async def _snapshot_loop(self) -> None:
        interval = self.config.snapshot_interval_s
        while True:
            elapsed = time.monotonic() - self._last_snapshot
            try:
                await asyncio.wait_for(
                    self._log_full.wait(), timeout=max(0.0, interval - elapsed)
                )
            except TimeoutError:
                pass
            self._log_full.clear()
            if self.log.size == 0:
                self._last_snapshot = time.monotonic()
                continue
            try:
                await self.snapshot()
            except StorageError as exc:
                logger.error(
                    "snapshot failed: %s; retrying in %g s",
                    exc.message,
                    SNAPSHOT_RETRY_S,
                )
                await asyncio.sleep(SNAPSHOT_RETRY_S)

    async def snapshot(self) -> SnapshotResult | None:
        """Write a snapshot now and delete the files it makes obsolete.

        Returns None if one is running already or the log could not be
        drained, and raises StorageError if the child fails. Cancelling the
        caller does not stop the snapshot; `close` waits for it.
        """
        if self._snapshot is not None:
            return None
        task = asyncio.create_task(self._take_snapshot(), name="snapshot")
        self._snapshot = task
        task.add_done_callback(self._snapshot_done)
        return await asyncio.shield(task)

    def _snapshot_done(self, task: asyncio.Task[SnapshotResult | None]) -> None:
        self._snapshot = None
        self._last_snapshot = time.monotonic()
        if not task.cancelled():
            # Mark the error retrieved: the caller of `snapshot` reports it.
            task.exception()

    async def _take_snapshot(self) -> SnapshotResult | None:
        assert self._lock is not None
        log = self.log
        async with self._lock:
            # The snapshot must not hold a transaction that a failed log
            # write could still take back, so the log is drained first.
            started = time.perf_counter()
            barrier = log.barrier()
            if barrier is not None:
                try:
                    await barrier
                except StorageError:
                    return None
            seq = self._log_seq + 1
            # The log moves to its new file before the fork. A failed fork
            # then leaves one more log to replay, and no record written after
            # the snapshot can land in a log that the snapshot covers.
            log.rotate(self.data_dir.log_path(seq))
            self._log_seq = seq
            forked = time.perf_counter()
            close_fds = [fd for fd in (self.data_dir.lock_fd,) if fd is not None]
            # A collection in the parent would write to every object's
            # header and so copy pages it shares with the child. Frozen
            # objects are left alone until the child is done.
            gc.freeze()
            try:
                child = SnapshotChild.fork(
                    self.db, self.data_dir.snapshot_path(seq), seq, close_fds
                )
            except OSError as exc:
                gc.unfreeze()
                raise StorageError(f"cannot fork the snapshot process: {exc}") from exc
            fork_s = time.perf_counter() - forked
            pause_s = time.perf_counter() - started
        self._child = child
        try:
            status = await child.wait()
        finally:
            self._child = None
            gc.unfreeze()
        total_s = time.perf_counter() - started
        if status != 0:
            raise StorageError(
                f"the snapshot process for {child.path.name} exited with status "
                f"{status}; the log since the last snapshot is kept"
            )
        logger.info(
            "wrote snapshot %s in %.2f s; scripts waited %.1f ms, fork took %.1f ms",
            child.path.name,
            total_s,
            pause_s * 1000,
            fork_s * 1000,
            extra={"seq": seq},
        )
        await asyncio.get_running_loop().run_in_executor(None, self._delete_obsolete)
        return SnapshotResult(seq, pause_s, fork_s, total_s)

    def _delete_obsolete(self) -> None:
        # The two newest snapshots stay, with every log since the older of
        # them, so that a damaged newest snapshot has a fallback. After the
        # first snapshot, the logs from the start are that fallback.
        snapshots = self.data_dir.snapshots()
        if len(snapshots) < 2:
            return
        keep_from = snapshots[-2][0]
        for seq, path in snapshots + self.data_dir.logs():
            if seq < keep_from:
                try:
                    path.unlink()
                except OSError as exc:
                    logger.warning("cannot delete obsolete file %s: %s", path, exc)
                    continue
                logger.debug("deleted obsolete file %s", path.name)
