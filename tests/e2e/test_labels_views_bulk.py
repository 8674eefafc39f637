"""Labels, saved views and bulk actions over REST: roles, validation, events, capacity routing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId

from hub.store.accounts import Account, Agent
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.panel import Panel


async def _texts(c: httpx.AsyncClient, panel: Panel, tenant: Tenant, n: int, tag: str) -> list[str]:
    ids = []
    for i in range(n):
        text = f"{tag}-{i}"
        payload = {"id": text, "from": f"+4860070{i:04d}", "to": tenant.number, "text": text}
        assert (await post_generic(c, payload)).status_code == 200
        ids.append((await panel.next("message.created", text=text))["data"]["conversation_id"])
    return ids


async def _headers(running: RunningHub, tenant: Tenant) -> tuple[dict[str, str], dict[str, str], str]:
    admin = await login(running.base, tenant.admin_email, tenant.admin_password)
    agent = await login(running.base, tenant.agent_email, tenant.agent_password)
    return {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {agent}"}, agent


async def test_admins_manage_labels_and_agents_put_them_on(running: RunningHub, tenant_a: Tenant) -> None:
    admin, agent, agent_token = await _headers(running, tenant_a)
    async with Panel(running.ws_base, agent_token) as panel, httpx.AsyncClient(base_url=running.base) as c:
        # Agents may read labels but not manage them.
        r = await c.post("/api/labels", json={"name": "Pilne", "colour": "red"}, headers=agent)
        assert r.status_code == 403, r.text
        r = await c.post("/api/labels", json={"name": " Pilne ", "colour": "red"}, headers=admin)
        assert r.status_code == 201, r.text
        urgent = r.json()
        assert urgent["name"] == "Pilne" and urgent["background"] and urgent["text"]
        for body, field in (
            ({"name": "PILNE", "colour": "blue"}, "name"),  # duplicate, case ignored
            ({"name": "   ", "colour": "blue"}, "name"),
            ({"name": "", "colour": "blue"}, "name"),
            ({"colour": "blue"}, "name"),
            ({"name": "x" * 41}, "name"),
            ({"name": "Faktura", "colour": "#ff0000"}, "colour"),
        ):
            r = await c.post("/api/labels", json=body, headers=admin)
            assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
        r = await c.post("/api/labels", json={"name": "Faktura", "colour": "blue"}, headers=admin)
        invoice = r.json()
        r = await c.patch(f"/api/labels/{invoice['id']}", json={"name": "pilne"}, headers=admin)
        assert r.status_code == 422 and r.json()["code"] == "duplicate"
        r = await c.patch(
            f"/api/labels/{invoice['id']}", json={"name": "Faktury", "colour": "green"}, headers=agent
        )
        assert r.status_code == 403
        r = await c.patch(
            f"/api/labels/{invoice['id']}", json={"name": "Faktury", "colour": "green"}, headers=admin
        )
        assert r.status_code == 200 and r.json()["name"] == "Faktury" and r.json()["colour"] == "green"
        listed = (await c.get("/api/labels", headers=agent)).json()
        assert [x["name"] for x in listed] == ["Faktury", "Pilne"]
        assert len((await c.get("/api/labels/palette", headers=agent)).json()) >= 8

        first, second = await _texts(c, panel, tenant_a, 2, "lab")
        r = await c.post(f"/api/conversations/{first}/labels", json={"label_id": urgent["id"]}, headers=agent)
        assert r.status_code == 200 and r.json()["labels"] == [urgent["id"]], r.text
        event = await panel.next("conversation.updated", id=first)
        assert event["change"] == "labels" and event["data"]["labels"] == [urgent["id"]]
        r = await c.post(f"/api/conversations/{first}/labels", json={"label_id": "nope"}, headers=agent)
        assert r.status_code == 404
        await c.post(f"/api/conversations/{second}/labels", json={"label_id": invoice["id"]}, headers=agent)

        found = (await c.get("/api/conversations", params={"label": urgent["id"]}, headers=agent)).json()
        assert [x["id"] for x in found] == [first]
        r = await c.get("/api/conversations", params={"label": "not-an-id"}, headers=agent)
        assert r.status_code == 422
        # The number filter: the account's number, or nothing.
        number_id = found[0]["number_id"]
        both = (await c.get("/api/conversations", params={"number_id": number_id}, headers=agent)).json()
        assert {x["id"] for x in both} == {first, second}
        other = str(PydanticObjectId())
        assert (await c.get("/api/conversations", params={"number_id": other}, headers=agent)).json() == []

        r = await c.delete(f"/api/conversations/{first}/labels/{urgent['id']}", headers=agent)
        assert r.status_code == 200 and r.json()["labels"] == []
        assert (await panel.next("conversation.updated", id=first))["data"]["labels"] == []

        # Deleting a label takes it off its conversations.
        assert (await c.delete(f"/api/labels/{invoice['id']}", headers=agent)).status_code == 403
        assert (await c.delete(f"/api/labels/{invoice['id']}", headers=admin)).status_code == 204
        conv = (await c.get(f"/api/conversations/{second}", headers=agent)).json()
        assert conv["labels"] == []
        assert (
            await c.get("/api/conversations", params={"label": invoice["id"]}, headers=agent)
        ).json() == []
        assert (await c.delete(f"/api/labels/{invoice['id']}", headers=admin)).status_code == 404


async def test_saved_views_are_each_agents_own_and_validated(running: RunningHub, tenant_a: Tenant) -> None:
    admin, agent, _ = await _headers(running, tenant_a)
    async with httpx.AsyncClient(base_url=running.base) as c:
        label = (await c.post("/api/labels", json={"name": "VIP", "colour": "purple"}, headers=admin)).json()
        filters = {"label": label["id"], "status": "open", "assignee": "me", "unread": True}
        r = await c.post("/api/views", json={"name": "Moje VIP", "filters": filters}, headers=agent)
        assert r.status_code == 201, r.text
        view = r.json()
        assert view["filters"] == filters
        for body, field in (
            ({"name": "x", "filters": {"colour": "red"}}, "filters.colour"),
            ({"name": "x", "filters": {"status": "lost"}}, "filters.status"),
            ({"name": "x", "filters": {"unread": "yes"}}, "filters.unread"),
            ({"name": "x", "filters": {"label": str(PydanticObjectId())}}, "filters.label"),
            ({"name": "x", "filters": {"assignee": str(PydanticObjectId())}}, "filters.assignee"),
            ({"name": "x", "filters": {"number_id": str(PydanticObjectId())}}, "filters.number_id"),
            ({"name": "x", "filters": []}, "filters"),
            ({"name": "", "filters": {}}, "name"),
            ({"name": "moje vip", "filters": {}}, "name"),
        ):
            r = await c.post("/api/views", json=body, headers=agent)
            assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
        # Another agent (the admin) neither sees nor deletes it.
        assert (await c.get("/api/views", headers=admin)).json() == []
        assert (await c.delete(f"/api/views/{view['id']}", headers=admin)).status_code == 404
        assert [v["name"] for v in (await c.get("/api/views", headers=agent)).json()] == ["Moje VIP"]
        assert (await c.delete(f"/api/views/{view['id']}", headers=agent)).status_code == 204
        assert (await c.get("/api/views", headers=agent)).json() == []


@pytest.mark.parametrize("redis_mode", [False], indirect=True)
async def test_bulk_actions_report_each_id_and_settle_routing(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    admin, agent, agent_token = await _headers(running, tenant_a)
    account_id = PydanticObjectId(tenant_a.account_id)
    async with Panel(running.ws_base, agent_token) as panel, httpx.AsyncClient(base_url=running.base) as c:
        ids = await _texts(c, panel, tenant_a, 3, "bulk")
        label = (
            await c.post("/api/labels", json={"name": "Zwrot", "colour": "orange"}, headers=admin)
        ).json()
        b_token = await login(running.base, tenant_b.agent_email, tenant_b.agent_password)
        async with Panel(running.ws_base, b_token) as panel_b:
            b_conv = (await _texts(c, panel_b, tenant_b, 1, "bulk-b"))[0]

        async def bulk(body: dict[str, Any]) -> httpx.Response:
            return await c.post("/api/conversations/bulk", json=body, headers=agent)

        r = await bulk({"ids": [ids[0], ids[1], b_conv, "junk"], "action": "label", "label_id": label["id"]})
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["done"], out["failed"]) == (2, 2)
        assert [(x["id"], x["ok"], x["status"]) for x in out["results"]] == [
            (ids[0], True, 200),
            (ids[1], True, 200),
            (b_conv, False, 404),
            ("junk", False, 404),
        ]
        assert "bulk-b" not in r.text
        for conv_id in ids[:2]:
            assert (await panel.next("conversation.updated", id=conv_id))["change"] == "labels"
        labelled = (await c.get("/api/conversations", params={"label": label["id"]}, headers=agent)).json()
        assert {x["id"] for x in labelled} == set(ids[:2])

        # The whole request is refused when it could not succeed for any id.
        for body, field in (
            ({"ids": [], "action": "close"}, "ids"),
            ({"ids": ids * 40, "action": "close"}, "ids"),
            ({"ids": ids, "action": "archive"}, "action"),
            ({"ids": ids, "action": "label"}, "label_id"),
            ({"ids": ids, "action": "assign", "agent_id": tenant_b.agent_id}, "agent_id"),
        ):
            r = await bulk(body)
            assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)

        # Capacity routing: the agent (capacity 2, online) holds two; bulk-closing them frees room,
        # and the round that follows assigns the third, as a single close would.
        await Account.find_one({"_id": account_id}).set({"auto_assign": True})  # type: ignore[union-attr]
        await Agent.find_one({"_id": PydanticObjectId(tenant_a.agent_id)}).set({"capacity": 2})  # type: ignore[union-attr]
        r = await bulk({"ids": ids[:2], "action": "assign", "agent_id": tenant_a.agent_id})
        assert r.json()["done"] == 2
        r = await bulk({"ids": [ids[2]], "action": "assign", "agent_id": None})  # unassigned: queues
        assert r.json()["results"][0]["conversation"]["assignee_id"] is None
        queue = (await c.get("/api/queue", headers=admin)).json()
        assert [w["conversation"]["id"] for w in queue["waiting"]] == [ids[2]], queue
        r = await bulk({"ids": ids[:2], "action": "close"})
        assert [x["conversation"]["status"] for x in r.json()["results"]] == ["closed", "closed"]
        await panel.next("conversation.updated", id=ids[2], assignee_id=tenant_a.agent_id)
        r = await bulk({"ids": ids[:2], "action": "reopen"})
        assert [x["conversation"]["status"] for x in r.json()["results"]] == ["open", "open"]
