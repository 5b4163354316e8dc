"""Joining concurrent sends to one queue into one run of the send script.

Every script run has a fixed cost (the sandbox, the Lua and Python bridge, a
log record, a durability wait) that is several times the cost of enqueueing
one message. So the sends to one queue that arrive close together run as one
send script: one transaction and one log record, much as a database shares
one fsync among the commits waiting for it.

A run starts JOIN_PASSES passes of the event loop after its first request,
so the requests that arrive in those passes join it. The second pass delays
each request by one pass. In exchange, about twice as many requests share
the run's fixed cost: under 64 clients a run takes about 16 requests in
one pass and about 35 in two. A lone request on an idle server runs after
two passes, which take microseconds.

Each request still gets only its own results. When a script limit (time
or memory) stops a joined run, each of its requests runs again alone, so one
request's size cannot fail another. Other failures, such as a failed log
write, fail every request of the run, as they would have failed each alone.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from nanoqueue.errors import ScriptError
from nanoqueue.queues.scripts import QueueScripts

logger = logging.getLogger(__name__)

# A joined run carries at most this many messages and this many payload
# bytes (SQS's limit for one batch request), so that it stays within what
# the script limits allow a single request.
MAX_JOINED_MESSAGES = 100
MAX_JOINED_BYTES = 1_048_576

# Passes of the event loop during which a run takes requests. With 2 in
# place of 1, in alternating 6 s runs of 64 wrk clients sending single
# messages on a 2-core VM, the server's CPU per request fell from about 68
# to 59 us.
JOIN_PASSES = 2

# The send script's ARGV starts with the queue key, the time in ms and the
# message count, followed by this many values per message.
VALUES_PER_MESSAGE = 4


class _Request:
    """One caller's messages within a joined run."""

    __slots__ = ("count", "future", "values")

    def __init__(
        self, values: list[Any], count: int, future: asyncio.Future[Any]
    ) -> None:
        self.values = values
        self.count = count
        self.future = future


class _Run:
    """The requests for one queue that will run as one send script."""

    __slots__ = ("key", "messages", "payload_bytes", "requests")

    def __init__(self, key: str) -> None:
        self.key = key
        self.requests: list[_Request] = []
        self.messages = 0
        self.payload_bytes = 0

    def fits(self, count: int, payload_bytes: int) -> bool:
        return (
            self.messages + count <= MAX_JOINED_MESSAGES
            and self.payload_bytes + payload_bytes <= MAX_JOINED_BYTES
        )


class SendCoalescer:
    """Runs the send script once for the requests to a queue that arrive together."""

    def __init__(self, scripts: QueueScripts, now_ms: Callable[[], int]) -> None:
        self._scripts = scripts
        self._now_ms = now_ms
        # The run of each queue that still takes requests.
        self._open: dict[str, _Run] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def send(
        self, key: str, values: list[Any], payload_bytes: int
    ) -> asyncio.Future[Any]:
        """Enqueue messages on queue `key`; return a future of the send script's result.

        `values` contains VALUES_PER_MESSAGE send-script arguments per message.
        The result is False if the queue does not exist, else one outcome
        per message, in order. The future fails with what the send script
        raises when it runs these messages alone.
        """
        # Looking the loop up once is cheaper than a get_running_loop call
        # per request.
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        count = len(values) // VALUES_PER_MESSAGE
        run = self._open.get(key)
        if run is not None and not run.fits(count, payload_bytes):
            # A full run takes no more requests, and its task runs it as it is.
            del self._open[key]
            run = None
        if run is None:
            run = self._open[key] = _Run(key)
            task = loop.create_task(self._execute(run))
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._finished, run))
        future = loop.create_future()
        run.requests.append(_Request(values, count, future))
        run.messages += count
        run.payload_bytes += payload_bytes
        return future

    async def wait_idle(self) -> None:
        """Wait until every run started so far has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _finished(self, run: _Run, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            # A run cancelled before or while its script ran (the server is
            # stopping) takes no more requests and cancels its senders.
            if self._open.get(run.key) is run:
                del self._open[run.key]
            _cancel([request.future for request in run.requests])

    async def _execute(self, run: _Run) -> None:
        # The task's first step comes one pass after the request that opened
        # the run, and each sleep(0) waits one more. A full run left the
        # open ones already.
        for _ in range(JOIN_PASSES - 1):
            await asyncio.sleep(0)
        if self._open.get(run.key) is run:
            del self._open[run.key]
        requests = run.requests
        if len(requests) == 1:
            await self._execute_alone(run.key, requests[0])
            return
        arguments: list[Any] = [run.key, self._now_ms(), run.messages]
        for request in requests:
            arguments += request.values
        try:
            outcomes = await self._scripts.run("send", arguments)
        except ScriptError as exc:
            logger.info(
                "joined send of %d requests to %s failed (%s); running each alone",
                len(requests),
                run.key,
                exc.code,
                extra={"queue": run.key},
            )
            for request in requests:
                await self._execute_alone(run.key, request)
            return
        except Exception as exc:  # noqa: BLE001 - each caller gets it
            _fail([request.future for request in requests], exc)
            return
        start = 0
        for request in requests:
            end = start + request.count
            _succeed(
                request.future, False if outcomes is False else outcomes[start:end]
            )
            start = end

    async def _execute_alone(self, key: str, request: _Request) -> None:
        arguments = [key, self._now_ms(), request.count, *request.values]
        try:
            outcomes = await self._scripts.run("send", arguments)
        except Exception as exc:  # noqa: BLE001 - each caller gets it
            _fail([request.future], exc)
            return
        _succeed(request.future, outcomes)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    # A caller cancelled while it waited has no future to complete, but its
    # messages were sent, as with a client that disconnects after sending.
    if not future.done():
        future.set_result(result)


def _fail(futures: list[asyncio.Future[Any]], exc: Exception) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)


def _cancel(futures: list[asyncio.Future[Any]]) -> None:
    for future in futures:
        future.cancel()
