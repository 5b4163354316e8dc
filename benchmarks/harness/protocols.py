"""The HTTP requests of each workload, in nanoqueue's native API and in SQS JSON.

wrk and the Python load generator build their requests from the same
`HttpRequest` values, so both send byte-for-byte the same bodies.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from urllib.parse import quote

import orjson

ACCOUNT_ID = "000000000000"
SQS_CONTENT_TYPE = "application/x-amz-json-1.0"
# moto routes a request to a service by the credential scope of its
# Authorization header and checks no signature. nanoqueue by default accepts
# any credentials.
SQS_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/sqs/aws4_request, "
    "SignedHeaders=host;x-amz-target, Signature=0"
)


def make_body(size: int) -> str:
    """Return a printable message body of exactly `size` bytes."""
    text = base64.b64encode(os.urandom(size)).decode()
    return text[:size]


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class DeleteTemplate:
    """How to delete by receipt handle: in the path, or inside a JSON body."""

    method: str
    headers: dict[str, str]
    path: str = ""
    path_prefix: str = ""
    body_prefix: bytes = b""
    body_suffix: bytes = b""

    def build(self, receipt_handle: str) -> HttpRequest:
        if self.path_prefix:
            return HttpRequest(
                self.method,
                self.path_prefix + quote(receipt_handle, safe=""),
                self.headers,
            )
        return HttpRequest(
            self.method,
            self.path,
            self.headers,
            self.body_prefix + receipt_handle.encode() + self.body_suffix,
        )


class Protocol:
    """Builds the requests of one API for one queue."""

    name = "protocol"
    # Lua pattern that finds each receipt handle in a receive reply, and the
    # JSON keys of the received messages and of their receipt handles.
    handle_pattern = ""
    messages_key = ""
    handle_key = ""

    def create_queue(self, name: str) -> HttpRequest:
        raise NotImplementedError

    def send(self, body: str) -> HttpRequest:
        raise NotImplementedError

    def send_batch(self, bodies: list[str]) -> HttpRequest:
        raise NotImplementedError

    def receive(
        self, max_messages: int = 1, wait_s: int = 0, visibility_timeout_s: int = 60
    ) -> HttpRequest:
        raise NotImplementedError

    def delete(self) -> DeleteTemplate:
        raise NotImplementedError


class NativeProtocol(Protocol):
    """nanoqueue's native JSON API under /queues."""

    name = "native"
    handle_pattern = '"receipt_handle":%s*"([^"]+)"'
    messages_key = "messages"
    handle_key = "receipt_handle"

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.headers = {"Content-Type": "application/json"}

    def create_queue(self, name: str) -> HttpRequest:
        return HttpRequest(
            "POST", "/queues", self.headers, orjson.dumps({"name": name})
        )

    def send(self, body: str) -> HttpRequest:
        return HttpRequest(
            "POST",
            f"/queues/{self.queue}/messages",
            self.headers,
            orjson.dumps({"body": body}),
        )

    def send_batch(self, bodies: list[str]) -> HttpRequest:
        entries = [{"body": body} for body in bodies]
        return HttpRequest(
            "POST",
            f"/queues/{self.queue}/messages",
            self.headers,
            orjson.dumps({"messages": entries}),
        )

    def receive(
        self, max_messages: int = 1, wait_s: int = 0, visibility_timeout_s: int = 60
    ) -> HttpRequest:
        body = {
            "max_messages": max_messages,
            "wait_seconds": wait_s,
            "visibility_timeout": visibility_timeout_s,
        }
        return HttpRequest(
            "POST", f"/queues/{self.queue}/receive", self.headers, orjson.dumps(body)
        )

    def delete(self) -> DeleteTemplate:
        return DeleteTemplate(
            "DELETE", {}, path_prefix=f"/queues/{self.queue}/messages/"
        )


class SqsProtocol(Protocol):
    """The AWS JSON 1.0 protocol of SQS, as boto3 sends it."""

    name = "sqs"
    handle_pattern = '"ReceiptHandle":%s*"([^"]+)"'
    messages_key = "Messages"
    handle_key = "ReceiptHandle"

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    @staticmethod
    def headers(action: str) -> dict[str, str]:
        return {
            "Content-Type": SQS_CONTENT_TYPE,
            "X-Amz-Target": f"AmazonSQS.{action}",
            "Authorization": SQS_AUTHORIZATION,
        }

    def _call(self, action: str, fields: dict[str, object]) -> HttpRequest:
        return HttpRequest("POST", "/", self.headers(action), orjson.dumps(fields))

    def create_queue(self, name: str) -> HttpRequest:
        return self._call("CreateQueue", {"QueueName": name})

    def send(self, body: str) -> HttpRequest:
        return self._call(
            "SendMessage", {"QueueUrl": self.queue_url, "MessageBody": body}
        )

    def send_batch(self, bodies: list[str]) -> HttpRequest:
        entries = [
            {"Id": f"m{index}", "MessageBody": body}
            for index, body in enumerate(bodies)
        ]
        return self._call(
            "SendMessageBatch", {"QueueUrl": self.queue_url, "Entries": entries}
        )

    def receive(
        self, max_messages: int = 1, wait_s: int = 0, visibility_timeout_s: int = 60
    ) -> HttpRequest:
        return self._call(
            "ReceiveMessage",
            {
                "QueueUrl": self.queue_url,
                "MaxNumberOfMessages": max_messages,
                "WaitTimeSeconds": wait_s,
                "VisibilityTimeout": visibility_timeout_s,
            },
        )

    def delete(self) -> DeleteTemplate:
        prefix = orjson.dumps({"QueueUrl": self.queue_url})[:-1] + b',"ReceiptHandle":"'
        return DeleteTemplate(
            "POST",
            self.headers("DeleteMessage"),
            path="/",
            body_prefix=prefix,
            body_suffix=b'"}',
        )


def eval_request(script: str, keys: list[str], args: list[object]) -> HttpRequest:
    """Return a POST /db/eval request of the MemDB script API."""
    body = orjson.dumps({"script": script, "keys": keys, "args": args})
    return HttpRequest("POST", "/db/eval", {"Content-Type": "application/json"}, body)
