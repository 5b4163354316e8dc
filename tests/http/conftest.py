"""Fixtures shared by the HTTP tests."""

from sqs_support import sqs, sqs_server  # noqa: F401
