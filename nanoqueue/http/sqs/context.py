"""The request context of SQS actions: service, region, account and queue URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from nanoqueue.http.sqs.errors import InvalidAddress
from nanoqueue.http.sqs.params import Params, optional_string
from nanoqueue.queues.errors import MissingParameter, QueueDoesNotExist
from nanoqueue.queues.model import parse_queue_arn, queue_arn
from nanoqueue.queues.service import QueueService


@dataclass(frozen=True)
class ActionContext:
    """The service, region and account of one request, and its base URL.

    `base_url` is `scheme://host[:port]` as the client addressed the server,
    or the configured public URL. `path_account` and `path_queue` are the
    account and queue of the request path (`/ACCOUNT_ID/QUEUE_NAME`), if any.
    """

    service: QueueService
    region: str
    account_id: str
    base_url: str
    path_queue: str | None = None
    path_account: str | None = None

    def queue_url(self, name: str) -> str:
        return f"{self.base_url}/{self.account_id}/{name}"

    def queue_arn(self, name: str) -> str:
        return queue_arn(self.region, self.account_id, name)

    def queue_name(self, params: Params) -> str:
        """Return the queue a request addresses, by QueueUrl or by its path.

        The queue is the last path segment of QueueUrl, whatever its host, so
        URLs stay valid when clients reach the server by another name. A
        URL or path with another account ID than the server's raises
        QueueDoesNotExist, as GetQueueUrl does for that account.
        """
        url = optional_string(params, "QueueUrl")
        if url:
            account, name = queue_from_url(url)
        elif self.path_queue is not None:
            account, name = self.path_account, self.path_queue
        else:
            raise MissingParameter("The request must contain the parameter QueueUrl.")
        if account is not None and account != self.account_id:
            raise QueueDoesNotExist(
                f"The specified queue {name} does not exist for account {account}; "
                f"this endpoint serves account {self.account_id}."
            )
        return name

    def queue_from_arn(self, arn: str, parameter: str) -> tuple[str, str]:
        """Return (region, name) of a queue ARN, raising InvalidAddress if malformed."""
        try:
            region, _, name = parse_queue_arn(arn)
        except ValueError as exc:
            raise InvalidAddress(
                f"Value {arn} for parameter {parameter} is invalid. "
                "Reason: must be a queue ARN, arn:aws:sqs:REGION:ACCOUNT_ID:QUEUE_NAME."
            ) from exc
        return region, name


def queue_from_url(url: str) -> tuple[str | None, str]:
    """Return the account ID and the queue name of a queue URL.

    The account is the segment before the name when it has twelve digits,
    else None.
    """
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    if not segments:
        raise InvalidAddress(
            f"The address {url} is not valid for this endpoint; "
            "use the QueueUrl that CreateQueue or GetQueueUrl returned."
        )
    account = segments[-2] if len(segments) >= 2 else None
    if account is not None and not (
        len(account) == 12 and account.isascii() and account.isdigit()
    ):
        account = None
    return account, segments[-1]
