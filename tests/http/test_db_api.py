"""The MemDB script API over HTTP, against the real application."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from memdb_support import MAX_REQUEST_BYTES, memdb_config, served_app

Client = TestClient[Any, Any]


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[Client]:
    async with served_app(memdb_config(tmp_path / "data")) as app:
        yield await aiohttp_client(app)


async def post(client: Client, path: str, body: Any) -> tuple[int, Any]:
    response = await client.post(path, json=body)
    return response.status, await response.json()


async def eval_script(client: Client, script: str, **fields: Any) -> tuple[int, Any]:
    return await post(client, "/db/eval", {"script": script, **fields})


async def test_seed_scenario_rolls_back(client: Client) -> None:
    status, body = await eval_script(
        client,
        "db.create('keyvalue', KEYS[1]) db.call(KEYS[1], 'set', KEYS[2], ARGV[1])",
        keys=["kv", "myKey"],
        args=["myValue"],
    )
    assert (status, body) == (200, {"result": None})

    status, body = await eval_script(
        client,
        "db.call(KEYS[1], 'set', KEYS[2], ARGV[1])\nlocal broken = nil\nreturn broken.field",
        keys=["kv", "myKey"],
        args=["myValue2"],
    )
    assert status == 400
    assert body["error"]["code"] == "ScriptError"
    assert body["error"]["rolled_back"] is True
    assert "script:3:" in body["error"]["message"]

    status, body = await eval_script(
        client, "return db.call(KEYS[1], 'get', KEYS[2])", keys=["kv", "myKey"]
    )
    assert (status, body) == (200, {"result": "myValue"})


async def test_eval_returns_result(client: Client) -> None:
    status, body = await eval_script(
        client, "return {KEYS[1], ARGV[1], {a = ARGV[2]}}", keys=["k"], args=[1, "x"]
    )
    assert status == 200
    assert body == {"result": ["k", 1, {"a": "x"}]}


async def test_eval_keys_and_args_optional(client: Client) -> None:
    assert await eval_script(client, "return #KEYS + #ARGV") == (200, {"result": 0})


async def test_register_and_run_by_sha(client: Client) -> None:
    script = "return ARGV[1] * 2"
    status, body = await post(client, "/db/scripts", {"script": script})
    assert status == 200
    assert body == {"sha": hashlib.sha1(script.encode()).hexdigest()}
    status, body = await post(client, f"/db/scripts/{body['sha']}", {"args": [21]})
    assert (status, body) == (200, {"result": 42})


async def test_run_sha_uppercase_accepted(client: Client) -> None:
    _, body = await post(client, "/db/scripts", {"script": "return 'ok'"})
    status, result = await post(client, f"/db/scripts/{body['sha'].upper()}", {})
    assert (status, result) == (200, {"result": "ok"})


async def test_run_sha_empty_body_accepted(client: Client) -> None:
    _, body = await post(client, "/db/scripts", {"script": "return 'ok'"})
    response = await client.post(f"/db/scripts/{body['sha']}")
    assert response.status == 200
    assert await response.json() == {"result": "ok"}


async def test_run_unknown_sha_is_404(client: Client) -> None:
    status, body = await post(client, f"/db/scripts/{'ab' * 20}", {})
    assert status == 404
    assert body["error"]["code"] == "NoScript"
    assert body["error"]["rolled_back"] is False


@pytest.mark.parametrize("sha", ["xyz", "a" * 39, "a" * 41, "g" * 40, "a" * 40 + "%0A"])
async def test_malformed_sha_is_400(client: Client, sha: str) -> None:
    status, body = await post(client, f"/db/scripts/{sha}", {})
    assert status == 400
    assert body["error"]["code"] == "InvalidRequest"
    assert "expected 40 hex digits" in body["error"]["message"]


async def test_register_syntax_error_is_400(client: Client) -> None:
    status, body = await post(client, "/db/scripts", {"script": "return +"})
    assert status == 400
    assert body["error"]["code"] == "ScriptError"
    assert "does not compile: script:1:" in body["error"]["message"]


async def test_malformed_json_is_400(client: Client) -> None:
    response = await client.post("/db/eval", data=b'{"script": ')
    body = await response.json()
    assert response.status == 400
    assert body["error"]["code"] == "InvalidRequest"
    assert "not valid JSON" in body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/db/eval", [1], "request body must be a JSON object, got array"),
        ("/db/eval", {}, "missing field 'script'"),
        ("/db/eval", {"script": 5}, "field 'script' must be a string, got number"),
        ("/db/eval", {"script": "", "keys": "k"}, "field 'keys' must be an array"),
        (
            "/db/eval",
            {"script": "", "args": [True]},
            "args[0] must be a string or a number, got boolean",
        ),
        (
            "/db/eval",
            {"script": "", "keys": [{}]},
            "keys[0] must be a string or a number, got object",
        ),
        (
            "/db/eval",
            {"script": "", "args": [2**63]},
            "outside the 64-bit integer range",
        ),
        ("/db/eval", {"script": "", "extra": 1}, "unknown field 'extra'"),
        ("/db/scripts", {}, "missing field 'script'"),
        ("/db/scripts", {"script": None}, "must be a string, got null"),
        ("/db/scripts", {"script": "", "keys": []}, "unknown field 'keys'"),
        ("/db/scripts/" + "a" * 40, {"script": "x"}, "unknown field 'script'"),
        (
            "/db/scripts/" + "a" * 40,
            {"args": {}},
            "field 'args' must be an array, got object",
        ),
    ],
)
async def test_bad_body_is_400(
    client: Client, path: str, body: Any, message: str
) -> None:
    status, reply = await post(client, path, body)
    assert status == 400
    assert reply["error"]["code"] == "InvalidRequest"
    assert message in reply["error"]["message"]


async def test_body_over_limit_is_413(client: Client) -> None:
    script = "return '" + "x" * MAX_REQUEST_BYTES + "'"
    status, body = await eval_script(client, script)
    assert status == 413
    assert body["error"]["code"] == "RequestTooLarge"


async def test_body_under_limit_accepted(client: Client) -> None:
    script = "return #'" + "x" * (MAX_REQUEST_BYTES // 2) + "'"
    assert await eval_script(client, script) == (
        200,
        {"result": MAX_REQUEST_BYTES // 2},
    )


async def test_timeout_reports_code_and_rollback(client: Client) -> None:
    await eval_script(client, "db.create('keyvalue', 'kv')")
    status, body = await eval_script(
        client, "db.call('kv', 'set', 'k', 'v')\nwhile true do end"
    )
    assert status == 400
    assert body["error"]["code"] == "ScriptTimeout"
    assert body["error"]["rolled_back"] is True
    assert "200 ms" in body["error"]["message"]
    assert await eval_script(client, "return db.call('kv', 'get', 'k')") == (
        200,
        {"result": None},
    )


async def test_memory_limit_reports_code(client: Client) -> None:
    status, body = await eval_script(client, "local s = string.rep('x', 1e8) return #s")
    assert status == 400
    assert body["error"]["code"] == "ScriptMemoryLimit"
    assert body["error"]["rolled_back"] is False


async def test_other_requests_answered_after_timeout(client: Client) -> None:
    looping = asyncio.ensure_future(eval_script(client, "while true do end"))
    quick = [asyncio.ensure_future(eval_script(client, "return 1")) for _ in range(5)]
    _, body = await looping
    assert body["error"]["code"] == "ScriptTimeout"
    for request in quick:
        assert await request == (200, {"result": 1})
    assert await eval_script(client, "return 'after'") == (200, {"result": "after"})


async def test_result_with_nan_is_null(client: Client) -> None:
    assert await eval_script(client, "return 0/0") == (200, {"result": None})
