"""Eight fault scenarios against real hub, Redis and SecantusDB processes.

Each ends with its counts printed and asserts that the hub acknowledged every webhook 2xx within the
gateway's retries (`WebhookLoad.deadline_s`), and 0 lost, 0 duplicated. Run:
`pytest -q -s -p no:cacheprovider tests/reliability` (`-s` shows the count tables; set
RELIABILITY_RESULTS to a file to collect them as JSON lines). Sizes are for CI: 20 webhooks/s, 10 s outages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from bson import ObjectId

from hub.tasks import cancel_and_wait
from tests.forwarding.helpers import Receiver
from tests.httpserver import HTTPServer
from tests.reliability.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Counts,
    WebhookLoad,
    count,
    raise_nofile_limit,
    routed,
    settle,
    start_clients,
    stop_clients,
)
from tests.reliability.world import world

RATE = float(os.environ.get("RELIABILITY_RATE", "20"))
OUTAGE_S = float(os.environ.get("RELIABILITY_OUTAGE_S", "10"))
MANY_CLIENTS = int(os.environ.get("RELIABILITY_CLIENTS", "1000"))


def finish(counts: Counts) -> None:
    """Every webhook acknowledged 2xx within the gateway's retries, none lost, none duplicated."""
    counts.report()
    assert counts.webhooks > 0, "the scenario sent no webhook"
    assert not counts.failures(), "; ".join(counts.failures()) + "\n" + counts.table()


# ------------------------------------------------------------------------------------------ 1. retries


@pytest.mark.timeout(300)
async def test_1_every_webhook_three_times_two_concurrently(tmp_path: Path) -> None:
    async with world(tmp_path, with_redis=True) as w:
        one, two = w.hub("serve"), w.hub("serve")
        await asyncio.gather(one.start(), two.start())
        clients = await start_clients(6, [one.ws, two.ws], w.tenant.token)
        load = WebhookLoad(
            [one.base, two.base],
            w.tenant.number,
            rate=RATE,
            count=int(RATE * 10),
            tag="s1",
            copies=3,
            concurrent=2,
        )
        await load.run()
        routing = await routed(w.store, load)
        took = await settle(clients, w.store, 60)
        await stop_clients(clients, tmp_path / "clients.jsonl")
        counts = count("1. every webhook delivered 3 times, 2 concurrently", w.store, load, clients)
        counts.extra["seconds until every acknowledged text was routed"] = round(routing, 1)
        counts.extra["deliveries"] = sum(len(r.deliveries) for r in load.records.values())
        counts.extra["settle seconds"] = round(took, 1)
        finish(counts)
        assert counts.extra["answered created:true twice"] == 0


# --------------------------------------------------------------------------------------- 2. Redis dies


@pytest.mark.timeout(360)
async def test_2_redis_killed_for_ten_seconds_clients_catch_up(tmp_path: Path) -> None:
    async with world(tmp_path, with_redis=True) as w:
        assert w.redis is not None
        one, two = w.hub("serve"), w.hub("serve")
        await asyncio.gather(one.start(), two.start())
        clients = await start_clients(10, [one.ws, two.ws], w.tenant.token)
        load = WebhookLoad(
            [one.base, two.base], w.tenant.number, rate=RATE, count=int(RATE * (OUTAGE_S + 16)), tag="s2"
        )
        run = asyncio.create_task(load.run())
        await asyncio.sleep(6)
        w.redis.kill()
        await asyncio.sleep(OUTAGE_S)
        w.redis.start()
        await run
        routing = await routed(w.store, load)
        took = await settle(clients, w.store, 90)
        await stop_clients(clients, tmp_path / "clients.jsonl")
        counts = count("2. Redis SIGKILLed for 10 s under load", w.store, load, clients)
        counts.extra["seconds until every acknowledged text was routed"] = round(routing, 1)
        counts.extra["settle seconds after load"] = round(took, 1)
        counts.extra["close codes"] = dict(sum((c.close_codes for c in clients), Counter()))
        finish(counts)


# ------------------------------------------------------------------------------------- 3. MongoDB stops


