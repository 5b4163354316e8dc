"""Tests of the py-spy stack summary of `python -m benchmarks profile`."""

from __future__ import annotations

from benchmarks.harness.profile import top_functions

# The bottom frames of the server's main thread, as py-spy records them.
MAIN_STACK = (
    "<module> (<string>:1);Command.main (click/core.py:1445);"
    "serve (nanoqueue/cli.py:83);Runner.run (asyncio/runners.py:118)"
)
# An executor thread deleting the files a snapshot made obsolete.
EXECUTOR_STACK = (
    "Thread._bootstrap (threading.py:1002);"
    "Thread._bootstrap_inner (threading.py:1045);Thread.run (threading.py:982);"
    "_worker (concurrent/futures/thread.py:83);"
    "Storage._delete_obsolete (nanoqueue/storage/durability.py:231)"
)
# Under uvloop the loop is C code, so no BaseEventLoop.run_forever frame
# sits between Runner.run and the request handler.
HANDLER_FRAMES = (
    "RequestHandler._handle_request (aiohttp/web_protocol.py:577);"
    "send_message (nanoqueue/http/native.py:120)"
)


def uvloop_stacks(with_threads: bool) -> str:
    main = "thread (4000): MainThread;" if with_threads else ""
    executor = "thread (4012): asyncio_0;" if with_threads else ""
    return "\n".join(
        [
            f"{main}{MAIN_STACK};{HANDLER_FRAMES};QueueService.send (nanoqueue/queues/service.py:88) 60",
            f"{main}{MAIN_STACK};{HANDLER_FRAMES} 20",
            f"{main}{MAIN_STACK} 20",
            f"{executor}{EXECUTOR_STACK};posix.unlink (<built-in>:0) 50",
        ]
    )


def test_top_functions_uvloop_threads() -> None:
    text = top_functions(uvloop_stacks(with_threads=True))
    assert text.startswith("100 busy samples of the event loop thread, 50 of other")
    assert " 60.0%  QueueService.send (nanoqueue/queues/service.py)" in text
    assert " 80.0%  send_message (nanoqueue/http/native.py)" in text
    assert " 20.0%  Runner.run (asyncio/runners.py)" in text
    assert "[asyncio_0] posix.unlink (<built-in>)" in text


def test_top_functions_without_thread_ids() -> None:
    text = top_functions(uvloop_stacks(with_threads=False))
    assert text.startswith("100 busy samples of the event loop thread, 50 of other")
    assert " 50.0%  posix.unlink (<built-in>)" in text


def test_top_functions_asyncio_loop() -> None:
    loop = "BaseEventLoop.run_forever (asyncio/base_events.py:608)"
    raw = f"thread (4000): MainThread;{MAIN_STACK};{loop};{HANDLER_FRAMES} 10"
    text = top_functions(raw)
    assert text.startswith("10 busy samples of the event loop thread, 0 of other")
    assert "100.0%  send_message (nanoqueue/http/native.py)" in text


def test_top_functions_no_main_thread() -> None:
    raw = f"thread (4012): asyncio_0;{EXECUTOR_STACK} 5"
    assert top_functions(raw) == "no samples of the event loop thread"
