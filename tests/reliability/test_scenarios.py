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
from datetime import UTC, datetime
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
from tests.reliability.world import World, world

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


async def collect_phone_deliveries(
    url: str, into: Counter[str], ready: asyncio.Event, by: str = "id"
) -> None:
    """Every simulator delivery published on Redis (`<prefix>:phone:<number>`), counted by its id
    (`by="recipient"`: by the phone it went to)."""
    client = aioredis.Redis.from_url(url)
    try:
        async with client.pubsub() as pubsub:
            await pubsub.psubscribe("*:phone:*")
            ready.set()
            while True:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if msg is not None and msg["type"] == "pmessage":
                    into[json.loads(msg["data"])[by]] += 1
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


# ---------------------------------------------------------------------- 8. worker killed mid-campaign

CAMPAIGN_RECIPIENTS = 300


def campaign_audience(w: World, n: int) -> str:
    """`n` contacts in one group, written straight into the store (the hub's `contacts` shape)."""
    account = ObjectId(w.tenant.account_id)
    now = datetime.now(UTC)
    group = w.store.db["contact_groups"].insert_one(
        {"account_id": account, "name": "Klienci", "created_at": now}
    )
    w.store.db["contacts"].insert_many(
        [
            {
                "account_id": account,
                "phone": f"+48691{i:06d}",
                "name": f"Klient {i}",
                "group_ids": [group.inserted_id],
                "fields": {},
                "created_at": now,
            }
            for i in range(n)
        ]
    )
    return str(group.inserted_id)


