"""HTTP status of each error class, and how native-API errors are rendered."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from nanoqueue import errors
from nanoqueue.http.sqs import errors as sqs_errors
from nanoqueue.queues import errors as queue_errors

logger = logging.getLogger(__name__)

# The nearest class in an error's MRO decides its status.
STATUS: dict[type[errors.NanoqueueError], int] = {
    errors.NanoqueueError: 500,
    errors.ConfigError: 500,
    errors.InvalidRequest: 400,
    errors.StoreError: 400,
    errors.NoSuchStructure: 404,
    errors.StructureExists: 409,
    errors.ScriptError: 400,
    errors.ScriptTimeout: 400,
    errors.ScriptMemoryLimit: 400,
    errors.NoScript: 404,
    errors.StorageError: 500,
    # A failed log write is undone and the next write tries again.
    errors.LogWriteFailed: 503,
    errors.QueueError: 400,
}


RequestTooLarge = errors.RequestTooLarge
STATUS[RequestTooLarge] = 413

# Statuses of queue errors in the native API. Every other QueueError is a
# 400, and the SQS protocols reply 400 to all of them, as Amazon SQS does.
STATUS.update(
    {
        queue_errors.QueueDoesNotExist: 404,
        queue_errors.ResourceNotFoundException: 404,
        queue_errors.QueueAlreadyExists: 409,
        queue_errors.QueueDeletedRecently: 409,
        queue_errors.PurgeQueueInProgress: 409,
        queue_errors.MessageNotInflight: 409,
    }
)


# Amazon SQS replies 403 to credentials it does not accept, and 400 to a
# signature it cannot read or one outside its time window.
STATUS.update(
    {
        sqs_errors.AuthError: 403,
        sqs_errors.IncompleteSignature: 400,
        sqs_errors.RequestExpired: 400,
    }
)


def status_of(error: errors.NanoqueueError) -> int:
    """Return the HTTP status for `error`, from the nearest class in STATUS."""
    status = getattr(error, "status", None)
    if isinstance(status, int):
        return status
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_body(
    error: errors.NanoqueueError, message: str | None = None
) -> dict[str, object]:
    """Return the native error body of `error`, with `message` in place of its own."""
    body: dict[str, object] = {
        "code": error.code,
        "message": error.message if message is None else message,
    }
    if isinstance(error, errors.ScriptError):
        body["rolled_back"] = error.rolled_back
    return {"error": body}


def json_error(status: int, body: dict[str, object]) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json"
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def native_errors(
    handler: Handler, rename: Callable[[str], str] | None = None
) -> Handler:
    """Wrap a route handler so that its errors reply `{"error": {...}}`.

    A NanoqueueError gets its status from STATUS, and one of status 5xx is
    logged as one line. `rename`, when given, rewrites the message of a
    QueueError, whose parameter names are those of SQS, into the names the
    route's clients sent. An unexpected error is a 500 whose body carries no
    detail, logged with its traceback. create_app wraps every route this
    way, which costs one coroutine call per request where an aiohttp
    middleware costs two and a lookup.
    """

    @functools.wraps(handler)
    async def rendering(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.NanoqueueError as exc:
            status = status_of(exc)
            message = exc.message
            if rename is not None and isinstance(exc, errors.QueueError):
                message = rename(message)
            if status >= 500:
                # A known error class names its cause in the message, so one
                # line per request is enough, for example while the disk is full.
                logger.error(
                    "%s %s failed: %s: %s",
                    request.method,
                    request.path,
                    exc.code,
                    message,
                )
            return json_error(status, error_body(exc, message))
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return json_error(exc.status, http_error_body(exc))
        except Exception as exc:
            logger.error("%s %s failed", request.method, request.path, exc_info=exc)
            return json_error(
                500,
                {
                    "error": {
                        "code": "InternalError",
                        "message": "internal error; see the server log",
                    }
                },
            )

    return rendering


def http_error_body(exc: web.HTTPException) -> dict[str, object]:
    """Return the error body of an aiohttp HTTP error, with a code from its reason."""
    if exc.status == 413:
        code = RequestTooLarge.code
        message = exc.text or "request body too large"
    else:
        code = exc.reason.replace(" ", "")
        message = exc.reason
    return {"error": {"code": code, "message": message}}


async def unmatched(request: web.Request) -> web.Response:
    """Return the native JSON error for a request that no other route takes.

    The reply is 405 with an Allow header when other routes take the path
    with other methods, else 404. create_app routes every method and request
    target that no other route takes here, so that aiohttp's router never
    replies with its plain-text errors, and requests that do match a route
    pay nothing for it.
    """
    own = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not own:
            _, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        error: web.HTTPException = web.HTTPMethodNotAllowed(request.method, allowed)
    else:
        error = web.HTTPNotFound()
    response = json_error(error.status, http_error_body(error))
    if "Allow" in error.headers:
        response.headers["Allow"] = error.headers["Allow"]
    return response
