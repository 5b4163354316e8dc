"""Conversion of values between Lua and Python (and so JSON)."""

from __future__ import annotations

from typing import Any

import lupa.lua54 as lupa

from nanoqueue.errors import WrongType

MAX_DEPTH = 64


def to_lua(lua: lupa.LuaRuntime, value: Any) -> Any:
    """Convert lists and dicts to Lua tables, recursively; scalars pass as they are."""
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, item) for item in value])
    if isinstance(value, dict):
        return lua.table_from({key: to_lua(lua, item) for key, item in value.items()})
    return value


def from_lua(value: Any, depth: int = 0) -> Any:
    """Convert a Lua value to plain Python values.

    A table whose keys are exactly 1..n becomes a list, an empty table an
    empty list, any other table a dict with string keys. Functions,
    coroutines and userdata raise WrongType, and so does nesting deeper
    than MAX_DEPTH, which is also how a table that contains itself ends.
    """
    kind = lupa.lua_type(value)
    if kind is None:
        return value
    if kind != "table":
        raise WrongType(f"a Lua {kind} cannot be converted to data")
    if depth >= MAX_DEPTH:
        raise WrongType(
            f"tables are nested deeper than {MAX_DEPTH} levels, or contain themselves"
        )
    items = list(value.items())
    count = len(items)
    if all(
        isinstance(key, int) and not isinstance(key, bool) and 1 <= key <= count
        for key, _ in items
    ):
        result: list[Any] = [None] * count
        for key, item in items:
            result[key - 1] = from_lua(item, depth + 1)
        return result
    converted: dict[str, Any] = {}
    for key, item in items:
        if isinstance(key, bool) or not isinstance(key, (str, int, float)):
            raise WrongType(
                f"table keys must be strings or numbers to convert, got {lupa.lua_type(key) or type(key).__name__}"
            )
        converted[key if isinstance(key, str) else _number_key(key)] = from_lua(
            item, depth + 1
        )
    return converted


def _number_key(key: int | float) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)
