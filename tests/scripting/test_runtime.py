"""The script API: KEYS and ARGV, db, json, log, results, SHA-1s and errors."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanoqueue.errors import NanoqueueError, NoScript, ScriptError
from nanoqueue.scripting.engine import ScriptEngine
from nanoqueue.scripting.runtime import MAX_LOG_LINES, ScriptLimits, ScriptRuntime
from nanoqueue.storage import MemDB, memdb


@pytest.fixture
def db() -> MemDB:
    return MemDB()


@pytest.fixture
def runtime(db: MemDB) -> ScriptRuntime:
    return ScriptRuntime(db, ScriptLimits(timeout_s=0.2, memory_bytes=16 << 20))


def run(runtime: ScriptRuntime, source: str, keys: Any = (), args: Any = ()) -> Any:
    result, _ = runtime.eval(source, list(keys), list(args))
    return result


# KEYS and ARGV.


def test_keys_and_argv_arrive_in_order(runtime: ScriptRuntime) -> None:
    source = "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}"
    assert run(runtime, source, ["a", "b"], [1, 2.5]) == ["a", "b", 1, 2.5, 2, 2]


def test_argv_types_in_lua(runtime: ScriptRuntime) -> None:
    source = "return {math.type(ARGV[1]), math.type(ARGV[2]), type(ARGV[3])}"
    assert run(runtime, source, [], [1, 1.5, "x"]) == ["integer", "float", "string"]


def test_empty_keys_and_argv(runtime: ScriptRuntime) -> None:
    assert run(runtime, "return #KEYS + #ARGV") == 0


def test_argv_unicode_round_trip(runtime: ScriptRuntime) -> None:
    assert run(runtime, "return ARGV[1] .. '!'", [], ["héllo ✓"]) == "héllo ✓!"
    assert run(runtime, "return #ARGV[1]", [], ["é"]) == 2


# db.


def test_db_api_round_trip(runtime: ScriptRuntime, db: MemDB) -> None:
    source = """
    assert(db.create('keyvalue', 'kv') == true)
    assert(db.create('keyvalue', 'kv') == false)
    assert(db.exists('kv') == true and db.kind('kv') == 'keyvalue')
    assert(db.kind('none') == nil)
    db.call('kv', 'set', KEYS[1], ARGV[1])
    return db.call('kv', 'get', KEYS[1])
    """
    assert run(runtime, source, ["k"], ["v"]) == "v"
    assert db.call("kv", "get", "k") == "v"


def test_db_call_table_argument(runtime: ScriptRuntime, db: MemDB) -> None:
    source = """
    db.create('queue', 'q')
    db.call('q', 'push_right_many', {'a', 'b', 3})
    return db.call('q', 'pop_left_many', 10)
    """
    assert run(runtime, source) == ["a", "b", 3]


def test_db_drop_in_script(runtime: ScriptRuntime, db: MemDB) -> None:
    db.create("queue", "q")
    db.commit()
    assert run(runtime, "return db.drop('q')") is True
    assert db.exists("q") is False


def test_db_call_nil_results(runtime: ScriptRuntime) -> None:
    source = """
    db.create('keyvalue', 'kv') db.create('queue', 'q') db.create('sortedset', 'z')
    return {db.call('kv', 'get', 'x') == nil, db.call('q', 'pop_left') == nil,
            db.call('q', 'peek_right') == nil, db.call('z', 'score', 'm') == nil}
    """
    assert run(runtime, source) == [True, True, True, True]


# json.


def test_json_round_trip(runtime: ScriptRuntime) -> None:
    source = """
    local value = json.decode(ARGV[1])
    return json.encode({value.name, value.list[2], value.nested.ok})
    """
    text = '{"name": "n", "list": [1, 2.5], "nested": {"ok": true}}'
    assert run(runtime, source, [], [text]) == '["n",2.5,true]'


def test_json_decode_null_is_nil(runtime: ScriptRuntime) -> None:
    assert run(runtime, "return json.decode('null') == nil") is True


def test_json_decode_invalid_names_line(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"script:2: json.decode: invalid JSON"):
        run(runtime, "local x = 1\njson.decode('{oops')")


def test_json_decode_not_string_raises(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match="json.decode takes a string, got table"):
        run(runtime, "json.decode({})")


def test_json_encode_function_raises(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"script:1: json.encode: a Lua function"):
        run(runtime, "json.encode({f = tostring})")


def test_json_encode_cycle_raises(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match="nested deeper than 64 levels"):
        run(runtime, "local t = {} t.self = t return json.encode(t)")


# log.


def test_log_writes_info_record(
    runtime: ScriptRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nanoqueue.scripting.runtime")
    sha = runtime.register("log('hello', 42, nil, true, 1.5)")
    runtime.run_sha(sha, [], [])
    records = [r for r in caplog.records if r.name == "nanoqueue.scripting.runtime"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert records[0].getMessage() == "script log: hello 42 nil true 1.5"
    assert records[0].__dict__["script"] == sha


def test_log_lines_capped_per_run(
    runtime: ScriptRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nanoqueue.scripting.runtime")
    run(runtime, f"for i = 1, {MAX_LOG_LINES + 50} do log('line', i) end")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == MAX_LOG_LINES + 1
    assert "dropped 50 log lines" in messages[-1]


def test_log_long_line_cut(
    runtime: ScriptRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="nanoqueue.scripting.runtime")
    run(runtime, "log(string.rep('x', 100000))")
    assert len(caplog.records[0].getMessage()) < 5000


# Result conversion.


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("return nil", None),
        ("return", None),
        ("return true", True),
        ("return 7", 7),
        ("return 2.5", 2.5),
        ("return 'text'", "text"),
        ("return {}", []),
        ("return {1, 'two', {3}}", [1, "two", [3]]),
        ("return {a = 1, b = {c = 'd'}}", {"a": 1, "b": {"c": "d"}}),
        ("return {1, 2, nil, 4}", [1, 2, None, 4]),
        ("return {[1] = 'a', [3] = 'c'}", ["a", None, "c"]),
        ("return {[10] = 'x'}", [None] * 9 + ["x"]),
        ("return {[11] = 'x'}", {"11": "x"}),
        ("return {1, 2, n = 3}", {"1": 1, "2": 2, "n": 3}),
        ("return {[0] = 'zero'}", {"0": "zero"}),
        ("return {[1.5] = 'x'}", {"1.5": "x"}),
        ("return 1, 2", 1),
    ],
)
def test_result_conversion(runtime: ScriptRuntime, source: str, expected: Any) -> None:
    assert run(runtime, source) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("return print or tostring", "a Lua function cannot be converted"),
        ("return coroutine.create(function() end)", "cannot be converted to data"),
        ("return {[true] = 1}", "table keys must be strings or numbers"),
        ("return {[1] = 'a', ['1'] = 'b', x = 1}", "two keys that convert to '1'"),
        ("return '\\xff'", "string is not valid UTF-8: byte 0xff"),
    ],
)
def test_result_not_convertible_raises(
    runtime: ScriptRuntime, source: str, message: str
) -> None:
    with pytest.raises(ScriptError, match=message):
        run(runtime, source)


def test_result_conversion_failure_rolls_back(
    runtime: ScriptRuntime, db: MemDB
) -> None:
    with pytest.raises(ScriptError) as caught:
        run(runtime, "db.create('keyvalue', 'kv') return tostring")
    assert caught.value.rolled_back is True
    assert db.exists("kv") is False


# Registration by SHA-1.


def test_register_returns_sha1(runtime: ScriptRuntime) -> None:
    source = "return 'registered'"
    sha = runtime.register(source)
    assert sha == hashlib.sha1(source.encode()).hexdigest()
    assert runtime.register(source) == sha
    assert runtime.is_registered(sha) is True
    assert runtime.run_sha(sha, [], [])[0] == "registered"


def test_run_unknown_sha_raises_noscript(runtime: ScriptRuntime) -> None:
    with pytest.raises(NoScript, match="no script is registered with SHA-1"):
        runtime.run_sha("0" * 40, [], [])


def test_register_syntax_error_raises(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"does not compile: script:2:"):
        runtime.register("local x = 1\nlocal = 2")


def test_eval_reuses_compiled_chunk(runtime: ScriptRuntime) -> None:
    source = "return 1"
    run(runtime, source)
    run(runtime, source)
    assert len(runtime._eval_cache) == 1


# Errors.


def test_error_names_line(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"^script failed: script:3: boom$"):
        run(runtime, "local a = 1\nlocal b = 2\nerror('boom')")


def test_runtime_error_names_line(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"script:2: attempt to perform arithmetic"):
        run(runtime, "local t = nil\nreturn t + 1")


def test_db_error_names_line(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"script:2: no structure named 'missing'"):
        run(runtime, "local x = 1\ndb.call('missing', 'get', 'k')")


def test_db_error_in_function_names_caller_line(runtime: ScriptRuntime) -> None:
    source = "local function f()\n  db.call('missing', 'get', 'k')\nend\nf()"
    with pytest.raises(ScriptError, match=r"script:2: no structure"):
        run(runtime, source)


def test_non_utf8_argument_names_line(runtime: ScriptRuntime) -> None:
    source = "db.create('keyvalue', 'kv')\ndb.call('kv', 'set', 'k', '\\xc3\\x28')"
    with pytest.raises(ScriptError) as caught:
        run(runtime, source)
    assert "script:2: string is not valid UTF-8: byte 0xc3 at offset 0" in (
        caught.value.message
    )
    assert caught.value.rolled_back is True


def test_too_many_call_arguments_raise(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match="at most 3 arguments, got 6 values"):
        run(runtime, "db.call('kv', 'set', 1, 2, 3, 4)")


def test_pcall_catches_db_error(runtime: ScriptRuntime) -> None:
    source = "local ok, err = pcall(db.call, 'missing', 'get', 'k') return {ok, err}"
    assert run(runtime, source) == [
        False,
        "script:1: no structure named 'missing'; create it first with db.create",
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("error({code = 1})", "script failed: error object is a table, not a string"),
        ("error(12)", "script failed: 12"),
        ("error()", "script failed: nil"),
        ("error(true)", "script failed: true"),
        (
            "error(setmetatable({}, {__tostring = function() return 'custom' end}))",
            "script failed: custom",
        ),
        (
            "error(setmetatable({}, {__tostring = function() error('x') end}))",
            "error object is a table, not a string",
        ),
    ],
)
def test_error_object_kinds(runtime: ScriptRuntime, source: str, message: str) -> None:
    with pytest.raises(ScriptError) as caught:
        run(runtime, source)
    assert caught.value.message == message or message in caught.value.message


def test_error_rolls_back_changes(runtime: ScriptRuntime, db: MemDB) -> None:
    db.create("keyvalue", "kv")
    db.call("kv", "set", "myKey", "myValue")
    db.commit()
    with pytest.raises(ScriptError) as caught:
        run(runtime, "db.call('kv', 'set', 'myKey', 'myValue2')\nerror('failed')")
    assert caught.value.rolled_back is True
    assert db.call("kv", "get", "myKey") == "myValue"


def test_internal_error_stops_script(
    runtime: ScriptRuntime,
    db: MemDB,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db.create("keyvalue", "kv")
    db.commit()

    def broken(*args: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setitem(memdb._OPERATIONS["keyvalue"], "get", broken)
    with pytest.raises(NanoqueueError, match="internal error") as caught:
        run(runtime, "db.call('kv', 'set', 'a', 1) pcall(db.call, 'kv', 'get', 'a')")
    assert not isinstance(caught.value, ScriptError)
    assert db.call("kv", "exists", "a") is False
    assert "db.call failed inside script" in caplog.text


# The engine.


async def test_engine_runs_scripts_one_at_a_time() -> None:
    engine = ScriptEngine(limits=ScriptLimits(timeout_s=0.2, memory_bytes=16 << 20))
    await engine.eval("db.create('keyvalue', 'kv')")
    sha = engine.register("return db.call('kv', 'incr', 'n')")
    results = await asyncio.gather(*(engine.run(sha) for _ in range(50)))
    assert sorted(results) == list(range(1, 51))


# Rollback of a whole script, for random operations.

OPERATION_SCRIPT = """
local operations = json.decode(ARGV[1])
for _, operation in ipairs(operations) do
    if operation[1] == "create" then
        pcall(db.create, operation[2], operation[3])
    elseif operation[1] == "drop" then
        pcall(db.drop, operation[2])
    else
        pcall(db.call, table.unpack(operation))
    end
