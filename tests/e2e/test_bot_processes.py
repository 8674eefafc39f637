"""Bots against real `hub serve` processes: through a SIGKILL of the hub, and through outages (a TCP
proxy that drops every connection) longer than the SDK's timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from hub.domain.events import ReplyAck
from hub.settings import Settings
from hub.store.accounts import ApiToken
from hub.store.messages import Message
from hubclient import Backoff, MessageCreated
from tests.conftest import ROOT, Tenant, free_port, signed_headers
from tests.e2e.bot_helpers import bot_token, running_bot
from tests.e2e.tcp_proxy import CuttableProxy
from tests.reliability.harness import WEBHOOK_SECRET, HubProcess, WebhookLoad


@pytest.mark.parametrize("redis_mode", [True], indirect=True)
async def test_bot_resumes_with_no_gap_and_no_duplicate_after_the_hub_is_killed(
    hub: object, settings: Settings, tenant_a: Tenant, tmp_path: Path
) -> None:
    token = await bot_token(tenant_a.account_id, "FAQ bot")
    port = free_port()

    def process() -> HubProcess:
        return HubProcess(
            ["serve"],
            mongo_uri=settings.mongo.uri,
            database=settings.mongo.database,
            redis_url=settings.redis.url,
            prefix=settings.redis.channel_prefix,
            workdir=tmp_path,
            port=port,
        )

    first = process()
    await first.start()
    second: HubProcess | None = None
    try:
        # The bot answers every message (the example's handler: the texts match no keyword, so
        # it sends the menu), with a client id made from the message it answers.
        async with running_bot(f"ws://127.0.0.1:{port}", token) as bot:
            load = WebhookLoad([first.base], tenant_a.number, rate=15, count=90, tag="botkill", deadline_s=60)
            sending = asyncio.create_task(load.run())
            await asyncio.sleep(2.0)
            handled_before = sum(bot.handled.values())
            first.kill()  # SIGKILL mid-stream; webhooks keep coming and are retried by the "gateway"
            await asyncio.sleep(1.0)
            second = process()
            await second.start()
            await sending
            acked = load.acked
            assert len(acked) == 90, load.statuses()
            async with asyncio.timeout(40):
                while len(bot.handled) < len(acked):
                    await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # anything sent twice would arrive now
            texts = {text.removeprefix("reliability ") for text in bot.texts.values()}
            # No gap: every message the gateway got a 2xx for was handed to the bot...
            assert texts == acked
            # ...and none twice, counted per message id.
            assert set(bot.handled.values()) == {1}, [k for k, v in bot.handled.items() if v > 1]
            assert bot.client.connections >= 2, "the bot reconnected to the restarted process"
            assert 0 < handled_before < 90, "the kill came mid-stream"
            # Every answer is stored once, as the bot's.
            replies = await Message.find({"direction": "out"}).to_list()
            assert len(replies) == 90
            assert {r.author.kind for r in replies} == {"bot"}
            assert {r.author.name for r in replies} == {"FAQ bot"}
            # And goes out: those queued when the process died are sent by the restarted one
            # (saq retries the jobs of a dead worker once their heartbeat lapses).
            statuses: Counter[str] = Counter()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(90):
                    while statuses.get("delivered", 0) + statuses.get("sent", 0) < 90:
                        await asyncio.sleep(0.5)
                        statuses = Counter(
                            str(r.status) for r in await Message.find({"direction": "out"}).to_list()
                        )
            print("reply statuses after the kill:", dict(statuses))
            # (A simulated delivery report due while the process died may be lost with it: "sent"
            # is where the hub's part ends.)
            assert statuses.get("delivered", 0) + statuses.get("sent", 0) == 90, dict(statuses)
    finally:
        for proc in (first, second):
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.stop()


# --- outages longer than the SDK's timeouts ------------------------------------------------------


def hub_process(settings: Settings, workdir: Path) -> HubProcess:
    return HubProcess(
        ["serve"],
        mongo_uri=settings.mongo.uri,
        database=settings.mongo.database,
        redis_url=settings.redis.url,
        prefix=settings.redis.channel_prefix,
        workdir=workdir,
        # Uncompressed frames: the proxy can tell when an event has gone through to the bot.
        extra_env={"HUB_WS_DEFLATE": "off"},
    )


async def text(hub: HubProcess, to: str, body: str) -> str:
    """A customer's text through the gateway webhook (straight to the hub); its message id."""
    provider_id = uuid.uuid4().hex
    raw = json.dumps({"id": provider_id, "from": "+48600700800", "to": to, "text": body}).encode()
    async with httpx.AsyncClient(base_url=hub.base, timeout=30) as client:
        answer = await client.post(
            "/webhooks/generic/inbound", content=raw, headers=signed_headers(raw, secret=WEBHOOK_SECRET)
        )
    # The hub's own answer: 202 once the text is in the accept log; its message is stored right behind.
    assert answer.status_code == 202, answer.text
    for _ in range(300):
        stored = await Message.find_one({"provider_message_id": provider_id})
        if stored is not None:
            return str(stored.id)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{body!r} was accepted but never stored")


async def replies_to(message_id: str) -> list[Message]:
    """The bot's stored answers to an inbound message (the example's client id: faq:<message id>)."""
    return await Message.find({"direction": "out", "client_id": f"faq:{message_id}"}).to_list()