@pytest.mark.timeout(360)
async def test_3_mongodb_stopped_for_ten_seconds(tmp_path: Path) -> None:
    async with world(tmp_path, with_redis=False) as w:
        hub = w.hub("serve")
        await hub.start()
        clients = await start_clients(10, [hub.ws], w.tenant.token)
        load = WebhookLoad(
            [hub.base], w.tenant.number, rate=RATE, count=int(RATE * (OUTAGE_S + 16)), tag="s3", deadline_s=45
        )
        run = asyncio.create_task(load.run())
        await asyncio.sleep(6)
        await w.mongo.stop()
        down_at = time.monotonic()
        await asyncio.sleep(OUTAGE_S)
        await w.mongo.start()
        back_at = time.monotonic()
        # The hub recovers by itself: /health answers 200 again without a restart.
        healthy_after: float | None = None
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(120):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{hub.base}/health")).status_code == 200:
                        healthy_after = time.monotonic() - back_at
                        break
                await asyncio.sleep(0.5)
        await run
        routing = await routed(w.store, load)
        took = await settle(clients, w.store, 90)
        await stop_clients(clients, tmp_path / "clients.jsonl")
        counts = count("3. SecantusDB stopped for 10 s under load", w.store, load, clients)
        counts.extra["seconds until every acknowledged text was routed"] = round(routing, 1)
        counts.extra["outage seconds"] = round(back_at - down_at, 1)
        counts.extra["healthy again after (s)"] = None if healthy_after is None else round(healthy_after, 1)
        counts.extra["settle seconds after load"] = round(took, 1)
        counts.extra["close codes"] = dict(sum((c.close_codes for c in clients), Counter()))
        counts.report()
        assert healthy_after is not None, "the hub did not recover by itself"
        assert hub.proc is not None and hub.proc.poll() is None, "the hub process died"
        finish(counts)


# ------------------------------------------------------------------------------------ 4. a hub SIGKILLed


@pytest.mark.timeout(300)
async def test_4_hub_sigkilled_clients_resume_on_the_survivor(tmp_path: Path) -> None:
    async with world(tmp_path, with_redis=True) as w:
        one, two = w.hub("serve"), w.hub("serve")
        await asyncio.gather(one.start(), two.start())
        clients = await start_clients(10, [one.ws, two.ws], w.tenant.token)
        on_one = [c for c in clients if c.index % 2 == 0]
        load = WebhookLoad([one.base, two.base], w.tenant.number, rate=RATE, count=int(RATE * 20), tag="s4")
        run = asyncio.create_task(load.run())
        await asyncio.sleep(6)
        one.kill()
        killed_at = time.monotonic()
        await run
        routing = await routed(w.store, load)
        took = await settle(clients, w.store, 90)
        await stop_clients(clients, tmp_path / "clients.jsonl")
        counts = count("4. a hub SIGKILLed under load, the other serves", w.store, load, clients)
        counts.extra["seconds until every acknowledged text was routed"] = round(routing, 1)
        resumed = [min((t for t in c.readies if t > killed_at), default=None) for c in on_one]
        counts.extra["clients moved from the killed hub"] = len(on_one)
        counts.extra["of them resumed"] = sum(t is not None for t in resumed)
        counts.extra["slowest resume (s)"] = round(max((t - killed_at for t in resumed if t), default=0), 1)
        counts.extra["settle seconds after load"] = round(took, 1)
        finish(counts)
        assert all(t is not None for t in resumed)


# ------------------------------------------------------------------------------------- 5. worker killed


async def collect_phone_deliveries(url: str, into: Counter[str], ready: asyncio.Event) -> None:
    """Every simulator delivery published on Redis (`<prefix>:phone:<number>`), counted by its id."""
    client = aioredis.Redis.from_url(url)
    try:
        async with client.pubsub() as pubsub:
            await pubsub.psubscribe("*:phone:*")
            ready.set()
            while True:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if msg is not None and msg["type"] == "pmessage":
                    into[json.loads(msg["data"])["id"]] += 1
    finally:
        await client.aclose()


