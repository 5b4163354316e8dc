"""The script engine: one script at a time, each committed durably."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from nanoqueue.errors import StorageError
from nanoqueue.scripting.runtime import ScriptLimits, ScriptRuntime
from nanoqueue.storage import Committed, MemDB

logger = logging.getLogger(__name__)


class CommitLog(Protocol):
    """The log that records each committed transaction before its reply."""

    def append(self, committed: Committed) -> asyncio.Future[None] | None:
        """Queue a committed transaction's record for writing.

        Returns a future that completes once the record is durable under the
        log's fsync policy, or None if it is durable already.
        """

    def barrier(self) -> asyncio.Future[None] | None:
        """Return a future that completes once every record so far is durable."""

    def set_failure_handler(self, handler: Callable[[], None]) -> None:
        """Call `handler` on the event loop after a write to the log fails."""

    def rewind(self, revert: Callable[[Committed], None]) -> int:
        """Revert every transaction not yet durable, newest first, and fail them.

        Their futures fail with StorageError; later appends write again.
        Returns how many transactions were reverted.
        """


class ScriptEngine:
    """Runs scripts one at a time under an asyncio lock and logs their effects.

    The lock covers only the script itself. Waiting for the log happens
    after the lock is released, so the records of scripts that commit while
    one fsync runs share the next fsync.
    """

    def __init__(
        self,
        db: MemDB | None = None,
        limits: ScriptLimits | None = None,
        log: CommitLog | None = None,
    ) -> None:
        self.db = db if db is not None else MemDB()
        self.runtime = ScriptRuntime(self.db, limits)
        self.log = log
        self.lock = asyncio.Lock()
        self._rewinding: asyncio.Task[None] | None = None
        if log is not None:
            log.set_failure_handler(self._on_log_failure)

    def register(self, source: str) -> str:
        """Compile `source` once and return the SHA-1 it runs under."""
        return self.runtime.register(source)

    async def eval(
        self, source: str, keys: list[Any] | None = None, args: list[Any] | None = None
    ) -> Any:
        """Run script text with KEYS and ARGV; return its result."""
        async with self.lock:
            result, committed = self.runtime.eval(source, keys or [], args or [])
            durable = self._log(committed)
        if durable is not None:
            await durable
        return result

    async def run(
        self,
        sha: str,
        keys: list[Any] | None = None,
        args: list[Any] | None = None,
        *,
        reserved: bool = False,
    ) -> Any:
        """Run the registered script `sha` with KEYS and ARGV; return its result.

        With `reserved` the script works on the queue service's structures,
        which no other script can name (see runtime.RESERVED_PREFIX).
        """
        async with self.lock:
            result, committed = self.runtime.run_sha(
                sha, keys or [], args or [], reserved=reserved
            )
            durable = self._log(committed)
        if durable is not None:
            await durable
        return result

    def _log(self, committed: Committed) -> asyncio.Future[None] | None:
        # A read-only script waits for the records it may have read, so that
        # no reply carries data that a crash could still take back.
        if self.log is None:
            return None
        if not committed.redo:
            return self.log.barrier()
        try:
            return self.log.append(committed)
        except StorageError:
            # Nothing was queued, and this is the newest transaction.
            self.db.revert(committed)
            raise

    def _on_log_failure(self) -> None:
        # Scripts run without awaiting inside the lock, so no transaction is
        # open between two loop callbacks. If one is open anyway, because a
        # caller awaits mid-transaction, the rewind waits for the lock.
        if not self.db.dirty:
            self._rewind()
        elif self._rewinding is None:
            self._rewinding = asyncio.create_task(self._rewind_locked())

    async def _rewind_locked(self) -> None:
        try:
            async with self.lock:
                self._rewind()
        finally:
            self._rewinding = None

    def _rewind(self) -> None:
        assert self.log is not None
        reverted = self.log.rewind(self.db.revert)
        logger.error(
            "log write failed: reverted %d transactions not yet durable", reverted
        )
