"""The aiohttp application: routes, error rendering, request size limit."""

from __future__ import annotations

from aiohttp import web

from nanoqueue.config import Config
from nanoqueue.http import db_api, openapi
from nanoqueue.http.errors import native_errors
from nanoqueue.http.keys import CONFIG, ENGINE
from nanoqueue.scripting.engine import ScriptEngine


def create_app(config: Config, engine: ScriptEngine) -> web.Application:
    """Build the application that serves every API on one port."""
    app = web.Application(
        client_max_size=config.server.max_request_bytes,
        middlewares=[native_errors],
    )
    app[CONFIG] = config
    app[ENGINE] = engine
    app.add_routes(db_api.routes)
    app.add_routes(openapi.routes)
    return app
