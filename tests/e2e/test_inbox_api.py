"""Inbox operations over REST, each pushed live to the account's sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from beanie import PydanticObjectId

from hub.store.presence import PresenceRecord
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.panel import Panel


async def test_assign_close_reopen_read_and_filters(running: RunningHub, tenant_a: Tenant) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        Panel(running.ws_base, token) as panel,
        httpx.AsyncClient(base_url=running.base, headers=auth) as c,
    ):
        for i, phone in enumerate(["+48600700801", "+48600700802"]):
            await post_generic(c, {"id": f"f-{i}", "from": phone, "to": tenant_a.number, "text": f"m{i}"})
        first = (await panel.next("message.created", text="m0"))["data"]["conversation_id"]
        await panel.next("message.created", text="m1")

        listed = (await c.get("/api/conversations")).json()
        assert [x["contact"]["phone"] for x in listed] == ["+48600700802", "+48600700801"]  # newest first
        assert all(x["unread"] == 1 for x in listed)

        r = await c.post(f"/api/conversations/{first}/assign", json={"agent_id": tenant_a.agent_id})
        assert r.status_code == 200 and r.json()["assignee_id"] == tenant_a.agent_id
        event = await panel.next("conversation.updated")
        assert event["change"] == "assigned" and event["data"]["assignee_id"] == tenant_a.agent_id
        mine = (await c.get("/api/conversations", params={"assignee": "me"})).json()
        assert [x["id"] for x in mine] == [first]
        unassigned = (await c.get("/api/conversations", params={"assignee": "unassigned"})).json()
        assert first not in [x["id"] for x in unassigned]

        assert (await c.post(f"/api/conversations/{first}/read")).json()["unread"] == 0
        assert (await panel.next("conversation.updated"))["change"] == "read"
        unread = (await c.get("/api/conversations", params={"unread": "true"})).json()
        assert [x["contact"]["phone"] for x in unread] == ["+48600700802"]

        r = await c.post(f"/api/conversations/{first}/status", json={"status": "closed"})
        assert r.json()["status"] == "closed"
        assert (await panel.next("conversation.updated"))["data"]["status"] == "closed"
        closed = (await c.get("/api/conversations", params={"status": "closed"})).json()
        assert [x["id"] for x in closed] == [first]

        # The customer writes again: the conversation reopens, with one unread.
        await post_generic(
            c, {"id": "f-again", "from": "+48600700801", "to": tenant_a.number, "text": "again"}
        )
        again = await panel.next("message.created", text="again")
        assert again["conversation"]["status"] == "open" and again["conversation"]["unread"] == 1
        assert again["data"]["conversation_id"] == first

        by_phone = (await c.get("/api/conversations", params={"phone": "+4860070080"})).json()
        assert len(by_phone) == 2
        messages = (await c.get(f"/api/conversations/{first}/messages")).json()
        assert [m["text"] for m in messages] == ["m0", "again"]

        for bad in (
            {"status": "archived"},
            {"assignee": "nobody"},
            {"limit": "0"},
            {"before": "yesterday"},
        ):
            r = await c.get("/api/conversations", params=bad)
            assert r.status_code in (400, 422), (bad, r.status_code)
            assert r.json()["error"]
        for path, body in (
            (f"/api/conversations/{first}/status", {"status": "archived"}),
            (f"/api/conversations/{first}/messages", {"text": "   "}),
            (f"/api/conversations/{first}/messages", {"text": "ż" * 700}),
            (f"/api/conversations/{first}/messages", {"nope": 1}),
            ("/api/conversations/not-an-id/messages", {"text": "x"}),
        ):
            r = await c.post(path, json=body)
            assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
            assert r.json()["error"]


async def test_reply_with_same_client_id_is_sent_once(running: RunningHub, tenant_a: Tenant) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        Panel(running.ws_base, token) as panel,
        httpx.AsyncClient(base_url=running.base, headers=auth) as c,
    ):
        await post_generic(c, {"id": "cid-1", "from": "+48600700803", "to": tenant_a.number, "text": "q"})
        conv = (await panel.next("message.created"))["data"]["conversation_id"]
        first = await c.post(f"/api/conversations/{conv}/messages", json={"text": "a", "client_id": "same"})
        await panel.send(
            {"type": "reply", "conversation_id": conv, "text": "a", "client_id": "same", "request_id": "r"}
        )
        ack = await panel.next("ack")
        second = await c.post(f"/api/conversations/{conv}/messages", json={"text": "a", "client_id": "same"})
        assert first.json()["id"] == second.json()["id"] == ack["message_id"]
        await panel.next("message.status", message_id=first.json()["id"], status="delivered")
    messages = [e for e in panel.events if e["type"] == "message.created" and e["data"]["direction"] == "out"]
    assert len(messages) == 1


async def test_presence_counts_every_socket_of_an_agent(running: RunningHub, tenant_a: Tenant) -> None:
    agent = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)

    def offline() -> list[dict[str, Any]]:
        return [e for e in watcher.events if e["type"] == "presence" and e["data"]["state"] == "offline"]

    async with Panel(running.ws_base, admin) as watcher, httpx.AsyncClient(base_url=running.base) as c:
        async with Panel(running.ws_base, agent):
            await watcher.next("presence", state="online", agent_id=tenant_a.agent_id)
            async with Panel(running.ws_base, agent) as tab2:
                assert tab2.ready is not None
                online = {a["agent_id"] for a in tab2.ready["online"]}
                assert online == {tenant_a.agent_id, tenant_a.admin_id}
            # One tab closed, the other still open: no "offline". The hub has handled the close once
            # tab2's presence record is gone; an "offline" it then published reaches the watcher before a
            # message that arrives after it (the marker).
            await until_sockets_of(tenant_a.agent_id, 1)
            await post_generic(
                c, {"id": "marker", "from": "+48600700999", "to": tenant_a.number, "text": "x"}
            )
            await watcher.next("message.created", text="x")
            assert not offline()
        await watcher.next("presence", state="offline", agent_id=tenant_a.agent_id)
        await post_generic(c, {"id": "marker-2", "from": "+48600700999", "to": tenant_a.number, "text": "y"})
        await watcher.next("message.created", text="y")
    assert len(offline()) == 1


async def until_sockets_of(agent_id: str, n: int) -> None:
    """Wait until the hub keeps presence records for exactly `n` sockets of the agent."""
    for _ in range(500):
        if await PresenceRecord.find(PresenceRecord.agent_id == PydanticObjectId(agent_id)).count() == n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the agent never had {n} socket(s) recorded")


async def test_client_id_of_another_conversation_is_a_conflict(running: RunningHub, tenant_a: Tenant) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        Panel(running.ws_base, token) as panel,
        httpx.AsyncClient(base_url=running.base, headers=auth) as c,
    ):
        for i in range(2):
            await post_generic(
                c, {"id": f"cc-{i}", "from": f"+4860070082{i}", "to": tenant_a.number, "text": "q"}
            )
        one = (await panel.next("message.created"))["data"]["conversation_id"]
        two = (await panel.next("message.created"))["data"]["conversation_id"]
        assert (
            await c.post(f"/api/conversations/{one}/messages", json={"text": "a", "client_id": "k"})
        ).status_code == 201
        r = await c.post(f"/api/conversations/{two}/messages", json={"text": "a", "client_id": "k"})
        assert r.status_code == 409 and "another conversation" in r.json()["error"]


async def test_search_finds_a_number_in_any_form_a_part_of_it_or_the_contacts_name(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    other = await login(running.base, tenant_b.admin_email, tenant_b.admin_password)
    async with (
        httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {admin}"}) as c,
        httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {other}"}) as b,
    ):
        r = await c.post("/api/contacts", json={"phone": "+48601111001", "name": "Żółw Łukasz"})
        assert r.status_code == 201, r.text
        r = await c.post("/api/contacts", json={"phone": "+48602222002", "name": "Anna Kowalska"})
        assert r.status_code == 201, r.text
        for i, phone in enumerate(["+48601111001", "+48602222002", "+4915112345678"]):
            body = {"id": f"s-{i}", "from": phone, "to": tenant_a.number, "text": f"s{i}"}
            assert (await post_generic(c, body)).status_code == 200
        # Another account's conversation with the same phone is never found.
        body = {"id": "s-b", "from": "+48601111001", "to": tenant_b.number, "text": "b"}
        assert (await post_generic(c, body)).status_code == 200

        async def found(q: str) -> list[str]:
            r = await c.get("/api/conversations", params={"q": q, "status": ""})
            assert r.status_code == 200, (q, r.text)
            return sorted(x["contact"]["phone"] for x in r.json())

        zolw = ["+48601111001"]
        for form in [
            "+48601111001",
            "601111001",
            "601 111 001",
            "48601111001",
            "0048601111001",
            "+48 601-111-001",
            "(+48) 601 111 001",
            "1001",  # the last digits
            "111 001",
            "zolw",
            "ŻÓŁW",
            "żół",
            "lukasz",
            "Łukasz żółw",
        ]:
            assert await found(form) == zolw, form
        assert await found("kowal") == ["+48602222002"]
        assert await found("anna kow") == ["+48602222002"]
        assert await found("anna zolw") == []
        assert await found("0049 151 1234 5678") == ["+4915112345678"]
        assert await found("12345678") == ["+4915112345678"]
        assert await found("600") == []
        assert await found("nowak") == []
        # The older parameter name searches the same way.
        r = await c.get("/api/conversations", params={"phone": "601 111 001"})
        assert [x["contact"]["phone"] for x in r.json()] == zolw
        # With the other filters.
        assert (await c.get("/api/conversations", params={"q": "zolw", "status": "closed"})).json() == []
        # The other account finds only its own.
        r = await b.get("/api/conversations", params={"q": "zolw"})
        assert r.status_code == 200 and r.json() == []  # its contact has no name
        r = await b.get("/api/conversations", params={"q": "601111001"})
        assert [x["number"] for x in r.json()] == [tenant_b.number]

        # A contact named after their conversation began is found by the new name, and shows it.
        third = next(x for x in (await c.get("/api/contacts")).json() if x["phone"] == "+4915112345678")
        r = await c.patch(f"/api/contacts/{third['id']}", json={"name": "Jürgen Wąs"})
        assert r.status_code == 200, r.text
        assert await found("wąs") == ["+4915112345678"]
        assert await found("jurgen") == ["+4915112345678"]
        r = await c.get("/api/conversations", params={"q": "was"})
        assert [x["contact"]["name"] for x in r.json()] == ["Jürgen Wąs"]
        # So is one named by a CSV import.
        csv_body = "phone,name\n+48602222002,Barbara Nowak\n"
        r = await c.post("/api/contacts/import", content=csv_body, headers={"content-type": "text/csv"})
        assert r.status_code == 200, r.text
        assert await found("nowak") == ["+48602222002"]
        assert await found("kowal") == []

        for q in ["60", "+4", "a", "-"]:
            r = await c.get("/api/conversations", params={"q": q})
            assert r.status_code == 422, (q, r.text)
            assert r.json()["field"] == "q" and "search" in r.json()["error"]
