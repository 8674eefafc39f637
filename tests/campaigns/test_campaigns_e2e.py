"""Campaigns through a running hub with its worker: the API, the live progress on the agent socket,
the texts on simulated phones, and replies linked to the campaign for each sender kind."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId

from hub.domain.numbers import NumberType
from hub.store.conversations import Contact
from hub.store.keywords import ContactGroup
from hub.store.messages import Message
from tests.campaigns.conftest import add_number
from tests.conftest import RunningHub, Tenant, login
from tests.e2e.keywords_helpers import admin_client, phone
from tests.e2e.test_webhooks import tiny_png
from tests.panel import Panel

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]

CUSTOMER = "+48601234567"
OTHER = "+48601234568"
VIRTUAL = "+48799100200"
ECO = "+48799100300"


async def _group(account_id: str) -> str:
    account = PydanticObjectId(account_id)
    group = ContactGroup(account_id=account, name="Ogrodnicy")
    await group.insert()
    assert group.id is not None
    await Contact(account_id=account, phone=CUSTOMER, name="Ola", group_ids=[group.id]).insert()
    await Contact(account_id=account, phone=OTHER, name=None, group_ids=[group.id]).insert()
    return str(group.id)


async def _progress_until(panel: Panel, campaign_id: str, **counts: int) -> dict[str, Any]:
    while True:
        event = await panel.next("campaign.progress", timeout=20, campaign_id=campaign_id)
        if all(event["data"]["counts"][k] >= v for k, v in counts.items()):
            return event


async def _run(a: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await a.post("/api/campaigns", json=body)
    assert r.status_code == 201, r.text
    campaign = r.json()
    assert campaign["status"] == "draft"
    r = await a.post(f"/api/campaigns/{campaign['id']}/start")
    assert r.status_code == 200, r.text
    assert r.json()["status"] in ("running", "done")
    return dict(campaign)


@pytest.mark.parametrize("kind", ["number", "2way", "eco"])
async def test_a_reply_to_each_sender_kind_is_linked_and_counted(
    running: RunningHub, tenant_a: Tenant, kind: str
) -> None:
    await add_number(VIRTUAL, NumberType.TWO_WAY)
    await add_number(ECO, NumberType.TWO_WAY, eco_plus=True)
    group_id = await _group(tenant_a.account_id)
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, CUSTOMER) as p,
        Panel(running.ws_base, token) as panel,
    ):
        numbers = (await a.get("/api/numbers")).json()
        sender: dict[str, Any] = {"kind": kind}
        if kind == "number":
            sender["number_id"] = next(n["id"] for n in numbers if n["e164"] == tenant_a.number)
        body = {
            "name": f"Wiosna {kind}",
            "text": "Cześć {name|Kliencie}! Rabat 10%.",
            "sender": sender,
            "audience": {"group_ids": [group_id], "contact_ids": [], "csv": None},
            "schedule": {"start_at": None, "window": None, "rate_per_minute": 600},
        }
        preview = await a.post("/api/campaigns/preview", json=body)
        assert preview.status_code == 200, preview.text
        assert preview.json()["recipients"] == 2 and preview.json()["encodings"] == {"GSM-7": 0, "UCS-2": 2}
        campaign = await _run(a, body)
        sms = await p.next_sms()
        assert sms["text"] == "Cześć Ola! Rabat 10%."
        from_number = sms["sender"]
        assert from_number == {"number": tenant_a.number, "2way": VIRTUAL, "eco": ECO}[kind]
        await _progress_until(panel, campaign["id"], delivered=2)
        # Already taken off the socket while waiting for the progress: the panel recorded it.
        created = next(
            e
            for e in panel.events
            if e["type"] == "message.created"
            and e["data"]["direction"] == "out"
            and e["data"]["recipient"] == CUSTOMER
        )
        link = {"id": campaign["id"], "name": f"Wiosna {kind}"}
        assert created["data"]["campaign"] == link and created["conversation"]["campaign"] == link

        answered = await p.text(from_number, "Poproszę katalog")
        reply = await Message.get(PydanticObjectId(answered["message_id"]))
        assert reply is not None and reply.campaign_id == campaign["id"]
        event = await _progress_until(panel, campaign["id"], replied=1)
        assert event["data"]["counts"]["delivered"] == 2
        thread = await a.get(f"/api/conversations/{reply.conversation_id}/messages")
        assert thread.status_code == 200, thread.text
        inbound = next(m for m in thread.json() if m["id"] == str(reply.id))
        assert inbound["campaign"] == link

        page = (await a.get(f"/api/campaigns/{campaign['id']}/recipients?status=&limit=1&after=")).json()
        assert len(page["items"]) == 1 and page["next"] is not None
        rest = (await a.get(f"/api/campaigns/{campaign['id']}/recipients?after={page['next']}")).json()
        rows = {r["phone"]: r for r in page["items"] + rest["items"]}
        assert rows[CUSTOMER]["reply_text"] == "Poproszę katalog" and rows[CUSTOMER]["status"] == "delivered"
        assert rows[OTHER]["replied_at"] is None
        got = (await a.get(f"/api/campaigns/{campaign['id']}")).json()
        assert got["counts"]["replied"] == 1 and got["rates"] == {"delivery": 1.0, "reply": 0.5}
        assert got["replies"] == {"number": "number", "2way": "guaranteed", "eco": "best_effort"}[kind]


async def test_opt_out_reply_report_and_sender_name(running: RunningHub, tenant_a: Tenant) -> None:
    await add_number(VIRTUAL, NumberType.TWO_WAY)
    group_id = await _group(tenant_a.account_id)
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, CUSTOMER) as p,
        Panel(running.ws_base, token) as panel,
    ):
        body = {
            "name": "Stop",
            "text": "Nowa kolekcja",
            "sender": {"kind": "2way"},
            "audience": {"group_ids": [group_id], "contact_ids": [], "csv": "numer\n601234569\nxx\n"},
        }
        campaign = await _run(a, body)
        assert (await p.next_sms())["sender"] == VIRTUAL
        await _progress_until(panel, campaign["id"], delivered=3)
        await p.text(VIRTUAL, "STOP")
        await _progress_until(panel, campaign["id"], opted_out=1, replied=1)
        report = await a.get(f"/api/campaigns/{campaign['id']}/report.csv")
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(report.text.lstrip("\ufeff"))))
        assert [r["phone"] for r in rows] == [CUSTOMER, OTHER, "+48601234569"]
        assert (
            rows[0]["opted_out"] == "yes" and rows[0]["reply_text"] == "STOP" and rows[0]["sender"] == VIRTUAL
        )
        assert rows[1]["status"] == "delivered" and rows[1]["opted_out"] == "no"
        assert (await a.get(f"/api/campaigns/{campaign['id']}")).json()["excluded"]["invalid"] == 1

        # The account-wide opt-out leaves the phone out of the next campaign, by sender name too.
        named = await _run(
            a,
            {
                "name": "Nazwa",
                "text": "Promocja",
                "sender": {"kind": "name", "name": "SKLEP"},
                "audience": {"group_ids": [group_id]},
            },
        )
        assert named["excluded"]["opted_out"] == 1 and named["counts"]["recipients"] == 1
        await _progress_until(panel, named["id"], sent=1)
        got = (await a.get(f"/api/campaigns/{named['id']}")).json()
        assert got["replies"] == "none" and got["sender"]["label"] == "name SKLEP"


async def test_bad_requests_are_answered_4xx_with_a_reason(running: RunningHub, tenant_a: Tenant) -> None:
    group_id = await _group(tenant_a.account_id)
    other_number = await add_number("+48500999999", NumberType.NDI, PydanticObjectId())
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        numbers = (await a.get("/api/numbers")).json()
        own = next(n["id"] for n in numbers if n["e164"] == tenant_a.number)
        good = {
            "name": "A",
            "text": "Hej",
            "sender": {"kind": "number", "number_id": own},
            "audience": {"group_ids": [group_id]},
        }
        bad: list[tuple[dict[str, Any], int, str]] = [
            ({**good, "text": ""}, 422, "text"),
            ({**good, "text": "Hej {imię"}, 422, "text"),
            ({**good, "name": ""}, 422, "name"),
            ({**good, "sender": {"kind": "number", "number_id": "zzz"}}, 422, "sender.number_id"),
            (
                {**good, "sender": {"kind": "number", "number_id": str(other_number.id)}},
                422,
                "sender.number_id",
            ),
            ({**good, "sender": {"kind": "2way"}}, 422, "sender.kind"),
            ({**good, "sender": {"kind": "name", "name": "Bardzo długa nazwa"}}, 422, "sender.name"),
            ({**good, "sender": {"kind": "pigeon"}}, 400, ""),
            ({**good, "audience": {"group_ids": ["nope"]}}, 422, "audience.group_ids"),
            ({**good, "audience": {"group_ids": [str(PydanticObjectId())]}}, 422, "audience.group_ids"),
            ({**good, "audience": {"csv": "phone\n123abc\n"}}, 422, "audience"),
            (
                {**good, "schedule": {"window": {"from": "25:00", "to": "21:00", "tz": "Europe/Warsaw"}}},
                422,
                "schedule.window",
            ),
            (
                {**good, "schedule": {"window": {"from": "08:00", "to": "21:00", "tz": "Nowhere"}}},
                422,
                "schedule.window",
            ),
            ({**good, "schedule": {"rate_per_minute": 0}}, 422, "schedule.rate_per_minute"),
            ({**good, "schedule": {"start_at": "2026-12-24T09:00:00"}}, 422, "schedule.start_at"),
        ]
        for body, status, field in bad:
            r = await a.post("/api/campaigns", json=body)
            assert r.status_code == status, (body, r.text)
            if field:
                assert r.json()["field"] == field, r.text
        assert (await a.get("/api/campaigns")).json() == []
        assert (await a.get("/api/campaigns/nope")).status_code == 404
        assert (await a.post(f"/api/campaigns/{PydanticObjectId()}/start")).status_code == 404
        r = await a.get(f"/api/campaigns/{PydanticObjectId()}/recipients?status=lost")
        assert r.status_code == 422
        later = await a.post(
            "/api/campaigns", json={**good, "schedule": {"start_at": "2099-01-01T09:00:00Z"}}
        )
        assert later.status_code == 201, later.text
        cid = later.json()["id"]
        assert (await a.post(f"/api/campaigns/{cid}/resume")).status_code == 409
        started = await a.post(f"/api/campaigns/{cid}/start")
        assert started.json()["status"] == "scheduled"
        again = await a.post(f"/api/campaigns/{cid}/start")
        assert again.status_code == 409 and "scheduled" in again.text
        assert (await a.post(f"/api/campaigns/{cid}/pause")).json()["status"] == "paused"
        assert (await a.post(f"/api/campaigns/{cid}/cancel")).json()["status"] == "cancelled"
        assert (await a.post(f"/api/campaigns/{cid}/resume")).status_code == 409
    agent_token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {agent_token}"}
    ) as g:
        assert (await g.get("/api/campaigns")).status_code == 200
        assert (await g.post("/api/campaigns", json=good)).status_code == 403


async def test_an_mms_campaign_over_the_api(running: RunningHub, tenant_a: Tenant, tenant_b: Tenant) -> None:
    """Upload, the sender's limits, 409 for a sender that cannot carry MMS and 422 for a file that
    is not the account's, both before anything is stored; then the MMS on the simulated phone."""
    group_id = await _group(tenant_a.account_id)
    png = tiny_png()
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as b,
        phone(running, CUSTOMER) as p,
    ):
        numbers = (await a.get("/api/numbers")).json()
        own = next(n["id"] for n in numbers if n["e164"] == tenant_a.number)
        limits = (await a.get("/api/campaigns/mms", params={"kind": "number", "number_id": own})).json()
        assert limits["can_send"] is True and limits["gateway"] == "simulator"
        assert "image/png" in limits["types"] and limits["max_bytes"] == 5 * 1024 * 1024
        assert {g["gateway"]: g["can_send"] for g in limits["gateways"]}["kannel"] is False
        named = (await a.get("/api/campaigns/mms", params={"kind": "name"})).json()
        assert named["can_send"] is False and "sender name" in named["reason"]

        refused = await a.post(
            "/api/campaigns/media", files={"file": ("a.png", b"<html>x</html>", "image/png")}
        )
        assert refused.status_code == 422 and refused.json()["field"] == "file"
        r = await a.post("/api/campaigns/media", files={"file": ("roza.png", png, "image/png")})
        assert r.status_code == 201, r.text
        media_id = r.json()["id"]
        theirs = (await b.post("/api/campaigns/media", files={"file": ("b.png", png, "image/png")})).json()[
            "id"
        ]

        body: dict[str, Any] = {
            "name": "Róże",
            "text": "",
            "sender": {"kind": "name", "name": "SKLEP"},
            "audience": {"group_ids": [group_id]},
            "schedule": {"window": None},
            "media": [media_id],
        }
        for path in ("/api/campaigns/preview", "/api/campaigns"):
            r = await a.post(path, json=body)
            assert r.status_code == 409 and "sender name cannot carry MMS" in r.json()["error"], r.text
        body["sender"] = {"kind": "number", "number_id": own}
        r = await a.post("/api/campaigns", json={**body, "media": [theirs]})
        assert r.status_code == 422 and r.json()["field"] == "media", r.text
        assert (await a.get("/api/campaigns")).json() == []

        preview = (await a.post("/api/campaigns/preview", json=body)).json()
        assert preview["mms"]["files"] == 1 and preview["mms"]["bytes"] == len(png)
        assert preview["mms"]["gateway"] == "simulator" and preview["mms"]["units_per_message"] == 1
        campaign = await _run(a, body)
        assert [m["id"] for m in campaign["media"]] == [media_id]
        got = await p.next_sms()
        assert got["text"] == "" and len(got["media"]) == 1
        async with httpx.AsyncClient(base_url=running.base) as anonymous:
            served = await anonymous.get(got["media"][0])
        assert served.status_code == 200 and served.content == png
