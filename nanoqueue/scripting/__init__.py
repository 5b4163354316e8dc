"""Lua scripting over MemDB: sandbox, limits, and the engine that runs scripts."""
