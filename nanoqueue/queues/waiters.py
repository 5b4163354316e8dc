"""Long-poll waiters per queue, woken when messages become receivable."""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque


class Waiters:
    """Futures of receives that wait for a queue, oldest first.

    Each queue key has a version that every notification bumps: a receive
    reads it before it looks for messages and waits only if it is unchanged
    after, so a message that arrives in between is never missed.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._versions: defaultdict[str, int] = defaultdict(int)

    def version(self, key: str) -> int:
        """Return the number of notifications of queue `key` so far."""
        return self._versions[key]

    def notify(self, key: str, count: int) -> None:
        """Wake up to `count` waiters of queue `key`, oldest first."""
        self._versions[key] += 1
        waiting = self._waiting.get(key)
        while waiting and count > 0:
            future = waiting.popleft()
            if not future.done():
                future.set_result(None)
                count -= 1
        if waiting is not None and not waiting:
            del self._waiting[key]

    def notify_all(self) -> None:
        """Wake every waiter of every queue, as a stopping service does."""
        for key in list(self._waiting):
            self.notify(key, len(self._waiting[key]))

    async def wait(self, key: str, timeout_s: float) -> bool:
        """Wait until a notification for `key` wakes this waiter; False on timeout."""
        future = asyncio.get_running_loop().create_future()
        waiting = self._waiting.setdefault(key, deque())
        waiting.append(future)
        # asyncio.timeout, unlike wait_for in Python 3.11, never drops a
        # cancellation that arrives together with the wake-up.
        try:
            async with asyncio.timeout(timeout_s):
                await future
            return True
        except TimeoutError:
            return False
        except asyncio.CancelledError:
            # A waiter cancelled just after its wake-up passes the wake-up on,
            # so that the message it stood for is not left unclaimed.
            if future.done() and not future.cancelled():
                self.notify(key, 1)
            raise
        finally:
            if not future.done():
                future.cancel()
            current = self._waiting.get(key)
            if current is not None:
                try:
                    current.remove(future)
                except ValueError:
                    pass
                if not current:
                    del self._waiting[key]
