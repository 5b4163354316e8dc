"""The time and memory limits: no script escapes them, and each is rolled back."""

from __future__ import annotations

import pytest

from nanoqueue.errors import ScriptMemoryLimit, ScriptTimeout
from nanoqueue.scripting.runtime import ScriptLimits, ScriptRuntime
from nanoqueue.storage import MemDB

MEMORY_LIMIT = 8 << 20


@pytest.fixture
def db() -> MemDB:
    database = MemDB()
    database.create("keyvalue", "kv")
    database.call("kv", "set", "k", "before")
    database.commit()
    return database


@pytest.fixture
def runtime(db: MemDB) -> ScriptRuntime:
    return ScriptRuntime(db, ScriptLimits(timeout_s=0.2, memory_bytes=MEMORY_LIMIT))


LOOP = "while true do end"
ALLOCATE = "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 64) .. i end"

# Each wrapper tries to catch the error the limit raises and carry on.
WRAPPERS = {
    "plain": "{body}",
    "pcall": "pcall(function() {body} end)",
    "xpcall": "xpcall(function() {body} end, function(e) return e end)",
    "xpcall_handler_loops": (
        "xpcall(function() {body} end, function(e) while true do end end)"
    ),
    "coroutine_wrap": "pcall(coroutine.wrap(function() {body} end))",
    "coroutine_resume": "coroutine.resume(coroutine.create(function() {body} end))",
    "nested_coroutines": (
        "coroutine.resume(coroutine.create(function() "
        "pcall(coroutine.wrap(function() "
        "coroutine.resume(coroutine.create(function() {body} end)) "
        "end)) end))"
    ),
    "pcall_loop": "for i = 1, 3 do pcall(function() {body} end) end",
    "error_handler_in_gsub": "pcall(string.gsub, 'aaa', 'a', function() {body} end)",
}


def script_with(wrapper: str, body: str) -> str:
    return (
        "db.call('kv', 'set', 'k', 'changed')\n"
        + WRAPPERS[wrapper].format(body=body)
        + "\ndb.call('kv', 'set', 'k', 'escaped')\nreturn 'escaped'"
    )


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_timeout_stops_wrapped_loop(
    runtime: ScriptRuntime, db: MemDB, wrapper: str
) -> None:
    with pytest.raises(ScriptTimeout) as caught:
        runtime.eval(script_with(wrapper, LOOP), [], [])
    assert caught.value.rolled_back is True
    assert "200 ms" in caught.value.message
    assert db.call("kv", "get", "k") == "before"
    assert db.dirty is False


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_memory_limit_stops_wrapped_allocation(
    runtime: ScriptRuntime, db: MemDB, wrapper: str
) -> None:
    with pytest.raises(ScriptMemoryLimit) as caught:
        runtime.eval(script_with(wrapper, ALLOCATE), [], [])
    assert caught.value.rolled_back is True
    assert "8 MiB" in caught.value.message
    assert db.call("kv", "get", "k") == "before"


def test_timeout_names_line(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptTimeout, match="at script line 3"):
        runtime.eval("local x = 1\nlocal y = 2\nwhile true do x = x + 1 end", [], [])


def test_timeout_without_changes_not_rolled_back(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptTimeout) as caught:
        runtime.eval(LOOP, [], [])
    assert caught.value.rolled_back is False


def test_runtime_works_after_timeout(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptTimeout):
        runtime.eval(LOOP, [], [])
    result, _ = runtime.eval(
        "local n = 0 for i = 1, 1000 do n = n + i end return n", [], []
    )
    assert result == 500500
    assert runtime.eval("return pcall(error, 'x')", [], [])[0] is False


def test_runtime_works_after_memory_limit(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptMemoryLimit):
        runtime.eval(ALLOCATE, [], [])
    result, _ = runtime.eval("return #string.rep('x', 1000000)", [], [])
    assert result == 1_000_000


def test_memory_limit_applies_per_script(runtime: ScriptRuntime) -> None:
    # Each script may use most of the limit, so ten in a row must all pass:
    # the limit counts from where each one starts.
    for _ in range(10):
        result, _ = runtime.eval("return #string.rep('x', 3000000)", [], [])
        assert result == 3_000_000


