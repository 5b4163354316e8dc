"""The server process: builds MemDB, the engine and the app, and serves them."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time

from aiohttp import web

from nanoqueue.config import Config, QueueSpec
from nanoqueue.errors import ConfigError, QueueError
from nanoqueue.http.app import create_app
from nanoqueue.queues.errors import QueueDoesNotExist
from nanoqueue.queues.model import QueueAttributes
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine
from nanoqueue.scripting.runtime import ScriptLimits
from nanoqueue.storage.durability import Storage

logger = logging.getLogger(__name__)

# Objects of the requests in flight outlive several young collections at
# Python's default threshold of 700 allocations, so they were promoted and
# died in the oldest generation. Under 64 clients sending batches that ran
# a full collection of the heap about twice a second, up to 38 ms each. With
# a young generation of 10,000 objects they die young, and the server sent
# about 8% more batches with half the p99 latency in alternating runs.
YOUNG_GC_THRESHOLD = 10_000


def tune_gc() -> None:
    """Set the collector's thresholds for a server with many requests in flight."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, oldest)


def script_limits(config: Config) -> ScriptLimits:
    return ScriptLimits(
        timeout_s=config.scripts.timeout_ms / 1000,
        memory_bytes=config.scripts.memory_limit_bytes,
    )


def dead_letter_queues_first(specs: tuple[QueueSpec, ...]) -> list[QueueSpec]:
    """Order `specs` so that each dead-letter queue comes before its sources.

    Otherwise the file's order is kept. A chain of dead-letter queues is
    followed to its end. Raises ConfigError for a queue that is its own
    dead-letter queue and for a cycle of them, which no order can create.
    """
    by_name = {spec.name: spec for spec in specs}
    index = {spec.name: position for position, spec in enumerate(specs)}
    ordered: list[QueueSpec] = []
    placed: set[str] = set()

    def place(spec: QueueSpec, visiting: tuple[str, ...]) -> None:
        if spec.name in placed:
            return
        if spec.name in visiting:
            cycle = " -> ".join((*visiting[visiting.index(spec.name) :], spec.name))
            raise ConfigError(
                f"queues[{index[spec.name]}].redrive_policy: the dead-letter queues "
                f"form a cycle ({cycle}); end the chain at a queue without a "
                "redrive_policy"
            )
        redrive = QueueAttributes.from_mapping(spec.attributes).redrive_policy
        if redrive is not None and redrive.dead_letter_queue in by_name:
            place(by_name[redrive.dead_letter_queue], (*visiting, spec.name))
        placed.add(spec.name)
        ordered.append(spec)

    for spec in specs:
        place(spec, ())
    return ordered


async def check_dead_letter_queues(
    queues: QueueService, specs: tuple[QueueSpec, ...]
) -> None:
    """Raise ConfigError, before any queue is created, for a missing dead-letter queue."""
    configured = {spec.name for spec in specs}
    for position, spec in enumerate(specs):
        redrive = QueueAttributes.from_mapping(spec.attributes).redrive_policy
        if redrive is None or redrive.dead_letter_queue in configured:
            continue
        try:
            await queues.get_queue(redrive.dead_letter_queue)
        except QueueDoesNotExist as exc:
            raise ConfigError(
                f"queues[{position}].redrive_policy: dead-letter queue "
                f"{redrive.dead_letter_queue!r} is neither in [[queues]] nor an "
                "existing queue; add it to [[queues]] or create it first"
            ) from exc


async def create_configured_queues(
    queues: QueueService, specs: tuple[QueueSpec, ...]
) -> None:
    """Create the queues of `[[queues]]` that do not exist yet.

    Raises QueueAlreadyExists if one exists with different attributes.
    """
    ordered = dead_letter_queues_first(specs)
    await check_dead_letter_queues(queues, specs)
    index = {spec.name: position for position, spec in enumerate(specs)}
    created_count = 0
    for spec in ordered:
        try:
            _, created = await queues.create_queue(
                spec.name, spec.attributes, tags=spec.tags or None
            )
        except QueueError as exc:
            raise ConfigError(
                f"queues[{index[spec.name]}] ({spec.name}): {exc.message}"
            ) from exc
        created_count += created
    if specs:
        logger.info(
            "configured queues: %d created, %d existed",
            created_count,
            len(specs) - created_count,
        )


def open_storage(config: Config) -> Storage:
    """Lock the data directory and recover the database from it."""
    storage = Storage(config.storage)
    started = time.perf_counter()
    recovery = storage.open()
    logger.info(
        "opened data directory %s with fsync policy %s: snapshot %s, "
        "%d log records replayed in %.2f s",
        config.storage.data_dir,
        config.storage.fsync,
        recovery.snapshot_seq if recovery.snapshot_seq is not None else "none",
        recovery.records,
        time.perf_counter() - started,
        extra={"data_dir": config.storage.data_dir, "records": recovery.records},
    )
    return storage


async def serve(config: Config) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting and finish in-flight requests."""
    tune_gc()
    storage = open_storage(config)
    engine = ScriptEngine(storage.db, script_limits(config), storage.log)
    await storage.start(engine.lock)
    queues = QueueService(
        engine, default_region=config.sqs.region, account_id=config.sqs.account_id
    )
    # The retry task starts only now, after recovery, so it never returns
    # or moves a message that the log would still bring back.
    await queues.start()
    try:
        await create_configured_queues(queues, config.queues)
    except BaseException:
        await queues.stop()
        await storage.close()
        raise
    app = create_app(config, engine, queues)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, config.server.host, config.server.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await queues.stop()
        await storage.close()
        raise ConfigError(
            f"cannot listen on {config.server.host}:{config.server.port}: "
            f"{exc.strerror}; set server.host and server.port, or --host and "
            "--port, to a local address and a free port"
        ) from exc
    for address in runner.addresses:
        host, port = address[:2]
        logger.info("listening on http://%s:%s", host, port, extra={"port": port})

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    logger.info("stopping: finishing requests in flight")
    # Stop accepting first, then end long polls with what they have, so that
    # a 20 s poll does not hold up the shutdown while aiohttp waits for it.
    await site.stop()
    await queues.stop()
    await runner.cleanup()
    await storage.close()
    logger.info("stopped")