@pytest.mark.timeout(420)
async def test_5_worker_sigkilled_mid_job_every_reply_once(tmp_path: Path) -> None:
    replies_n = 60
    receiver = Receiver()
    async with world(tmp_path, with_redis=True) as w, HTTPServer(receiver) as forward_to:
        assert w.redis is not None
        # Every inbound message and every status of every reply is forwarded to a URL: those
        # deliveries are jobs too, in flight when the worker dies.
        server = w.hub("serve", "--no-worker")
        worker = w.hub("worker")
        await asyncio.gather(server.start(), worker.start())
        await w.forward_every_message_to(server.base, f"{forward_to.base}/hook", "scenario-5")
        phones: Counter[str] = Counter()
        subscribed = asyncio.Event()
        listener = asyncio.create_task(collect_phone_deliveries(w.redis.url, phones, subscribed))
        await asyncio.wait_for(subscribed.wait(), 10)
        clients = await start_clients(3, [server.ws], w.tenant.token)
        inbound = WebhookLoad([server.base], w.tenant.number, rate=RATE, count=10, tag="s5", phones=10)
        await inbound.run()
        await routed(w.store, inbound)
        convs = [
            str(d["_id"])
            for d in w.store.db["conversations"].find(
                {"account_id": ObjectId(w.tenant.account_id)}, {"_id": 1}
            )
        ]
        assert len(convs) == 10
        auth = {"Authorization": f"Bearer {w.tenant.token}"}
        message_ids: dict[str, str] = {}

        async def reply(http: httpx.AsyncClient, i: int) -> None:
            client_id = f"s5-reply-{i}"
            for _ in range(60):
                with contextlib.suppress(httpx.HTTPError):
                    r = await http.post(
                        f"/api/conversations/{convs[i % len(convs)]}/messages",
                        json={"text": f"reply {i}", "client_id": client_id},
                    )
                    if r.status_code == 201:
                        message_ids[client_id] = r.json()["id"]
                        return
                await asyncio.sleep(0.5)

        async with httpx.AsyncClient(base_url=server.base, headers=auth, timeout=15) as http:
            posting = asyncio.gather(*(reply(http, i) for i in range(replies_n)))
            # Kill the worker as soon as it is half-way into the first sends, replies still being queued.
            messages = w.store.db["messages"]
            for _ in range(400):
                if messages.count_documents({"direction": "out", "send_claimed_at": {"$ne": None}}) >= 3:
                    break
                await asyncio.sleep(0.05)
            worker.kill()
            state_at_kill = Counter(d["status"] for d in messages.find({"direction": "out"}, {"status": 1}))
            await posting
        assert len(message_ids) == replies_n
        await asyncio.sleep(1)
        replacement = w.hub("worker")
        await replacement.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            done = messages.count_documents({"direction": "out", "status": "delivered"})
            if done == replies_n:
                break
            await asyncio.sleep(1)
        deliveries = w.store.db["forward_deliveries"]
        while time.monotonic() < deadline:
            if deliveries.count_documents({"status": {"$ne": "delivered"}}) == 0:
                break
            await asyncio.sleep(1)
        await asyncio.sleep(2)  # late duplicates, if any, would show up now
        routing = await routed(w.store, inbound)
        took = await settle(clients, w.store, 30)
        await stop_clients(clients, tmp_path / "clients.jsonl")
        await cancel_and_wait(listener)

        counts = count("5. worker SIGKILLed mid-job", w.store, None, clients)
        counts.extra["seconds until every acknowledged text was routed"] = round(routing, 1)
        counts.acknowledge(inbound)
        docs = {str(d["_id"]): d for d in messages.find({"direction": "out"})}
        not_delivered = [m for m in message_ids.values() if docs[m]["status"] != "delivered"]
        sent_twice = [
            m
            for m in message_ids.values()
            if sum(h["status"] == "sent" for h in docs[m]["status_history"]) != 1
        ]
        phone_missing = [m for m in message_ids.values() if phones[f"sim-{m}"] == 0]
        resent_same_id = sum(phones[f"sim-{m}"] - 1 for m in message_ids.values() if phones[f"sim-{m}"] > 1)
        counts.extra["replies queued"] = replies_n
        counts.extra["reply states when the worker was killed"] = dict(state_at_kill)
        counts.extra["replies delivered"] = replies_n - len(not_delivered)
        counts.extra["replies not delivered (lost)"] = len(not_delivered)
        counts.extra["replies with sent != 1 in history"] = len(sent_twice)
        counts.extra["replies never reaching the phone"] = len(phone_missing)
        counts.extra["re-sends to the phone with the same id"] = resent_same_id
        counts.extra["outbound messages stored"] = len(docs)
        stored = list(deliveries.find({}, {"status": 1, "message_id": 1, "event": 1}))
        per_event = Counter((d["message_id"], d["event"]) for d in stored)
        arrived = {rec.headers["x-hub-delivery"] for rec in receiver.requests}
        forwards_lost = [d for d in stored if d["status"] != "delivered" or str(d["_id"]) not in arrived]
        counts.extra["forward deliveries (inbound + reply statuses)"] = len(stored)
        counts.extra["forward deliveries not delivered (lost)"] = len(forwards_lost)
        counts.extra["forward deliveries for one event twice"] = sum(n - 1 for n in per_event.values())
        counts.extra["requests the receiver got (retries share the id)"] = len(receiver.requests)
        # A retry after the kill may bring an id again; the receiver de-duplicates by it.
        by_id = Counter(rec.headers["x-hub-delivery"] for rec in receiver.requests)
        counts.extra["delivery ids the receiver got more than once"] = sum(n > 1 for n in by_id.values())
        counts.extra["settle seconds"] = round(took, 1)
        counts.lost_webhooks = len(not_delivered) + len(phone_missing) + len(forwards_lost)
        counts.duplicate_messages = (
            len(sent_twice) + (len(docs) - replies_n) + sum(n - 1 for n in per_event.values())
        )
        # 10 inbound messages and, per reply, at least its sent and delivered statuses.
        assert len(stored) >= 10 + 2 * replies_n
        finish(counts)


