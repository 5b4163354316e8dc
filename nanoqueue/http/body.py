"""Reading and checking JSON request bodies."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from nanoqueue.errors import InvalidRequest, RequestTooLarge
from nanoqueue.http.keys import CONFIG
from nanoqueue.storage.stores import MAX_INTEGER, MIN_INTEGER

logger = logging.getLogger(__name__)


async def read_body(request: web.Request) -> bytes:
    """Return the request body, decoded from its Content-Encoding.

    Raises RequestTooLarge as soon as the declared or the received length
    passes server.max_request_bytes, and InvalidRequest for a body that
    its Content-Encoding cannot decode.
    """
    limit = request.app[CONFIG].server.max_request_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _too_large(limit) from exc
    except ConnectionResetError as exc:
        # aiohttp fails the read this way when the client closes the
        # connection before its whole body arrived. No reply can reach the
        # client, so it is not a server error.
        logger.info(
            "%s %s: the client closed the connection before sending the whole body",
            request.method,
            request.path,
        )
        raise InvalidRequest(
            "the connection closed before the whole request body arrived; "
            "send the body in full"
        ) from exc
    except (HttpProcessingError, RequestPayloadError) as exc:
        encoding = request.headers.get("Content-Encoding", "none")
        raise InvalidRequest(
            f"request body cannot be read with Content-Encoding {encoding!r}; "
            "send it uncompressed or correctly encoded"
        ) from exc


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"request body is larger than the limit of {limit} bytes "
        "(server.max_request_bytes); send less or raise the limit"
    )


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """Parse the body as a JSON object; an empty body is an empty object."""
    raw = await read_body(request)
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode()
        except UnicodeDecodeError as bad:
            raise InvalidRequest(
                f"request body is not valid UTF-8: byte {bad.start} is "
                f"{raw[bad.start : bad.start + 1]!r}; send JSON encoded as UTF-8"
            ) from exc
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"request body must be a JSON object, got {json_type(body)}"
        )
    return body


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def require_string(body: dict[str, Any], field: str) -> str:
    if field not in body:
        raise InvalidRequest(f"missing field {field!r}: it must be a string")
    value = body[field]
    if not isinstance(value, str):
        raise InvalidRequest(
            f"field {field!r} must be a string, got {json_type(value)}"
        )
    return value


def optional_array(body: dict[str, Any], field: str) -> list[Any]:
    """Return `field` as a list of strings and numbers; absent means empty."""
    value = body.get(field, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(
            f"field {field!r} must be an array, got {json_type(value)}"
        )
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise InvalidRequest(
                f"{field}[{index}] must be a string or a number, got {json_type(item)}"
            )
        if isinstance(item, int) and not MIN_INTEGER <= item <= MAX_INTEGER:
            raise InvalidRequest(
                f"{field}[{index}] is {item}, outside the 64-bit integer range of "
                "Lua; send it as a string"
            )
    return value


def reject_unknown(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(
            f"unknown field {unknown[0]!r}; allowed fields are {', '.join(sorted(allowed))}"
        )


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(data), content_type="application/json"
    )
