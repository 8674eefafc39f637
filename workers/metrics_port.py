"""`hub worker`'s own `/metrics` (HUB_WORKER_METRICS_PORT): the send and forwarding counters are
kept in the process that runs the jobs, and `hub worker` serves no HTTP of its own.

A few lines of asyncio rather than prometheus-client's threaded server, which cannot check
HUB_METRICS_TOKEN and could not read the job queue's depth on this loop. It answers one GET per
connection and nothing else: the same figures and token rule as `hub serve`'s `GET /metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from hub.api.metrics import authorised, scrape
from hub.context import HubContext

log = logging.getLogger(__name__)

HEAD_LIMIT = 16 * 1024
"""The most a request's head may take; a longer one is refused."""
READ_WAIT_S = 10.0
"""How long a connection may take to send its request's head."""


def _answer(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


async def _respond(hub: HubContext, head: bytes) -> bytes:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
        return _answer("405 Method Not Allowed", b"GET /metrics only\n")
    if parts[1].split("?", 1)[0] != "/metrics":
        return _answer("404 Not Found", b"GET /metrics only\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    token = hub.settings.security.metrics_token
    if token and not authorised(headers.get("authorization", ""), token):
        return _answer("401 Unauthorized", b"send 'Authorization: Bearer <HUB_METRICS_TOKEN>'\n")
    body = await scrape(hub)
    answer = _answer("200 OK", body, CONTENT_TYPE_PLAIN_0_0_4)
    return answer[: len(answer) - len(body)] if parts[0] == "HEAD" else answer


@contextlib.asynccontextmanager
async def metrics_port(hub: HubContext) -> AsyncIterator[None]:
    """Serve `/metrics` on HUB_WORKER_METRICS_PORT while the block runs (nothing when unset)."""
    port = hub.settings.server.worker_metrics_port
    if port is None:
        yield
        return

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_WAIT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > HEAD_LIMIT:
                writer.write(_answer("431 Request Header Fields Too Large", b""))
            else:
                writer.write(await _respond(hub, head[:-4]))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # a scraper that hung up or sent no request: nothing to answer
        finally:
            writer.close()

    host = hub.settings.server.worker_metrics_host
    server = await asyncio.start_server(serve, host, port, limit=HEAD_LIMIT)
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
