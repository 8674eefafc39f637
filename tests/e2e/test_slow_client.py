"""A client that stops reading is cut off; the others keep receiving at full speed."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import socket
from collections.abc import AsyncIterator

import pytest

from hub.context import HubContext
from hub.settings import RealtimeSettings, Settings
from tests.conftest import RunningHub, Tenant, login, make_tenant, serve
from tests.panel import Panel
from workers.run import open_hub


@pytest.fixture
async def small_queue_hub(settings: Settings) -> AsyncIterator[HubContext]:
    tight = dataclasses.replace(settings, realtime=RealtimeSettings(subscriber_queue=64, resume_limit=100))
    async with open_hub(tight) as opened:
        try:
            yield opened
        finally:
            await opened.client.drop_database(settings.mongo.database)


async def test_slow_socket_is_closed_and_fast_one_gets_everything(small_queue_hub: HubContext) -> None:
    tenant: Tenant = await make_tenant("slow", "+48500100600")
    async with serve(small_queue_hub) as running:
        await run_scenario(running, tenant)


async def run_scenario(running: RunningHub, tenant: Tenant) -> None:
    token = await login(running.base, tenant.agent_email, tenant.agent_password)
    hub = running.hub
    channel = hub.bus.account_channel(tenant.account_id)
    # A client that completes the handshake and then reads nothing, with a fixed small receive
    # buffer so the kernel cannot absorb the stream either: the server's sends back up.
    port = int(running.base.rsplit(":", 1)[1])
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    slow.setblocking(False)
    await asyncio.get_running_loop().sock_connect(slow, ("127.0.0.1", port))
    # The stream reader stops reading the socket once its 64 KiB buffer is full.
    reader, writer = await asyncio.open_connection(sock=slow, limit=64 * 1024)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 101")
    async with asyncio.timeout(10):
        while hub.fanout.subscriber_count(channel) < 1:
            await asyncio.sleep(0.05)
    try:
        async with Panel(running.ws_base, token) as fast:
            blob = "x" * 100_000
            count = 300
            for i in range(count):
                payload = json.dumps({"type": "test.blob", "seq": 0, "i": i, "data": blob}).encode()
                await hub.fanout.publish(channel, payload)
                await asyncio.sleep(0.003)
            for i in range(count):
                got = await fast.next("test.blob", timeout=20)
                assert got["i"] == i
            # The server dropped the slow socket's session: only the fast one is still subscribed,
            # within the send timeout. (Nothing, not even a close frame, can reach a client that
            # stopped reading; it reconnects and resumes from MongoDB.)
            async with asyncio.timeout(20):
                while hub.fanout.subscriber_count(channel) > 1:
                    await asyncio.sleep(0.1)
            assert hub.fanout.subscriber_count(channel) == 1
            assert fast.closed_code is None
    finally:
        writer.close()
