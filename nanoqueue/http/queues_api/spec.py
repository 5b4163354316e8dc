"""The OpenAPI description of the native queue routes, merged into /openapi.json."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {
            "description": "error",
            "content": {"application/json": {"schema": _ref("Error")}},
        }
        for status in statuses
    }


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {
        "required": required,
        "content": {"application/json": {"schema": schema}},
    }


def _reply(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _integer(description: str, minimum: int, maximum: int) -> dict[str, Any]:
    return {
        "type": "integer",
        "minimum": minimum,
        "maximum": maximum,
        "description": description,
    }


_NO_CONTENT = {"204": {"description": "done; no body"}}
_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "queue name: 1 to 80 letters, digits, - and _, "
    "ending in .fifo for a FIFO queue",
    "schema": {"type": "string"},
}
_HANDLE = {
    "name": "receipt_handle",
    "in": "path",
    "required": True,
    "description": "receipt handle from a receive; URL-safe as returned",
    "schema": {"type": "string"},
}
_BATCH_RESULTS = {
    "type": "object",
    "required": ["results"],
    "properties": {"results": {"type": "array", "items": _ref("BatchResult")}},
}

PATHS: dict[str, Any] = {
    "/queues": {
        "post": {
            "summary": "Create a queue; idempotent for equal attributes",
            "operationId": "createQueue",
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "attributes": _ref("QueueAttributes"),
                        "tags": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                    },
                }
            ),
            "responses": {
                "201": _reply("created", _ref("Queue")),
                "200": _reply("exists already with equal attributes", _ref("Queue")),
                **_errors(400, 413, 500),
            },
        },
        "get": {
            "summary": "List queue names, sorted, optionally by prefix",
            "operationId": "listQueues",
            "parameters": [
                {
                    "name": "prefix",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": _reply(
                    "queue names",
                    {
                        "type": "object",
                        "properties": {
                            "queues": {"type": "array", "items": {"type": "string"}}
                        },
                    },
                ),
                **_errors(400, 500),
            },
        },
    },
    "/queues/{name}": {
        "parameters": [_NAME],
        "get": {
            "summary": "Get a queue's attributes and approximate counts",
            "operationId": "getQueue",
            "responses": {
                "200": _reply("the queue", _ref("Queue")),
                **_errors(404, 500),
            },
        },
        "patch": {
            "summary": "Set some attributes; the others keep their values",
            "operationId": "setQueueAttributes",
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["attributes"],
                    "additionalProperties": False,
                    "properties": {"attributes": _ref("QueueAttributes")},
                }
            ),
            "responses": {
                "200": _reply("the queue after the change", _ref("Queue")),
                **_errors(400, 404, 413, 500),
            },
        },
        "delete": {
            "summary": "Delete a queue and its messages",
            "operationId": "deleteQueue",
            "responses": {**_NO_CONTENT, **_errors(404, 500)},
        },
    },
    "/queues/{name}/purge": {
        "parameters": [_NAME],
        "post": {
            "summary": "Delete every message of a queue",
            "operationId": "purgeQueue",
            "responses": {**_NO_CONTENT, **_errors(404, 409, 500)},
        },
    },
    "/queues/{name}/messages": {
        "parameters": [_NAME],
        "post": {
            "summary": "Send one message, or a batch of up to 10 under `messages`",
            "operationId": "sendMessages",
            "requestBody": _body(
                {
                    "oneOf": [
                        _ref("SendMessage"),
                        {
                            "type": "object",
                            "required": ["messages"],
                            "additionalProperties": False,
                            "properties": {
                                "messages": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 10,
                                    "items": _ref("SendMessage"),
                                }
                            },
                        },
                    ]
                }
            ),
            "responses": {
                "201": _reply("one message sent", _ref("SendResult")),
                "200": _reply(
                    "a batch handled; `results` in request order, each `ok` or not",
                    _BATCH_RESULTS,
                ),
                **_errors(400, 404, 413, 500),
            },
        },
    },
    "/queues/{name}/receive": {
        "parameters": [_NAME],
        "post": {
            "summary": "Receive up to 10 messages, long polling up to 20 s",
            "operationId": "receiveMessages",
            "requestBody": _body(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "max_messages": _integer("default 1", 1, 10),
                        "visibility_timeout": _integer(
                            "seconds; default the queue's visibility_timeout_s",
                            0,
                            43200,
                        ),
                        "wait_seconds": _integer(
                            "seconds to wait for a message; default the queue's "
                            "receive_wait_s",
                            0,
                            20,
                        ),
                        "attempt_id": {
                            "type": "string",
                            "description": "FIFO: retrying with the same id within "
                            "5 minutes returns the same messages",
                        },
                    },
                },
                required=False,
            ),
            "responses": {
                "200": _reply(
                    "the messages, possibly none",
                    {
                        "type": "object",
                        "required": ["messages"],
                        "properties": {
                            "messages": {"type": "array", "items": _ref("Message")}
                        },
                    },
                ),
                **_errors(400, 404, 413, 500),
            },
        },
    },
    "/queues/{name}/messages/{receipt_handle}": {
        "parameters": [_NAME, _HANDLE],
        "delete": {
            "summary": "Delete a received message by its receipt handle",
            "operationId": "deleteMessage",
            "responses": {
                **_NO_CONTENT,
                **_errors(400, 404, 409, 500),
            },
        },
    },
    "/queues/{name}/messages/{receipt_handle}/visibility": {
        "parameters": [_NAME, _HANDLE],
        "post": {
            "summary": "Change how long a received message stays invisible",
            "operationId": "changeVisibility",
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["timeout"],
                    "additionalProperties": False,
                    "properties": {
                        "timeout": _integer(
                            "seconds from now; 0 makes it visible at once", 0, 43200
                        )
                    },
                }
            ),
            "responses": {
                **_NO_CONTENT,
                **_errors(400, 404, 409, 413, 500),
            },
        },
    },
    "/queues/{name}/messages/delete": {
        "parameters": [_NAME],
        "post": {
            "summary": "Delete up to 10 received messages by receipt handle",
            "operationId": "deleteMessageBatch",
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["receipt_handles"],
                    "additionalProperties": False,
                    "properties": {
                        "receipt_handles": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 10,
                            "items": {"type": "string"},
                        }
                    },
                }
            ),
            "responses": {
                "200": _reply(
                    "`results` in request order; entry_id is the index",
                    _BATCH_RESULTS,
                ),
                **_errors(400, 404, 413, 500),
            },
        },
    },
    "/queues/{name}/messages/visibility": {
        "parameters": [_NAME],
        "post": {
            "summary": "Change the visibility timeout of up to 10 received messages",
            "operationId": "changeVisibilityBatch",
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["entries"],
                    "additionalProperties": False,
                    "properties": {
                        "entries": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 10,
                            "items": {
                                "type": "object",
                                "required": ["receipt_handle", "timeout"],
                                "additionalProperties": False,
                                "properties": {
                                    "receipt_handle": {"type": "string"},
                                    "timeout": _integer("seconds", 0, 43200),
                                },
                            },
                        }
                    },
                }
            ),
            "responses": {
                "200": _reply(
                    "`results` in request order; entry_id is the index",
                    _BATCH_RESULTS,
                ),
                **_errors(400, 404, 413, 500),
            },
        },
    },
    "/queues/{name}/tags": {
        "parameters": [_NAME],
        "post": {
            "summary": "Add or replace tags; the others stay",
            "operationId": "tagQueue",
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["tags"],
                    "additionalProperties": False,
                    "properties": {
                        "tags": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        }
                    },
                }
            ),
            "responses": {
                "200": _reply(
                    "every tag of the queue after the change",
                    {
                        "type": "object",
                        "properties": {
                            "tags": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            }
                        },
                    },
                ),
                **_errors(400, 404, 413, 500),
            },
        },
    },
    "/queues/{name}/tags/{key}": {
        "parameters": [
            _NAME,
            {
                "name": "key",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
            },
        ],
        "delete": {
            "summary": "Remove a tag; a missing tag is no error",
            "operationId": "untagQueue",
            "responses": {**_NO_CONTENT, **_errors(404, 500)},
        },
    },
    "/queues/{name}/dead-letter-sources": {
        "parameters": [_NAME],
        "get": {
            "summary": "List the queues whose redrive policy names this queue",
            "operationId": "listDeadLetterSources",
            "responses": {
                "200": _reply(
                    "queue names, sorted",
                    {
                        "type": "object",
                        "properties": {
                            "queues": {"type": "array", "items": {"type": "string"}}
                        },
                    },
                ),
                **_errors(404, 500),
            },
        },
    },
    "/queues/{name}/move-tasks": {
        "parameters": [_NAME],
        "post": {
            "summary": "Start moving this dead-letter queue's messages back",
            "operationId": "startMoveTask",
            "requestBody": _body(
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "destination": {
                            "type": "string",
                            "description": "queue to move to; default each "
                            "message's source queue",
                        },
                        "max_per_second": _integer("default unlimited", 1, 500),
                    },
                },
                required=False,
            ),
            "responses": {
                "201": _reply(
                    "started",
                    {
                        "type": "object",
                        "required": ["task_handle"],
                        "properties": {"task_handle": {"type": "string"}},
                    },
                ),
                **_errors(400, 404, 500),
            },
        },
        "get": {
            "summary": "List this queue's newest move tasks, newest first",
            "operationId": "listMoveTasks",
            "parameters": [
                {
                    "name": "max_results",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 10},
                }
            ],
            "responses": {
                "200": _reply(
                    "the tasks",
                    {
                        "type": "object",
                        "properties": {
                            "tasks": {"type": "array", "items": _ref("MoveTask")}
                        },
                    },
                ),
                **_errors(400, 404, 500),
            },
        },
    },
    "/move-tasks/{task_handle}/cancel": {
        "parameters": [
            {
                "name": "task_handle",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
            }
        ],
        "post": {
            "summary": "Cancel a running move task",
            "operationId": "cancelMoveTask",
            "responses": {
                "200": _reply(
                    "cancelled; messages moved so far stay moved",
                    {
                        "type": "object",
                        "properties": {"approximate_moved": {"type": "integer"}},
                    },
                ),
                **_errors(400, 404, 500),
            },
        },
    },
}

_MESSAGE_ATTRIBUTES = {
    "type": "object",
    "description": "up to 10, by name",
    "additionalProperties": _ref("MessageAttribute"),
}

SCHEMAS: dict[str, Any] = {
    "QueueAttributes": {
        "type": "object",
        "additionalProperties": False,
        "description": "every attribute is optional on create and on change",
        "properties": {
            "visibility_timeout_s": _integer("default 30", 0, 43200),
            "delay_s": _integer("default 0", 0, 900),
            "retention_s": _integer("default 345600 (4 days)", 60, 1209600),
            "max_message_bytes": _integer("default 1048576", 1024, 1048576),
            "receive_wait_s": _integer("default 0", 0, 20),
            "redrive_policy": {
                "type": "object",
                "nullable": True,
                "required": ["dead_letter_queue", "max_receive_count"],
                "additionalProperties": False,
                "properties": {
                    "dead_letter_queue": {"type": "string"},
                    "max_receive_count": _integer(
                        "receives after which a message moves", 1, 1000
                    ),
                },
            },
            "redrive_allow_policy": {
                "type": "string",
                "nullable": True,
                "description": "SQS RedriveAllowPolicy JSON text",
            },
            "fifo": {"type": "boolean", "description": "set on create only"},
            "content_based_deduplication": {"type": "boolean"},
            "deduplication_scope": {
                "type": "string",
                "enum": ["queue", "messageGroup"],
            },
            "fifo_throughput_limit": {
                "type": "string",
                "enum": ["perQueue", "perMessageGroupId"],
            },
            "policy": {"type": "string", "nullable": True},
            "kms_master_key_id": {"type": "string", "nullable": True},
            "kms_data_key_reuse_period_s": {"type": "integer"},
            "sqs_managed_sse": {"type": "boolean"},
        },
    },
    "Queue": {
        "type": "object",
        "required": ["name", "attributes", "counts", "created_at", "last_modified_at"],
        "properties": {
            "name": {"type": "string"},
            "attributes": _ref("QueueAttributes"),
            "counts": {
                "type": "object",
                "description": "approximate message counts",
                "properties": {
                    "visible": {"type": "integer"},
                    "in_flight": {"type": "integer"},
                    "delayed": {"type": "integer"},
                },
            },
            "created_at": {"type": "integer", "description": "Unix time in ms"},
            "last_modified_at": {"type": "integer", "description": "Unix time in ms"},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "MessageAttribute": {
        "type": "object",
        "required": ["data_type"],
        "additionalProperties": False,
        "description": "exactly one of string_value and binary_value",
        "properties": {
            "data_type": {
                "type": "string",
                "description": "String, Number or Binary, optionally with a "
                "custom suffix such as Number.float",
            },
            "string_value": {"type": "string"},
            "binary_value": {"type": "string", "format": "byte"},
        },
    },
    "SendMessage": {
        "type": "object",
        "required": ["body"],
        "additionalProperties": False,
        "properties": {
            "body": {"type": "string"},
            "delay_seconds": _integer("default the queue's delay_s", 0, 900),
            "attributes": _MESSAGE_ATTRIBUTES,
            "group_id": {"type": "string", "description": "FIFO: required"},
            "deduplication_id": {
                "type": "string",
                "description": "FIFO: required unless content-based deduplication",
            },
            "trace_header": {
                "type": "string",
                "description": "AWSTraceHeader system attribute",
            },
            "entry_id": {
                "type": "string",
                "description": "batch only: echoed in its result; default the index",
            },
        },
    },
    "SendResult": {
        "type": "object",
        "required": ["id", "md5_of_body"],
        "properties": {
            "id": {"type": "string"},
            "md5_of_body": {"type": "string"},
            "md5_of_attributes": {
                "type": "string",
                "description": "absent when the message has no attributes",
            },
            "sequence_number": {"type": "string", "description": "FIFO only"},
        },
    },
    "Message": {
        "type": "object",
        "required": [
            "id",
            "body",
            "receipt_handle",
            "receive_count",
            "sent_at",
            "first_received_at",
            "md5_of_body",
            "attributes",
            "sender_id",
        ],
        "properties": {
            "id": {"type": "string"},
            "body": {"type": "string"},
            "receipt_handle": {"type": "string"},
            "receive_count": {"type": "integer", "minimum": 1},
            "sent_at": {"type": "integer", "description": "Unix time in ms"},
            "first_received_at": {"type": "integer", "description": "Unix time in ms"},
            "md5_of_body": {"type": "string"},
            "attributes": _MESSAGE_ATTRIBUTES,
            "md5_of_attributes": {"type": "string"},
            "sender_id": {"type": "string", "description": "the account id"},
            "trace_header": {"type": "string"},
            "group_id": {"type": "string", "description": "FIFO only"},
            "deduplication_id": {"type": "string", "description": "FIFO only"},
            "sequence_number": {"type": "string", "description": "FIFO only"},
        },
    },
    "MoveTask": {
        "type": "object",
        "properties": {
            "task_handle": {"type": "string"},
            "status": {
                "type": "string",
                "enum": ["RUNNING", "COMPLETED", "CANCELLING", "CANCELLED", "FAILED"],
            },
            "source": {"type": "string"},
            "destination": {"type": "string", "nullable": True},
            "max_per_second": {"type": "integer", "nullable": True},
            "approximate_moved": {"type": "integer"},
            "approximate_to_move": {"type": "integer", "nullable": True},
            "failure_reason": {"type": "string", "nullable": True},
            "started_at": {"type": "integer", "description": "Unix time in ms"},
        },
    },
    "BatchResult": {
        "type": "object",
        "required": ["ok", "entry_id"],
        "description": "a successful send adds the SendResult fields; a failure "
        "has `error`",
        "properties": {
            "ok": {"type": "boolean"},
            "entry_id": {"type": "string"},
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "sender_fault": {"type": "boolean"},
                },
            },
        },
    },
}
