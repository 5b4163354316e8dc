"""The SQS Query protocol: form-encoded requests and XML replies."""

from __future__ import annotations

import base64
import hashlib
import http.client
import urllib.parse
import urllib.request
from typing import Any

from sqs_support import XML_NS, query, send, unique

ACCOUNT = "000000000000"


def create(sqs_server: Any, name: str, **params: str) -> str:
    reply = query(sqs_server, "CreateQueue", {"QueueName": name, **params})
    assert reply.status == 200, reply
    url = reply.text("sqs:CreateQueueResult/sqs:QueueUrl")
    assert url is not None
    return url


def test_query_create_queue_xml(sqs_server: Any) -> None:
    name = unique()

    reply = query(
        sqs_server,
        "CreateQueue",
        {
            "QueueName": name,
            "Attribute.1.Name": "VisibilityTimeout",
            "Attribute.1.Value": "7",
        },
    )

    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/xml")
    assert (
        reply.root.tag
        == "{http://queue.amazonaws.com/doc/2012-11-05/}CreateQueueResponse"
    )
    assert (
        reply.text("sqs:CreateQueueResult/sqs:QueueUrl")
        == f"{sqs_server.url}/{ACCOUNT}/{name}"
    )
    assert reply.text("sqs:ResponseMetadata/sqs:RequestId")


def test_query_get_request(sqs_server: Any) -> None:
    name = unique()
    create(sqs_server, name)

    reply = query(sqs_server, "GetQueueUrl", {"QueueName": name}, method="GET")

    assert reply.status == 200
    assert (
        reply.text("sqs:GetQueueUrlResult/sqs:QueueUrl")
        == f"{sqs_server.url}/{ACCOUNT}/{name}"
    )


def test_query_error_response(sqs_server: Any) -> None:
    reply = query(sqs_server, "GetQueueUrl", {"QueueName": unique("missing")})

    assert reply.status == 400
    assert reply.root.tag == "{http://queue.amazonaws.com/doc/2012-11-05/}ErrorResponse"
    assert reply.text("sqs:Error/sqs:Type") == "Sender"
    assert reply.error_code == "AWS.SimpleQueueService.NonExistentQueue"
    assert "does not exist" in (reply.text("sqs:Error/sqs:Message") or "")
    assert reply.text("sqs:RequestId")