async def until_answered(message_id: str, within: float = 60.0) -> list[Message]:
    async with asyncio.timeout(within):
        while not (found := await replies_to(message_id)):
            await asyncio.sleep(0.2)
    return found


@pytest.mark.parametrize("redis_mode", [True], indirect=True)
async def test_replies_wait_out_an_outage_longer_than_the_timeouts_and_are_stored_once(
    hub: object, settings: Settings, tenant_a: Tenant, tmp_path: Path
) -> None:
    token = await bot_token(tenant_a.account_id, "FAQ bot")
    server = hub_process(settings, tmp_path)
    await server.start()
    proxy = CuttableProxy(server.port)
    await proxy.start()
    request_timeout = 1.0
    try:
        async with running_bot(
            f"ws://127.0.0.1:{proxy.port}",
            token,
            answer=False,
            request_timeout=request_timeout,
            backoff=Backoff(initial=0.1, maximum=0.5),
        ) as bot:
            ids = [await text(server, tenant_a.number, f"outage {n}") for n in (1, 2)]
            async with asyncio.timeout(30):
                events = {e.data.id: e for e in [await bot.arrived.get(), await bot.arrived.get()]}
            first, second = (events[i] for i in ids)

            def reply(event: MessageCreated) -> asyncio.Task[ReplyAck]:
                data = event.data
                return asyncio.create_task(
                    bot.client.reply(data.conversation_id, f"re {data.text}", client_id=f"faq:{data.id}")
                )

            # The hub stores the first reply, but its answer never comes back...
            proxy.swallow("down")
            one = reply(first)
            await until_answered(first.data.id, within=30)
            # ...then the hub is unreachable, longer than the request timeout, with a second reply asked.
            proxy.cut()
            two = reply(second)
            refused = proxy.accepted
            await asyncio.sleep(4 * request_timeout)  # the outage
            assert proxy.accepted > refused, "the client kept trying to reconnect"
            assert not one.done() and not two.done(), (one, two)  # pending, not failed
            proxy.restore()
            async with asyncio.timeout(30):
                acks = await asyncio.gather(one, two)
            # Each arrives exactly once, and the SDK's answer names the stored message.
            for event, ack in zip((first, second), acks, strict=True):
                stored = await replies_to(event.data.id)
                assert [str(m.id) for m in stored] == [ack.message_id]
            assert await Message.find({"direction": "out"}).count() == 2
            assert bot.client.connections >= 2
            # And the bot goes on: a new text arrives and is answered.
            later = await text(server, tenant_a.number, "after the outage")
            async with asyncio.timeout(30):
                third = await bot.arrived.get()
            assert third.data.id == later
            await reply(third)
            assert len(await replies_to(later)) == 1
    finally:
        await proxy.close()
        server.stop()


@pytest.mark.parametrize("redis_mode", [True], indirect=True)
async def test_the_example_bot_process_survives_an_outage_longer_than_its_timeouts(
    hub: object, settings: Settings, tenant_a: Tenant, tmp_path: Path
) -> None:
    """examples/faq_bot.py as users run it, with the SDK's default timeouts (30 s)."""
    token = await bot_token(tenant_a.account_id, "FAQ bot")
    server = hub_process(settings, tmp_path)
    await server.start()
    proxy = CuttableProxy(server.port)
    await proxy.start()
    log = tmp_path / "faq_bot.log"
    with log.open("wb") as out:
        bot = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "faq_bot.py"), "--url", f"ws://127.0.0.1:{proxy.port}"],
            env={**os.environ, "PYTHONPATH": str(ROOT), "HUB_BOT_TOKEN": token},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
        )
    try:
        # Once the bot's position is stored, every text from then on is kept for it.
        async with asyncio.timeout(60):
            while await ApiToken.find_one({"name": "FAQ bot", "bot_acked_seq": {"$ne": None}}) is None:
                assert bot.poll() is None, log.read_text(errors="replace")[-3000:]
                await asyncio.sleep(0.2)
        before = await text(server, tenant_a.number, "CENA?")
        await until_answered(before)
        # The bot's frames stop reaching the hub: its answer to this text goes into the void...
        proxy.swallow("up")
        pending = await text(server, tenant_a.number, "GODZINY?")
        async with asyncio.timeout(30):
            while pending.encode() not in proxy.delivered:
                await asyncio.sleep(0.05)
        # ...and then the hub is unreachable: in all, longer than the SDK's 30 s request timeout.
        proxy.cut()
        await asyncio.sleep(35)  # the outage
        assert bot.poll() is None, log.read_text(errors="replace")[-3000:]
        proxy.restore()
        answered = await until_answered(pending)
        assert [m.text for m in answered] == ["Jesteśmy otwarci pon.-pt. 9:00-17:00, sob. 10:00-14:00."]
        after = await text(server, tenant_a.number, "Dzień dobry")
        await until_answered(after)
        assert bot.poll() is None, log.read_text(errors="replace")[-3000:]
        # Exactly once each, and nothing else was sent.
        for message_id in (before, pending, after):
            assert len(await replies_to(message_id)) == 1
        assert await Message.find({"direction": "out"}).count() == 3
    finally:
        print("faq_bot.py's log:", log.read_text(errors="replace")[-3000:])
        if bot.poll() is None:
            bot.send_signal(signal.SIGTERM)
            try:
                bot.wait(15)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait(10)
        await proxy.close()
        server.stop()
