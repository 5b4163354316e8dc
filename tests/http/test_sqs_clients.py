"""aiobotocore and the aws CLI against a live sqs_server, unchanged but for the endpoint."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from aiobotocore.session import get_session
from sqs_support import unique


def aiobotocore_client(sqs_server: Any) -> Any:
    return get_session().create_client(
        "sqs",
        endpoint_url=sqs_server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
    )


async def test_aiobotocore_send_receive_delete(sqs_server: Any) -> None:
    async with aiobotocore_client(sqs_server) as client:
        url = (await client.create_queue(QueueName=unique()))["QueueUrl"]
        attributes = {
            "attribName1": {"DataType": "String", "StringValue": "attribValue 1"}
        }

        sent = await client.send_message(
            QueueUrl=url, MessageBody="async", MessageAttributes=attributes
        )
        reply = await client.receive_message(
            QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1
        )
        [message] = reply["Messages"]
        await client.delete_message(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]
        )
        after = await client.receive_message(QueueUrl=url)

    assert sent["MD5OfMessageAttributes"] == "19e27d4e946b072f3f58da80d94fd778"
    assert message["Body"] == "async"
    assert message["MD5OfMessageAttributes"] == "19e27d4e946b072f3f58da80d94fd778"
    assert "Messages" not in after


async def test_aiobotocore_modeled_error(sqs_server: Any) -> None:
    async with aiobotocore_client(sqs_server) as client:
        try:
            await client.get_queue_url(QueueName=unique("missing"))
        except client.exceptions.QueueDoesNotExist as error:
            code = error.response["Error"]["Code"]
        else:
            raise AssertionError("get_queue_url of a missing queue succeeded")

    assert code == "AWS.SimpleQueueService.NonExistentQueue"


def aws(sqs_server: Any, tmp_path: Path, *args: str) -> Any:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "AKIDTEST",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    completed = subprocess.run(
        ["aws", "--endpoint-url", sqs_server.url, "--output", "json", "sqs", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout) if completed.stdout.strip() else None


def test_aws_cli_round_trip(sqs_server: Any, tmp_path: Path) -> None:
    name = unique("cli")

    url = aws(sqs_server, tmp_path, "create-queue", "--queue-name", name)["QueueUrl"]
    sent = aws(
        sqs_server,
        tmp_path,
        "send-message",
        "--queue-url",
        url,
        "--message-body",
        "from the cli",
    )
    received = aws(
        sqs_server,
        tmp_path,
        "receive-message",
        "--queue-url",
        url,
        "--attribute-names",
        "All",
    )
    [message] = received["Messages"]
    aws(
        sqs_server,
        tmp_path,
        "delete-message",
        "--queue-url",
        url,
        "--receipt-handle",
        message["ReceiptHandle"],
    )
    listed = aws(sqs_server, tmp_path, "list-queues", "--queue-name-prefix", name)

    assert url == f"{sqs_server.url}/000000000000/{name}"
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "from the cli"
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert listed["QueueUrls"] == [url]


def test_aws_cli_reports_error(sqs_server: Any, tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            "aws",
            "--endpoint-url",
            sqs_server.url,
            "sqs",
            "get-queue-url",
            "--queue-name",
            unique("missing"),
        ],
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "AWS_ACCESS_KEY_ID": "AKIDTEST",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in completed.stderr
