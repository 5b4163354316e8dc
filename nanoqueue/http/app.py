"""The aiohttp application: routes, error rendering, request size limit."""

from __future__ import annotations

from aiohttp import web

from nanoqueue.config import Config
from nanoqueue.http import db_api, openapi, queues_api
from nanoqueue.http.errors import native_errors
from nanoqueue.http.keys import CONFIG, ENGINE, QUEUES
from nanoqueue.http.sqs.handler import setup as setup_sqs
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine


def create_app(
    config: Config, engine: ScriptEngine, queues: QueueService
) -> web.Application:
    """Build the application that serves every API on one port.

    The caller starts and stops `queues`, since its retry task must run only
    after recovery and stop only after the last request.
    """
    app = web.Application(
        client_max_size=config.server.max_request_bytes,
        middlewares=[native_errors],
    )
    app[CONFIG] = config
    app[ENGINE] = engine
    app[QUEUES] = queues
    app.add_routes(db_api.routes)
    app.add_routes(queues_api.routes)
    app.add_routes(openapi.routes)
    setup_sqs(app)
    return app
