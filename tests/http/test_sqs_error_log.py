"""Logging of the SQS requests that fail with a 5xx status."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import make_mocked_request

from nanoqueue.errors import LogWriteFailed
from nanoqueue.http.sqs.handler import _error_reply

LOGGER = "nanoqueue.http.sqs.handler"


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER]


def test_known_server_error_one_line(caplog: pytest.LogCaptureFixture) -> None:
    request = make_mocked_request("POST", "/")
    error = LogWriteFailed("writing the log file failed: No space left on device")

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        response = _error_reply(request, error, True, "SendMessage", "id-1")

    assert response.status == 503
    (record,) = _records(caplog)
    assert "LogWriteFailed: writing the log file failed" in record.getMessage()
    assert record.exc_info is None


def test_unexpected_error_traceback(caplog: pytest.LogCaptureFixture) -> None:
    request = make_mocked_request("POST", "/")

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        response = _error_reply(
            request, RuntimeError("bug"), True, "SendMessage", "id-2"
        )

    assert response.status == 500
    (record,) = _records(caplog)
    assert record.exc_info is not None
