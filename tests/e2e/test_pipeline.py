"""The core path through a running hub: webhook → MongoDB → WebSocket → reply → delivery report."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from hub.store.conversations import Conversation
from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.panel import Panel

pytestmark = pytest.mark.parametrize("redis_mode", [False, True], ids=["memory", "redis"], indirect=True)


async def test_inbound_to_reply_to_delivered(running: RunningHub, tenant_a: Tenant) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with Panel(running.ws_base, token) as panel, httpx.AsyncClient(base_url=running.base) as client:
        text = "Dzień dobry! Czy macie ŻÓŁWIE? " + "x" * 200
        r = await post_generic(
            client, {"id": "gw-1", "from": "+48 600 700 800", "to": tenant_a.number, "text": text}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["created"] is True

        # Acknowledged means stored.
        stored = await Message.get(body["message_id"])
        assert stored is not None and stored.text == text and stored.sender == "+48600700800"

        created = await panel.next("message.created")
        assert created["data"]["text"] == text
        assert created["data"]["encoding"] == "UCS-2"
        assert created["conversation"]["unread"] == 1
        assert created["conversation"]["contact"]["phone"] == "+48600700800"
        conv_id = created["data"]["conversation_id"]

        r = await client.post(
            f"/api/conversations/{conv_id}/messages",
            json={"text": "Tak, mamy!", "client_id": "c-1"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text
        reply_id = r.json()["id"]
        assert r.json()["status"] == "queued"

        out = await panel.next("message.created", id=reply_id)
        assert out["data"]["direction"] == "out"
        assert out["conversation"]["unread"] == 0
        sent = await panel.next("message.status", message_id=reply_id, status="sent")
        delivered = await panel.next("message.status", message_id=reply_id, status="delivered")
        assert sent["seq"] < delivered["seq"]

    final = await Message.get(reply_id)
    assert final is not None
    assert [h.status.value for h in final.status_history] == ["queued", "sent", "delivered"]
    assert final.provider_message_id == f"sim-{reply_id}"
    # Every durable event is in the account's log with strictly increasing sequence numbers.
    seqs = panel.seqs()
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


async def test_same_webhook_three_times_concurrently_is_one_message(
    running: RunningHub, tenant_a: Tenant
) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    payload = {"id": "gw-dup", "from": "+48600700801", "to": tenant_a.number, "text": "raz"}
    async with Panel(running.ws_base, token) as panel, httpx.AsyncClient(base_url=running.base) as client:
        results = await asyncio.gather(*(post_generic(client, payload) for _ in range(3)))
        assert [r.status_code for r in results] == [200, 200, 200]
        assert sorted(r.json()["created"] for r in results) == [False, False, True]
        assert len({r.json()["message_id"] for r in results}) == 1
        await panel.next("message.created")
        # A fourth delivery later is also recognised.
        again = await post_generic(client, payload)
        assert again.json()["created"] is False
        assert again.json()["message_id"] == results[0].json()["message_id"]
        # Marker: a message sent after every delivery arrives after any event those published.
        marker = {"id": "gw-marker", "from": "+48600700802", "to": tenant_a.number, "text": "marker"}
        await post_generic(client, marker)
        await panel.next("message.created", text="marker")
        assert [e["data"]["text"] for e in panel.events if e["type"] == "message.created"] == [
            "raz",
            "marker",
        ]
    assert await Message.find({"provider_message_id": "gw-dup"}).count() == 1
    conv = await Conversation.find_one({"contact_phone": "+48600700801"})
    assert conv is not None and conv.unread == 1


async def test_reconnect_with_since_gets_exactly_the_missed_events(
    running: RunningHub, tenant_a: Tenant
) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with httpx.AsyncClient(base_url=running.base) as client:
        async with Panel(running.ws_base, token) as first:
            await post_generic(
                client, {"id": "m-1", "from": "+48600700802", "to": tenant_a.number, "text": "1"}
            )
            seen = await first.next("message.created")
        last = seen["seq"]
        # Missed while away.
        for i in range(2, 6):
            r = await post_generic(
                client, {"id": f"m-{i}", "from": "+48600700802", "to": tenant_a.number, "text": str(i)}
            )
            assert r.status_code == 200
        async with Panel(running.ws_base, token, since=last) as second:
            assert second.ready is not None and second.ready["replayed"] == 4
            replayed = [e["data"]["text"] for e in second.events if e["type"] == "message.created"]
            assert replayed == ["2", "3", "4", "5"]
            # Then live, with no duplicate of the replayed ones.
            await post_generic(
                client, {"id": "m-6", "from": "+48600700802", "to": tenant_a.number, "text": "6"}
            )
            live = await second.next("message.created", text="6")
            assert live["seq"] > max(second.seqs()[:-1])
            texts = [e["data"]["text"] for e in second.events if e["type"] == "message.created"]
            assert texts == ["2", "3", "4", "5", "6"]


async def test_a_retried_webhook_does_not_repeat_an_event_the_resumed_client_has(
    running: RunningHub, tenant_a: Tenant
) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    payload = {"id": "again-1", "from": "+48600700800", "to": tenant_a.number, "text": "pierwsza"}
    async with httpx.AsyncClient(base_url=running.base) as client:
        async with Panel(running.ws_base, token) as panel:
            await post_generic(client, payload)
            seen = (await panel.next("message.created"))["seq"]
        async with Panel(running.ws_base, token, since=seen) as panel:
            # The gateway retries the first webhook: the hub publishes its event again.
            assert (await post_generic(client, payload)).json()["created"] is False
            await post_generic(client, {**payload, "id": "again-2", "text": "druga"})
            created = await panel.next("message.created")
            # "druga" is the marker: anything the retry published came before it.
            assert created["data"]["text"] == "druga"
            assert seen not in panel.seqs(), "an event the client already had was sent again"