def test_memory_limit_single_allocation(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptMemoryLimit):
        runtime.eval("return #string.rep('x', 1e9)", [], [])


def test_memory_kept_global_released(runtime: ScriptRuntime) -> None:
    big = runtime.register("hold = string.rep('x', 3000000) return #hold")
    other = runtime.register("return #string.rep('y', 3000000)")
    for _ in range(5):
        assert runtime.run_sha(big, [], [])[0] == 3_000_000
        assert runtime.run_sha(other, [], [])[0] == 3_000_000


def test_fake_kill_message_not_a_limit(runtime: ScriptRuntime) -> None:
    with pytest.raises(Exception) as caught:
        runtime.eval("error('script stopped by the sandbox', 0)", [], [])
    assert not isinstance(caught.value, (ScriptTimeout, ScriptMemoryLimit))


# Lua's allocator can fail while lupa converts a value crossing to or from
# Python, where a failure would jump out of lupa and leave the runtime
# locked. These scripts fill memory to just below the limit and then cross
# the boundary; every run must end, by result or by ScriptMemoryLimit.
FILL = """
local keep = {{}}
for i = 1, {big} do keep[#keep + 1] = string.rep(string.char(65 + i % 26), 100000) .. i end
for i = 1, {small} do keep[#keep + 1] = string.rep('s', 1000) .. i end
local ok = {call}
return ok
"""

CROSSINGS = [
    "pcall(db.call, 'kv', 'get', 'big')",
    "pcall(db.call, 'q', 'pop_left_many', 500)",
    "pcall(db.call, 'q', 'push_left_many', {'a', 'b', 'c'})",
    'pcall(json.decode, \'[1, 2, 3, [4, 5], {"a": "b"}]\')',
    "pcall(json.encode, {#keep, 'x', {1, 2}})",
    "pcall(db.call, 'missing', 'get', 'x')",
]


# A hang here is a deadlock inside lupa, which only the thread method of
# pytest-timeout can end.
@pytest.mark.timeout(60, method="thread")
@pytest.mark.parametrize("call", CROSSINGS)
def test_memory_limit_at_boundary_never_hangs(db: MemDB, call: str) -> None:
    runtime = ScriptRuntime(db, ScriptLimits(timeout_s=1, memory_bytes=2 << 20))
    runtime.eval(
        "db.call('kv', 'set', 'big', string.rep('y', 30000)) "
        "db.create('queue', 'q') "
        "for i = 1, 500 do db.call('q', 'push_right', 'item' .. i) end",
        [],
        [],
    )
    outcomes = set()
    for big in range(16, 22):
        for small in range(0, 400, 20):
            source = FILL.format(big=big, small=small, call=call)
            try:
                runtime.eval(source, [], [])
                outcomes.add("passed")
            except ScriptMemoryLimit:
                outcomes.add("stopped")
    assert outcomes == {"passed", "stopped"}
    assert runtime.eval("return db.call('kv', 'get', 'k')", [], [])[0] == "before"


@pytest.fixture
def large_db(db: MemDB) -> MemDB:
    db.call("kv", "set", "huge", "h" * (3 << 20))
    db.create("queue", "q")
    db.call("q", "push_right_many", [f"item{index}" for index in range(100_000)])
    db.commit()
    return db


@pytest.mark.timeout(60, method="thread")
@pytest.mark.parametrize(
    "source",
    [
        "return pcall(db.call, 'kv', 'get', 'huge')",
        "local value = db.call('kv', 'get', 'huge') return #value",
        "return pcall(db.call, 'q', 'pop_left_many', 100000)",
        "return pcall(json.decode, ARGV[1])",
    ],
)
def test_result_over_limit_stops_script(large_db: MemDB, source: str) -> None:
    runtime = ScriptRuntime(large_db, ScriptLimits(timeout_s=1, memory_bytes=2 << 20))
    big_json = "[" + ",".join(['"abcdefghij"'] * 200_000) + "]"
    with pytest.raises(ScriptMemoryLimit):
        runtime.eval(source, [], [big_json])
    assert large_db.call("q", "len") == 100_000
    assert runtime.eval("return db.call('q', 'peek_left')", [], [])[0] == "item0"
