"""The no-op peer: an aiohttp app that returns a fixed reply to every request.

It is the ceiling of nanoqueue's HTTP stack (aiohttp on one event loop, one
core), so each nanoqueue figure is also stated as a fraction of it. It runs
on the same event loop as `nanoqueue serve`: uvloop where it is installed,
else asyncio's default loop. Every reply carries one message in both the
native and the SQS JSON shape, so the same receive and delete loop drives it
as drives a real queue.
"""

from __future__ import annotations

import argparse

from aiohttp import web

from benchmarks.harness.eventloop import new_event_loop

REPLY = (
    b'{"id":"0","md5_of_body":"0","MessageId":"0","MD5OfMessageBody":"0",'
    b'"messages":[{"id":"0","body":"x","receipt_handle":"noop"}],'
    b'"Messages":[{"MessageId":"0","Body":"x","ReceiptHandle":"noop"}]}'
)


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=REPLY, content_type="application/json")


def create_app() -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    web.run_app(
        create_app(),
        host=options.host,
        port=options.port,
        access_log=None,
        print=None,
        loop=new_event_loop(),
    )


if __name__ == "__main__":
    main()
