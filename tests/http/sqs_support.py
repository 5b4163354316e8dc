"""A real nanoqueue app on 127.0.0.1 in a thread of its own, and SQS clients for it.

The server runs its own event loop in a background thread, so the
synchronous boto3 client can call it from a test without blocking the
loop that serves it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from aiohttp import web
from botocore.config import Config as BotoConfig

from nanoqueue.config import Config, SqsConfig
from nanoqueue.http.app import create_app
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine

XML_NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}
START_TIMEOUT_S = 30.0
# Clients make one attempt per call, so each error the server returns reaches the test.
NO_RETRIES = BotoConfig(retries={"max_attempts": 1, "mode": "standard"})


class ThreadedServer:
    """The app, the queue service and an in-memory engine, served on an ephemeral port."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.port = 0
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise AssertionError("the server thread did not start listening")
        if self._failure is not None:
            raise AssertionError("the server thread failed to start") from self._failure

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT_S)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 -- reported to start()
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        engine = ScriptEngine()
        queues = QueueService(
            engine,
            default_region=self.config.sqs.region,
            account_id=self.config.sqs.account_id,
        )
        await queues.start()
        runner = web.AppRunner(create_app(self.config, engine, queues))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()
            await queues.stop()


def start_server(**sqs: Any) -> ThreadedServer:
    config = replace(Config(), sqs=replace(SqsConfig(), **sqs))
    config.validate()
    server = ThreadedServer(config)
    server.start()
    return server


@pytest.fixture(scope="module")
def sqs_server() -> Iterator[ThreadedServer]:
    """A server with the default config, shared by the tests of one module."""
    started = start_server()
    yield started
    started.stop()


def sqs_client(
    server: ThreadedServer,
    *,
    region: str = "us-east-1",
    key_id: str = "AKIDTEST",
    secret: str = "secret",
) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=server.url,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=NO_RETRIES,
    )


@pytest.fixture(scope="module")
def sqs(sqs_server: ThreadedServer) -> Any:
    """A boto3 SQS client of the shared server."""
    return sqs_client(sqs_server)


def unique(prefix: str = "q") -> str:
    """Return a queue name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class QueryReply:
    """The status, headers and parsed XML of a Query protocol reply."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.root = ET.fromstring(body)

    def find(self, path: str) -> ET.Element | None:
        return self.root.find(path, XML_NS)

    def text(self, path: str) -> str | None:
        element = self.find(path)
        return element.text if element is not None else None

    def findall(self, path: str) -> list[ET.Element]:
        return self.root.findall(path, XML_NS)

    @property
    def error_code(self) -> str | None:
        return self.text("sqs:Error/sqs:Code")

    def __repr__(self) -> str:
        return f"QueryReply({self.status}, {self.body[:400]!r})"


def query(
    server: ThreadedServer,
    action: str,
    params: dict[str, str] | None = None,
    *,
    method: str = "POST",
    path: str = "/",
) -> QueryReply:
    """Send one unsigned Query protocol request; errors are returned, not raised."""
    form = urllib.parse.urlencode(
        {"Action": action, "Version": "2012-11-05", **(params or {})}
    )
    url = server.url + path
    data: bytes | None = form.encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if method == "GET":
        url, data, headers = f"{url}?{form}", None, {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    return QueryReply(*send(request))


def send(request: urllib.request.Request | str) -> tuple[int, dict[str, str], bytes]:
    """Send a request; return its status, headers and body, errors included."""
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def poll_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Call `check` until it returns a truthy value; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)
