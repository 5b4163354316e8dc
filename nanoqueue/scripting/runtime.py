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
    WrongType,
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

# Structures of scripts run with `reserved=True` (the queue service's) are
# stored under this prefix, and other scripts may not name a structure that
# starts with it. So no script sent over the MemDB API can read or change
# queue data, and queue scripts never collide with users' structure names.
RESERVED_PREFIX = "~"

# Bytes Lua allocates for a string beyond its length (its header and the
# final NUL take 25 bytes on 64-bit Lua 5.4), rounded up.
STRING_OVERHEAD = 64

# Lines one script run may write with `log`, and characters per line; the
# rest is dropped, with one line saying how many lines were.
MAX_LOG_LINES = 100
MAX_LOG_CHARS = 4096

# Reasons the bridge gives Lua to stop a script; sandbox.lua maps them.
FATAL_MEMORY = 1
FATAL_INTERNAL = 2

Reply = tuple[bool, Any, Any]


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

    `run_chunk` is synchronous: the caller holds the lock that makes scripts
    run one at a time.
    """

    def __init__(self, db: MemDB, limits: ScriptLimits | None = None) -> None:
        self.db = db
        self.limits = limits or ScriptLimits()

        # encoding=None: strings cross as bytes and convert.py decodes them.
        # overflow_handler: a Python int beyond 64 bits becomes a float, as
        # Lua reads an integer literal that does not fit.
        self._lua = lupa.LuaRuntime(
            encoding=None,
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            attribute_filter=_deny_attributes,
            overflow_handler=float,
            max_memory=0,
        )

        # The memory ceiling of the script that runs, 0 between scripts, and
        # whether the limit is on.
        self._ceiling = 0
        self._armed = False
        self._sha: str | None = None
        self._reserved = False
        self._log_lines = 0

        bridge = self._lua.table_from(
            {
                b"create": self._create,
                b"drop": self._drop,
                b"exists": self._exists,
                b"kind": self._kind,
                b"call": self._call,
                b"json_encode": self._json_encode,
                b"json_decode": self._json_decode,
                b"log": self._log,
            }
        )
        setup = resources.files(__package__).joinpath("sandbox.lua").read_bytes()
        self._compile_chunk, self._run_chunk = self._lua.execute(
            setup, bridge, time.monotonic, self._disarm, HOOK_INSTRUCTIONS
        )

        # NOTE: registered scripts stay compiled for the life of the process,
        # as in Redis without SCRIPT FLUSH, so memory grows with the number
        # of distinct scripts registered.
        self._registered: dict[str, Any] = {}
        self._eval_cache: OrderedDict[str, Any] = OrderedDict()

    # Script management.

    def register(self, source: str) -> str:
        """Compile `source` and keep it under its SHA-1, which is returned.

        Raises ScriptError if it does not compile.
        """
        sha = script_sha(source)
        if sha not in self._registered:
            self._registered[sha] = self._compile(source)
        return sha

    def is_registered(self, sha: str) -> bool:
        """Return whether a script is registered under `sha`."""
        return sha in self._registered

    def _compile(self, source: str) -> Any:
        chunk, message = self._compile_chunk(source.encode(), b"=script")
        if chunk is None:
            text = message.decode(errors="replace")
            raise ScriptError(f"script does not compile: {text}")
        return chunk

    def _compiled_eval(self, source: str) -> tuple[str, Any]:
        sha = script_sha(source)
        chunk = self._registered.get(sha) or self._eval_cache.get(sha)
        if chunk is None:
            chunk = self._compile(source)
            self._eval_cache[sha] = chunk
            if len(self._eval_cache) > EVAL_CACHE_SIZE:
                self._eval_cache.popitem(last=False)
        elif sha in self._eval_cache:
            self._eval_cache.move_to_end(sha)
        return sha, chunk

    # Running.

    def eval(
        self, source: str, keys: list[Any], args: list[Any]
    ) -> tuple[Any, Committed]:
        """Compile (or reuse) `source` and run it; see `run_chunk`."""
        sha, chunk = self._compiled_eval(source)
        return self.run_chunk(chunk, keys, args, sha)

    def run_sha(
        self, sha: str, keys: list[Any], args: list[Any], *, reserved: bool = False
    ) -> tuple[Any, Committed]:
        """Run the registered script `sha`; raises NoScript if there is none."""
        chunk = self._registered.get(sha)
        if chunk is None:
            raise NoScript(
                f"no script is registered with SHA-1 {sha!r}; "
                "register it with POST /db/scripts first"
            )
        return self.run_chunk(chunk, keys, args, sha, reserved=reserved)

    def run_chunk(
        self,
        chunk: Any,
        keys: list[Any],
        args: list[Any],
        sha: str | None = None,
        *,
        reserved: bool = False,
    ) -> tuple[Any, Committed]:
        """Run a compiled chunk as one transaction.

        Returns the script's first result converted to Python and the
        committed entries. On any failure the transaction is rolled back and
        a ScriptError (ScriptTimeout, ScriptMemoryLimit) records in
        `rolled_back` whether anything had changed.
        """
        lua = self._lua
        lua_keys = to_lua(lua, keys)
        lua_args = to_lua(lua, args)
        self._sha = sha
        self._reserved = reserved
        self._log_lines = 0
        self._ceiling = lua.get_memory_used() + self.limits.memory_bytes
        self._arm()
        try:
            killed, ok, value, line = self._run_chunk(
                chunk, lua_keys, lua_args, self.limits.timeout_s
            )
        except lupa.LuaMemoryError as exc:
            raise self._fail(b"memory", None, None) from exc
        except lupa.LuaError as exc:
            logger.error("script %s failed in the sandbox", sha, exc_info=exc)
            raise self._fail(b"internal", None, None) from exc
        finally:
            self._disarm()
            self._ceiling = 0
            self._report_dropped_log_lines()
        if killed is not None or not ok:
            raise self._fail(killed, value, line)
        try:
            result = from_lua(value)
        except NanoqueueError as exc:
            message = f"cannot convert the result: {exc.message}"
            raise self._fail(None, message, None) from exc
        return result, self.db.commit()

    def _fail(self, killed: bytes | None, message: Any, line: int | None) -> Exception:
        rolled_back = self.db.rollback()
        self._lua.gccollect()
        if killed == b"timeout":
            limit_ms = self.limits.timeout_s * 1000
            where = f" at script line {line}" if line is not None else ""
            return ScriptTimeout(
                f"script ran longer than the limit of {limit_ms:g} ms and was "
                f"stopped{where}; make it do less work per run",
                rolled_back=rolled_back,
            )
        if killed == b"memory":
            limit_mib = self.limits.memory_bytes / (1024 * 1024)
            return ScriptMemoryLimit(
                f"script allocated more than the limit of {limit_mib:g} MiB "
                "and was stopped",
                rolled_back=rolled_back,
            )
        if killed is not None:
            return NanoqueueError(
                "script stopped by an internal error; see the server log"
            )
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        return ScriptError(f"script failed: {message}", rolled_back=rolled_back)

    # The memory limit (see the top of sandbox.lua for why it is lifted).

    def _arm(self) -> None:
        if self._ceiling and not self._armed:
            self._lua.set_max_memory(self._ceiling)
            self._armed = True

    def _disarm(self) -> None:
        if self._armed:
            self._lua.set_max_memory(0)
            self._armed = False

    def _fits(self, extra: int) -> bool:
        """Return whether `extra` more bytes fit under the script's ceiling."""
        lua = self._lua
        if not self._ceiling:
            return True
        if lua.get_memory_used() + extra < self._ceiling:
            return True
        lua.gccollect()
        return bool(lua.get_memory_used() + extra < self._ceiling)

    # Bridge functions called from Lua. An exception other than
    # NanoqueueError would reach Lua as a wrapped Python object, so each
    # catches them all. Each returns (True, result, None),
    # (False, message, None) for an error at the script's line, or
    # (False, None, reason) to stop the script. Strings go back as bytes,
    # after a check that Lua can allocate them under the limit.

    def _reply(self, value: Any) -> Reply:
        cls = type(value)
        if cls is str:
            data = value.encode()
            if self._ceiling:
                need = len(data) + STRING_OVERHEAD
                used = self._lua.get_memory_used()
                if used + need >= self._ceiling and not self._fits(need):
                    return False, None, FATAL_MEMORY
                if not self._armed:
                    self._arm()
            return True, data, None
        if cls is list or cls is dict:
            self._disarm()
            table = to_lua(self._lua, value)
            if not self._fits(STRING_OVERHEAD):
                return False, None, FATAL_MEMORY
            self._arm()
            return True, table, None
        if not self._armed:
            self._arm()
        return True, value, None

    def _error(self, message: str) -> Reply:
        data = message.encode()
        if not self._fits(len(data) + STRING_OVERHEAD):
            return False, None, FATAL_MEMORY
        self._arm()
        return False, data, None

    def _internal(self, what: str) -> Reply:
        logger.exception(
            "%s failed inside script %s", what, self._sha, extra={"script": self._sha}
        )
        return False, None, FATAL_INTERNAL

    def _structure(self, name: Any) -> Any:
        """Map a script's structure name to the stored one; see RESERVED_PREFIX."""
        if self._reserved:
            return RESERVED_PREFIX + name if type(name) is str else name
        if type(name) is str and name.startswith(RESERVED_PREFIX):
            raise WrongType(
                f"structure names starting with {RESERVED_PREFIX!r} are reserved "
                f"for the queue service; rename {name!r}"
            )
        return name

    def _named(self, what: str, function: Any, name: Any, *args: Any) -> Reply:
        try:
            stored = self._structure(from_lua(name))
            return self._reply(function(*[from_lua(arg) for arg in args], stored))
        except NanoqueueError as exc:
            return self._error(f"{what}: {exc.message}")
        except Exception:  # noqa: BLE001 - no Python exception may reach Lua
            return self._internal(what)

    def _create(self, kind: Any = None, name: Any = None) -> Reply:
        return self._named("db.create", self.db.create, name, kind)

    def _drop(self, name: Any = None) -> Reply:
        return self._named("db.drop", self.db.drop, name)

    def _exists(self, name: Any = None) -> Reply:
        return self._named("db.exists", self.db.exists, name)

    def _kind(self, name: Any = None) -> Reply:
        return self._named("db.kind", self.db.kind, name)

    def _call(self, name: Any = None, operation: Any = None, *args: Any) -> Reply:
        try:
            converted = [from_lua(arg) for arg in args]
            stored = self._structure(from_lua(name))
            result = self.db.call(stored, from_lua(operation), *converted)
            return self._reply(result)
        except NanoqueueError as exc:
            return self._error(exc.message)
        except Exception:  # noqa: BLE001 - no Python exception may reach Lua
            return self._internal("db.call")

    def _json_encode(self, value: Any = None) -> Reply:
        try:
            return self._reply(orjson.dumps(from_lua(value)).decode())
        except NanoqueueError as exc:
            return self._error(f"json.encode: {exc.message}")
        except orjson.JSONEncodeError as exc:
            return self._error(f"json.encode: {exc}")
        except Exception:  # noqa: BLE001 - no Python exception may reach Lua
            return self._internal("json.encode")

    def _json_decode(self, text: bytes) -> Reply:
        try:
            return self._reply(orjson.loads(text))
        except orjson.JSONDecodeError as exc:
            return self._error(f"json.decode: invalid JSON: {exc}")
        except Exception:  # noqa: BLE001 - no Python exception may reach Lua
            return self._internal("json.decode")

    def _log(self, text: bytes) -> Reply:
        self._log_lines += 1
        if self._log_lines <= MAX_LOG_LINES:
            line = text.decode(errors="replace")
            if len(line) > MAX_LOG_CHARS:
                dropped = len(line) - MAX_LOG_CHARS
                line = f"{line[:MAX_LOG_CHARS]}... ({dropped} more characters)"
            logger.info("script log: %s", line, extra={"script": self._sha})
        self._arm()
        return True, None, None

    def _report_dropped_log_lines(self) -> None:
        dropped = self._log_lines - MAX_LOG_LINES
        if dropped > 0:
            logger.info(
                "script %s: dropped %d log lines beyond the first %d",
                self._sha,
                dropped,
                MAX_LOG_LINES,
                extra={"script": self._sha},
            )
