"""The MemDB script API: eval, register, and run by SHA-1."""

from __future__ import annotations

import re

from aiohttp import web

from nanoqueue.errors import InvalidRequest
from nanoqueue.http.body import (
    json_response,
    optional_array,
    read_json_object,
    reject_unknown,
    require_string,
)
from nanoqueue.http.keys import ENGINE

SHA_PATTERN = re.compile(r"[0-9a-f]{40}")

routes = web.RouteTableDef()


@routes.post("/db/eval")
async def eval_script(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    reject_unknown(body, {"script", "keys", "args"})
    script = require_string(body, "script")
    keys = optional_array(body, "keys")
    args = optional_array(body, "args")
    result = await request.app[ENGINE].eval(script, keys, args)
    return json_response({"result": result})


@routes.post("/db/scripts")
async def register_script(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    reject_unknown(body, {"script"})
    script = require_string(body, "script")
    sha = request.app[ENGINE].register(script)
    return json_response({"sha": sha})


@routes.post("/db/scripts/{sha}")
async def run_script(request: web.Request) -> web.Response:
    sha = request.match_info["sha"].lower()
    if not SHA_PATTERN.fullmatch(sha):
        raise InvalidRequest(
            f"{request.match_info['sha']!r} is not a SHA-1: expected 40 hex digits"
        )
    body = await read_json_object(request)
    reject_unknown(body, {"keys", "args"})
    keys = optional_array(body, "keys")
    args = optional_array(body, "args")
    result = await request.app[ENGINE].run(sha, keys, args)
    return json_response({"result": result})
