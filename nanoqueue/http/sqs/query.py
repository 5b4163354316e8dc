"""The SQS Query protocol: form parameters in, XML replies out.

Requests are decoded into the same parameter shapes the JSON protocol
carries (`Attribute.1.Name` becomes `Attributes["..."]`), so each action is
written once. Replies are encoded from those shapes into the XML that the
2012-11-05 Query API returns.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from nanoqueue.http.sqs.errors import MalformedRequest

XML_NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"


@dataclass(frozen=True)
class Flat:
    """A list sent as repeated `NAME.N` parameters, or repeated XML elements."""

    name: str
    item: Spec


@dataclass(frozen=True)
class FlatMap:
    """A map sent as `NAME.N.KEY` and `NAME.N.VALUE` pairs."""

    name: str
    key: str
    value_name: str
    value: Spec


@dataclass(frozen=True)
class Struct:
    """A structure whose members are named the same in JSON and Query."""

    members: Mapping[str, Spec]
    # Members whose Query name differs from their JSON name.
    renamed: Mapping[str, str] | None = None

    def query_name(self, member: str) -> str:
        return (self.renamed or {}).get(member, member)


STRING = "string"
Spec = str | Flat | FlatMap | Struct

MESSAGE_ATTRIBUTE_VALUE = Struct(
    {
        "DataType": STRING,
        "StringValue": STRING,
        "BinaryValue": STRING,
        "StringListValues": Flat("StringListValue", STRING),
        "BinaryListValues": Flat("BinaryListValue", STRING),
    },
    renamed={
        "StringListValues": "StringListValue",
        "BinaryListValues": "BinaryListValue",
    },
)
MESSAGE_ATTRIBUTES = FlatMap(
    "MessageAttribute", "Name", "Value", MESSAGE_ATTRIBUTE_VALUE
)
SYSTEM_ATTRIBUTES = FlatMap(
    "MessageSystemAttribute", "Name", "Value", MESSAGE_ATTRIBUTE_VALUE
)
QUEUE_ATTRIBUTES = FlatMap("Attribute", "Name", "Value", STRING)
TAGS = FlatMap("Tag", "Key", "Value", STRING)

_SEND_ENTRY_MEMBERS: dict[str, Spec] = {
    "Id": STRING,
    "MessageBody": STRING,
    "DelaySeconds": STRING,
    "MessageAttributes": MESSAGE_ATTRIBUTES,
    "MessageSystemAttributes": SYSTEM_ATTRIBUTES,
    "MessageDeduplicationId": STRING,
    "MessageGroupId": STRING,
}
_MAP_RENAMES = {
    "MessageAttributes": "MessageAttribute",
    "MessageSystemAttributes": "MessageSystemAttribute",
    "Attributes": "Attribute",
    "Tags": "Tag",
}


def _request(members: Mapping[str, Spec]) -> Struct:
    renamed = {
        name: spec.name
        for name, spec in members.items()
        if isinstance(spec, (Flat, FlatMap))
    }
    return Struct(members, renamed=renamed)


# The Query parameters of each action, in the JSON protocol's shape.
REQUESTS: dict[str, Struct] = {
    "CreateQueue": _request(
        {"QueueName": STRING, "Attributes": QUEUE_ATTRIBUTES, "tags": TAGS}
    ),
    "GetQueueUrl": _request({"QueueName": STRING, "QueueOwnerAWSAccountId": STRING}),
    "ListQueues": _request(
        {"QueueNamePrefix": STRING, "NextToken": STRING, "MaxResults": STRING}
    ),
    "DeleteQueue": _request({"QueueUrl": STRING}),
    "PurgeQueue": _request({"QueueUrl": STRING}),
    "GetQueueAttributes": _request(
        {"QueueUrl": STRING, "AttributeNames": Flat("AttributeName", STRING)}
    ),
    "SetQueueAttributes": _request(
        {"QueueUrl": STRING, "Attributes": QUEUE_ATTRIBUTES}
    ),
    "SendMessage": _request({"QueueUrl": STRING, **_SEND_ENTRY_MEMBERS}),
    "SendMessageBatch": _request(
        {
            "QueueUrl": STRING,
            "Entries": Flat(
                "SendMessageBatchRequestEntry",
                Struct(_SEND_ENTRY_MEMBERS, renamed=_MAP_RENAMES),
            ),
        }
    ),
    "ReceiveMessage": _request(
        {
            "QueueUrl": STRING,
            "AttributeNames": Flat("AttributeName", STRING),
            "MessageSystemAttributeNames": Flat("MessageSystemAttributeName", STRING),
            "MessageAttributeNames": Flat("MessageAttributeName", STRING),
            "MaxNumberOfMessages": STRING,
            "VisibilityTimeout": STRING,
            "WaitTimeSeconds": STRING,
            "ReceiveRequestAttemptId": STRING,
        }
    ),
    "DeleteMessage": _request({"QueueUrl": STRING, "ReceiptHandle": STRING}),
    "DeleteMessageBatch": _request(
        {
            "QueueUrl": STRING,
            "Entries": Flat(
                "DeleteMessageBatchRequestEntry",
                Struct({"Id": STRING, "ReceiptHandle": STRING}),
            ),
        }
    ),
    "ChangeMessageVisibility": _request(
        {"QueueUrl": STRING, "ReceiptHandle": STRING, "VisibilityTimeout": STRING}
    ),
    "ChangeMessageVisibilityBatch": _request(
        {
            "QueueUrl": STRING,
            "Entries": Flat(
                "ChangeMessageVisibilityBatchRequestEntry",
                Struct(
                    {"Id": STRING, "ReceiptHandle": STRING, "VisibilityTimeout": STRING}
                ),
            ),
        }
    ),
    "TagQueue": _request({"QueueUrl": STRING, "Tags": TAGS}),
    "UntagQueue": _request({"QueueUrl": STRING, "TagKeys": Flat("TagKey", STRING)}),
    "ListQueueTags": _request({"QueueUrl": STRING}),
    "ListDeadLetterSourceQueues": _request(
        {"QueueUrl": STRING, "NextToken": STRING, "MaxResults": STRING}
    ),
    "StartMessageMoveTask": _request(
        {
            "SourceArn": STRING,
            "DestinationArn": STRING,
            "MaxNumberOfMessagesPerSecond": STRING,
        }
    ),
    "ListMessageMoveTasks": _request({"SourceArn": STRING, "MaxResults": STRING}),
    "CancelMessageMoveTask": _request({"TaskHandle": STRING}),
    "AddPermission": _request(
        {
            "QueueUrl": STRING,
            "Label": STRING,
            "AWSAccountIds": Flat("AWSAccountId", STRING),
            "Actions": Flat("ActionName", STRING),
        }
    ),
    "RemovePermission": _request({"QueueUrl": STRING, "Label": STRING}),
}

_MESSAGE_ATTRIBUTE_REPLY = FlatMap(
    "MessageAttribute", "Name", "Value", MESSAGE_ATTRIBUTE_VALUE
)
_BATCH_ERROR = Flat(
    "BatchResultErrorEntry",
    Struct({"Id": STRING, "SenderFault": STRING, "Code": STRING, "Message": STRING}),
)


def _batch_reply(action: str, entry: Struct) -> Struct:
    return Struct(
        {"Successful": Flat(f"{action}ResultEntry", entry), "Failed": _BATCH_ERROR}
    )


_SEND_REPLY_MEMBERS: dict[str, Spec] = {
    "MessageId": STRING,
    "MD5OfMessageBody": STRING,
    "MD5OfMessageAttributes": STRING,
    "MD5OfMessageSystemAttributes": STRING,
    "SequenceNumber": STRING,
}

# The result element of each action's reply; actions missing here reply with
# ResponseMetadata alone.
REPLIES: dict[str, Struct] = {
    "CreateQueue": Struct({"QueueUrl": STRING}),
    "GetQueueUrl": Struct({"QueueUrl": STRING}),
    "ListQueues": Struct({"QueueUrls": Flat("QueueUrl", STRING), "NextToken": STRING}),
    "GetQueueAttributes": Struct({"Attributes": QUEUE_ATTRIBUTES}),
    "SendMessage": Struct(_SEND_REPLY_MEMBERS),
    "SendMessageBatch": _batch_reply(
        "SendMessageBatch", Struct({"Id": STRING, **_SEND_REPLY_MEMBERS})
    ),
    "ReceiveMessage": Struct(
        {
            "Messages": Flat(
                "Message",
                Struct(
                    {
                        "MessageId": STRING,
                        "ReceiptHandle": STRING,
                        "MD5OfBody": STRING,
                        "Body": STRING,
                        "Attributes": QUEUE_ATTRIBUTES,
                        "MD5OfMessageAttributes": STRING,
                        "MessageAttributes": _MESSAGE_ATTRIBUTE_REPLY,
                    }
                ),
            )
        }
    ),
    "DeleteMessageBatch": _batch_reply("DeleteMessageBatch", Struct({"Id": STRING})),
    "ChangeMessageVisibilityBatch": _batch_reply(
        "ChangeMessageVisibilityBatch", Struct({"Id": STRING})
    ),
    "ListQueueTags": Struct({"Tags": TAGS}),
    "ListDeadLetterSourceQueues": Struct(
        {"queueUrls": Flat("QueueUrl", STRING), "NextToken": STRING}
    ),
    "StartMessageMoveTask": Struct({"TaskHandle": STRING}),
    "ListMessageMoveTasks": Struct(
        {
            "Results": Flat(
                "ListMessageMoveTasksResultEntry",
                Struct(
                    {
                        "TaskHandle": STRING,
                        "Status": STRING,
                        "SourceArn": STRING,
                        "DestinationArn": STRING,
                        "MaxNumberOfMessagesPerSecond": STRING,
                        "ApproximateNumberOfMessagesMoved": STRING,
                        "ApproximateNumberOfMessagesToMove": STRING,
                        "FailureReason": STRING,
                        "StartedTimestamp": STRING,
                    }
                ),
            )
        }
    ),
    "CancelMessageMoveTask": Struct({"ApproximateNumberOfMessagesMoved": STRING}),
}


def decode_params(action: str, form: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn the Query parameters of `action` into JSON-protocol parameters.

    Parameters the action does not take are ignored, as SQS ignores them.
    Raises MalformedRequest when an indexed parameter has no valid index.
    """
    tree: dict[str, Any] = {}
    for key, value in form:
        if key in ("Action", "Version") or key.startswith("X-Amz-"):
            continue
        _insert(tree, key.split("."), value, key)
    spec = REQUESTS.get(action, Struct({}))
    decoded = _decode(spec, tree)
    return decoded if isinstance(decoded, dict) else {}


