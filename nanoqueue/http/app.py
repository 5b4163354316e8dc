"""The aiohttp application: routes, error rendering, request size limit."""

from __future__ import annotations

import functools

from aiohttp import web

from nanoqueue.config import Config
from nanoqueue.http import db_api, openapi, queues_api
from nanoqueue.http.errors import native_errors, unmatched
from nanoqueue.http.keys import CONFIG, ENGINE, QUEUES
from nanoqueue.http.queues_api import naming
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
    app = web.Application(client_max_size=config.server.max_request_bytes)
    app[CONFIG] = config
    app[ENGINE] = engine
    app[QUEUES] = queues
    for table in (db_api.routes, queues_api.routes, openapi.routes):
        add_native_routes(app, table)
    setup_sqs(app)
    fallback = AnyTarget()
    app.router.register_resource(fallback)
    fallback.add_route("*", unmatched)
    return app


class AnyTarget(web.DynamicResource):
    """A resource that matches every request target, `OPTIONS *` included.

    The router tries it after every route with a longer fixed prefix, and
    after the other routes under "/", which create_app adds first. A plain
    `/{path:.*}` route would miss the `*` target, which does not start with
    a slash, and aiohttp would reply to it with its plain-text 404.
    """

    def __init__(self) -> None:
        super().__init__("/{path:.*}")

    def _match(self, path: str) -> dict[str, str]:
        return {"path": path}


def add_native_routes(app: web.Application, table: web.RouteTableDef) -> None:
    """Add the routes of `table`, each wrapped to render its errors as JSON.

    The errors of a handler marked with `naming.native_names` name the
    parameters as its clients sent them.
    """
    for route in table:
        assert isinstance(route, web.RouteDef)
        names = naming.names_of(route.handler)
        rename = (
            None if names is None else functools.partial(naming.rename, names=names)
        )
        wrapped = native_errors(route.handler, rename)
        web.RouteDef(route.method, route.path, wrapped, route.kwargs).register(
            app.router
        )
