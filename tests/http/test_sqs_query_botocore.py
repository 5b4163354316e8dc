"""botocore's own Query protocol client against the server.

Current botocore speaks only JSON to SQS. These tests therefore rebuild the
Query flavour of the SQS service model, which older SDKs were generated
from. It has the `query` protocol, result wrappers, the flattened names of
lists and maps (`Attribute.1.Name`, `SendMessageBatchRequestEntry.1.Id`)
and the Query error codes. botocore then serializes form requests and
parses the XML replies with its own Query serializer and parser.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from sqs_support import NO_RETRIES, ThreadedServer, unique

LIST_MEMBER_NAMES = {
    "AWSAccountIdList": "AWSAccountId",
    "ActionNameList": "ActionName",
    "AttributeNameList": "AttributeName",
    "BatchResultErrorEntryList": "BatchResultErrorEntry",
    "ChangeMessageVisibilityBatchRequestEntryList": "ChangeMessageVisibilityBatchRequestEntry",
    "ChangeMessageVisibilityBatchResultEntryList": "ChangeMessageVisibilityBatchResultEntry",
    "DeleteMessageBatchRequestEntryList": "DeleteMessageBatchRequestEntry",
    "DeleteMessageBatchResultEntryList": "DeleteMessageBatchResultEntry",
    "ListMessageMoveTasksResultEntryList": "ListMessageMoveTasksResultEntry",
    "MessageAttributeNameList": "MessageAttributeName",
    "MessageList": "Message",
    "MessageSystemAttributeList": "MessageSystemAttributeName",
    "QueueUrlList": "QueueUrl",
    "SendMessageBatchRequestEntryList": "SendMessageBatchRequestEntry",
    "SendMessageBatchResultEntryList": "SendMessageBatchResultEntry",
    "TagKeyList": "TagKey",
}
# Map shape: (name of each entry, name of its key, name of its value).
MAP_NAMES = {
    "QueueAttributeMap": ("Attribute", "Name", "Value"),
    "MessageSystemAttributeMap": ("Attribute", "Name", "Value"),
    "MessageBodyAttributeMap": ("MessageAttribute", "Name", "Value"),
    "MessageBodySystemAttributeMap": ("MessageSystemAttribute", "Name", "Value"),
    "TagMap": ("Tag", "Key", "Value"),
}
# The codes Amazon SQS sends in the Query protocol where they differ from
# the exception shape's name.
QUERY_ERROR_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
}


def query_model(model: dict[str, Any]) -> dict[str, Any]:
    """Return the SQS service model rewritten for the Query protocol."""
    query = copy.deepcopy(model)
    metadata = query["metadata"]
    for key in ("jsonVersion", "targetPrefix", "awsQueryCompatible"):
        metadata.pop(key, None)
    metadata["protocol"] = "query"
    metadata["protocols"] = ["query"]
    metadata["xmlNamespace"] = "http://queue.amazonaws.com/doc/2012-11-05/"

    for name, operation in query["operations"].items():
        if "output" in operation:
            operation["output"]["resultWrapper"] = f"{name}Result"

    shapes = query["shapes"]
    for shape_name, member_name in LIST_MEMBER_NAMES.items():
        shapes[shape_name]["member"]["locationName"] = member_name
    for shape_name, (_, key, value) in MAP_NAMES.items():
        shapes[shape_name]["key"]["locationName"] = key
        shapes[shape_name]["value"]["locationName"] = value
    for shape in shapes.values():
        for member in shape.get("members", {}).values():
            if member["shape"] in MAP_NAMES:
                member["locationName"] = MAP_NAMES[member["shape"]][0]
    for shape_name, code in QUERY_ERROR_CODES.items():
        shapes[shape_name]["error"] = {
            "code": code,
            "httpStatusCode": 400,
            "senderFault": True,
        }
    return query


@pytest.fixture(scope="module")
def query_sqs(
    sqs_server: ThreadedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A botocore SQS client that speaks the Query protocol."""
    installed = botocore.session.get_session().get_component("data_loader")
    model = installed.load_service_model("sqs", "service-2")
    models = Path(tmp_path_factory.mktemp("models"))
    version_dir = models / "sqs" / model["metadata"]["apiVersion"]
    version_dir.mkdir(parents=True)
    (version_dir / "service-2.json").write_text(json.dumps(query_model(model)))

    # A fresh session, because loaders cache the models they have read.
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(models))

    client = session.create_client(
        "sqs",
        endpoint_url=sqs_server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="secret",
        config=NO_RETRIES,
    )
    assert client.meta.service_model.protocol == "query"
    yield client
    client.close()


def test_botocore_query_queue_round_trip(query_sqs: Any) -> None:
    name = unique("botoquery")

    url = query_sqs.create_queue(
        QueueName=name, Attributes={"DelaySeconds": "0"}, tags={"team": "core"}
    )["QueueUrl"]
    found = query_sqs.get_queue_url(QueueName=name)["QueueUrl"]
    listed = query_sqs.list_queues(QueueNamePrefix=name)["QueueUrls"]
    attributes = query_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    tags = query_sqs.list_queue_tags(QueueUrl=url)["Tags"]

    assert found == url
    assert listed == [url]
    assert attributes["Attributes"]["VisibilityTimeout"] == "30"
    assert attributes["Attributes"]["QueueArn"].endswith(":" + name)
    assert tags == {"team": "core"}


def test_botocore_query_messages(query_sqs: Any) -> None:
    url = query_sqs.create_queue(QueueName=unique("botoquery"))["QueueUrl"]
    attributes = {
        "attribName1": {"DataType": "String", "StringValue": "attribValue 1"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
    }

    sent = query_sqs.send_message(
        QueueUrl=url, MessageBody="query body", MessageAttributes=attributes
    )
    [message] = query_sqs.receive_message(
        QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    query_sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "query body"
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"


def test_botocore_query_batch(query_sqs: Any) -> None:
    url = query_sqs.create_queue(QueueName=unique("botoquery"))["QueueUrl"]

    reply = query_sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "MessageBody": "ok"},
            {
                "Id": "bad",
                "MessageBody": "x",
                "MessageAttributes": {
                    "n": {"DataType": "Number", "StringValue": "nan?"}
                },
            },
        ],
    )

    assert [entry["Id"] for entry in reply["Successful"]] == ["good"]
    [failed] = reply["Failed"]
    assert failed["Id"] == "bad"
    assert failed["SenderFault"] is True
    assert failed["Code"] == "InvalidParameterValue"


def test_botocore_query_modeled_errors(query_sqs: Any) -> None:
    url = query_sqs.create_queue(QueueName=unique("botoquery"))["QueueUrl"]

    with pytest.raises(query_sqs.exceptions.QueueDoesNotExist):
        query_sqs.get_queue_url(QueueName=unique("missing"))
    with pytest.raises(query_sqs.exceptions.EmptyBatchRequest):
        query_sqs.send_message_batch(QueueUrl=url, Entries=[])
    with pytest.raises(query_sqs.exceptions.BatchEntryIdsNotDistinct):
        query_sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": "a", "ReceiptHandle": "h"},
                {"Id": "a", "ReceiptHandle": "h"},
            ],
        )