def _insert(tree: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise MalformedRequest(
                f"parameter {key!r} conflicts with another parameter of the same prefix"
            )
        node = child
    if isinstance(node.get(parts[-1]), dict):
        raise MalformedRequest(
            f"parameter {key!r} conflicts with another parameter of the same prefix"
        )
    node[parts[-1]] = value


def _decode(spec: Spec, node: Any) -> Any:
    if isinstance(spec, str):
        return node if isinstance(node, str) else None
    if isinstance(spec, Struct):
        if not isinstance(node, dict):
            return None
        result: dict[str, Any] = {}
        for member, member_spec in spec.members.items():
            child = node.get(spec.query_name(member))
            if child is None:
                continue
            decoded = _decode(member_spec, child)
            if decoded is not None:
                result[member] = decoded
        return result
    items = _indexed(node)
    if isinstance(spec, Flat):
        return [_decode(spec.item, item) for item in items]
    entries: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get(spec.key), str):
            continue
        entries[item[spec.key]] = _decode(spec.value, item.get(spec.value_name))
    return entries


def _indexed(node: Any) -> list[Any]:
    if not isinstance(node, dict):
        return []
    indexed = []
    for index, item in node.items():
        if not index.isdigit() or int(index) < 1:
            raise MalformedRequest(
                f"list index {index!r} is invalid; indexes are whole numbers from 1"
            )
        indexed.append((int(index), item))
    return [item for _, item in sorted(indexed)]


