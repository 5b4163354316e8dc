"""SQS queue actions through boto3 (JSON protocol) against a live sqs_server."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqs_support import send, sqs_client, start_server, unique

from nanoqueue.config import Config
from nanoqueue.http.app import create_app
from nanoqueue.http.errors import unmatched
from nanoqueue.queues.service import QueueService
from nanoqueue.scripting.engine import ScriptEngine

ACCOUNT = "000000000000"


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    code: str = error.value.response["Error"]["Code"]
    return code


def raw_json(
    url: str, target: str, body: object, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        url + "/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AmazonSQS.{target}",
            **(headers or {}),
        },
    )
    status, reply_headers, reply = send(request)
    return status, reply_headers, json.loads(reply)


# CreateQueue and GetQueueUrl


def test_create_queue_returns_queue_url(sqs_server: Any, sqs: Any) -> None:
    name = unique()

    url = sqs.create_queue(QueueName=name)["QueueUrl"]

    assert url == f"{sqs_server.url}/{ACCOUNT}/{name}"


def test_create_queue_twice_same_attributes(sqs: Any) -> None:
    name = unique()
    attributes = {"VisibilityTimeout": "45", "DelaySeconds": "2"}

    first = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    second = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]

    assert second == first


def test_create_queue_twice_other_attributes(sqs: Any) -> None:
    name = unique()
    sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})

    with pytest.raises(sqs.exceptions.QueueNameExists) as error:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})

    assert error_code(error) == "QueueAlreadyExists"


@pytest.mark.parametrize(
    "name",
    ["has space", "x" * 81, "dot.name", "", "a" * 77 + ".fifo"],
)
def test_create_queue_invalid_name(sqs: Any, name: str) -> None:
    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName=name)

    assert error_code(error) in ("InvalidParameterValue", "MissingParameter")


def test_create_fifo_name_needs_attribute(sqs: Any) -> None:
    name = unique() + ".fifo"

    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName=name)
    created = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})

    assert error_code(error) == "InvalidParameterValue"
    assert "FifoQueue=true" in error.value.response["Error"]["Message"]
    assert created["QueueUrl"].endswith(f"/{name}")


def test_create_queue_longest_name(sqs: Any) -> None:
    name = unique("n") + "x" * 64
    name = name[:80]

    url = sqs.create_queue(QueueName=name)["QueueUrl"]

    assert url.endswith("/" + name)


def test_create_queue_invalid_attribute(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.create_queue(QueueName=unique(), Attributes={"Colour": "blue"})

    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName=unique(), Attributes={"VisibilityTimeout": "43201"})
    assert error_code(error) == "InvalidAttributeValue"


def test_get_queue_url_finds_queue(sqs: Any) -> None:
    name = unique()
    created = sqs.create_queue(QueueName=name)["QueueUrl"]

    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == created


def test_get_queue_url_other_owner(sqs: Any) -> None:
    name = unique()
    sqs.create_queue(QueueName=name)

    found = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=ACCOUNT)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="111122223333")

    assert found["QueueUrl"].endswith(f"/{ACCOUNT}/{name}")


def test_get_queue_url_missing_queue(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as error:
        sqs.get_queue_url(QueueName=unique("missing"))

    assert error_code(error) == "AWS.SimpleQueueService.NonExistentQueue"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_json_error_has_type_and_query_header(sqs_server: Any) -> None:
    status, headers, body = raw_json(
        sqs_server.url, "GetQueueUrl", {"QueueName": unique("missing")}
    )

    assert status == 400
    assert body["__type"] == "com.amazonaws.sqs#QueueDoesNotExist"
    assert "does not exist" in body["message"]
    assert (
        headers["x-amzn-query-error"]
        == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    )
    assert headers["Content-Type"].startswith("application/x-amz-json-1.0")
    assert headers["x-amzn-RequestId"]


def test_missing_parameter_error(sqs_server: Any) -> None:
    status, headers, body = raw_json(sqs_server.url, "CreateQueue", {})

    assert status == 400
    assert body["__type"] == "com.amazonaws.sqs#MissingParameter"
    assert headers["x-amzn-query-error"] == "MissingParameter;Sender"


def test_unknown_action_error(sqs_server: Any) -> None:
    status, headers, body = raw_json(sqs_server.url, "FlyToTheMoon", {})

    assert status == 400
    assert headers["x-amzn-query-error"] == "InvalidAction;Sender"
    assert "FlyToTheMoon" in body["message"]


def test_malformed_json_body(sqs_server: Any) -> None:
    request = urllib.request.Request(
        sqs_server.url + "/",
        data=b"{not json",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "AmazonSQS.ListQueues",
        },
    )
    status, _, body = send(request)

    assert status == 400
    assert json.loads(body)["__type"].startswith("com.amazonaws.sqs#")


# Queue URLs and regions


def test_queue_url_follows_host_header(sqs_server: Any) -> None:
    name = unique()

    _, _, body = raw_json(
        sqs_server.url, "CreateQueue", {"QueueName": name}, {"Host": "queues.test:9999"}
    )

    assert body["QueueUrl"] == f"http://queues.test:9999/{ACCOUNT}/{name}"


def test_queue_url_any_host_finds_queue(sqs: Any) -> None:
    name = unique()
    sqs.create_queue(QueueName=name)
    foreign_url = f"https://elsewhere.example/{ACCOUNT}/{name}"

    sqs.send_message(QueueUrl=foreign_url, MessageBody="hello")

    attributes = sqs.get_queue_attributes(
        QueueUrl=foreign_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "1"}


def test_queue_url_other_account_missing(sqs: Any) -> None:
    name = unique()
    sqs.create_queue(QueueName=name)
    other_url = f"http://127.0.0.1/111122223333/{name}"

    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as error:
        sqs.send_message(QueueUrl=other_url, MessageBody="x")

    assert "account 111122223333" in str(error.value)
    attributes = sqs.get_queue_attributes(
        QueueUrl=f"http://127.0.0.1/{ACCOUNT}/{name}",
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0"}


def test_queue_url_without_path_invalid(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.InvalidAddress):
        sqs.send_message(QueueUrl="http://127.0.0.1/", MessageBody="x")


def test_public_url_sets_queue_urls() -> None:
    public = start_server(
        public_url="https://sqs.example.test:8443/", account_id="123456789012"
    )
    try:
        client = sqs_client(public)
        name = unique()

        url = client.create_queue(QueueName=name)["QueueUrl"]
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])

        assert url == f"https://sqs.example.test:8443/123456789012/{name}"
        assert (
            arn["Attributes"]["QueueArn"]
            == f"arn:aws:sqs:us-east-1:123456789012:{name}"
        )
    finally:
        public.stop()


def test_regions_keep_separate_queues(sqs_server: Any, sqs: Any) -> None:
    europe = sqs_client(sqs_server, region="eu-west-1")
    name = unique("regional")

    url = europe.create_queue(QueueName=name)["QueueUrl"]
    arn = europe.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])

    assert arn["Attributes"]["QueueArn"] == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{name}"
    assert europe.list_queues(QueueNamePrefix=name)["QueueUrls"] == [url]
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=name)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)


# ListQueues


def test_list_queues_by_prefix(sqs: Any) -> None:
    prefix = unique("list")
    urls = sorted(
        sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(3)
    )
    sqs.create_queue(QueueName=unique("other"))

    listed = sqs.list_queues(QueueNamePrefix=prefix)

    assert sorted(listed["QueueUrls"]) == urls
    assert "NextToken" not in listed


def test_list_queues_empty_has_no_urls(sqs: Any) -> None:
    listed = sqs.list_queues(QueueNamePrefix=unique("nothing"))

    assert "QueueUrls" not in listed


def test_list_queues_pages_with_next_token(sqs: Any) -> None:
    prefix = unique("page")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        sqs.create_queue(QueueName=name)

    first = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    second = sqs.list_queues(
        QueueNamePrefix=prefix, MaxResults=2, NextToken=first["NextToken"]
    )
    third = sqs.list_queues(
        QueueNamePrefix=prefix, MaxResults=2, NextToken=second["NextToken"]
    )

    pages = [first["QueueUrls"], second["QueueUrls"], third["QueueUrls"]]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [url.rsplit("/", 1)[1] for page in pages for url in page] == names
    assert "NextToken" not in third


def test_list_queues_paginator(sqs: Any) -> None:
    prefix = unique("paginator")
    for i in range(3):
        sqs.create_queue(QueueName=f"{prefix}-{i}")

    pages = sqs.get_paginator("list_queues").paginate(
        QueueNamePrefix=prefix, PaginationConfig={"PageSize": 1}
    )

    assert sum(len(page["QueueUrls"]) for page in pages) == 3


def test_list_queues_bad_max_results(sqs: Any) -> None:
    with pytest.raises(ClientError) as error:
        sqs.list_queues(MaxResults=1001)

    assert error_code(error) == "InvalidParameterValue"


def test_list_queues_bad_next_token(sqs: Any) -> None:
    with pytest.raises(ClientError) as error:
        sqs.list_queues(MaxResults=1, NextToken="!!not-a-token!!")

    assert error_code(error) == "InvalidParameterValue"


# DeleteQueue and PurgeQueue


def test_delete_queue_removes_queue(sqs: Any) -> None:
    name = unique()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]

    sqs.delete_queue(QueueUrl=url)

    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.delete_queue(QueueUrl=url)


def test_purge_queue_deletes_messages(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")

    sqs.purge_queue(QueueUrl=url)

    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as error:
        sqs.purge_queue(QueueUrl=url)
    assert error_code(error) == "AWS.SimpleQueueService.PurgeQueueInProgress"


# GetQueueAttributes and SetQueueAttributes


def test_get_queue_attributes_all_defaults(sqs_server: Any, sqs: Any) -> None:
    name = unique()
    before = int(time.time())
    url = sqs.create_queue(QueueName=name)["QueueUrl"]

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]

    created = int(attributes.pop("CreatedTimestamp"))
    modified = int(attributes.pop("LastModifiedTimestamp"))
    assert before <= created <= int(time.time())
    assert modified == created
    assert attributes == {
        "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}",
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
        "VisibilityTimeout": "30",
        "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600",
        "DelaySeconds": "0",
        "ReceiveMessageWaitTimeSeconds": "0",
        "SqsManagedSseEnabled": "true",
    }


def test_get_queue_attributes_selected_names(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique(), Attributes={"DelaySeconds": "5"})[
        "QueueUrl"
    ]

    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["DelaySeconds", "VisibilityTimeout"]
    )["Attributes"]

    assert attributes == {"DelaySeconds": "5", "VisibilityTimeout": "30"}


def test_get_queue_attributes_no_names_empty(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]

    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)


def test_get_queue_attributes_unknown_name(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]

    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Colour"])


def test_get_queue_attributes_counts_messages(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=600)
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]

    assert attributes["ApproximateNumberOfMessages"] == "1"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_set_queue_attributes_changes_values(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]

    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "VisibilityTimeout": "0",
            "MessageRetentionPeriod": "60",
            "ReceiveMessageWaitTimeSeconds": "20",
            "MaximumMessageSize": "1024",
        },
    )

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "0"
    assert attributes["MessageRetentionPeriod"] == "60"
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "20"
    assert attributes["MaximumMessageSize"] == "1024"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VisibilityTimeout", "43201"),
        ("DelaySeconds", "901"),
        ("MessageRetentionPeriod", "59"),
        ("MaximumMessageSize", "1023"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
        ("VisibilityTimeout", "soon"),
    ],
)
def test_set_queue_attributes_out_of_bounds(sqs: Any, name: str, value: str) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]

    with pytest.raises(sqs.exceptions.InvalidAttributeValue):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})


def test_set_queue_attributes_read_only(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]

    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"QueueArn": "arn:x"})


def test_redrive_policy_is_json_string(sqs: Any) -> None:
    dlq_name = unique("dlq")
    dlq = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4})
    allow = json.dumps({"redrivePermission": "allowAll"})

    url = sqs.create_queue(QueueName=unique(), Attributes={"RedrivePolicy": policy})[
        "QueueUrl"
    ]
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": allow})

    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["RedrivePolicy"]
    )
    returned = attributes["Attributes"]["RedrivePolicy"]
    assert json.loads(returned) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 4,
    }
    allowed = sqs.get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["RedriveAllowPolicy"]
    )
    assert json.loads(allowed["Attributes"]["RedriveAllowPolicy"]) == {
        "redrivePermission": "allowAll"
    }


def test_fifo_queue_attributes(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName=unique() + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"
    ]

    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    assert attributes["DeduplicationScope"] == "queue"
    assert attributes["FifoThroughputLimit"] == "perQueue"


def test_fifo_name_needs_fifo_attribute(sqs: Any) -> None:
    with pytest.raises(ClientError) as error:
        sqs.create_queue(QueueName=unique(), Attributes={"FifoQueue": "true"})

    assert error_code(error) in ("InvalidParameterValue", "InvalidAttributeValue")


# Tags and permissions


def test_tag_queue_and_list_tags(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique(), tags={"team": "core"})["QueueUrl"]

    sqs.tag_queue(QueueUrl=url, Tags={"env": "test", "team": "queues"})

    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {
        "team": "queues",
        "env": "test",
    }


def test_tag_queue_over_limit(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(50)})

    with pytest.raises(sqs.exceptions.OverLimit) as error:
        sqs.tag_queue(QueueUrl=url, Tags={"one-too-many": "v"})

    assert error_code(error) == "OverLimit"


def test_untag_queue_removes_keys(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique(), tags={"a": "1", "b": "2"})["QueueUrl"]

    sqs.untag_queue(QueueUrl=url, TagKeys=["a"])

    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"b": "2"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["b"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)


def test_add_permission_stored_in_policy(sqs: Any) -> None:
    name = unique()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]

    sqs.add_permission(
        QueueUrl=url,
        Label="send-from-partner",
        AWSAccountIds=["111122223333"],
        Actions=["SendMessage", "GetQueueUrl"],
    )

    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"][
            "Policy"
        ]
    )
    [statement] = policy["Statement"]
    assert statement["Sid"] == "send-from-partner"
    assert statement["Resource"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"
    assert sorted(statement["Action"]) == ["SQS:GetQueueUrl", "SQS:SendMessage"]
    assert "111122223333" in json.dumps(statement["Principal"])


def test_remove_permission_clears_statement(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    sqs.add_permission(
        QueueUrl=url, Label="l1", AWSAccountIds=["111122223333"], Actions=["*"]
    )

    sqs.remove_permission(QueueUrl=url, Label="l1")

    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    policy = attributes.get("Attributes", {}).get("Policy")
    assert policy is None or json.loads(policy).get("Statement", []) == []
    with pytest.raises(ClientError) as error:
        sqs.remove_permission(QueueUrl=url, Label="l1")
    assert error_code(error) == "InvalidParameterValue"


def test_add_permission_missing_actions(sqs: Any, sqs_server: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]

    status, headers, _ = raw_json(
        sqs_server.url,
        "AddPermission",
        {"QueueUrl": url, "Label": "x", "AWSAccountIds": ["1"]},
    )

    assert status == 400
    assert headers["x-amzn-query-error"] == "MissingParameter;Sender"


# The native API shares the port


def test_openapi_documents_every_route(sqs_server: Any) -> None:
    with urllib.request.urlopen(
        sqs_server.url + "/openapi.json", timeout=30
    ) as response:
        paths = json.loads(response.read())["paths"]
    app = create_app(Config(), ScriptEngine(), QueueService(ScriptEngine()))

    for resource in app.router.resources():
        if any(route.handler is unmatched for route in resource):
            continue
        info = resource.get_info()
        path = info.get("formatter") or info.get("path")
        assert path in paths, path
        for route in resource:
            if route.method != "HEAD":
                assert route.method.lower() in paths[path], (route.method, path)


def test_native_api_still_served(sqs_server: Any) -> None:
    with urllib.request.urlopen(
        sqs_server.url + "/openapi.json", timeout=30
    ) as response:
        document = json.loads(response.read())

    assert "/" in document["paths"]
    assert "post" in document["paths"]["/{account_id}/{queue_name}"]
    with urllib.request.urlopen(sqs_server.url + "/queues", timeout=30) as response:
        assert response.status == 200
