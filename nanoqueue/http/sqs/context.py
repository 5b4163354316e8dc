"""The request context of SQS actions: service, region, account and queue URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from nanoqueue.http.sqs.errors import InvalidAddress
from nanoqueue.http.sqs.params import Params, optional_string
from nanoqueue.queues.errors import MissingParameter
from nanoqueue.queues.model import parse_queue_arn, queue_arn
from nanoqueue.queues.service import QueueService


@dataclass(frozen=True)
class ActionContext:
    """The service, region and account of one request, and its base URL.

    `base_url` is `scheme://host[:port]` as the client addressed the server,
    or the configured public URL. `path_queue` is the queue named by the
    request path (`/ACCOUNT_ID/QUEUE_NAME`), if any.
    """

    service: QueueService
    region: str
    account_id: str
    base_url: str
    path_queue: str | None = None

    def queue_url(self, name: str) -> str:
        return f"{self.base_url}/{self.account_id}/{name}"

    def queue_arn(self, name: str) -> str:
        return queue_arn(self.region, self.account_id, name)

    def queue_name(self, params: Params) -> str:
        """Return the queue a request addresses, by QueueUrl or by its path.

        The queue is the last path segment of QueueUrl, whatever its host, so
        URLs stay valid when clients reach the server by another name.
        """
        url = optional_string(params, "QueueUrl")
        if url:
            return queue_name_from_url(url)
        if self.path_queue is not None:
            return self.path_queue
        raise MissingParameter("The request must contain the parameter QueueUrl.")

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


def queue_name_from_url(url: str) -> str:
    segments = [segment for segment in urlsplit(url).path.split("/") if segment]
    if not segments:
        raise InvalidAddress(
            f"The address {url} is not valid for this endpoint; "
            "use the QueueUrl that CreateQueue or GetQueueUrl returned."
        )
    return segments[-1]
