"""Capacity routing and snooze against the real stack: the queue, fair assignment, snooze and wake-up."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from beanie import PydanticObjectId

from hub.services import auth, capacity, snooze
from hub.store.accounts import Role, utcnow
from hub.store.conversations import Conversation
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.panel import Panel


async def settled_queue(c: httpx.AsyncClient, check: Any) -> dict[str, Any]:
    """The queue view once `check(view)` holds (routing finishes after the webhook's answer when
    another text's round holds the account's lease)."""
    view: dict[str, Any] = {}
    for _ in range(250):
        view = (await c.get("/api/queue")).json()
        if check(view):
            return view
        await asyncio.sleep(0.02)
    raise AssertionError(f"the queue never settled: {view}")


def loads(view: dict[str, Any]) -> dict[str, tuple[int, int, bool]]:
    return {a["name"]: (a["open"], a["capacity"], a["online"]) for a in view["agents"]}


async def test_two_agents_of_capacity_two_share_five_texts_fairly(
    running: RunningHub, tenant_a: Tenant
) -> None:
    off = await auth.create_agent(
        PydanticObjectId(tenant_a.account_id), "off@alpha.test", "alpha offline", "off-password", Role.AGENT
    )
    admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    agent = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    headers = {"Authorization": f"Bearer {admin}"}
    async with (
        httpx.AsyncClient(base_url=running.base, headers=headers) as c,
        Panel(running.ws_base, admin) as watcher,
        Panel(running.ws_base, agent),
    ):
        r = await c.patch("/api/queue/settings", json={"auto_assign": True, "waiting_threshold_minutes": 5})
        assert r.status_code == 200 and r.json() == {"auto_assign": True, "waiting_threshold_minutes": 5}
        for who in (tenant_a.agent_id, tenant_a.admin_id, str(off.id)):
            r = await c.put(f"/api/agents/{who}/capacity", json={"capacity": 2})
            assert r.status_code == 200 and r.json()["capacity"] == 2

        for i in range(5):
            r = await post_generic(
                c, {"id": f"cap-{i}", "from": f"+4860070090{i}", "to": tenant_a.number, "text": f"t{i}"}
            )
            assert r.status_code == 200, r.text
        view = await settled_queue(c, lambda v: len(v["waiting"]) == 1)
        assert loads(view) == {
            "alpha admin": (2, 2, True),
            "alpha agent": (2, 2, True),
            "alpha offline": (0, 2, False),
        }
        # Oldest first: the last text waits.
        last = view["waiting"][0]
        assert last["conversation"]["contact"]["phone"] == "+48600700904"
        assert last["waiting_too_long"] is False and last["conversation"]["waiting_since"]
        # Round robin: the first two went one to each.
        assigned = [
            e["data"]["assignee_id"]
            for e in watcher.events
            if e["type"] == "conversation.updated" and e["data"]["assignee_id"]
        ]
        assert len(assigned) == 4 and set(assigned[:2]) == {tenant_a.agent_id, tenant_a.admin_id}

        # The agent closes one: the waiting conversation is theirs now.
        theirs = next(a for a in view["agents"] if a["id"] == tenant_a.agent_id)["open_ids"][0]
        r = await c.post(f"/api/conversations/{theirs}/status", json={"status": "closed"})
        assert r.status_code == 200
        await watcher.next(
            "conversation.updated", id=last["conversation"]["id"], assignee_id=tenant_a.agent_id, timeout=15
        )
        view = await settled_queue(c, lambda v: not v["waiting"])
        assert loads(view)["alpha agent"] == (2, 2, True)
        assert loads(view)["alpha offline"][0] == 0

        # The contact writes again to the closed conversation: it reopens into the queue.
        phone = (await c.get(f"/api/conversations/{theirs}")).json()["contact"]["phone"]
        await post_generic(c, {"id": "cap-again", "from": phone, "to": tenant_a.number, "text": "x"})
        view = await settled_queue(c, lambda v: len(v["waiting"]) == 1)
        assert view["waiting"][0]["conversation"]["id"] == theirs
        assert view["waiting"][0]["conversation"]["assignee_id"] is None


async def test_waiting_too_long_is_flagged(running: RunningHub, tenant_a: Tenant) -> None:
    admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {admin}"}) as c:
        await c.patch("/api/queue/settings", json={"auto_assign": True, "waiting_threshold_minutes": 1})
        await post_generic(c, {"id": "late", "from": "+48600700911", "to": tenant_a.number, "text": "hej"})
        view = (await c.get("/api/queue")).json()
        assert [w["waiting_too_long"] for w in view["waiting"]] == [False]
        # Nobody online to take it: it keeps waiting. Two minutes earlier is past the threshold.
        await Conversation.get_pymongo_collection().update_many(
            {}, {"$set": {"waiting_since": utcnow() - timedelta(minutes=2)}}
        )
        view = (await c.get("/api/queue")).json()
        assert [w["waiting_too_long"] for w in view["waiting"]] == [True]
        assert view["waiting"][0]["waited_s"] >= 120


async def test_bad_routing_input_is_a_4xx_with_a_reason(running: RunningHub, tenant_a: Tenant) -> None:
    admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    agent = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {admin}"}) as c:
        cases: list[tuple[str, str, Any, int]] = [
            ("PUT", f"/api/agents/{tenant_a.agent_id}/capacity", {"capacity": -1}, 422),
            ("PUT", f"/api/agents/{tenant_a.agent_id}/capacity", {"capacity": "2"}, 422),
            ("PUT", f"/api/agents/{tenant_a.agent_id}/capacity", {"capacity": 1.5}, 422),
            ("PUT", f"/api/agents/{tenant_a.agent_id}/capacity", {}, 400),
            ("PUT", "/api/agents/0123456789abcdef01234567/capacity", {"capacity": 1}, 404),
            ("PUT", "/api/agents/nope/capacity", {"capacity": 1}, 404),
            ("PATCH", "/api/queue/settings", {"waiting_threshold_minutes": -3}, 422),
            ("PATCH", "/api/queue/settings", {"auto_assign": "yes"}, 400),
        ]
        for method, path, body, status in cases:
            r = await c.request(method, path, json=body)
            assert r.status_code == status, (path, body, r.text)
            assert r.json().get("detail") or r.json().get("error"), r.text
        r = await c.get("/api/queue", headers={"Authorization": f"Bearer {agent}"})
        assert r.status_code == 403

        await post_generic(c, {"id": "sz-bad", "from": "+48600700921", "to": tenant_a.number, "text": "a"})
        conv = (await c.get("/api/conversations")).json()[0]["id"]
        for body in [
            {"until": "2020-01-01T00:00:00Z"},
            {"until": "jutro"},
            {"until": "2030-01-01T08:00:00"},
            {"preset": "someday"},
            {},
            {"until": "2030-01-01T08:00:00Z", "preset": "1h"},
        ]:
            r = await c.post(f"/api/conversations/{conv}/snooze", json=body)
            assert r.status_code == 422, (body, r.text)
        r = await c.post("/api/conversations/0123456789abcdef01234567/snooze", json={"preset": "1h"})
        assert r.status_code == 404
        await c.post(f"/api/conversations/{conv}/status", json={"status": "closed"})
        r = await c.post(f"/api/conversations/{conv}/snooze", json={"preset": "1h"})
        assert r.status_code == 409


async def test_snooze_hides_and_reopens(running: RunningHub, tenant_a: Tenant) -> None:
    agent = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with (
        httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {agent}"}) as c,
        Panel(running.ws_base, agent) as panel,
    ):
        await post_generic(c, {"id": "sz-1", "from": "+48600700931", "to": tenant_a.number, "text": "a"})
        conv = (await panel.next("message.created", text="a"))["data"]["conversation_id"]

        def listed(status: str) -> Any:
            return c.get("/api/conversations", params={"status": status})

        r = await c.post(f"/api/conversations/{conv}/snooze", json={"preset": "1h"})
        assert r.status_code == 200 and r.json()["snoozed_until"]
        event = await panel.next("conversation.updated", id=conv)
        assert event["change"] == "snooze" and event["data"]["snoozed_until"] == r.json()["snoozed_until"]
        assert conv not in [x["id"] for x in (await listed("open")).json()]
        assert [x["id"] for x in (await listed("snoozed")).json()] == [conv]

        # Not yet due: the start-up sweep leaves it snoozed; an hour later it wakes it.
        assert (await snooze.reschedule(running.hub, utcnow()))["woken"] == 0
        assert (await snooze.reschedule(running.hub, utcnow() + timedelta(hours=1, seconds=1)))["woken"] == 1
        event = await panel.next("conversation.updated", id=conv, snoozed_until=None)
        assert event["change"] == "snooze" and event["data"]["status"] == "open"
        assert [x["id"] for x in (await listed("open")).json()] == [conv]
        assert (await listed("snoozed")).json() == []

        # A text from the contact reopens a snoozed conversation at once.
        await c.post(f"/api/conversations/{conv}/snooze", json={"preset": "tomorrow"})
        assert (await panel.next("conversation.updated", id=conv))["change"] == "snooze"
        await post_generic(c, {"id": "sz-2", "from": "+48600700931", "to": tenant_a.number, "text": "b"})
        created = await panel.next("message.created", text="b")
        assert created["conversation"]["snoozed_until"] is None
        assert [x["id"] for x in (await listed("open")).json()] == [conv]

        # The wake-up job, for real: snoozed for two seconds.
        until = (utcnow() + timedelta(seconds=2)).isoformat()
        r = await c.post(f"/api/conversations/{conv}/snooze", json={"until": until})
        assert r.status_code == 200
        assert (await panel.next("conversation.updated", id=conv))["data"]["snoozed_until"]
        woken = await panel.next("conversation.updated", id=conv, snoozed_until=None, timeout=20)
        assert woken["change"] == "snooze"


async def test_concurrent_texts_and_rounds_never_fill_past_capacity(
    running: RunningHub, tenant_a: Tenant
) -> None:
    """Texts routed side by side, and rounds asked for at once: each round counts afresh under the
    account's lease, so the agent ends with exactly their capacity and the rest wait."""
    admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    agent = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    account_id = PydanticObjectId(tenant_a.account_id)
    async with (
        httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {admin}"}) as c,
        Panel(running.ws_base, agent),
    ):
        await c.patch("/api/queue/settings", json={"auto_assign": True})
        await c.put(f"/api/agents/{tenant_a.agent_id}/capacity", json={"capacity": 3})
        texts = [
            post_generic(
                c, {"id": f"burst-{i}", "from": f"+4860070095{i}", "to": tenant_a.number, "text": "x"}
            )
            for i in range(10)
        ]
        rounds = [capacity.request_round(running.hub, account_id) for _ in range(10)]
        await asyncio.gather(*texts, *rounds)
        view = await settled_queue(c, lambda v: len(v["waiting"]) == 7)
        assert loads(view)["alpha agent"] == (3, 3, True)
        await asyncio.gather(*(capacity.request_round(running.hub, account_id) for _ in range(10)))
        assert loads((await c.get("/api/queue")).json())["alpha agent"] == (3, 3, True)