end
error("abort after " .. #operations .. " operations")
"""

scalars = st.one_of(st.text(max_size=3), st.integers(min_value=-3, max_value=3))
structure = st.sampled_from(["kv", "zs", "q"])
script_operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(["keyvalue", "queue"]), structure),
        st.tuples(st.just("drop"), structure),
        st.tuples(structure, st.sampled_from(["set", "incr", "add"]), scalars, scalars),
        st.tuples(
            structure, st.sampled_from(["delete", "remove", "push_left"]), scalars
        ),
        st.tuples(structure, st.sampled_from(["pop_right", "pop_min"])),
        st.tuples(structure, st.just("push_right_many"), st.lists(scalars, max_size=3)),
    ),
    max_size=20,
)


@settings(max_examples=100, deadline=None)
@given(script_operations)
def test_failed_script_restores_state(operations: list[Any]) -> None:
    db = MemDB()
    db.create("keyvalue", "kv")
    db.create("sortedset", "zs")
    db.create("queue", "q")
    db.call("kv", "set", "k", 1)
    db.call("q", "push_right_many", ["a", "b"])
    db.call("zs", "add", "m", 1)
    db.commit()
    runtime = ScriptRuntime(db, ScriptLimits(timeout_s=1, memory_bytes=16 << 20))
    before = db.dump()
    with pytest.raises(ScriptError, match="abort after"):
        runtime.eval(OPERATION_SCRIPT, [], [orjson.dumps(operations).decode()])
    assert db.dump() == before
