"""The Lua runtime: sandboxed execution of scripts against MemDB."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources
from typing import Any

import lupa.lua54 as lupa
import orjson

from nanoqueue.errors import (
    NanoqueueError,
    NoScript,
    ScriptError,
    ScriptMemoryLimit,
    ScriptTimeout,
)
from nanoqueue.scripting.convert import from_lua, to_lua
from nanoqueue.storage import Committed, MemDB

logger = logging.getLogger(__name__)

# Instructions between two checks of the wall clock: small enough to stop a
# runaway loop within a fraction of a millisecond, large enough that the
# check costs under 1% of a busy script.
HOOK_INSTRUCTIONS = 10_000

# Scripts sent to eval are compiled once and kept, as Redis keeps EVAL
# scripts; this bounds how many of them stay compiled.
EVAL_CACHE_SIZE = 512


@dataclass(frozen=True)
class ScriptLimits:
    """Limits applied to every script run."""

    timeout_s: float = 1.0
    memory_bytes: int = 64 * 1024 * 1024


def script_sha(source: str) -> str:
    """Return the SHA-1 of a script's text, as Redis EVALSHA names scripts."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()


def _deny_attributes(obj: object, name: object, is_setting: bool) -> object:
    raise AttributeError("scripts cannot access Python attributes")


