"""Queue tags and the Policy documents AddPermission and RemovePermission edit."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from nanoqueue.queues.errors import (
    InvalidParameterValue,
    MissingParameter,
    OverLimit,
)
from nanoqueue.queues.model import MAX_POLICY_BYTES

MAX_TAGS = 50
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ACCOUNT = re.compile(r"[0-9]{12}")
# Actions AddPermission grants; the batch actions come with their single
# forms, as in SQS.
PERMISSION_ACTIONS = frozenset(
    {
        "*",
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
        "ListQueueTags",
    }
)


def merge_tags(
    current: Mapping[str, str], changes: Mapping[str, str]
) -> dict[str, str]:
    """Return `current` with `changes` added, after checking SQS's tag rules."""
    for key, value in changes.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_KEY_LENGTH:
            raise InvalidParameterValue(
                f"invalid tag key {key!r}; use 1 to {MAX_TAG_KEY_LENGTH} characters"
            )
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue(
                f"tag key {key!r} uses the reserved prefix aws:; choose another key"
            )
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE_LENGTH:
            raise InvalidParameterValue(
                f"invalid value for tag {key!r}; use up to "
                f"{MAX_TAG_VALUE_LENGTH} characters"
            )
    merged = {**current, **changes}
    if len(merged) > MAX_TAGS:
        raise OverLimit(
            f"the queue would have {len(merged)} tags; the maximum is {MAX_TAGS}"
        )
    return merged


def add_statement(
    policy: str | None,
    queue_arn: str,
    label: str,
    account_ids: Sequence[str],
    actions: Sequence[str],
) -> str:
    """Return `policy` with an Allow statement for `account_ids` labelled `label`.

    Raises InvalidParameterValue for a bad or taken label, account or action
    and OverLimit when the policy would pass SQS's 20 KiB limit.
    """
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise InvalidParameterValue(
            f"invalid permission label {label!r}; use 1 to 80 letters, digits, "
            "hyphens and underscores"
        )
    if not account_ids:
        raise MissingParameter("AddPermission needs at least one AWSAccountId")
    if not actions:
        raise MissingParameter("AddPermission needs at least one ActionName")
    for account in account_ids:
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            raise InvalidParameterValue(
                f"invalid AWS account ID {account!r}; use 12 digits"
            )
    for action in actions:
        if action not in PERMISSION_ACTIONS:
            raise InvalidParameterValue(
                f"invalid action name {action!r}; use one of "
                + ", ".join(sorted(PERMISSION_ACTIONS))
            )
    document = _load(policy, queue_arn)
    statements: list[dict[str, Any]] = document["Statement"]
    if any(statement.get("Sid") == label for statement in statements):
        raise InvalidParameterValue(
            f"a permission labelled {label!r} exists already; remove it first or "
            "choose another label"
        )
    principals = [f"arn:aws:iam::{account}:root" for account in account_ids]
    granted = [f"SQS:{action}" for action in actions]
    statements.append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
            "Action": granted[0] if len(granted) == 1 else granted,
            "Resource": queue_arn,
        }
    )
    text = orjson.dumps(document).decode()
    if len(text) > MAX_POLICY_BYTES:
        raise OverLimit(
            f"the queue policy would be {len(text)} bytes long; the maximum is "
            f"{MAX_POLICY_BYTES}"
        )
    return text


def remove_statement(policy: str | None, queue_arn: str, label: str) -> str | None:
    """Return `policy` without the statement labelled `label`, or None when empty.

    Raises InvalidParameterValue when no statement has that label.
    """
    document = _load(policy, queue_arn)
    statements = document["Statement"]
    kept = [statement for statement in statements if statement.get("Sid") != label]
    if len(kept) == len(statements):
        raise InvalidParameterValue(f"the queue has no permission labelled {label!r}")
    if not kept:
        return None
    document["Statement"] = kept
    return orjson.dumps(document).decode()


def _load(policy: str | None, queue_arn: str) -> dict[str, Any]:
    if policy is None:
        return {
            "Version": "2012-10-17",
            "Id": f"{queue_arn}/SQSDefaultPolicy",
            "Statement": [],
        }
    document = orjson.loads(policy)
    statement = document.get("Statement", [])
    if isinstance(statement, dict):
        statement = [statement]
    document["Statement"] = list(statement)
    return dict(document)