@pytest.mark.timeout(600)
async def test_8_worker_sigkilled_mid_campaign_every_recipient_once(tmp_path: Path) -> None:
    """A campaign of 300 recipients from the tenant's number through the simulator; the worker is
    SIGKILLed while the batch jobs and sends are running and another starts 1 s later. Each recipient's
    phone must get exactly one message (counted from the simulator's Redis publishes), each recipient
    exactly one stored message, delivered; live inbound texts and the agents' sockets go on meanwhile."""
    n = CAMPAIGN_RECIPIENTS
    async with world(tmp_path, with_redis=True) as w:
        assert w.redis is not None
        group_id = campaign_audience(w, n)
        server = w.hub("serve", "--no-worker")
        worker = w.hub("worker")
        await asyncio.gather(server.start(), worker.start())
        by_phone: Counter[str] = Counter()
        by_id: Counter[str] = Counter()
        ready_phone, ready_id = asyncio.Event(), asyncio.Event()
        listeners = [
            asyncio.create_task(collect_phone_deliveries(w.redis.url, by_phone, ready_phone, by="recipient")),
            asyncio.create_task(collect_phone_deliveries(w.redis.url, by_id, ready_id)),
        ]
        await asyncio.wait_for(asyncio.gather(ready_phone.wait(), ready_id.wait()), 10)
        clients = await start_clients(3, [server.ws], w.tenant.token)
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
            login = await http.post(
                "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200, login.text
            http.headers["Authorization"] = f"Bearer {login.json()['token']}"
            number = w.store.db["numbers"].find_one({"e164": w.tenant.number})
            assert number is not None
            r = await http.post(
                "/api/campaigns",
                json={
                    "name": "Scenariusz 8",
                    "text": "Czesc {name|Kliencie}, nowa oferta w sklepie.",
                    "sender": {"kind": "number", "number_id": str(number["_id"])},
                    "audience": {"group_ids": [group_id], "contact_ids": [], "csv": None},
                    "schedule": {"start_at": None, "window": None, "rate_per_minute": 3000},
                },
            )
            assert r.status_code == 201, r.text
            campaign_id = r.json()["id"]
            assert r.json()["counts"]["recipients"] == n
            inbound = WebhookLoad([server.base], w.tenant.number, rate=2, count=40, tag="s8", phones=10)
            load = asyncio.create_task(inbound.run())
            r = await http.post(f"/api/campaigns/{campaign_id}/start")
            assert r.status_code == 200, r.text
            targets = w.store.db["campaign_targets"]
            messages = w.store.db["messages"]
            cid = ObjectId(campaign_id)
            # Kill the worker mid-campaign: a quarter of the messages stored (batches of 50), more to come.
            for _ in range(6000):
                if messages.count_documents({"campaign_id": campaign_id}) >= n // 4:
                    break
                await asyncio.sleep(0.05)
            worker.kill()
            at_kill = Counter(d["status"] for d in targets.find({"campaign_id": cid}, {"status": 1}))
            stored_at_kill = messages.count_documents({"campaign_id": campaign_id})
            await asyncio.sleep(1)
            replacement = w.hub("worker")
            await replacement.start()
            # Every message taken by the gateway; then, for a while, their delivery reports (a report job
            # that died with the worker is scenario 5's subject: reported here, not failed).
            deadline = time.monotonic() + 420
            taken = {"campaign_id": cid, "status": {"$in": ["sent", "delivered"]}}
            while time.monotonic() < deadline and targets.count_documents(taken) < n:
                await asyncio.sleep(1)
            deadline = min(deadline, time.monotonic() + 60)
            while time.monotonic() < deadline:
                if targets.count_documents({"campaign_id": cid, "status": "delivered"}) == n:
                    break
                await asyncio.sleep(1)
            await load
            await asyncio.sleep(2)  # late duplicates, if any, would show up now
            final = (await http.get(f"/api/campaigns/{campaign_id}")).json()
        routing = await routed(w.store, inbound)
        took = await settle(clients, w.store, 60)
        await stop_clients(clients, tmp_path / "clients.jsonl")
        for listener in listeners:
            await cancel_and_wait(listener)

        counts = count("8. worker SIGKILLed mid-campaign", w.store, inbound, clients)
        counts.extra["seconds until every acknowledged text was routed"] = round(routing, 1)
        phones = {f"+48691{i:06d}" for i in range(n)}
        outbound = Counter(
            d["recipient"]
            for d in w.store.db["messages"].find({"campaign_id": campaign_id}, {"recipient": 1})
        )
        ids_per_phone: Counter[str] = Counter(
            d["recipient"]
            for d in messages.find({"campaign_id": campaign_id}, {"recipient": 1})
            if by_id[f"sim-{d['_id']}"] > 0
        )
        statuses = Counter(d["status"] for d in targets.find({"campaign_id": cid}, {"status": 1}))
        missing_msg = [p for p in phones if outbound[p] == 0]
        twice_msg = sum(c - 1 for c in outbound.values() if c > 1)
        missing_phone = [p for p in phones if by_phone[p] == 0]
        # A send job run again after the kill publishes the same message (same id) again; the gateway
        # de-duplicates by id, so that is a retry, not a second message. Two messages reached one phone
        # only if two ids did.
        twice_phone = sum(c - 1 for c in ids_per_phone.values() if c > 1)
        counts.extra["campaign recipients"] = n
        counts.extra["recipient states when the worker was killed"] = dict(at_kill)
        counts.extra["messages stored when the worker was killed"] = stored_at_kill
        counts.extra["recipient states at the end"] = dict(statuses)
        counts.extra["campaign status, counts"] = (final["status"], final["counts"])
        counts.extra["outbound messages stored"] = sum(outbound.values())
        counts.extra["recipients without a message (lost)"] = len(missing_msg)
        counts.extra["recipients with 2+ messages stored"] = twice_msg
        counts.extra["phones the simulator never reached (lost)"] = len(missing_phone)
        counts.extra["phones reached by 2+ message ids"] = twice_phone
        counts.extra["re-sends to a phone with the same id"] = (
            sum(by_phone.values()) - len(by_phone) - twice_phone
        )
        counts.extra["publishes to phones outside the audience"] = len(set(by_phone) - phones)
        counts.extra["settle seconds"] = round(took, 1)
        # The campaign's counters move with $inc beside each recipient's compare-and-set: they must
        # still say what the recipients' states say.
        drift = {
            k: final["counts"].get(k, 0) - statuses.get(k, 0)
            for k in ("queued", "sent", "delivered", "failed", "skipped")
            if final["counts"].get(k, 0) != statuses.get(k, 0)
        }
        counts.extra["campaign counters off from the recipients' states"] = drift
        not_taken = n - statuses.get("sent", 0) - statuses.get("delivered", 0)
        counts.extra["recipients whose message the gateway never took (lost)"] = not_taken
        counts.extra["recipients delivered (reports after the kill: not asserted)"] = statuses.get(
            "delivered", 0
        )
        counts.lost_webhooks += len(missing_msg) + len(missing_phone) + not_taken
        counts.duplicate_messages += twice_msg + twice_phone + len(set(by_phone) - phones)
        assert 0 < stored_at_kill < n, "the kill did not fall mid-campaign: this scenario proves nothing"
        assert final["status"] == "done", final
        finish(counts)
        assert not drift, f"the campaign's counters differ from its recipients' states: {drift}"
