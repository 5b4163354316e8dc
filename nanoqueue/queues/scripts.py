"""The queue scripts, read from package data and registered once."""

from __future__ import annotations

from importlib import resources
from typing import Any

from nanoqueue.scripting.engine import ScriptEngine

SCRIPT_NAMES = (
    "init",
    "create_queue",
    "set_info",
    "get_queue",
    "load_queues",
    "list_queues",
    "list_sources",
    "delete_queue",
    "purge_queue",
    "send",
    "receive",
    "delete_messages",
    "change_visibility",
    "tick",
    "move_messages",
)


class QueueScripts:
    """The SHA-1 of each registered queue script, and a way to run them."""

    def __init__(self, engine: ScriptEngine) -> None:
        self.engine = engine
        folder = resources.files(__package__).joinpath("lua")
        library = folder.joinpath("lib.lua").read_text(encoding="utf-8")
        self.shas: dict[str, str] = {}
        for name in SCRIPT_NAMES:
            script = folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")
            self.shas[name] = engine.register(library + "\n" + script)

    async def run(self, name: str, args: list[Any]) -> Any:
        """Run script `name` with ARGV `args` on the reserved structures."""
        return await self.engine.run(self.shas[name], None, args, reserved=True)
