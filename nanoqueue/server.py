"""The server process: builds MemDB, the engine and the app, and serves them."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from nanoqueue.config import Config
from nanoqueue.http.app import create_app
from nanoqueue.scripting.engine import ScriptEngine
from nanoqueue.scripting.runtime import ScriptLimits

logger = logging.getLogger(__name__)


def script_limits(config: Config) -> ScriptLimits:
    return ScriptLimits(
        timeout_s=config.scripts.timeout_ms / 1000,
        memory_bytes=config.scripts.memory_limit_bytes,
    )


async def serve(config: Config) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting and finish in-flight requests."""
    engine = ScriptEngine(limits=script_limits(config))
    app = create_app(config, engine)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.server.host, config.server.port)
    await site.start()
    for sock in site._server.sockets if site._server else ():  # noqa: SLF001
        host, port = sock.getsockname()[:2]
        logger.info("listening on http://%s:%s", host, port, extra={"port": port})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("stopping: finishing requests in flight")
    await runner.cleanup()
    logger.info("stopped")
