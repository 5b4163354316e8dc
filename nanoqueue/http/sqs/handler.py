"""The aiohttp side of the SQS protocols: routes, protocol choice, signatures,
dispatch and the SQS error replies.

A JSON protocol request names its action in `X-Amz-Target`. Every other
request on these routes uses the Query protocol, with an `Action` parameter
in the query string or the form body.
"""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from nanoqueue import errors
from nanoqueue.errors import RequestTooLarge
from nanoqueue.http.body import read_body
from nanoqueue.http.errors import status_of
from nanoqueue.http.keys import CONFIG, QUEUES
from nanoqueue.http.sqs import query
from nanoqueue.http.sqs.context import ActionContext
from nanoqueue.http.sqs.errors import (
    JSON_TYPE_PREFIX,
    AuthError,
    IncompleteSignature,
    InvalidAction,
    InvalidSecurity,
    MalformedRequest,
    MissingAction,
    wire_name,
)
from nanoqueue.http.sqs.message_actions import MESSAGE_ACTIONS
from nanoqueue.http.sqs.queue_actions import QUEUE_ACTIONS
from nanoqueue.http.sqs.sigv4 import (
    CredentialScope,
    SignedRequest,
    SigV4Verifier,
    credential_scope,
)
from nanoqueue.queues.errors import BatchRequestTooLong, MessageTooLong

logger = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "AmazonSQS."
ACTIONS = {**QUEUE_ACTIONS, **MESSAGE_ACTIONS}

VERIFIER = web.AppKey("sqs_verifier", SigV4Verifier)

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    """Add the SQS routes and, when access keys are configured, the verifier."""
    credentials = app[CONFIG].sqs.credentials
    if credentials:
        app[VERIFIER] = SigV4Verifier(
            {key.access_key_id: key.secret_access_key for key in credentials}
        )
    app.add_routes(routes)


@routes.post("/")
@routes.get("/")
@routes.post(r"/{account_id:[0-9]{12}}/{queue_name}")
@routes.get(r"/{account_id:[0-9]{12}}/{queue_name}")
async def handle(request: web.Request) -> web.Response:
    """Serve one SQS request in the protocol it came in, errors included."""
    request_id = str(uuid.uuid4())
    is_json = "X-Amz-Target" in request.headers
    action = ""
    try:
        action, params, body = await _read_request(request, is_json)
        context = _context(request, body)
        if action not in ACTIONS:
            raise InvalidAction(
                f"The action {action} is not valid for this endpoint; see the SQS "
                "API reference for the actions it supports."
            )
        result = await ACTIONS[action](context, params)
    except Exception as exc:  # noqa: BLE001 -- every error gets an SQS reply
        return _error_reply(request, exc, is_json, action, request_id)

    logger.debug("sqs %s", action, extra={"action": action, "request_id": request_id})
    if is_json:
        return web.Response(
            body=orjson.dumps(result, default=_json_default),
            content_type=JSON_CONTENT_TYPE,
            headers={"x-amzn-RequestId": request_id},
        )
    return web.Response(
        body=query.encode_reply(action, result, request_id),
        content_type="text/xml",
        headers={"x-amzn-RequestId": request_id},
    )


async def _read_request(
    request: web.Request, is_json: bool
) -> tuple[str, dict[str, Any], bytes]:
    if is_json:
        target = request.headers["X-Amz-Target"]
        action = (
            target.removeprefix(TARGET_PREFIX)
            if target.startswith(TARGET_PREFIX)
            else target
        )
        body = await _read_body(request, action)
        return action, _json_params(body), body

    url_form = _parse_form(request.query_string)
    action = dict(url_form).get("Action", "")
    body = await _read_body(request, action)
    form = list(url_form)
    # Some Query clients send the form without a Content-Type, so any body of
    # a request without X-Amz-Target is read as a form.
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedRequest(
                "the form body is not valid UTF-8; encode parameters as UTF-8"
            ) from exc
        form += _parse_form(text)
    action = dict(form).get("Action", "")
    if not action:
        raise MissingAction(
            "The request must contain the parameter Action, or the X-Amz-Target "
            "header of the JSON protocol."
        )
    return action, query.decode_params(action, form), body