class ScriptRuntime:
    """Compiles and runs Lua scripts, each as one MemDB transaction.

    `run` is synchronous: the caller holds the lock that makes scripts run
    one at a time.
    """

    def __init__(self, db: MemDB, limits: ScriptLimits | None = None) -> None:
        self.db = db
        self.limits = limits or ScriptLimits()
        self._lua = lupa.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_deny_attributes,
            max_memory=0,
        )
        bridge = self._lua.table_from(
            {
                "create": self._create,
                "drop": self._drop,
                "exists": self._exists,
                "kind": self._kind,
                "call": self._call,
                "json_encode": self._json_encode,
                "json_decode": self._json_decode,
                "log": self._log,
            }
        )
        setup = resources.files(__package__).joinpath("sandbox.lua").read_text()
        self._compile_chunk, self._run_chunk = self._lua.execute(
            setup, bridge, time.monotonic, HOOK_INSTRUCTIONS, name="=sandbox"
        )
        self._registered: dict[str, Any] = {}
        self._eval_cache: OrderedDict[str, Any] = OrderedDict()
        self._lua.gccollect()
        self._baseline_memory = self._lua.get_memory_used()

    # Script management.

    def register(self, source: str) -> str:
        """Compile `source` and keep it under its SHA-1, which is returned."""
        sha = script_sha(source)
        if sha not in self._registered:
            self._registered[sha] = self._compile(source)
        return sha

    def is_registered(self, sha: str) -> bool:
        return sha in self._registered

    def _compile(self, source: str) -> Any:
        chunk, message = self._compile_chunk(source, "=script")
        if chunk is None:
            raise ScriptError(f"script does not compile: {message}")
        return chunk

    def _compiled_eval(self, source: str) -> Any:
        sha = script_sha(source)
        chunk = self._registered.get(sha) or self._eval_cache.get(sha)
        if chunk is None:
            chunk = self._compile(source)
            self._eval_cache[sha] = chunk
            if len(self._eval_cache) > EVAL_CACHE_SIZE:
                self._eval_cache.popitem(last=False)
        elif sha in self._eval_cache:
            self._eval_cache.move_to_end(sha)
        return chunk

    # Running.

    def eval(self, source: str, keys: list[Any], args: list[Any]) -> tuple[Any, Committed]:
        """Compile (or reuse) `source` and run it; see `run_chunk`."""
        return self.run_chunk(self._compiled_eval(source), keys, args)

    def run_sha(self, sha: str, keys: list[Any], args: list[Any]) -> tuple[Any, Committed]:
        """Run the registered script `sha`; raises NoScript if there is none."""
        chunk = self._registered.get(sha)
        if chunk is None:
            raise NoScript(
                f"no script is registered with SHA-1 {sha!r}; "
                "register it with POST /db/scripts first"
            )
        return self.run_chunk(chunk, keys, args)

    def run_chunk(self, chunk: Any, keys: list[Any], args: list[Any]) -> tuple[Any, Committed]:
        """Run a compiled chunk as one transaction.

        Returns the result converted to Python and the committed entries.
        On any failure the transaction is rolled back and a ScriptError
        (ScriptTimeout, ScriptMemoryLimit) says whether anything had changed.
        """
        lua = self._lua
        lua.set_max_memory(lua.get_memory_used() + self.limits.memory_bytes)
        try:
            outcome = self._run_chunk(
                chunk, to_lua(lua, keys), to_lua(lua, args), self.limits.timeout_s
            )
        except lupa.LuaMemoryError as exc:
            raise self._fail("memory", None) from exc
        except lupa.LuaError as exc:
            raise self._fail(None, str(exc)) from exc
        except UnicodeDecodeError as exc:
            raise self._fail(None, f"a string it returned is not valid UTF-8: {exc}") from exc
        finally:
            lua.set_max_memory(0)
        killed, ok, *values = outcome
        if killed is not None or not ok:
            raise self._fail(killed, values[0] if values else None)
        try:
            result = from_lua(values[0]) if values else None
        except NanoqueueError as exc:
            raise self._fail(None, f"cannot convert the result: {exc.message}") from exc
        return result, self.db.commit()

    def _fail(self, killed: str | None, message: object) -> ScriptError:
        rolled_back = self.db.rollback()
        self._lua.gccollect()
        if killed == "timeout":
            limit_ms = self.limits.timeout_s * 1000
            return ScriptTimeout(
                f"script ran longer than the limit of {limit_ms:g} ms and was stopped",
                rolled_back=rolled_back,
            )
        if killed == "memory":
            limit_mib = self.limits.memory_bytes / (1024 * 1024)
            return ScriptMemoryLimit(
                f"script allocated more than the limit of {limit_mib:g} MiB "
                "and was stopped",
                rolled_back=rolled_back,
            )
        if isinstance(message, bytes):
            message = message.decode("utf-8", errors="replace")
        elif lupa.lua_type(message) == "table":
            message = "error object is a table"
        return ScriptError(f"script failed: {message}", rolled_back=rolled_back)

    # Bridge functions called from Lua. Each returns (True, result) or
    # (False, message) so that Lua raises the error at the script's line.

    def _bridge(self, function: Any, *args: Any) -> tuple[bool, Any]:
        try:
            return True, to_lua(self._lua, function(*args))
        except NanoqueueError as exc:
            return False, exc.message

    def _create(self, kind: Any = None, name: Any = None) -> tuple[bool, Any]:
        return self._bridge(self.db.create, kind, name)

    def _drop(self, name: Any = None) -> tuple[bool, Any]:
        return self._bridge(self.db.drop, name)

    def _exists(self, name: Any = None) -> tuple[bool, Any]:
        return self._bridge(self.db.exists, name)

    def _kind(self, name: Any = None) -> tuple[bool, Any]:
        return self._bridge(self.db.kind, name)

    def _call(self, name: Any = None, op: Any = None, *args: Any) -> tuple[bool, Any]:
        try:
            converted = [from_lua(arg) for arg in args]
            return True, to_lua(self._lua, self.db.call(name, op, *converted))
        except NanoqueueError as exc:
            return False, exc.message

    def _json_encode(self, value: Any = None) -> tuple[bool, Any]:
        try:
            return True, orjson.dumps(from_lua(value)).decode()
        except NanoqueueError as exc:
            return False, f"json.encode: {exc.message}"
        except TypeError as exc:
            return False, f"json.encode: {exc}"

    def _json_decode(self, text: Any = None) -> tuple[bool, Any]:
        if not isinstance(text, str):
            return False, f"json.decode takes a string, got {lupa.lua_type(text) or type(text).__name__}"
        try:
            return True, to_lua(self._lua, orjson.loads(text))
        except orjson.JSONDecodeError as exc:
            return False, f"json.decode: invalid JSON: {exc}"

    def _log(self, *values: Any) -> tuple[bool, Any]:
        logger.info("script log: %s", " ".join(_display(value) for value in values))
        return True, None


def _display(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    kind = lupa.lua_type(value)
    if kind is not None:
        return f"<{kind}>"
    return str(value)
