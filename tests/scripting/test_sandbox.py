"""Escape attempts from the Lua sandbox, each of which must fail."""

from __future__ import annotations

from typing import Any

import pytest

from nanoqueue.errors import ScriptError
from nanoqueue.scripting.runtime import ScriptLimits, ScriptRuntime
from nanoqueue.storage import MemDB


@pytest.fixture
def runtime() -> ScriptRuntime:
    return ScriptRuntime(MemDB(), ScriptLimits(timeout_s=0.2, memory_bytes=16 << 20))


def run(runtime: ScriptRuntime, source: str) -> Any:
    result, _ = runtime.eval(source, [], [])
    return result


@pytest.mark.parametrize(
    "name",
    [
        "os.execute",
        "os.exit",
        "os.getenv",
        "os.remove",
        "os.rename",
        "os.tmpname",
        "io",
        "load",
        "loadstring",
        "dofile",
        "loadfile",
        "require",
        "package",
        "debug",
        "string.dump",
        "python",
        "collectgarbage",
        "print",
        "rawset",
        "_G",
        "newproxy",
        "setfenv",
        "getfenv",
        "module",
    ],
)
def test_global_is_absent(runtime: ScriptRuntime, name: str) -> None:
    assert run(runtime, f"return {name} == nil") is True


def test_os_keeps_time_functions(runtime: ScriptRuntime) -> None:
    assert run(runtime, "return type(os.time()) .. type(os.clock())") == "numbernumber"


def test_string_method_dump_absent(runtime: ScriptRuntime) -> None:
    assert run(runtime, "return ('x').dump == nil") is True


def test_string_metatable_hidden(runtime: ScriptRuntime) -> None:
    assert run(runtime, "return getmetatable('')") is False
    with pytest.raises(ScriptError, match="script:1: attempt to index a boolean"):
        run(runtime, "return getmetatable('').__index")


@pytest.mark.parametrize(
    "library", ["string", "table", "math", "utf8", "os", "coroutine"]
)
def test_library_is_read_only(runtime: ScriptRuntime, library: str) -> None:
    with pytest.raises(ScriptError, match=f"the {library} library is read-only"):
        run(runtime, f"{library}.injected = 1")
    assert run(runtime, f"return rawget({library}, 'sub')") is None
    assert run(runtime, f"return getmetatable({library})") is False


@pytest.mark.parametrize("library", ["db", "json"])
def test_api_table_is_read_only(runtime: ScriptRuntime, library: str) -> None:
    with pytest.raises(ScriptError, match=f"the {library} library is read-only"):
        run(runtime, f"{library}.call = function() end")


def test_library_change_invisible_to_next_run(runtime: ScriptRuntime) -> None:
    run(runtime, "string = {upper = function() return 'hacked' end}")
    assert run(runtime, "return string.upper('a')") == "A"
    assert run(runtime, "return ('a'):upper()") == "A"


def test_library_iterates_with_pairs(runtime: ScriptRuntime) -> None:
    assert (
        run(runtime, "local n = 0 for _ in pairs(math) do n = n + 1 end return n") > 20
    )


def test_pairs_does_not_expose_library_table(runtime: ScriptRuntime) -> None:
    source = """
    local _, state = pairs(string)
    local ok = pcall(function() state.upper = nil end)
    return ('a'):upper()
    """
    assert run(runtime, source) == "A"


def test_global_does_not_leak_to_next_run(runtime: ScriptRuntime) -> None:
    run(runtime, "leaked = 42; KEYS = 'x'")
    assert run(runtime, "return leaked") is None
    assert run(runtime, "return type(KEYS)") == "table"


def test_global_does_not_leak_between_registered(runtime: ScriptRuntime) -> None:
    setter = runtime.register("counter = (counter or 0) + 1 return counter")
    assert runtime.run_sha(setter, [], [])[0] == 1
    assert runtime.run_sha(setter, [], [])[0] == 1


def test_env_metatable_hidden(runtime: ScriptRuntime) -> None:
    assert run(runtime, "return getmetatable(_ENV)") is False


def test_gc_metamethod_rejected(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match="__gc metamethods are not allowed"):
        run(runtime, "setmetatable({}, {__gc = function() end})")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "setmetatable(nil, {})",
            "script:1: bad argument #1 to 'setmetatable' (table expected, got nil)",
        ),
        (
            "setmetatable({}, 5)",
            (
                "script:1: bad argument #2 to 'setmetatable' "
                "(nil or table expected, got number)"
            ),
        ),
        (
            "local t = setmetatable({}, {__metatable = false})\nsetmetatable(t, {})",
            "script:2: cannot change a protected metatable",
        ),
        ("setmetatable(_ENV, nil)", "script:1: cannot change a protected metatable"),
    ],
)
def test_setmetatable_error_names_line(
    runtime: ScriptRuntime, source: str, message: str
) -> None:
    with pytest.raises(ScriptError) as error:
        run(runtime, source)

    assert error.value.message == f"script failed: {message}"


def test_gc_added_later_never_runs(runtime: ScriptRuntime) -> None:
    source = """
    local meta = {}
    setmetatable({}, meta)
    meta.__gc = function() db.create('keyvalue', 'finalized') end
    """
    run(runtime, source)
    runtime._lua.gccollect()
    assert run(runtime, "return db.exists('finalized')") is False


def test_binary_chunk_rejected(runtime: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match="attempt to load a binary chunk"):
        run(runtime, "\x1bLua\x54\x00")


def test_bridge_functions_are_lua_closures(runtime: ScriptRuntime) -> None:
    assert (
        run(runtime, "return type(db.call) .. type(json.encode)") == "functionfunction"
    )
    assert run(runtime, "return getmetatable(db)") is False


def test_results_are_plain_lua_values(runtime: ScriptRuntime) -> None:
    source = """
    db.create('keyvalue', 'kv')
    db.call('kv', 'set', 'k', 'v')
    local decoded = json.decode('{"a": ["x"]}')
    return {type(db.call('kv', 'get', 'k')), type(decoded), type(decoded.a[1]),
            type(json.encode({1})), type(db.kind('kv'))}
    """
    assert run(runtime, source) == ["string", "table", "string", "string", "string"]


def test_error_objects_are_not_python(runtime: ScriptRuntime) -> None:
    source = """
    local results = {}
    for _, attempt in ipairs({
        function() return db.call('kv', 'set', '\\xff', 'x') end,
        function() return db.call('missing', 'get', 'k') end,
        function() return json.decode('{') end,
        function() return json.encode(print) end,
        function() return db.create({}, 'x') end,
    }) do
        local ok, err = pcall(attempt)
        results[#results + 1] = type(err)
    end
    return results
    """
    assert run(runtime, source) == ["string"] * 5


@pytest.mark.parametrize(
    "expression",
    [
        "db.call.__class__",
        "db.call.__globals__",
        "json.encode.__self__",
        "log.__closure__",
        "coroutine.create.__code__",
    ],
)
def test_bridge_has_no_attributes(runtime: ScriptRuntime, expression: str) -> None:
    with pytest.raises(ScriptError, match="attempt to index a function value"):
        run(runtime, f"return {expression}")


def test_attribute_access_denied(runtime: ScriptRuntime) -> None:
    def probe(obj: object) -> object:
        return obj

    # Even a Python object handed to Lua directly gets no attributes.
    lua = runtime._lua
    read = lua.eval("function(obj) return obj.__class__ end")
    with pytest.raises(AttributeError, match="cannot access Python attributes"):
        read(probe)


def test_coroutine_status_of_main(runtime: ScriptRuntime) -> None:
    assert run(runtime, "return coroutine.resume(coroutine.running())") is False
