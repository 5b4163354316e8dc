"""The script engine: one script at a time, each committed durably."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from nanoqueue.scripting.runtime import ScriptLimits, ScriptRuntime
from nanoqueue.storage import Committed, MemDB


class CommitLog(Protocol):
    """Where committed transactions go before their callers are answered."""

    def append(self, committed: Committed) -> asyncio.Future[None] | None:
        """Queue a committed transaction's record for writing.

        Returns a future that completes once the record is durable under the
        log's fsync policy, or None if it is durable already.
        """

    def barrier(self) -> asyncio.Future[None] | None:
        """Return a future that completes once every record so far is durable."""


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
        self, sha: str, keys: list[Any] | None = None, args: list[Any] | None = None
    ) -> Any:
        """Run the registered script `sha` with KEYS and ARGV; return its result."""
        async with self.lock:
            result, committed = self.runtime.run_sha(sha, keys or [], args or [])
            durable = self._log(committed)
        if durable is not None:
            await durable
        return result

    def _log(self, committed: Committed) -> asyncio.Future[None] | None:
        # A read-only script waits for the records it may have read, so that
        # nobody is answered with data that a crash could still take back.
        if self.log is None:
            return None
        if committed.redo:
            return self.log.append(committed)
        return self.log.barrier()
