"""One contract for every fsync policy, and a fresh database against a recovered one."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nanoqueue.config import StorageConfig
from nanoqueue.errors import LogWriteFailed, ScriptError, StorageError
from nanoqueue.scripting.engine import ScriptEngine
from nanoqueue.storage.durability import Storage

POLICIES = ("always", "everysec", "no")

SETUP = """
db.create("keyvalue", "kv")
db.create("sortedset", "ss")
db.create("queue", "q")
db.create("queue", "scratch")
"""

# Each entry is one script; ARGV is a random key, value and score.
OPERATIONS = [
    'db.call("kv", "set", ARGV[1], ARGV[2])',
    'db.call("kv", "delete", ARGV[1])',
    'db.call("kv", "incr", "n" .. ARGV[1], 1.5)',
    'db.call("ss", "add", ARGV[1], tonumber(ARGV[3]))',
    'db.call("ss", "remove", ARGV[1])',
    'db.call("ss", "pop_min", 2)',
    'db.call("q", "push_right", ARGV[2])',
    'db.call("q", "push_left_many", {ARGV[1], tonumber(ARGV[3]), ARGV[2]})',
    'db.call("q", "pop_left_many", 2)',
    'db.call("q", "pop_right")',
    'db.drop("scratch"); db.create("queue", "scratch")',
    'db.call("kv", "set", ARGV[1], "x"); error("rolled back")',
]


async def open_storage(data_dir: Path, policy: str) -> tuple[Storage, ScriptEngine]:
    storage = Storage(
        StorageConfig(data_dir=str(data_dir), fsync=policy, snapshot_interval_s=3600)
    )
    storage.open()
    engine = ScriptEngine(storage.db, None, storage.log)
    await storage.start(engine.lock)
    return storage, engine


def random_script(rng: random.Random) -> tuple[str, list[Any]]:
    body = rng.choice(OPERATIONS)
    key = f"k{rng.randint(0, 30)}"
    score = rng.choice(["1", "-2.5", "inf", "-inf", str(rng.randint(-9, 9))])
    return body, [key, f"v{rng.randint(0, 1000)}", score]


async def run_random(
    engines: list[ScriptEngine], rng: random.Random, count: int
) -> None:
    for _ in range(count):
        script, args = random_script(rng)
        outcomes = []
        for engine in engines:
            try:
                await engine.eval(script, [], args)
                outcomes.append("ok")
            except ScriptError:
                outcomes.append("error")
        assert len(set(outcomes)) == 1


@pytest.fixture(params=POLICIES)
async def policy_storage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, Storage, ScriptEngine]]:
    storage, engine = await open_storage(tmp_path / "data", request.param)
    try:
        yield request.param, storage, engine
    finally:
        await storage.close()


async def test_policy_reopen_keeps_state(
    policy_storage: tuple[str, Storage, ScriptEngine], tmp_path: Path
) -> None:
    policy, storage, engine = policy_storage
    await engine.eval(SETUP)
    await run_random([engine], random.Random(policy), 300)
    expected = storage.db.dump()
    await storage.close()

    reopened, _ = await open_storage(tmp_path / "data", policy)
    try:
        assert reopened.db.dump() == expected
    finally:
        await reopened.close()


async def test_policy_reply_after_write(
    policy_storage: tuple[str, Storage, ScriptEngine],
) -> None:
    _, storage, engine = policy_storage
    await engine.eval(SETUP)
    await engine.eval('db.call("kv", "set", "a", "b")')
    assert not storage.log.pending
    assert storage.log.path.stat().st_size == storage.log.size


async def test_policy_read_waits_for_write(
    policy_storage: tuple[str, Storage, ScriptEngine],
) -> None:
    _, storage, engine = policy_storage
    await engine.eval(SETUP)
    write = asyncio.create_task(engine.eval('db.call("kv", "set", "a", "b")'))
    read = asyncio.create_task(engine.eval('return db.call("kv", "get", "a")'))
    assert await read == "b"
    assert write.done()
    assert not storage.log.pending


async def test_always_shares_fdatasync(tmp_path: Path) -> None:
    storage, engine = await open_storage(tmp_path / "data", "always")
    try:
        await engine.eval(SETUP)
        syncs_before = storage.log.syncs
        await asyncio.gather(
            *(
                engine.eval('db.call("kv", "set", ARGV[1], 1)', [], [str(n)])
                for n in range(200)
            )
        )
        assert storage.log.syncs - syncs_before < 200
        assert storage.db.get("kv").len() == 200
    finally:
        await storage.close()


async def test_recovered_equals_fresh(tmp_path: Path) -> None:
    storage, engine = await open_storage(tmp_path / "data", "always")
    fresh = ScriptEngine()
    rng = random.Random(7)
    try:
        for each in (engine, fresh):
            await each.eval(SETUP)
        await run_random([engine, fresh], rng, 200)
        first = await storage.snapshot()
        assert first is not None
        assert storage.data_dir.log_path(1).exists()
        await run_random([engine, fresh], rng, 200)
        second = await storage.snapshot()
        assert second is not None
        await run_random([engine, fresh], rng, 200)
    finally:
        await storage.close()
    names = sorted(path.name for path in (tmp_path / "data").iterdir())
    assert names == [
        "log-00000000000000000002.nql",
        "log-00000000000000000003.nql",
        "nanoqueue.lock",
        "snapshot-00000000000000000002.nqs",
        "snapshot-00000000000000000003.nqs",
    ]

    recovered, engine = await open_storage(tmp_path / "data", "always")
    try:
        assert recovered.db.dump() == fresh.db.dump()
        await run_random([engine, fresh], rng, 50)
        assert recovered.db.dump() == fresh.db.dump()
    finally:
        await recovered.close()


async def test_snapshot_lets_scripts_run(tmp_path: Path) -> None:
    storage, engine = await open_storage(tmp_path / "data", "always")
    try:
        await engine.eval(SETUP)
        await engine.eval(
            'for i = 1, 20000 do db.call("q", "push_right", ARGV[1] .. i) end',
            [],
            ["value-" * 10],
        )
        snapshot = asyncio.create_task(storage.snapshot())
        await asyncio.sleep(0)
        result = await engine.eval('return db.call("q", "len")')
        assert result == 20000
        taken = await snapshot
        assert taken is not None
        assert taken.pause_s <= taken.total_s
    finally:
        await storage.close()


async def test_log_closed_rejects_append(tmp_path: Path) -> None:
    storage, engine = await open_storage(tmp_path / "data", "always")
    await engine.eval(SETUP)
    await storage.close()
    with pytest.raises(StorageError, match="the log is closed"):
        await engine.eval('db.call("kv", "set", "a", 1)')
    assert storage.db.get("kv").get("a") is None


async def test_full_disk_reverts_pending(tmpfs: Any) -> None:
    point = tmpfs("full", "1m")
    storage, engine = await open_storage(point / "data", "always")
    await engine.eval(SETUP)
    write = 'db.call("q", "push_right", ARGV[1]); db.call("kv", "set", ARGV[1], 1)'

    async def attempt(number: int) -> str | None:
        value = f"{number:04d}" + "x" * 30_000
        try:
            await engine.eval(write, [], [value])
        except LogWriteFailed as exc:
            assert "No space left on device" in exc.message
            return None
        return value

    # Waves of 10 concurrent writes: records of one pass of the event loop
    # are written together, so a wave succeeds or fails as a whole, and the
    # 1 MiB file system fills up part way through the 100 writes.
    results: list[str | None] = []
    for wave in range(10):
        numbers = range(wave * 10, wave * 10 + 10)
        results += await asyncio.gather(*(attempt(n) for n in numbers))
    acked = {value for value in results if value is not None}
    assert 0 < len(acked) < 100
    assert set(storage.db.get("kv").data) == acked
    assert set(storage.db.get("q").items) == acked
    expected = storage.db.dump()
    await storage.close()

    reopened, _ = await open_storage(point / "data", "always")
    try:
        assert reopened.db.dump() == expected
    finally:
        await reopened.close()


async def test_close_waits_for_snapshot(tmp_path: Path) -> None:
    storage, engine = await open_storage(tmp_path / "data", "always")
    await engine.eval(SETUP)
    await engine.eval(
        'for i = 1, 20000 do db.call("q", "push_right", ARGV[1] .. i) end',
        [],
        ["value-" * 10],
    )
    expected = storage.db.dump()
    snapshot = asyncio.create_task(storage.snapshot())
    while storage.data_dir.lock_fd is not None and not snapshot.done():
        if list(storage.data_dir.path.glob("snapshot-*.nqs*")):
            break
        await asyncio.sleep(0.001)
    await storage.close()
    assert (await snapshot) is not None
    assert storage.data_dir.snapshot_path(2).exists()

    reopened, _ = await open_storage(tmp_path / "data", "always")
    try:
        assert reopened.db.dump() == expected
    finally:
        await reopened.close()
