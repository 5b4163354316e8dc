"""HTTP/1.1 for the raw generator: request bytes and a minimal response parser.

The parser reads the status line, the headers up to the blank line and a
Content-Length body. It rejects replies that need more than that: chunked
transfer coding, no Content-Length, or an interim (1xx) status.
"""

from __future__ import annotations

from typing import NamedTuple

from benchmarks.harness.protocols import HttpRequest

MAX_HEAD_BYTES = 64 * 1024
HEAD_CACHE_SIZE = 64


class ResponseError(Exception):
    """A response the parser cannot read: malformed, chunked or of unknown length."""


class Response(NamedTuple):
    status: int
    body: bytes
    keep_alive: bool = True


def format_request(request: HttpRequest, host: str) -> bytes:
    """Return `request` as the bytes of one HTTP/1.1 request to `host` ("host:port").

    Host and Content-Length are added unless the request's headers have them;
    keep-alive is HTTP/1.1's default, so no Connection header is sent.
    """
    for part in (request.method, request.path, *request.headers.items()):
        text = " ".join(part) if isinstance(part, tuple) else part
        if "\r" in text or "\n" in text:
            raise ValueError(f"invalid line break in request line or header {text!r}")
    present = {name.lower() for name in request.headers}
    lines = [f"{request.method} {request.path} HTTP/1.1"]
    if "host" not in present:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    if request.body is not None and "content-length" not in present:
        lines.append(f"Content-Length: {len(request.body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin-1") + (request.body or b"")


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """Return the status, body length and keep-alive of a response head.

    `head` is everything before the blank line. Raises ResponseError on a
    malformed status or header line, an interim (1xx) response, any
    Transfer-Encoding, and a missing or conflicting Content-Length.
    """
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ResponseError(f"invalid status line {lines[0][:100]!r}")
    status = int(code)
    length = -1
    # HTTP/1.1 keeps a connection open by default and HTTP/1.0 closes it,
    # unless a Connection header overrides that.
    keep_alive = version == b"HTTP/1.1"
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ResponseError(f"invalid header line {line[:100]!r}")
        name = name.strip().lower()
        value = value.strip()
        if name == b"content-length":
            if not value.isdigit() or (length >= 0 and int(value) != length):
                raise ResponseError(f"invalid Content-Length {value[:40]!r}")
            length = int(value)
        elif name == b"transfer-encoding":
            raise ResponseError(
                f"HTTP {status} response with Transfer-Encoding {value[:40]!r} "
                "rejected: the raw generator reads only bodies with a Content-Length"
            )
        elif name == b"connection":
            tokens = {token.strip() for token in value.lower().split(b",")}
            if b"close" in tokens:
                keep_alive = False
            elif b"keep-alive" in tokens:
                keep_alive = True
    if status < 200:
        raise ResponseError(f"unexpected interim response HTTP {status}")
    # RFC 9110 gives 204 and 304 responses no body, whatever their headers.
    if status in (204, 304):
        return status, 0, keep_alive
    if length < 0:
        raise ResponseError(
            f"HTTP {status} response without Content-Length rejected: "
            "the raw generator reads only bodies with a Content-Length"
        )
    return status, length, keep_alive


class ResponseParser:
    """An incremental parser of HTTP/1.1 responses with Content-Length bodies."""

    def __init__(self) -> None:
        self._pending = b""
        self._status = 0
        self._keep_alive = True
        # The body length of the response being read, or -1 while its head
        # is incomplete.
        self._body_length = -1
        # Replies to one fixed request differ mostly in their Date header,
        # which changes once a second, so nearly every head was seen before.
        self._heads: dict[bytes, tuple[int, int, bool]] = {}

    def feed(self, data: bytes) -> list[Response]:
        """Add the bytes of one read; return every response they complete.

        The bytes of an unfinished response are kept for the next call.
        Raises ResponseError as `parse_head` does, and when a head grows
        past MAX_HEAD_BYTES without its blank line.
        """
        if self._pending:
            data = self._pending + data
        responses = []
        start = 0
        while True:
            if self._body_length < 0:
                end = data.find(b"\r\n\r\n", start)
                if end < 0:
                    if len(data) - start > MAX_HEAD_BYTES:
                        raise ResponseError(
                            f"response head longer than {MAX_HEAD_BYTES} bytes"
                        )
                    break
                head = self._parse_head(data[start:end])
                self._status, self._body_length, self._keep_alive = head
                start = end + 4
            body_end = start + self._body_length
            if body_end > len(data):
                break
            body = data[start:body_end]
            responses.append(Response(self._status, body, self._keep_alive))
            start = body_end
            self._body_length = -1
        self._pending = data[start:]
        return responses

    def _parse_head(self, head: bytes) -> tuple[int, int, bool]:
        parsed = self._heads.get(head)
        if parsed is None:
            parsed = parse_head(head)
            if len(self._heads) >= HEAD_CACHE_SIZE:
                self._heads.clear()
            self._heads[head] = parsed
        return parsed