# --------------------------------------------------------------------------------- 6. 1,000 clients drop


@pytest.mark.timeout(600)
async def test_6_thousand_clients_dropped_at_once_all_resume(tmp_path: Path) -> None:
    limit = raise_nofile_limit()
    # Each client holds one socket here and one in the hub (same machine), plus some headroom.
    n = max(10, min(MANY_CLIENTS, (limit - 400) // 2))
    if n < MANY_CLIENTS:
        print(f"\nRLIMIT_NOFILE is {limit}: running {n} clients instead of {MANY_CLIENTS}")
    async with world(tmp_path, with_redis=False) as w:
        hub = w.hub("serve", extra_env={"HUB_WS_QUEUE": "5000"})
        await hub.start()
        clients = await start_clients(n, [hub.ws], w.tenant.token, ready_timeout=240)
        load = WebhookLoad([hub.base], w.tenant.number, rate=2, count=60, tag="s6")
        run = asyncio.create_task(load.run())
        await asyncio.sleep(8)
        dropped_at = time.monotonic()
        for c in clients:
            c.drop()
        deadline = dropped_at + 120
        while time.monotonic() < deadline:
            if all(any(t > dropped_at for t in c.readies) for c in clients):
                break
            await asyncio.sleep(0.2)
        resumed = sorted(min((t for t in c.readies if t > dropped_at), default=float("inf")) for c in clients)
        await run
        routing = await routed(w.store, load)
        took = await settle(clients, w.store, 120)
        await stop_clients(clients, tmp_path / "clients.jsonl")
        counts = count(f"6. {n} clients dropped at once, reconnecting with backoff", w.store, load, clients)
        counts.extra["seconds until every acknowledged text was routed"] = round(routing, 1)
        # Timing is reported, not asserted (the machine's load decides it): every client must be back.
        never = sum(1 for t in resumed if t == float("inf"))
        counts.extra["RLIMIT_NOFILE"] = limit
        counts.extra["resumed"] = n - never
        counts.extra["median resume (s)"] = round(resumed[len(resumed) // 2] - dropped_at, 1)
        counts.extra["slowest resume (s)"] = round(resumed[-1] - dropped_at, 1)
        counts.extra["settle seconds after load"] = round(took, 1)
        counts.extra["close codes"] = dict(sum((c.close_codes for c in clients), Counter()))
        finish(counts)
        assert never == 0, f"{never} of {n} clients never got `ready` again after the drop"


# ------------------------------------------------------------- 7. killed between accepting and routing


@pytest.mark.timeout(300)
async def test_7_hub_sigkilled_between_acknowledging_and_routing(tmp_path: Path) -> None:
    """An accept-only hub (HUB_INGEST_PROCESS=off) acknowledges texts that nothing has routed yet and is
    SIGKILLed with all of them in the accept log; a routing hub started in its place takes each over once,
    and the load's retries during the gap reach it."""
    async with world(tmp_path, with_redis=True) as w:
        front = w.hub("serve", extra_env={"HUB_INGEST_PROCESS": "off"})
        await front.start()
        clients = await start_clients(6, [front.ws], w.tenant.token)
        load = WebhookLoad([front.base], w.tenant.number, rate=RATE, count=int(RATE * 12), tag="s7")
        run = asyncio.create_task(load.run())
        await asyncio.sleep(5)
        front.kill()
        acked_at_kill = len(load.acked)
        waiting_at_kill = w.store.unrouted(load.acked)
        stored_at_kill = sum(w.store.inbound(set(load.records)).values())
        back = w.hub("serve", port=front.port)
        await back.start()
        await run
        routing = await routed(w.store, load)
        took = await settle(clients, w.store, 90)
        await stop_clients(clients, tmp_path / "clients.jsonl")
        counts = count("7. a hub SIGKILLed between acknowledging and routing", w.store, load, clients)
        counts.extra["seconds until every acknowledged text was routed"] = round(routing, 1)
        counts.extra["acknowledged when killed"] = acked_at_kill
        counts.extra["of them waiting in the accept log"] = waiting_at_kill
        counts.extra["stored when killed"] = stored_at_kill
        counts.extra["settle seconds after load"] = round(took, 1)
        finish(counts)
        assert acked_at_kill > 0 and waiting_at_kill == acked_at_kill and stored_at_kill == 0, (
            "the kill did not fall between acknowledging and routing: this scenario proves nothing"
        )


# ------------------------------------------------------------------------- 8. campaign, worker killed


@pytest.mark.timeout(420)
async def test_8_worker_sigkilled_mid_campaign_every_recipient_once(tmp_path: Path) -> None:
    recipients_n = 300
    async with world(tmp_path, with_redis=True) as w:
        assert w.redis is not None
        server = w.hub("serve", "--no-worker")
        worker = w.hub("worker")
        await asyncio.gather(server.start(), worker.start())
        account = ObjectId(w.tenant.account_id)
        group = (
            w.store.db["contact_groups"].insert_one({"account_id": account, "name": "Wszyscy"}).inserted_id
        )
        w.store.db["contacts"].insert_many(
            [
                {
                    "account_id": account,
                    "phone": f"+48601{i:06d}",
                    "name": None,
                    "group_ids": [group],
                    "fields": {},
                }
                for i in range(recipients_n)
            ]
        )
        phones: Counter[str] = Counter()
        subscribed = asyncio.Event()
        listener = asyncio.create_task(collect_phone_deliveries(w.redis.url, phones, subscribed))
        await asyncio.wait_for(subscribed.wait(), 10)
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            login = await http.post(
                "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            http.headers["Authorization"] = f"Bearer {login.json()['token']}"
            numbers = (await http.get("/api/numbers")).json()
            body = {
                "name": "Scenariusz 8",
                "text": "Promocja {name|dla Ciebie}",
                "sender": {
                    "kind": "number",
                    "number_id": next(n["id"] for n in numbers if n["e164"] == w.tenant.number),
                },
                "audience": {"group_ids": [str(group)]},
                "schedule": {"rate_per_minute": 3000},
            }
            r = await http.post("/api/campaigns", json=body)
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
            assert (await http.post(f"/api/campaigns/{cid}/start")).status_code == 200
            messages = w.store.db["messages"]
            # Kill the worker in the middle: some batches sent, the rest still to come.
            for _ in range(600):
                if messages.count_documents({"campaign_id": cid}) >= recipients_n // 4:
                    break
                await asyncio.sleep(0.05)
            worker.kill()
            stored_at_kill = messages.count_documents({"campaign_id": cid})
            await asyncio.sleep(1)
            replacement = w.hub("worker")
            await replacement.start()
            deadline = time.monotonic() + 300
            campaign: dict[str, object] = {}
            while time.monotonic() < deadline:
                campaign = (await http.get(f"/api/campaigns/{cid}")).json()
                if campaign["status"] == "done" and campaign["counts"]["delivered"] == recipients_n:  # type: ignore[index]
                    break
                await asyncio.sleep(1)
            await asyncio.sleep(2)  # late duplicates, if any, would show up now
        await cancel_and_wait(listener)
        docs = list(messages.find({"campaign_id": cid}, {"recipient": 1}))
        per_recipient = Counter(d["recipient"] for d in docs)
        per_phone_send = Counter()
        for d in docs:
            per_phone_send[d["recipient"]] += phones[f"sim-{d['_id']}"] > 0
        table = {
            "recipients": recipients_n,
            "messages stored when the worker was killed": stored_at_kill,
            "messages stored": len(docs),
            "recipients with two messages": sum(n > 1 for n in per_recipient.values()),
            "recipients never reached": recipients_n - sum(1 for n in per_phone_send.values() if n),
            "campaign": {"status": campaign.get("status"), "counts": campaign.get("counts")},
        }
        print(json.dumps({"scenario": "8. worker SIGKILLed mid-campaign", **table}, ensure_ascii=False))
        assert 0 < stored_at_kill < recipients_n, table
        assert len(docs) == recipients_n and len(per_recipient) == recipients_n, table
        assert table["recipients never reached"] == 0, table
        assert campaign.get("status") == "done", table
