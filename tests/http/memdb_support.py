"""The application built as `nanoqueue serve` builds it, for the MemDB HTTP tests."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from nanoqueue.config import Config
from nanoqueue.http.app import create_app
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine
from nanoqueue.server import open_storage, script_limits

TEST_LIMITS = {"timeout_ms": 200, "memory_limit_bytes": 16 << 20}
MAX_REQUEST_BYTES = 64 * 1024


def memdb_config(data_dir: Path) -> Config:
    """Return a config with small limits and a data directory under `data_dir`."""
    config = Config()
    return dataclasses.replace(
        config,
        server=dataclasses.replace(config.server, max_request_bytes=MAX_REQUEST_BYTES),
        storage=dataclasses.replace(config.storage, data_dir=str(data_dir)),
        scripts=dataclasses.replace(config.scripts, **TEST_LIMITS),
    )


@contextlib.asynccontextmanager
async def served_app(config: Config) -> AsyncIterator[web.Application]:
    """Yield the app as the server's `serve` builds it, then close its storage."""
    storage = open_storage(config)
    engine = ScriptEngine(storage.db, script_limits(config), storage.log)
    await storage.start(engine.lock)
    queues = QueueService(
        engine, default_region=config.sqs.region, account_id=config.sqs.account_id
    )
    await queues.start()
    try:
        yield create_app(config, engine, queues)
    finally:
        await queues.stop()
        await storage.close()