def _parse_form(text: str) -> list[tuple[str, str]]:
    # parse_qsl would replace bytes that are not UTF-8 with U+FFFD, and so
    # store a message body other than the one sent.
    try:
        return parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise MalformedRequest(
            "a percent-encoded parameter is not valid UTF-8; encode parameter "
            "values as UTF-8 before percent-encoding them"
        ) from exc


async def _read_body(request: web.Request, action: str) -> bytes:
    try:
        return await read_body(request)
    except RequestTooLarge as exc:
        limit = request.app[CONFIG].server.max_request_bytes
        if action.endswith("Batch"):
            raise BatchRequestTooLong(
                f"Batch requests cannot be longer than the server's request limit "
                f"of {limit} bytes; send fewer or smaller messages."
            ) from exc
        raise MessageTooLong(
            f"The request is longer than the server's limit of {limit} bytes "
            "(server.max_request_bytes); send a smaller message."
        ) from exc
    except errors.InvalidRequest as exc:
        raise MalformedRequest(exc.message) from exc


def _json_params(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise MalformedRequest("the request body must be a JSON object of parameters")
    return params


def _context(request: web.Request, body: bytes) -> ActionContext:
    config = request.app[CONFIG].sqs
    signed = SignedRequest(
        method=request.method,
        raw_path=request.raw_path.split("?", 1)[0],
        raw_query=request.query_string,
        headers={
            name.lower(): request.headers.getall(name) for name in request.headers
        },
        body=body,
    )
    verifier = request.app.get(VERIFIER)
    scope: CredentialScope | None
    if verifier is not None:
        scope = verifier.verify(signed)
    else:
        try:
            scope = credential_scope(signed)
        except (IncompleteSignature, InvalidSecurity):
            # Without access keys any request is accepted, even one whose
            # signature cannot be read; it uses the default region.
            scope = None

    base_url = config.public_url.rstrip("/") or f"{request.scheme}://{request.host}"
    return ActionContext(
        service=request.app[QUEUES],
        region=scope.region if scope is not None else config.region,
        account_id=config.account_id,
        base_url=base_url,
        path_queue=request.match_info.get("queue_name"),
        path_account=request.match_info.get("account_id"),
    )


def _error_reply(
    request: web.Request,
    exc: Exception,
    is_json: bool,
    action: str,
    request_id: str,
) -> web.Response:
    if isinstance(exc, errors.NanoqueueError):
        error = exc
    elif isinstance(exc, web.HTTPException):
        error = MalformedRequest(f"{exc.status} {exc.reason}")
    else:
        error = errors.NanoqueueError("internal error; see the server log")

    # Amazon SQS replies 400 to every queue error, whatever status the native
    # API uses for the same class.
    status = 400 if isinstance(error, errors.QueueError) else status_of(error)
    log_extra = {"action": action, "code": error.code, "request_id": request_id}
    if status >= 500 and exc is error:
        logger.error(
            "sqs %s failed: %s: %s",
            action or "request",
            error.code,
            error.message,
            extra=log_extra,
        )
    elif status >= 500:
        logger.error(
            "sqs %s failed", action or "request", exc_info=exc, extra=log_extra
        )
    elif isinstance(error, AuthError):
        logger.info("sqs %s rejected: %s", action, error.code, extra=log_extra)
    else:
        logger.debug("sqs %s failed: %s", action, error.code, extra=log_extra)

    names = wire_name(error.code)
    code = names.query_code
    sender_fault = status < 500
    headers = {"x-amzn-RequestId": request_id}
    if is_json:
        headers["x-amzn-query-error"] = (
            f"{code};{'Sender' if sender_fault else 'Receiver'}"
        )
        body = orjson.dumps(
            {"__type": JSON_TYPE_PREFIX + names.shape, "message": error.message}
        )
        return web.Response(
            status=status, body=body, content_type=JSON_CONTENT_TYPE, headers=headers
        )
    return web.Response(
        status=status,
        body=query.encode_error(code, error.message, sender_fault, request_id),
        content_type="text/xml",
        headers=headers,
    )


def _json_default(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
