"""Typed keys of the application state."""

from __future__ import annotations

from aiohttp import web

from nanoqueue.config import Config
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine

CONFIG = web.AppKey("config", Config)
ENGINE = web.AppKey("engine", ScriptEngine)
QUEUES = web.AppKey("queues", QueueService)
