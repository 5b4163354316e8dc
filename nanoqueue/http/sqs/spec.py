"""The OpenAPI description of the SQS protocol routes, merged into /openapi.json.

Each SQS action is one request to these routes, so the document describes
the envelope and lists the actions. The parameters and results of each
action are those of the Amazon SQS API reference (API version 2012-11-05).
"""

from __future__ import annotations

from typing import Any

from nanoqueue.http.sqs.message_actions import MESSAGE_ACTIONS
from nanoqueue.http.sqs.queue_actions import QUEUE_ACTIONS

ACTION_NAMES = sorted({*QUEUE_ACTIONS, *MESSAGE_ACTIONS})

_TARGET = {
    "name": "X-Amz-Target",
    "in": "header",
    "required": False,
    "description": "JSON protocol: AmazonSQS.<Action>, with Content-Type "
    "application/x-amz-json-1.0. Without this header the request uses the "
    "Query protocol.",
    "schema": {
        "type": "string",
        "enum": [f"AmazonSQS.{name}" for name in ACTION_NAMES],
    },
}
_ACTION = {
    "name": "Action",
    "in": "query",
    "required": False,
    "description": "Query protocol: the action, here or in the form body, with "
    "its parameters as form fields (Attribute.1.Name, ...).",
    "schema": {"type": "string", "enum": ACTION_NAMES},
}
_AUTHORIZATION = {
    "name": "Authorization",
    "in": "header",
    "required": False,
    "description": "AWS Signature Version 4, required when [sqs] access keys "
    "are configured (a presigned query string works too). The region of the "
    "credential scope selects the region of the queues.",
    "schema": {"type": "string"},
}
_ACCOUNT_ID = {
    "name": "account_id",
    "in": "path",
    "required": True,
    "description": "the 12-digit account id of the queue URL",
    "schema": {"type": "string", "pattern": "^[0-9]{12}$"},
}
_QUEUE_NAME = {
    "name": "queue_name",
    "in": "path",
    "required": True,
    "description": "the queue the action applies to when QueueUrl is absent",
    "schema": {"type": "string"},
}

_REQUEST_BODY = {
    "required": False,
    "content": {
        "application/x-amz-json-1.0": {
            "schema": {
                "type": "object",
                "description": "the action's parameters, as in the SQS API reference",
            }
        },
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["Action"],
                "properties": {"Action": {"type": "string", "enum": ACTION_NAMES}},
            }
        },
    },
}
_RESULT = {
    "description": "the action's result: a JSON object for the JSON protocol, "
    "<ActionResponse> XML in the 2012-11-05 namespace for the Query protocol",
    "content": {
        "application/x-amz-json-1.0": {"schema": {"type": "object"}},
        "text/xml": {"schema": {"type": "string"}},
    },
}
_ERROR = {
    "description": "an SQS error: JSON {__type, message} with the "
    "x-amzn-query-error header, or <ErrorResponse> XML for the Query protocol",
    "headers": {
        "x-amzn-query-error": {
            "description": "CODE;Sender or CODE;Receiver, in the Query protocol's spelling",
            "schema": {"type": "string"},
        }
    },
    "content": {
        "application/x-amz-json-1.0": {
            "schema": {"$ref": "#/components/schemas/SqsError"}
        },
        "text/xml": {"schema": {"type": "string"}},
    },
}
_RESPONSES = {"200": _RESULT, "400": _ERROR, "403": _ERROR, "500": _ERROR}


def _operation(
    operation_id: str, summary: str, parameters: list[Any]
) -> dict[str, Any]:
    return {
        "summary": summary,
        "operationId": operation_id,
        "description": "Actions: " + ", ".join(ACTION_NAMES) + ".",
        "parameters": parameters,
        "requestBody": _REQUEST_BODY,
        "responses": _RESPONSES,
    }


def _query_get(
    operation_id: str, summary: str, parameters: list[Any]
) -> dict[str, Any]:
    return {
        "summary": summary,
        "operationId": operation_id,
        "parameters": [_ACTION, *parameters],
        "responses": _RESPONSES,
    }


_QUEUE_PARAMETERS = [_ACCOUNT_ID, _QUEUE_NAME]

PATHS: dict[str, Any] = {
    "/": {
        "post": _operation(
            "sqsAction",
            "Run an SQS action (JSON or Query protocol)",
            [_TARGET, _AUTHORIZATION],
        ),
        "get": _query_get(
            "sqsQueryAction",
            "Run an SQS action given in the query string",
            [_AUTHORIZATION],
        ),
    },
    "/{account_id}/{queue_name}": {
        "post": _operation(
            "sqsQueueAction",
            "Run an SQS action on the queue of this queue URL",
            [*_QUEUE_PARAMETERS, _TARGET, _AUTHORIZATION],
        ),
        "get": _query_get(
            "sqsQueueQueryAction",
            "Run an SQS action on the queue of this queue URL, given in the query string",
            [*_QUEUE_PARAMETERS, _AUTHORIZATION],
        ),
    },
}

SCHEMAS: dict[str, Any] = {
    "SqsError": {
        "type": "object",
        "required": ["__type", "message"],
        "properties": {
            "__type": {
                "type": "string",
                "description": "com.amazonaws.sqs#<ErrorShape>, such as "
                "com.amazonaws.sqs#QueueDoesNotExist",
            },
            "message": {"type": "string"},
        },
    }
}
