"""Native-API error replies: statuses, bodies, and the log line of each 5xx."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from nanoqueue import errors
from nanoqueue.config import Config, ServerConfig
from nanoqueue.http.app import create_app
from nanoqueue.http.errors import native_errors, status_of
from nanoqueue.queues import errors as queue_errors
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine


async def raise_runtime_error(request: web.Request) -> web.Response:
    raise RuntimeError("secret detail")


async def raise_storage_error(request: web.Request) -> web.Response:
    raise errors.StorageError("disk gone")


@pytest.fixture
async def client(aiohttp_client: Any) -> AsyncIterator[TestClient[Any, Any]]:
    engine = ScriptEngine()
    queues = QueueService(engine)
    await queues.start()
    config = dataclasses.replace(Config(), server=ServerConfig(max_request_bytes=4096))
    app = create_app(config, engine, queues)
    app.router.add_get("/test/runtime-error", native_errors(raise_runtime_error))
    app.router.add_get("/test/storage-error", native_errors(raise_storage_error))
    try:
        yield await aiohttp_client(app)
    finally:
        await queues.stop()


def test_queue_errors_are_client_errors() -> None:
    for name in queue_errors.__all__:
        cls = getattr(queue_errors, name)
        if not isinstance(cls, type):
            continue
        status = status_of(cls("x"))
        assert 400 <= status < 500, (name, status)
        assert cls.code, name


def test_native_statuses() -> None:
    assert status_of(queue_errors.QueueDoesNotExist("x")) == 404
    assert status_of(queue_errors.MessageNotInflight("x")) == 409
    assert status_of(queue_errors.QueueAlreadyExists("x")) == 409
    assert status_of(queue_errors.ReceiptHandleIsInvalid("x")) == 400
    assert status_of(queue_errors.InvalidAttributeValue("x")) == 400


async def test_unexpected_error_500_logged(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="nanoqueue.http.errors"):
        response = await client.get("/test/runtime-error")

    assert response.status == 500
    body = await response.json()
    assert body["error"]["code"] == "InternalError"
    assert "secret detail" not in await response.text()
    assert "Traceback" not in await response.text()
    (record,) = [r for r in caplog.records if r.name == "nanoqueue.http.errors"]
    assert record.levelno == logging.ERROR
    assert "/test/runtime-error" in record.getMessage()
    assert record.exc_info is not None


async def test_storage_error_500_logged(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="nanoqueue.http.errors"):
        response = await client.get("/test/storage-error")

    assert response.status == 500
    assert (await response.json())["error"]["code"] == "StorageError"
    (record,) = [r for r in caplog.records if r.name == "nanoqueue.http.errors"]
    assert "StorageError: disk gone" in record.getMessage()
    assert record.exc_info is None


async def test_client_error_not_logged(
    client: TestClient[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="nanoqueue.http.errors"):
        response = await client.get("/queues/nothing")

    assert response.status == 404
    assert [r for r in caplog.records if r.name == "nanoqueue.http.errors"] == []


async def test_request_too_large_413(client: TestClient[Any, Any]) -> None:
    await client.post("/queues", json={"name": "jobs"})

    response = await client.post("/queues/jobs/messages", json={"body": "x" * 5000})

    assert response.status == 413
    assert (await response.json())["error"]["code"] == "RequestTooLarge"


async def test_declared_length_over_limit_413(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/db/eval", data=b"{}", headers={"Content-Length": "99999999999"}
    )

    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "RequestTooLarge"
    assert "server.max_request_bytes" in error["message"]


async def test_bad_gzip_body_400(client: TestClient[Any, Any]) -> None:
    response = await client.post(
        "/db/eval", data=b"not gzip at all", headers={"Content-Encoding": "gzip"}
    )

    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "InvalidRequest"
    assert "Content-Encoding 'gzip'" in error["message"]


async def test_valid_gzip_body_accepted(client: TestClient[Any, Any]) -> None:
    body = gzip.compress(b'{"script": "return 7"}')

    response = await client.post(
        "/db/eval", data=body, headers={"Content-Encoding": "gzip"}
    )

    assert response.status == 200
    assert await response.json() == {"result": 7}


async def test_unknown_route_404(client: TestClient[Any, Any]) -> None:
    response = await client.get("/queue")

    assert response.status == 404
    assert (await response.json())["error"]["code"] == "NotFound"


async def test_wrong_method_405(client: TestClient[Any, Any]) -> None:
    response = await client.put("/queues/jobs")

    assert response.status == 405
    assert (await response.json())["error"]["code"] == "MethodNotAllowed"


async def test_wrong_method_405_lists_allowed(client: TestClient[Any, Any]) -> None:
    response = await client.put("/queues/jobs")

    assert response.headers["Content-Type"].startswith("application/json")
    assert set(response.headers["Allow"].split(",")) >= {"GET", "PATCH", "DELETE"}
    assert (await response.json())["error"]["message"] == "Method Not Allowed"


async def test_asterisk_target_404_is_json(
    client: TestClient[Any, Any],
) -> None:
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    reply = await reader.read()
    writer.close()
    await writer.wait_closed()

    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 ")
    assert b"Content-Type: application/json" in head
    assert json.loads(body) == {"error": {"code": "NotFound", "message": "Not Found"}}


async def test_client_gone_mid_body_logs_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # aiohttp's test server cancels a handler whose client leaves, where
    # `nanoqueue serve` lets it run on, so this test runs the app as
    # `serve` does.
    engine = ScriptEngine()
    queues = QueueService(engine)
    await queues.start()
    runner = web.AppRunner(
        create_app(Config(), engine, queues), handle_signals=False, access_log=None
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with caplog.at_level(logging.INFO, logger="nanoqueue"):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /queues/jobs/messages HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 50\r\n\r\n"
                b'{"body": '
            )
            await writer.drain()
            # The handler waits for the rest of the body when the client leaves.
            await asyncio.sleep(0.2)
            writer.close()
            await writer.wait_closed()
            await asyncio.sleep(0.2)
    finally:
        await runner.cleanup()
        await queues.stop()

    errors_logged = [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
    ]
    assert errors_logged == []
    assert any("closed the connection" in r.getMessage() for r in caplog.records)


async def test_unknown_route_404_is_json(client: TestClient[Any, Any]) -> None:
    response = await client.post("/nothing/here", data=b"{}")

    assert response.status == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert await response.json() == {
        "error": {"code": "NotFound", "message": "Not Found"}
    }
