"""SigV4 checking on a live sqs_server: on with access keys, off without."""

from __future__ import annotations

import datetime
import urllib.error
import urllib.request
from collections.abc import Iterator
from unittest import mock

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from sqs_support import ThreadedServer, query, send, sqs_client, start_server, unique

from nanoqueue.config import SqsCredential

KEY_ID = "AKIDNANOQUEUE"
SECRET = "nanoqueue-test-secret"


@pytest.fixture(scope="module")
def secured() -> Iterator[ThreadedServer]:
    started = start_server(credentials=(SqsCredential(KEY_ID, SECRET),))
    yield started
    started.stop()


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = error.value.response["Error"]["Code"]
    return code


def test_valid_signature_accepted(secured: ThreadedServer) -> None:
    client = sqs_client(secured, key_id=KEY_ID, secret=SECRET)
    name = unique()

    url = client.create_queue(QueueName=name)["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="signed")

    assert client.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "signed"


def test_signed_region_selects_queues(secured: ThreadedServer) -> None:
    client = sqs_client(secured, key_id=KEY_ID, secret=SECRET, region="ap-southeast-2")
    name = unique()

    url = client.create_queue(QueueName=name)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])

    assert arn["Attributes"]["QueueArn"].startswith("arn:aws:sqs:ap-southeast-2:")


def test_wrong_secret_rejected(secured: ThreadedServer) -> None:
    client = sqs_client(secured, key_id=KEY_ID, secret="wrong")

    with pytest.raises(ClientError) as error:
        client.list_queues()

    assert error_code(error) == "SignatureDoesNotMatch"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_rejected(secured: ThreadedServer) -> None:
    client = sqs_client(secured, key_id="AKIDUNKNOWN", secret=SECRET)

    with pytest.raises(ClientError) as error:
        client.list_queues()

    assert error_code(error) == "InvalidClientTokenId"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_expired_request_rejected(secured: ThreadedServer) -> None:
    client = sqs_client(secured, key_id=KEY_ID, secret=SECRET)
    signed_at = datetime.datetime.now(datetime.UTC).replace(
        tzinfo=None
    ) - datetime.timedelta(minutes=20)

    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=signed_at),
        pytest.raises(ClientError) as error,
    ):
        client.list_queues()

    assert error_code(error) == "RequestExpired"
    assert "Signature expired" in error.value.response["Error"]["Message"]


def test_unsigned_request_rejected(secured: ThreadedServer) -> None:
    reply = query(secured, "ListQueues")

    assert reply.status == 403
    assert reply.error_code == "MissingAuthenticationToken"


def test_presigned_url_accepted(secured: ThreadedServer) -> None:
    request = AWSRequest(
        method="GET",
        url=f"{secured.url}/?Action=ListQueues&Version=2012-11-05",
    )
    SigV4QueryAuth(
        Credentials(KEY_ID, SECRET), "sqs", "us-east-1", expires=60
    ).add_auth(request)

    with urllib.request.urlopen(request.prepare().url, timeout=30) as response:
        assert response.status == 200
        assert b"ListQueuesResponse" in response.read()


def test_presigned_url_wrong_secret(secured: ThreadedServer) -> None:
    request = AWSRequest(method="GET", url=f"{secured.url}/?Action=ListQueues")
    SigV4QueryAuth(
        Credentials(KEY_ID, "wrong"), "sqs", "us-east-1", expires=60
    ).add_auth(request)

    status, _, body = send(request.prepare().url)

    assert status == 403
    assert b"SignatureDoesNotMatch" in body


def test_native_api_not_signed(secured: ThreadedServer) -> None:
    with urllib.request.urlopen(secured.url + "/queues", timeout=30) as response:
        assert response.status == 200


def test_any_credentials_without_keys(sqs_server: ThreadedServer) -> None:
    client = sqs_client(sqs_server, key_id="anything", secret="whatever")

    url = client.create_queue(QueueName=unique())["QueueUrl"]

    assert url.startswith(sqs_server.url)
    assert query(sqs_server, "ListQueues").status == 200


def test_unsigned_region_is_default(sqs_server: ThreadedServer) -> None:
    client = sqs_client(sqs_server, region="eu-central-1")
    name = unique()
    client.create_queue(QueueName=name)

    reply = query(sqs_server, "GetQueueUrl", {"QueueName": name})

    assert reply.error_code == "AWS.SimpleQueueService.NonExistentQueue"


def test_signature_version_2_rejected(secured: ThreadedServer) -> None:
    request = urllib.request.Request(
        secured.url + "/",
        data=b"Action=ListQueues",
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"AWS {KEY_ID}:c2lnbmF0dXJl",
        },
    )

    status, _, body = send(request)

    assert status == 403
    assert b"<Code>InvalidSecurity</Code>" in body


def test_malformed_signature_rejected(secured: ThreadedServer) -> None:
    request = urllib.request.Request(
        secured.url + "/",
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS.ListQueues",
            "X-Amz-Date": "20260101T000000Z",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY_ID}/20260101",
        },
    )

    status, headers, _ = send(request)

    assert status == 400
    assert headers["x-amzn-query-error"] == "IncompleteSignature;Sender"
