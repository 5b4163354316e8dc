"""The OpenAPI description at /openapi.json matches the application's routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from memdb_support import memdb_config, served_app

from nanoqueue.http.errors import unmatched

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[web.Application]:
    async with served_app(memdb_config(tmp_path / "data")) as application:
        yield application


def router_operations(app: web.Application) -> set[tuple[str, str]]:
    """Return (method, path) of every route, leaving out the HEAD that aiohttp
    adds to a GET and the fallback route that returns 404 and 405 errors."""
    operations = set()
    for route in app.router.routes():
        assert route.resource is not None
        if route.handler is unmatched:
            continue
        operations.add((route.method.lower(), route.resource.canonical))
    return {
        (method, path)
        for method, path in operations
        if not (method == "head" and ("get", path) in operations)
    }


def document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


async def test_openapi_lists_every_route(
    app: web.Application, aiohttp_client: Any
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(app)
    response = await client.get("/openapi.json")
    assert response.status == 200
    document = await response.json()
    routes = router_operations(app)
    described = document_operations(document)
    assert routes - described == set(), "routes missing from /openapi.json"
    assert described - routes == set(), "described operations with no route"


async def test_openapi_is_version_3(app: web.Application, aiohttp_client: Any) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(app)
    document = await (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "nanoqueue"


async def test_openapi_has_no_wildcard_routes(app: web.Application) -> None:
    """Only the fallback route for unknown paths takes every method."""
    wildcards = [route for route in app.router.routes() if route.method == "*"]
    assert [route.handler for route in wildcards] == [unmatched]


async def test_openapi_db_routes_document_errors(
    app: web.Application, aiohttp_client: Any
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(app)
    document = await (await client.get("/openapi.json")).json()
    for path in ("/db/eval", "/db/scripts", "/db/scripts/{sha}"):
        responses = document["paths"][path]["post"]["responses"]
        assert "200" in responses, path
        assert "400" in responses, path
        assert "413" in responses, path
    assert "404" in document["paths"]["/db/scripts/{sha}"]["post"]["responses"]