def test_query_rejects_invalid_utf8(sqs_server: Any) -> None:
    url = create(sqs_server, unique("utf8"))
    quoted = urllib.parse.quote(url)
    form = f"Action=SendMessage&QueueUrl={quoted}&MessageBody=%FF%FE"
    request = urllib.request.Request(
        sqs_server.url + "/",
        data=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    status, _, body = send(request)

    assert status == 400
    assert b"MalformedQueryString" in body
    assert b"not valid UTF-8" in body


def test_query_missing_action(sqs_server: Any) -> None:
    reply = query(sqs_server, "")

    assert reply.status == 400
    assert reply.error_code == "MissingAction"


def test_query_unknown_action(sqs_server: Any) -> None:
    reply = query(sqs_server, "FlyToTheMoon")

    assert reply.status == 400
    assert reply.error_code == "InvalidAction"


def test_query_queue_already_exists(sqs_server: Any) -> None:
    name = unique()
    create(
        sqs_server,
        name,
        **{"Attribute.1.Name": "DelaySeconds", "Attribute.1.Value": "1"},
    )

    reply = query(
        sqs_server,
        "CreateQueue",
        {
            "QueueName": name,
            "Attribute.1.Name": "DelaySeconds",
            "Attribute.1.Value": "2",
        },
    )

    assert reply.status == 400
    assert reply.error_code == "QueueAlreadyExists"


def test_query_send_and_receive_with_attributes(sqs_server: Any) -> None:
    url = create(sqs_server, unique())
    blob = base64.b64encode(b"\x00\xffbin").decode()

    sent = query(
        sqs_server,
        "SendMessage",
        {
            "QueueUrl": url,
            "MessageBody": "line one\r\nline two & <three>",
            "MessageAttribute.1.Name": "attribName1",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "attribValue 1",
            "MessageAttribute.2.Name": "blob",
            "MessageAttribute.2.Value.DataType": "Binary",
            "MessageAttribute.2.Value.BinaryValue": blob,
        },
    )
    assert sent.status == 200, sent
    assert (
        sent.text("sqs:SendMessageResult/sqs:MD5OfMessageBody")
        == hashlib.md5(b"line one\r\nline two & <three>").hexdigest()
    )
    assert sent.text("sqs:SendMessageResult/sqs:MessageId")
    assert sent.text("sqs:SendMessageResult/sqs:MD5OfMessageAttributes")

    received = query(
        sqs_server,
        "ReceiveMessage",
        {"QueueUrl": url, "AttributeName.1": "All", "MessageAttributeName.1": "All"},
    )
    [message] = received.findall("sqs:ReceiveMessageResult/sqs:Message")
    assert (
        message.findtext("sqs:Body", namespaces=XML_NS)
        == "line one\r\nline two & <three>"
    )
    assert message.findtext("sqs:ReceiptHandle", namespaces=XML_NS)
    system = {
        item.findtext("sqs:Name", namespaces=XML_NS): item.findtext(
            "sqs:Value", namespaces=XML_NS
        )
        for item in message.findall("sqs:Attribute", XML_NS)
    }
    assert system["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in system
    attributes = {
        item.findtext("sqs:Name", namespaces=XML_NS): item.find("sqs:Value", XML_NS)
        for item in message.findall("sqs:MessageAttribute", XML_NS)
    }
    text_value = attributes["attribName1"]
    binary_value = attributes["blob"]
    assert text_value is not None and binary_value is not None
    assert text_value.findtext("sqs:StringValue", namespaces=XML_NS) == "attribValue 1"
    assert text_value.findtext("sqs:DataType", namespaces=XML_NS) == "String"
    assert binary_value.findtext("sqs:BinaryValue", namespaces=XML_NS) == blob
    expected = sent.text("sqs:SendMessageResult/sqs:MD5OfMessageAttributes")
    assert message.findtext("sqs:MD5OfMessageAttributes", namespaces=XML_NS) == expected


def test_query_known_md5_of_attributes(sqs_server: Any) -> None:
    url = create(sqs_server, unique())

    sent = query(
        sqs_server,
        "SendMessage",
        {
            "QueueUrl": url,
            "MessageBody": "x",
            "MessageAttribute.1.Name": "attribName1",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "attribValue 1",
        },
    )

    assert (
        sent.text("sqs:SendMessageResult/sqs:MD5OfMessageAttributes")
        == "19e27d4e946b072f3f58da80d94fd778"
    )


def test_query_no_attributes_no_md5(sqs_server: Any) -> None:
    url = create(sqs_server, unique())

    sent = query(sqs_server, "SendMessage", {"QueueUrl": url, "MessageBody": "x"})
    received = query(
        sqs_server, "ReceiveMessage", {"QueueUrl": url, "MessageAttributeName.1": "All"}
    )

    assert sent.find("sqs:SendMessageResult/sqs:MD5OfMessageAttributes") is None
    assert (
        received.find("sqs:ReceiveMessageResult/sqs:Message/sqs:MD5OfMessageAttributes")
        is None
    )


def test_query_addressed_by_queue_path(sqs_server: Any) -> None:
    name = unique()
    create(sqs_server, name)

    sent = query(
        sqs_server, "SendMessage", {"MessageBody": "by path"}, path=f"/{ACCOUNT}/{name}"
    )
    received = query(sqs_server, "ReceiveMessage", {}, path=f"/{ACCOUNT}/{name}")

    assert sent.status == 200, sent
    assert received.text("sqs:ReceiveMessageResult/sqs:Message/sqs:Body") == "by path"


def test_query_path_other_account_missing(sqs_server: Any) -> None:
    name = unique()
    create(sqs_server, name)

    sent = query(
        sqs_server, "SendMessage", {"MessageBody": "x"}, path=f"/111122223333/{name}"
    )

    assert sent.status == 400
    assert sent.text("sqs:Error/sqs:Code") == "AWS.SimpleQueueService.NonExistentQueue"


def test_query_get_queue_attributes(sqs_server: Any) -> None:
    url = create(sqs_server, unique())

    reply = query(
        sqs_server,
        "GetQueueAttributes",
        {
            "QueueUrl": url,
            "AttributeName.1": "VisibilityTimeout",
            "AttributeName.2": "DelaySeconds",
        },
    )

    pairs = {
        item.findtext("sqs:Name", namespaces=XML_NS): item.findtext(
            "sqs:Value", namespaces=XML_NS
        )
        for item in reply.findall("sqs:GetQueueAttributesResult/sqs:Attribute")
    }
    assert pairs == {"VisibilityTimeout": "30", "DelaySeconds": "0"}


def test_query_set_queue_attributes(sqs_server: Any) -> None:
    url = create(sqs_server, unique())

    reply = query(
        sqs_server,
        "SetQueueAttributes",
        {"QueueUrl": url, "Attribute.1.Name": "DelaySeconds", "Attribute.1.Value": "3"},
    )

    assert reply.status == 200
    assert reply.find("sqs:ResponseMetadata/sqs:RequestId") is not None
    check = query(
        sqs_server,
        "GetQueueAttributes",
        {"QueueUrl": url, "AttributeName.1": "DelaySeconds"},
    )
    assert check.text("sqs:GetQueueAttributesResult/sqs:Attribute/sqs:Value") == "3"


def test_query_list_queues(sqs_server: Any) -> None:
    prefix = unique("qlist")
    urls = [create(sqs_server, f"{prefix}-{i}") for i in range(3)]

    reply = query(
        sqs_server, "ListQueues", {"QueueNamePrefix": prefix, "MaxResults": "2"}
    )
    token = reply.text("sqs:ListQueuesResult/sqs:NextToken")
    rest = query(
        sqs_server,
        "ListQueues",
        {"QueueNamePrefix": prefix, "MaxResults": "2", "NextToken": token or ""},
    )

    first = [item.text for item in reply.findall("sqs:ListQueuesResult/sqs:QueueUrl")]
    second = [item.text for item in rest.findall("sqs:ListQueuesResult/sqs:QueueUrl")]
    assert first + second == urls


def test_query_send_batch_and_delete_batch(sqs_server: Any) -> None:
    url = create(sqs_server, unique())

    sent = query(
        sqs_server,
        "SendMessageBatch",
        {
            "QueueUrl": url,
            "SendMessageBatchRequestEntry.1.Id": "a",
            "SendMessageBatchRequestEntry.1.MessageBody": "first",
            "SendMessageBatchRequestEntry.2.Id": "b",
            "SendMessageBatchRequestEntry.2.MessageBody": "second",
            "SendMessageBatchRequestEntry.2.MessageAttribute.1.Name": "k",
            "SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType": "Number",
            "SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue": "not a number",
        },
    )
    successful = sent.findall(
        "sqs:SendMessageBatchResult/sqs:SendMessageBatchResultEntry"
    )
    failed = sent.findall("sqs:SendMessageBatchResult/sqs:BatchResultErrorEntry")
    assert [entry.findtext("sqs:Id", namespaces=XML_NS) for entry in successful] == [
        "a"
    ]
    assert [entry.findtext("sqs:Id", namespaces=XML_NS) for entry in failed] == ["b"]
    assert failed[0].findtext("sqs:SenderFault", namespaces=XML_NS) == "true"
    assert failed[0].findtext("sqs:Code", namespaces=XML_NS) == "InvalidParameterValue"

    received = query(sqs_server, "ReceiveMessage", {"QueueUrl": url})
    handle = received.text("sqs:ReceiveMessageResult/sqs:Message/sqs:ReceiptHandle")
    deleted = query(
        sqs_server,
        "DeleteMessageBatch",
        {
            "QueueUrl": url,
            "DeleteMessageBatchRequestEntry.1.Id": "d1",
            "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle or "",
        },
    )
    entries = deleted.findall(
        "sqs:DeleteMessageBatchResult/sqs:DeleteMessageBatchResultEntry"
    )
    assert [entry.findtext("sqs:Id", namespaces=XML_NS) for entry in entries] == ["d1"]


def test_query_batch_error_codes(sqs_server: Any) -> None:
    url = create(sqs_server, unique())

    empty = query(sqs_server, "SendMessageBatch", {"QueueUrl": url})
    duplicate = query(
        sqs_server,
        "ChangeMessageVisibilityBatch",
        {
            "QueueUrl": url,
            "ChangeMessageVisibilityBatchRequestEntry.1.Id": "x",
            "ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle": "h",
            "ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout": "1",
            "ChangeMessageVisibilityBatchRequestEntry.2.Id": "x",
            "ChangeMessageVisibilityBatchRequestEntry.2.ReceiptHandle": "h",
            "ChangeMessageVisibilityBatchRequestEntry.2.VisibilityTimeout": "1",
        },
    )

    assert empty.error_code == "AWS.SimpleQueueService.EmptyBatchRequest"
    assert duplicate.error_code == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


def test_query_delete_and_visibility(sqs_server: Any) -> None:
    url = create(sqs_server, unique())
    query(sqs_server, "SendMessage", {"QueueUrl": url, "MessageBody": "m"})
    handle = query(sqs_server, "ReceiveMessage", {"QueueUrl": url}).text(
        "sqs:ReceiveMessageResult/sqs:Message/sqs:ReceiptHandle"
    )
    assert handle is not None

    changed = query(
        sqs_server,
        "ChangeMessageVisibility",
        {"QueueUrl": url, "ReceiptHandle": handle, "VisibilityTimeout": "0"},
    )
    again = query(sqs_server, "ReceiveMessage", {"QueueUrl": url})
    new_handle = again.text("sqs:ReceiveMessageResult/sqs:Message/sqs:ReceiptHandle")
    deleted = query(
        sqs_server,
        "DeleteMessage",
        {"QueueUrl": url, "ReceiptHandle": new_handle or ""},
    )
    invalid = query(
        sqs_server, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": "junk"}
    )

    assert changed.status == 200
    assert deleted.status == 200
    assert invalid.error_code == "ReceiptHandleIsInvalid"


def test_query_tags(sqs_server: Any) -> None:
    url = create(sqs_server, unique(), **{"Tag.1.Key": "team", "Tag.1.Value": "core"})

    query(
        sqs_server,
        "TagQueue",
        {"QueueUrl": url, "Tag.1.Key": "env", "Tag.1.Value": "ci"},
    )
    query(sqs_server, "UntagQueue", {"QueueUrl": url, "TagKey.1": "team"})
    reply = query(sqs_server, "ListQueueTags", {"QueueUrl": url})

    tags = {
        item.findtext("sqs:Key", namespaces=XML_NS): item.findtext(
            "sqs:Value", namespaces=XML_NS
        )
        for item in reply.findall("sqs:ListQueueTagsResult/sqs:Tag")
    }
    assert tags == {"env": "ci"}


def test_query_permissions(sqs_server: Any) -> None:
    url = create(sqs_server, unique())

    added = query(
        sqs_server,
        "AddPermission",
        {
            "QueueUrl": url,
            "Label": "partner",
            "AWSAccountId.1": "111122223333",
            "ActionName.1": "SendMessage",
        },
    )
    policy = query(
        sqs_server, "GetQueueAttributes", {"QueueUrl": url, "AttributeName.1": "Policy"}
    )
    removed = query(
        sqs_server, "RemovePermission", {"QueueUrl": url, "Label": "partner"}
    )

    assert added.status == 200, added
    assert "partner" in (
        policy.text("sqs:GetQueueAttributesResult/sqs:Attribute/sqs:Value") or ""
    )
    assert removed.status == 200, removed


def test_query_purge_and_delete_queue(sqs_server: Any) -> None:
    url = create(sqs_server, unique())

    purged = query(sqs_server, "PurgeQueue", {"QueueUrl": url})
    again = query(sqs_server, "PurgeQueue", {"QueueUrl": url})
    deleted = query(sqs_server, "DeleteQueue", {"QueueUrl": url})
    missing = query(sqs_server, "DeleteQueue", {"QueueUrl": url})

    assert purged.status == 200
    assert again.error_code == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert deleted.status == 200
    assert missing.error_code == "AWS.SimpleQueueService.NonExistentQueue"


def test_query_dead_letter_sources_and_move_tasks(sqs_server: Any) -> None:
    dlq = create(sqs_server, unique("dlq"))
    dlq_arn = query(
        sqs_server,
        "GetQueueAttributes",
        {"QueueUrl": dlq, "AttributeName.1": "QueueArn"},
    ).text("sqs:GetQueueAttributesResult/sqs:Attribute/sqs:Value")
    policy = f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":2}}'
    source = create(
        sqs_server,
        unique("src"),
        **{"Attribute.1.Name": "RedrivePolicy", "Attribute.1.Value": policy},
    )

    sources = query(sqs_server, "ListDeadLetterSourceQueues", {"QueueUrl": dlq})
    started = query(sqs_server, "StartMessageMoveTask", {"SourceArn": dlq_arn or ""})
    listed = query(sqs_server, "ListMessageMoveTasks", {"SourceArn": dlq_arn or ""})

    assert [
        item.text
        for item in sources.findall("sqs:ListDeadLetterSourceQueuesResult/sqs:QueueUrl")
    ] == [source]
    assert started.text("sqs:StartMessageMoveTaskResult/sqs:TaskHandle")
    entries = listed.findall(
        "sqs:ListMessageMoveTasksResult/sqs:ListMessageMoveTasksResultEntry"
    )
    assert len(entries) == 1
    assert entries[0].findtext("sqs:SourceArn", namespaces=XML_NS) == dlq_arn


def test_query_bad_index_rejected(sqs_server: Any) -> None:
    url = create(sqs_server, unique())

    reply = query(
        sqs_server,
        "GetQueueAttributes",
        {"QueueUrl": url, "AttributeName.first": "All"},
    )

    assert reply.status == 400
    assert reply.error_code == "MalformedQueryString"


def test_query_form_without_content_type(sqs_server: Any) -> None:
    # urllib would add a form Content-Type, so this uses http.client directly.
    connection = http.client.HTTPConnection("127.0.0.1", sqs_server.port, timeout=30)
    try:
        connection.request("POST", "/", body=b"Action=ListQueues&QueueNamePrefix=none")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()

    assert response.status == 200
    assert b"<ListQueuesResponse" in body


def test_query_trace_header(sqs_server: Any) -> None:
    url = create(sqs_server, unique())
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793"

    sent = query(
        sqs_server,
        "SendMessage",
        {
            "QueueUrl": url,
            "MessageBody": "traced",
            "MessageSystemAttribute.1.Name": "AWSTraceHeader",
            "MessageSystemAttribute.1.Value.DataType": "String",
            "MessageSystemAttribute.1.Value.StringValue": trace,
        },
    )
    received = query(
        sqs_server,
        "ReceiveMessage",
        {"QueueUrl": url, "MessageSystemAttributeName.1": "AWSTraceHeader"},
    )

    def field(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    encoded = (
        field(b"AWSTraceHeader") + field(b"String") + b"\x01" + field(trace.encode())
    )
    assert sent.text("sqs:SendMessageResult/sqs:MD5OfMessageSystemAttributes") == (
        hashlib.md5(encoded).hexdigest()
    )
    attribute = received.find("sqs:ReceiveMessageResult/sqs:Message/sqs:Attribute")
    assert attribute is not None
    assert attribute.findtext("sqs:Name", namespaces=XML_NS) == "AWSTraceHeader"
    assert attribute.findtext("sqs:Value", namespaces=XML_NS) == trace
