"""Route handlers of the native JSON API, each one call to the queue service."""

from __future__ import annotations

from aiohttp import web

from nanoqueue.errors import QueueError
from nanoqueue.http.body import json_response, read_json_object
from nanoqueue.http.keys import QUEUES
from nanoqueue.http.queues_api import fields, naming, replies
from nanoqueue.http.queues_api.naming import native_names
from nanoqueue.queues import errors as queue_errors
from nanoqueue.queues.model import EntryError

routes = web.RouteTableDef()

# The message routes come first because aiohttp tries the routes under
# /queues in the order they were added, and these carry most requests.


@routes.post("/queues/{name}/messages")
@native_names(naming.SEND)
async def send_messages(request: web.Request) -> web.Response:
    """Send one message (201) or, with `messages`, a batch (200, per-entry results)."""
    name = request.match_info["name"]
    body = await read_json_object(request)
    service = request.app[QUEUES]
    if "messages" not in body:
        entry = fields.send_entry(body, None)
        (result,) = await service.send(name, [entry])
        if isinstance(result, EntryError):
            raise _entry_failure(result)
        return json_response(replies.send_result(result), status=201)

    fields.reject_unknown_fields(body, {"messages"}, "a batch send")
    specs = fields.required_array(body, "messages", "messages to send")
    entries = [fields.send_entry(spec, index) for index, spec in enumerate(specs)]
    try:
        sent = await service.send(name, entries)
    except queue_errors.BatchEntryIdsNotDistinct:
        # Only a batch with a duplicate ID pays for finding a default one.
        _check_default_entry_ids(specs)
        raise
    results = [
        naming.rename_entry(result, naming.SEND)
        if isinstance(result, EntryError)
        else result
        for result in sent
    ]
    return json_response({"results": [replies.batch_send_result(r) for r in results]})


