"""SQS state across a kill -9 of a real `nanoqueue serve` process."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqs_support import NO_RETRIES, unique

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
START_TIMEOUT_S = 30.0


class Served:
    """One server process; its stderr is read by a thread so it never blocks."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nanoqueue",
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.url = self._wait_for_url()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)

    def _wait_for_url(self) -> str:
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                raise AssertionError(
                    "no listening line; stderr:\n" + "".join(seen)
                ) from None
            seen.append(line)
            match = LISTENING.search(line)
            if match:
                return f"http://127.0.0.1:{match.group(1)}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(START_TIMEOUT_S)
        self.reader.join(START_TIMEOUT_S)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def client(self) -> Any:
        return boto3.client(
            "sqs",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="AKIDTEST",
            aws_secret_access_key="secret",
            config=NO_RETRIES,
        )


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    started: list[Served] = []

    def run() -> Served:
        served = Served(tmp_path / "data")
        started.append(served)
        return served

    yield run
    for served in started:
        served.kill()


def test_deleted_message_stays_deleted_after_kill(start: Any) -> None:
    first = start()
    sqs = first.client()
    name = unique()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="delete me")
    kept_id = sqs.send_message(QueueUrl=url, MessageBody="keep me", DelaySeconds=1)[
        "MessageId"
    ]
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    first.kill()
    second = start()
    sqs = second.client()
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]

    received = []
    for _ in range(5):
        reply = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        received += reply.get("Messages", [])
        if received:
            break
    assert [m["MessageId"] for m in received] == [kept_id]
    assert [m["Body"] for m in received] == ["keep me"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_queue_attributes_survive_kill(start: Any) -> None:
    first = start()
    sqs = first.client()
    name = unique()
    sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": "77"}, tags={"t": "v"}
    )

    first.kill()
    sqs = start().client()
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]

    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "77"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"t": "v"}
