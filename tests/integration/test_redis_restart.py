"""A Redis restarted empty loses the jobs it held: the worker finds their work again in MongoDB."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx

from hub.domain.messages import MessageStatus
from hub.settings import RedisSettings, Settings
from hub.store.conversations import Conversation
from hub.store.messages import Message
from tests.conftest import login, make_tenant, post_generic, serve
from tests.integration.test_fanout import PrivateRedis
from workers.run import open_hub


async def _status_of(text: str, wanted: MessageStatus, timeout_s: float = 30.0) -> MessageStatus | None:
    """The reply's status once it is `wanted`, or the last one seen after `timeout_s`."""
    status = None
    for _ in range(int(timeout_s / 0.1)):
        message = await Message.find_one({"text": text})
        status = message.status if message is not None else None
        if status == wanted:
            break
        await asyncio.sleep(0.1)
    return status


async def test_a_reply_stored_while_redis_was_down_is_sent_once_it_is_back(
    settings: Settings, tmp_path: Path
) -> None:
    redis = PrivateRedis(tmp_path)
    redis.start()
    local = dataclasses.replace(
        settings, redis=RedisSettings(url=redis.url, channel_prefix=settings.redis.channel_prefix)
    )
    try:
        async with (
            open_hub(local) as hub,
            serve(hub) as running,
            httpx.AsyncClient(base_url=running.base) as c,
        ):
            tenant = await make_tenant("outage", "+48500100777")
            token = await login(running.base, tenant.agent_email, tenant.agent_password)
            auth = {"Authorization": f"Bearer {token}"}
            phone = "+48600100777"
            r = await post_generic(c, {"id": "in-1", "from": phone, "to": tenant.number, "text": "Hej"})
            assert r.status_code == 200, r.text
            conv = await Conversation.find_one({"contact_phone": phone})
            assert conv is not None
            # The path works while Redis is up.
            r = await c.post(f"/api/conversations/{conv.id}/messages", json={"text": "before"}, headers=auth)
            assert r.status_code == 201, r.text
            assert await _status_of("before", MessageStatus.DELIVERED) == MessageStatus.DELIVERED

            redis.kill()
            # Stored, though its send job cannot reach the queue: it shows as queued, not as failed.
            r = await c.post(f"/api/conversations/{conv.id}/messages", json={"text": "during"}, headers=auth)
            assert r.status_code == 201 and r.json()["status"] == "queued", r.text
            stored = await Message.find_one({"text": "during"})
            assert stored is not None and stored.status == MessageStatus.QUEUED
            redis.start()  # empty: no persistence, as the hub's docs recommend for fan-out
            assert await _status_of("during", MessageStatus.DELIVERED) == MessageStatus.DELIVERED
            sent = [s.status for s in (await Message.find_one({"text": "during"})).status_history]  # type: ignore[union-attr]
            assert sent.count(MessageStatus.SENT) == 1, sent
    finally:
        redis.kill()