@routes.post("/queues/{name}/receive")
@native_names(naming.RECEIVE)
async def receive_messages(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    fields.reject_unknown_fields(
        body,
        {"max_messages", "visibility_timeout", "wait_seconds", "attempt_id"},
        "request body",
    )
    max_messages = fields.optional_int(body, "max_messages", "messages")
    messages = await request.app[QUEUES].receive(
        request.match_info["name"],
        max_messages=1 if max_messages is None else max_messages,
        visibility_timeout_s=fields.optional_int(body, "visibility_timeout", "seconds"),
        wait_s=fields.optional_int(body, "wait_seconds", "seconds"),
        attempt_id=fields.optional_string(body, "attempt_id"),
    )
    return json_response({"messages": [replies.message(m) for m in messages]})


@routes.delete("/queues/{name}/messages/{receipt_handle}")
async def delete_message(request: web.Request) -> web.Response:
    handle = request.match_info["receipt_handle"]
    (result,) = await request.app[QUEUES].delete_messages(
        request.match_info["name"], [("0", handle)], require_in_flight=True
    )
    if result is not None:
        raise _entry_failure(result)
    return web.Response(status=204)


@routes.post("/queues/{name}/messages/{receipt_handle}/visibility")
@native_names(naming.VISIBILITY)
async def change_visibility(request: web.Request) -> web.Response:
    handle = request.match_info["receipt_handle"]
    body = await read_json_object(request)
    fields.reject_unknown_fields(body, {"timeout"}, "request body")
    timeout_s = fields.required_int(body, "timeout", "seconds")
    (result,) = await request.app[QUEUES].change_visibility(
        request.match_info["name"], [("0", handle, timeout_s)]
    )
    if result is not None:
        raise _entry_failure(result)
    return web.Response(status=204)


@routes.post("/queues/{name}/messages/delete")
async def delete_batch(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    entries = fields.delete_entries(body)
    results = await request.app[QUEUES].delete_messages(
        request.match_info["name"], entries, require_in_flight=True
    )
    entry_ids = [entry_id for entry_id, _ in entries]
    return json_response(replies.batch_results(entry_ids, results))


@routes.post("/queues/{name}/messages/visibility")
@native_names(naming.VISIBILITY)
async def change_visibility_batch(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    entries = fields.visibility_entries(body)
    results = [
        None if result is None else naming.rename_entry(result, naming.VISIBILITY)
        for result in await request.app[QUEUES].change_visibility(
            request.match_info["name"], entries
        )
    ]
    entry_ids = [entry_id for entry_id, _, _ in entries]
    return json_response(replies.batch_results(entry_ids, results))


@routes.post("/queues")
@native_names(naming.QUEUE_ATTRIBUTES)
async def create_queue(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    fields.reject_unknown_fields(body, {"name", "attributes", "tags"}, "request body")
    name = fields.required_string(body, "name")
    attributes = fields.queue_attributes(body, "attributes")
    tags = fields.string_tags(body, "tags")
    info, created = await request.app[QUEUES].create_queue(
        name, attributes, tags=tags or None
    )
    response = json_response(replies.queue_info(info), status=201 if created else 200)
    response.headers["Location"] = f"/queues/{info.name}"
    return response


@routes.get("/queues")
async def list_queues(request: web.Request) -> web.Response:
    fields.reject_unknown_parameters(request.query, {"prefix"})
    prefix = request.query.get("prefix", "")
    names = await request.app[QUEUES].list_queues(prefix=prefix)
    return json_response({"queues": names})


@routes.get("/queues/{name}")
async def get_queue(request: web.Request) -> web.Response:
    info = await request.app[QUEUES].get_queue(request.match_info["name"])
    return json_response(replies.queue_info(info))


@routes.patch("/queues/{name}")
@native_names(naming.QUEUE_ATTRIBUTES)
async def set_attributes(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await read_json_object(request)
    fields.reject_unknown_fields(body, {"attributes"}, "request body")
    fields.require_field(body, "attributes", "an object of queue attributes")
    attributes = fields.queue_attributes(body, "attributes")
    info = await request.app[QUEUES].set_attributes(name, attributes)
    return json_response(replies.queue_info(info))


@routes.delete("/queues/{name}")
async def delete_queue(request: web.Request) -> web.Response:
    await request.app[QUEUES].delete_queue(request.match_info["name"])
    return web.Response(status=204)


@routes.post("/queues/{name}/purge")
async def purge_queue(request: web.Request) -> web.Response:
    await request.app[QUEUES].purge_queue(request.match_info["name"])
    return web.Response(status=204)


@routes.post("/queues/{name}/tags")
async def tag_queue(request: web.Request) -> web.Response:
    """Add or replace tags; the queue's other tags stay."""
    name = request.match_info["name"]
    body = await read_json_object(request)
    fields.reject_unknown_fields(body, {"tags"}, "request body")
    fields.require_field(body, "tags", "an object of string tags")
    service = request.app[QUEUES]
    await service.tag_queue(name, fields.string_tags(body, "tags"))
    return json_response({"tags": await service.list_tags(name)})


@routes.delete("/queues/{name}/tags/{key}")
async def untag_queue(request: web.Request) -> web.Response:
    """Remove one tag; removing a tag the queue lacks succeeds, as in SQS."""
    await request.app[QUEUES].untag_queue(
        request.match_info["name"], [request.match_info["key"]]
    )
    return web.Response(status=204)


@routes.get("/queues/{name}/dead-letter-sources")
async def list_dead_letter_sources(request: web.Request) -> web.Response:
    """List the queues whose redrive policy names this queue, sorted."""
    names = await request.app[QUEUES].list_dead_letter_source_queues(
        request.match_info["name"]
    )
    return json_response({"queues": names})


@routes.post("/queues/{name}/move-tasks")
@native_names(naming.MOVE_TASKS)
async def start_move_task(request: web.Request) -> web.Response:
    """Start moving a dead-letter queue's messages back to their sources.

    Without `destination` each message returns to the queue it came from.
    """
    body = await read_json_object(request)
    fields.reject_unknown_fields(
        body, {"destination", "max_per_second"}, "request body"
    )
    handle = await request.app[QUEUES].start_move_task(
        request.match_info["name"],
        destination=fields.optional_string(body, "destination"),
        max_per_second=fields.optional_int(body, "max_per_second", "messages"),
    )
    return json_response({"task_handle": handle}, status=201)


@routes.get("/queues/{name}/move-tasks")
@native_names(naming.MOVE_TASKS)
async def list_move_tasks(request: web.Request) -> web.Response:
    max_results = fields.query_int(request.query, "max_results", {"max_results"})
    tasks = await request.app[QUEUES].list_move_tasks(
        request.match_info["name"],
        max_results=1 if max_results is None else max_results,
    )
    return json_response({"tasks": [replies.move_task(task) for task in tasks]})


@routes.post("/move-tasks/{task_handle}/cancel")
async def cancel_move_task(request: web.Request) -> web.Response:
    moved = await request.app[QUEUES].cancel_move_task(
        request.match_info["task_handle"]
    )
    return json_response({"approximate_moved": moved})


_ERRORS_BY_CODE: dict[str, type[QueueError]] = {
    cls.code: cls
    for cls in (getattr(queue_errors, name) for name in queue_errors.__all__)
    if isinstance(cls, type) and issubclass(cls, QueueError)
}


def _entry_failure(error: EntryError) -> QueueError:
    """Turn the failure of a one-entry call into the QueueError its code names.

    The error then gets that class's status, as when the service raises it.
    """
    cls = _ERRORS_BY_CODE.get(error.code, QueueError)
    failure = cls(error.message)
    failure.code = error.code
    return failure


def _check_default_entry_ids(specs: list[dict[str, object]]) -> None:
    """Reject a batch where a message's default entry ID is another's entry_id.

    A message without `entry_id` gets its index as its ID, so an explicit
    ID such as "1" can collide with it although the client wrote it once.
    """
    explicit = {
        entry_id for spec in specs if isinstance(entry_id := spec.get("entry_id"), str)
    }
    for index, spec in enumerate(specs):
        if spec.get("entry_id") is None and str(index) in explicit:
            raise queue_errors.BatchEntryIdsNotDistinct(
                f"messages[{index}] has no entry_id, so its ID is its index "
                f"{str(index)!r}, which another message has as its entry_id; "
                "give every message of the batch an entry_id, or none"
            )