def encode_reply(action: str, result: Mapping[str, Any], request_id: str) -> bytes:
    """Encode an action's result as the XML body the Query protocol returns."""
    parts = [f'<?xml version="1.0"?><{action}Response xmlns="{XML_NAMESPACE}">']
    spec = REPLIES.get(action)
    if spec is not None:
        parts.append(f"<{action}Result>")
        _encode_struct(spec, result, parts)
        parts.append(f"</{action}Result>")
    parts.append(_metadata(request_id))
    parts.append(f"</{action}Response>")
    return "".join(parts).encode("utf-8")


def encode_error(code: str, message: str, sender_fault: bool, request_id: str) -> bytes:
    """Encode an error as the `<ErrorResponse>` body of the Query protocol."""
    fault = "Sender" if sender_fault else "Receiver"
    return (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{XML_NAMESPACE}">'
        f"<Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message><Detail/></Error>"
        f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
    ).encode()


def _metadata(request_id: str) -> str:
    return f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"


def _encode_struct(spec: Struct, value: Mapping[str, Any], parts: list[str]) -> None:
    for member, member_spec in spec.members.items():
        child = value.get(member)
        if child is None:
            continue
        if isinstance(member_spec, Flat):
            for item in child:
                _encode_element(member_spec.name, member_spec.item, item, parts)
        elif isinstance(member_spec, FlatMap):
            for key, item in child.items():
                parts.append(
                    f"<{member_spec.name}><{member_spec.key}>{escape(key)}</{member_spec.key}>"
                )
                _encode_element(member_spec.value_name, member_spec.value, item, parts)
                parts.append(f"</{member_spec.name}>")
        else:
            _encode_element(member, member_spec, child, parts)


def _encode_element(name: str, spec: Spec, value: Any, parts: list[str]) -> None:
    parts.append(f"<{name}>")
    if isinstance(spec, Struct):
        _encode_struct(spec, value, parts)
    else:
        parts.append(escape(_text(value), {"\r": "&#xD;"}))
    parts.append(f"</{name}>")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)
