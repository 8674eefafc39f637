"""Webhooks through the accept log, as a gateway sees them: stored at once, routed behind."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from hub.context import HubContext
from hub.domain.messages import InboundMessage
from hub.services.ingest_pipeline import Outcome
from hub.services.routing import setup_changed
from hub.settings import Settings
from hub.store.audience import UnmatchedMessage
from hub.store.inbound_log import InboundEntry
from hub.store.messages import Message
from hub.store.numbers import Number
from tests.conftest import RunningHub, login, make_tenant, post_generic, serve
from tests.panel import Panel
from workers.run import open_hub


@pytest.fixture
async def running_no_wait(settings: Settings) -> AsyncIterator[RunningHub]:
    """A hub that answers every webhook as soon as the text is in the accept log."""
    quick = dataclasses.replace(settings, ingest=dataclasses.replace(settings.ingest, answer_wait_s=0.0))
    async with open_hub(quick) as hub, serve(hub) as running:
        try:
            yield running
        finally:
            await hub.client.drop_database(settings.mongo.database)


async def test_a_text_answered_before_routing_is_202_and_reaches_the_panel(
    running_no_wait: RunningHub,
) -> None:
    running = running_no_wait
    tenant = await make_tenant("quick", "+48500100901")
    token = await login(running.base, tenant.agent_email, tenant.agent_password)
    payload = {"id": "q-1", "from": "+48600100901", "to": tenant.number, "text": "Szybko"}
    async with Panel(running.ws_base, token) as panel, httpx.AsyncClient(base_url=running.base) as c:
        r = await post_generic(c, payload)
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["message_id"] is None and body["matched"] is None and body["created"] is True
        assert body["accepted"], body
        event = await panel.next("message.created", text="Szybko")
        # The log keeps the routed entry: a gateway's late retry is answered with the stored message.
        await _until_routed(running, "q-1")
        again = await post_generic(c, payload)
        assert again.status_code == 200 and again.json()["created"] is False, again.text
        assert again.json()["message_id"] == event["data"]["id"] and again.json()["seq"] == event["seq"]
        # The marker shows that the repeat published nothing of its own.
        await post_generic(c, {"id": "q-2", "from": "+48600100901", "to": tenant.number, "text": "znacznik"})
        await panel.next("message.created", text="znacznik")
    assert [e["data"]["text"] for e in panel.events if e["type"] == "message.created"] == [
        "Szybko",
        "znacznik",
    ]
    assert await Message.find({"provider_message_id": "q-1"}).count() == 1
    assert event["data"]["sender"] == "+48600100901"


async def test_a_bad_text_is_refused_before_it_is_accepted(running_no_wait: RunningHub) -> None:
    running = running_no_wait
    await make_tenant("strict", "+48500100902")
    async with httpx.AsyncClient(base_url=running.base) as c:
        unknown = await post_generic(
            c, {"id": "b-1", "from": "+48600100902", "to": "+48500999999", "text": "x"}
        )
        assert unknown.status_code == 404 and "+48500999999" in unknown.json()["error"]
        bad = await post_generic(c, {"id": "b-2", "from": "nie numer", "to": "+48500100902", "text": "x"})
        assert bad.status_code == 422 and bad.json()["field"] == "from"
    assert await InboundEntry.find_all().count() == 0


async def test_a_hub_too_far_behind_answers_503_with_retry_after(settings: Settings) -> None:
    tight = dataclasses.replace(
        settings, ingest=dataclasses.replace(settings.ingest, answer_wait_s=0.0, max_lag=2)
    )
    async with open_hub(tight) as hub, serve(hub) as running:
        try:
            tenant = await make_tenant("tight", "+48500100903")
            gate = _gate(hub)
            async with httpx.AsyncClient(base_url=running.base) as c:
                for n in range(2):
                    r = await post_generic(
                        c, {"id": f"t-{n}", "from": "+48600100903", "to": tenant.number, "text": "a"}
                    )
                    assert r.status_code == 202, r.text
                refused = await post_generic(
                    c, {"id": "t-2", "from": "+48600100903", "to": tenant.number, "text": "a"}
                )
                assert refused.status_code == 503, refused.text
                assert int(refused.headers["retry-after"]) > 0
                assert refused.json()["lag"] == 2 and "retry later" in refused.json()["error"]
                health = (await c.get("/health")).json()
                assert health["ingest_lag"] == 2 and health["ingest_waiting"] == 2, health
                assert health["ingest_lag_s"] > 0, health
                scraped = (await c.get("/metrics")).text
                assert "\nhub_ingest_lag_texts 2.0\n" in scraped, scraped[-2000:]
                gate.set()
                for _ in range(300):
                    if await Message.find({"provider_message_id": {"$in": ["t-0", "t-1"]}}).count() == 2:
                        break
                    await asyncio.sleep(0.02)
                retried = await post_generic(
                    c, {"id": "t-2", "from": "+48600100903", "to": tenant.number, "text": "a"}
                )
                assert retried.status_code in (200, 202), retried.text
            for _ in range(300):
                if await Message.find({"account_id": {"$exists": True}}).count() == 3:
                    break
                await asyncio.sleep(0.02)
            assert await Message.find({"account_id": {"$exists": True}}).count() == 3
            # The log records a batch as routed just after its messages are stored.
            async with httpx.AsyncClient(base_url=running.base) as c:
                for _ in range(300):
                    health = (await c.get("/health")).json()
                    if health["ingest_lag"] == 0:
                        break
                    await asyncio.sleep(0.02)
            assert health["ingest_lag"] == 0 and health["ingest_waiting"] == 0, health
        finally:
            await hub.client.drop_database(settings.mongo.database)


async def _until_routed(running: RunningHub, provider_message_id: str) -> None:
    for _ in range(300):
        entry = await InboundEntry.find_one({"provider_message_id": provider_message_id})
        if entry is not None and entry.routed is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{provider_message_id} was not routed")


def _gate(hub: HubContext) -> asyncio.Event:
    """Hold the pipeline's routing until the event is set (the hub falling behind a burst)."""
    pipeline = hub.ingest
    assert pipeline is not None
    route = pipeline._route
    gate = asyncio.Event()

    async def held(msg: InboundMessage) -> Outcome:
        await gate.wait()
        return await route(msg)

    pipeline._route = held
    return gate


async def test_a_text_whose_number_is_removed_before_routing_is_kept_for_the_operator(
    running_no_wait: RunningHub,
) -> None:
    running = running_no_wait
    tenant = await make_tenant("gone", "+48500100904")
    gate = _gate(running.hub)
    async with httpx.AsyncClient(base_url=running.base) as c:
        payload = {"id": "g-1", "from": "+48600100904", "to": tenant.number, "text": "Czy jeszcze działacie?"}
        r = await post_generic(c, payload)
        assert r.status_code == 202, r.text
        number = await Number.find_one({"e164": tenant.number})
        assert number is not None
        await number.delete()
        setup_changed()
        gate.set()
        await _until_routed(running, "g-1")
    kept = await UnmatchedMessage.find_one({"provider_message_id": "g-1"})
    assert kept is not None and kept.reason == "no_number" and kept.text == "Czy jeszcze działacie?"
    entry = await InboundEntry.find_one({"provider_message_id": "g-1"})
    assert entry is not None and entry.routed is not None and entry.routed["matched"] is False
    assert await Message.find({"provider_message_id": "g-1"}).count() == 0
