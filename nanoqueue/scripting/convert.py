"""Conversion of values between Lua and Python (and so JSON).

The runtime runs lupa without string decoding, so Lua strings arrive here as
bytes and Python strings leave as UTF-8 bytes. Decoding here, not in lupa,
lets a non-UTF-8 string become a WrongType with the script line instead of a
Python exception inside Lua.

Result conversion rules, the same for script results, `json.encode` and
arguments to `db.call`:

- nil becomes None, booleans, numbers and strings stay what they are;
- a table whose keys are all positive integers becomes a list, with None at
  missing indexes, unless it is sparse: its largest index is above
  SPARSE_SAFE_INDEX and above SPARSE_RATIO times its number of entries;
- any other table, a sparse one included, becomes a dict whose number keys
  are written as decimal strings, and an empty table becomes an empty list.
"""

from __future__ import annotations

from typing import Any

import lupa.lua54 as lupa

from nanoqueue.errors import WrongType

MAX_DEPTH = 64

# Types that Lua values convert to unchanged.
_NUMBERS = frozenset({int, float, bool})
# Python types that cross into Lua unchanged.
_SCALARS = frozenset({int, float, bool, type(None), bytes})

# lua-cjson's default thresholds for sparse arrays (encode_sparse_array
# returns false, 2, 10). Where lua-cjson raises an error by default, a
# sparse table here becomes an object, so {[1000] = true} gives
# {"1000": true} and not 999 nulls and one true.
SPARSE_RATIO = 2
SPARSE_SAFE_INDEX = 10


def to_lua(lua: lupa.LuaRuntime, value: Any) -> Any:
    """Convert a Python value for Lua: str to UTF-8 bytes, lists and dicts to tables.

    Raises LuaMemoryError if the Lua memory limit is on and the tables do
    not fit, which the caller must prevent by lifting the limit first.
    """
    cls = type(value)
    if cls is str:
        return value.encode()
    if cls is list or cls is tuple:
        # Script arguments are mostly flat lists of strings and numbers, so
        # those items are converted inline instead of by a call each.
        return lua.table_from(
            [
                item.encode()
                if type(item) is str
                else item
                if type(item) in _SCALARS
                else to_lua(lua, item)
                for item in value
            ]
        )
    if cls is dict:
        return lua.table_from(
            {to_lua(lua, key): to_lua(lua, item) for key, item in value.items()}
        )
    return value


def decode(value: bytes, what: str = "string") -> str:
    """Decode a Lua string as UTF-8; raises WrongType naming the bad byte."""
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        raise WrongType(
            f"{what} is not valid UTF-8: byte 0x{value[exc.start]:02x} "
            f"at offset {exc.start}; MemDB and JSON hold text only"
        ) from exc


def from_lua(value: Any, depth: int = 0) -> Any:
    """Convert a Lua value to plain Python values, by the rules in the module docstring.

    Functions, coroutines and userdata raise WrongType, and so does nesting
    deeper than MAX_DEPTH, which is also how a table that contains itself
    ends.
    """
    cls = type(value)
    if cls is bytes:
        try:
            return value.decode()
        except UnicodeDecodeError:
            return decode(value)
    if cls is int or cls is float or cls is bool or value is None:
        return value
    kind = lupa.lua_type(value)
    if kind != "table":
        raise WrongType(
            f"a Lua {kind or type(value).__name__} cannot be converted to data; "
            "only nil, booleans, numbers, strings and tables can"
        )
    if depth >= MAX_DEPTH:
        raise WrongType(
            f"tables are nested deeper than {MAX_DEPTH} levels, or contain themselves"
        )
    items = list(value.items())
    if not items:
        return []
    length = _array_length(items)
    if length == len(items):
        return [
            item if type(item) in _NUMBERS else _from_lua_item(item, depth + 1)
            for _, item in items
        ]
    if length:
        result: list[Any] = [None] * length
        for key, item in items:
            result[key - 1] = _from_lua_item(item, depth + 1)
        return result
    converted: dict[str, Any] = {}
    for key, item in items:
        name = _key(key)
        if name in converted:
            raise WrongType(
                f"table has two keys that convert to {name!r}; "
                "use either the number or the string"
            )
        converted[name] = _from_lua_item(item, depth + 1)
    return converted


def _from_lua_item(item: Any, depth: int) -> Any:
    """Convert a table's value; strings take the short path of `from_lua`."""
    if type(item) is bytes:
        try:
            return item.decode()
        except UnicodeDecodeError:
            return decode(item)
    return from_lua(item, depth)


def _array_length(items: list[tuple[Any, Any]]) -> int:
    """Return the list length a non-empty table converts to, or 0 for a dict."""
    # Lua lists the array part of a table first and in order, so a plain
    # list has the keys 1, 2, ... in that order.
    for position, (key, _) in enumerate(items, 1):
        if key != position or type(key) is not int:
            break
    else:
        return len(items)
    largest = 0
    for key, _ in items:
        if type(key) is not int or key < 1:
            return 0
        largest = max(largest, key)
    if largest <= SPARSE_SAFE_INDEX or largest <= SPARSE_RATIO * len(items):
        return largest
    return 0


def _key(key: Any) -> str:
    cls = type(key)
    if cls is bytes:
        return decode(key, "table key")
    if cls is int:
        return str(key)
    if cls is float:
        return str(int(key)) if key.is_integer() else repr(key)
    kind = "boolean" if cls is bool else lupa.lua_type(key) or cls.__name__
    raise WrongType(f"table keys must be strings or numbers to convert, got {kind}")
