"""The OpenAPI 3 description of the HTTP API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from nanoqueue import __version__
from nanoqueue.http.body import json_response
from nanoqueue.http.queues_api import spec as queues_spec
from nanoqueue.http.sqs import spec as sqs_spec

routes = web.RouteTableDef()

_ERROR = {"$ref": "#/components/schemas/Error"}
_SCALARS = {
    "type": "array",
    "items": {"oneOf": [{"type": "string"}, {"type": "number"}]},
}


def _error_responses(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": "error",
            "content": {"application/json": {"schema": _ERROR}},
        }
        for status in statuses
    }


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _json_reply(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


_RESULT = {"type": "object", "properties": {"result": {}}, "required": ["result"]}

PATHS: dict[str, Any] = {
    "/db/eval": {
        "post": {
            "summary": "Run a Lua script once, as one transaction",
            "operationId": "evalScript",
            "requestBody": _json_body(
                {
                    "type": "object",
                    "required": ["script"],
                    "additionalProperties": False,
                    "properties": {
                        "script": {"type": "string"},
                        "keys": _SCALARS,
                        "args": _SCALARS,
                    },
                }
            ),
            "responses": {
                "200": _json_reply("the script's result", _RESULT),
                **_error_responses(400, 404, 413, 500),
            },
        }
    },
    "/db/scripts": {
        "post": {
            "summary": "Compile and register a script under its SHA-1",
            "operationId": "registerScript",
            "requestBody": _json_body(
                {
                    "type": "object",
                    "required": ["script"],
                    "additionalProperties": False,
                    "properties": {"script": {"type": "string"}},
                }
            ),
            "responses": {
                "200": _json_reply(
                    "the SHA-1 to run it by",
                    {"type": "object", "properties": {"sha": {"type": "string"}}},
                ),
                **_error_responses(400, 413),
            },
        }
    },
    "/db/scripts/{sha}": {
        "post": {
            "summary": "Run a registered script by its SHA-1",
            "operationId": "runScript",
            "parameters": [
                {
                    "name": "sha",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{40}$"},
                }
            ],
            "requestBody": _json_body(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"keys": _SCALARS, "args": _SCALARS},
                }
            ),
            "responses": {
                "200": _json_reply("the script's result", _RESULT),
                **_error_responses(400, 404, 413, 500),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This description",
            "operationId": "getOpenApi",
            "responses": {"200": _json_reply("OpenAPI 3 document", {"type": "object"})},
        }
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "rolled_back": {"type": "boolean"},
                },
            }
        },
    }
}


PATHS.update(queues_spec.PATHS)
SCHEMAS.update(queues_spec.SCHEMAS)
PATHS.update(sqs_spec.PATHS)
SCHEMAS.update(sqs_spec.SCHEMAS)


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "nanoqueue", "version": __version__},
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }


@routes.get("/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return json_response(document())
