"""Usage and limits: the ledger's monthly figures equal the sends counted in the message store (and
the forward deliveries), limits refuse sends with 409 and a reason, a prepaid balance runs down
and refuses at zero, and the CSV says what the JSON says."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from beanie import PydanticObjectId

from hub.domain.messages import MessageStatus
from hub.domain.numbers import NumberType
from hub.domain.segments import count_segments
from hub.store.accounts import Account, utcnow
from hub.store.audience import CampaignRecipient
from hub.store.forwarding import DeliveryStatus, ForwardDelivery, ForwardKind
from hub.store.messages import Message
from hub.store.usage import UsageEntry
from tests.conftest import RunningHub, Tenant, login, make_tenant
from tests.e2e.keywords_helpers import add_number, admin_client, created, number_id, phone
from tests.panel import Panel


async def make_operator(tenant: Tenant) -> None:
    operator = await Account.get(PydanticObjectId(tenant.account_id))
    assert operator is not None
    await operator.set({"operator": True})


async def row_of(op: httpx.AsyncClient, account_id: str, month: str | None = None) -> dict[str, Any]:
    query = f"?month={month}" if month else ""
    r = await op.get(f"/api/operator/accounts/{account_id}/usage{query}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_usage_api_shapes_limits_and_csv(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    await make_operator(tenant_a)
    await Account.find_one({"_id": PydanticObjectId(tenant_b.account_id)}).set({"name": "Kwiaciarnia Łódź"})  # type: ignore[union-attr]
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op,
        admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as b,
        admin_client(running, tenant_b.agent_email, tenant_b.agent_password) as b_agent,
    ):
        rows = (await op.get("/api/operator/usage?month=2026-01")).json()
        by_id = {r["account_id"]: r for r in rows}
        assert set(by_id) == {tenant_a.account_id, tenant_b.account_id}
        empty = by_id[tenant_b.account_id]
        assert empty == {
            "account_id": tenant_b.account_id,
            "name": "Kwiaciarnia Łódź",
            "slug": "beta",
            "month": "2026-01",
            "sms_messages": 0,
            "sms_segments": 0,
            "mms": 0,
            "forward_segments": 0,
            "total_segments": 0,
            "units": 0,
            "limit_monthly_segments": None,
            "balance_units": None,
            "by_kind": {},
        }
        r = await op.get("/api/operator/usage?month=2026-13")
        assert r.status_code == 422 and r.json()["field"] == "month", r.text

        r = await op.patch(
            f"/api/operator/accounts/{tenant_b.account_id}/limits", json={"monthly_segments": 100}
        )
        assert (
            r.status_code == 200 and r.json()["monthly_segments"] == 100 and r.json()["balance_units"] is None
        )
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/top-up", json={"units": 0})
        assert r.status_code == 400, r.text
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/top-up", json={"units": 5})
        assert r.status_code == 200 and r.json()["balance_units"] == 5, r.text
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/top-up", json={"units": 7})
        assert r.json() == {"account_id": tenant_b.account_id, "monthly_segments": 100, "balance_units": 12}
        row = await row_of(op, tenant_b.account_id)
        assert row["limit_monthly_segments"] == 100 and row["balance_units"] == 12

        # The account's own admin reads its row; its agents and other accounts' admins do not.
        own = (await b.get("/api/usage")).json()
        assert own == row
        assert (await b_agent.get("/api/usage")).status_code == 403
        assert (await b.get("/api/operator/usage")).status_code == 403

        r = await op.get("/api/operator/usage.csv?month=2026-01")
        assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
        assert r.content.startswith(b"\xef\xbb\xbf")
        parsed = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert [p["account_id"] for p in parsed] == [x["account_id"] for x in rows]
        assert parsed[1]["name"] == "Kwiaciarnia Łódź"


async def _has_status(message_id: Any, status: MessageStatus) -> bool:
    message = await Message.get(message_id)
    return message is not None and message.status == status


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float = 30.0) -> None:
    """Poll until `check` holds: the sends are made by the worker after the API answered."""
    try:
        async with asyncio.timeout(within):
            while not await check():
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"still not: {what}") from None


async def settled(account_id: PydanticObjectId) -> bool:
    """Every outbound message handed on or failed, and every forward delivery finished."""
    queued = await Message.find({"account_id": account_id, "status": MessageStatus.QUEUED.value}).count()
    pending = await ForwardDelivery.find(
        {"account_id": account_id, "status": DeliveryStatus.PENDING.value}
    ).count()
    return queued == 0 and pending == 0


async def store_figures(account_id: PydanticObjectId) -> dict[str, Any]:
    """The oracle: what was sent, counted from the message store and the forward deliveries."""
    handed_on = {MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED}
    sent = [
        m async for m in Message.find({"account_id": account_id, "direction": "out"}) if m.status in handed_on
    ]
    kinds: dict[str, int] = {}
    for m in sent:
        # The kinds docs/operations.md names: an autoresponder's answer, a campaign's 2WAY send.
        kind = {"Autoresponder": "autoreply"}.get(m.author.name or "", m.author.kind)
        kind = "campaign" if kind == "system" else kind
        kinds[kind] = kinds.get(kind, 0) + m.segments
    forwards = [
        d
        async for d in ForwardDelivery.find({"account_id": account_id})
        if d.kind == ForwardKind.PHONE and d.status == DeliveryStatus.DELIVERED
    ]
    forward_segments = sum(count_segments(d.payload["message"]["text"]).segments for d in forwards)
    if forwards:
        kinds["forward"] = forward_segments
    return {
        "sms_messages": len(sent),
        "sms_segments": sum(m.segments for m in sent),
        "forward_segments": forward_segments,
        "by_kind": kinds,
    }


async def test_usage_equals_the_sends_in_the_store_and_limits_refuse(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    await make_operator(tenant_a)
    b_id = PydanticObjectId(tenant_b.account_id)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op,
        admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as b,
        phone(running, "+48601222333") as customer,
        phone(running, "+48601999888") as boss,
        phone(running, "+48601777666") as gone,
    ):
        number = await number_id(b, tenant_b.number)
        responder = await created(
            b,
            "/api/autoresponders",
            {
                "number_id": number,
                "template": "Cena: 10 zł za kilogram",
                "on_keyword": True,
                "limit_count": 1000,
            },
        )
        await created(
            b, "/api/keywords", {"number_id": number, "text": "CENA", "autoresponder_ids": [responder["id"]]}
        )
        await created(b, "/api/forwarding/rules", {"kind": "phone", "target": boss.phone})
        await created(b, "/api/forwarding/rules", {"kind": "phone", "target": gone.phone})

        # The second forward target opts out: every forward to it is refused, and not billed.
        await gone.text(tenant_b.number, "STOP")
        # A keyword reply, two forwards (one refused), and an agent's two-segment reply.
        await customer.text(tenant_b.number, "CENA")
        assert (await customer.next_sms())["text"] == "Cena: 10 zł za kilogram"
        conv = next(
            c for c in (await b.get("/api/conversations")).json() if c["contact"]["phone"] == customer.phone
        )
        long_text = "Dzień dobry, " + "zapraszamy do sklepu w Łodzi. " * 3
        assert count_segments(long_text).segments == 2
        r = await b.post(f"/api/conversations/{conv['id']}/messages", json={"text": long_text})
        assert r.status_code == 201, r.text
        assert (await customer.next_sms())["text"] == long_text
        await until(lambda: settled(b_id), "all sends of B made")

        figures = await store_figures(b_id)
        assert figures["by_kind"].get("autoreply") and figures["by_kind"].get("agent")
        assert figures["forward_segments"] > 0
        refused = await ForwardDelivery.find({"account_id": b_id, "status": "refused"}).count()
        assert refused >= 2  # the opted-out target's copies of both texts
        row = await row_of(op, tenant_b.account_id)
        assert {k: row[k] for k in figures} == figures
        assert row["mms"] == 0
        assert row["total_segments"] == figures["sms_segments"] + figures["forward_segments"]
        assert row["units"] == row["total_segments"]

        # The monthly limit set to what was used: the next reply is refused before anything is stored.
        r = await op.patch(
            f"/api/operator/accounts/{tenant_b.account_id}/limits", json={"monthly_segments": row["units"]}
        )
        assert r.status_code == 200, r.text
        before = await Message.find({"account_id": b_id}).count()
        r = await b.post(f"/api/conversations/{conv['id']}/messages", json={"text": "Jeszcze jedno"})
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "usage_limit" and "monthly limit" in r.json()["error"], r.text
        assert await Message.find({"account_id": b_id}).count() == before

        # An automatic reply over the limit is not sent, and the inbound text says why; the forward
        # to the phone is refused with the reason.
        agent = await login(running.base, tenant_b.agent_email, tenant_b.agent_password)
        async with Panel(running.ws_base, agent) as panel:
            asked = await customer.text(tenant_b.number, "CENA")
            event = await panel.next("message.created", id=asked["message_id"])
        withheld = [
            {
                "send": "SendAutoreply",
                "text": "Cena: 10 zł za kilogram",
                "reason": "usage_limit",
                "limit": f"monthly limit {row['units']}",
            }
        ]
        # The inbox is told at once, with the text itself, and shows it again after a reload.
        assert event["data"]["withheld"] == withheld
        await until(lambda: settled(b_id), "the second text's forwards finished")
        inbound = await Message.get(PydanticObjectId(asked["message_id"]))
        assert inbound is not None
        messages = (await b.get(f"/api/conversations/{conv['id']}/messages")).json()
        shown = next(m for m in messages if m["id"] == asked["message_id"])
        assert shown["withheld"] == withheld
        over = await ForwardDelivery.find(
            {"account_id": b_id, "message_id": inbound.id, "target": boss.phone}
        ).to_list()
        assert [d.status for d in over] == [DeliveryStatus.REFUSED]
        assert "monthly limit" in (over[0].last_error or "")
        # Nothing more reached the customer or the boss: a marker sent afterwards comes first.
        await customer.no_sms(b)
        # Both phones got what was billed and nothing else.
        assert await store_figures(b_id) == figures
        after = await row_of(op, tenant_b.account_id)
        assert {k: after[k] for k in figures} == figures
        assert after["limit_monthly_segments"] == row["units"]

        # The CSV says what the JSON says.
        rows = (await op.get("/api/operator/usage")).json()
        r = await op.get("/api/operator/usage.csv")
        parsed = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert len(parsed) == len(rows)
        for json_row, csv_row in zip(rows, parsed, strict=True):
            for key, value in json_row.items():
                if key == "by_kind":
                    expected = ";".join(f"{k}={v}" for k, v in sorted(value.items()))
                else:
                    expected = "" if value is None else str(value)
                assert csv_row[key] == expected, (key, csv_row, json_row)


async def test_a_prepaid_balance_runs_down_never_below_zero_and_a_retried_send_bills_once(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    await make_operator(tenant_a)
    b_id = PydanticObjectId(tenant_b.account_id)
    virtual = await add_number("+48500900900", NumberType.TWO_WAY)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op,
        admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as b,
        phone(running, "+48601222333") as customer,
    ):
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/top-up", json={"units": 4})
        assert r.json()["balance_units"] == 4, r.text
        r = await b.post(
            "/api/campaigns/messages",
            json={
                "number_id": str(virtual.id),
                "to": "+48601444555",
                "text": "Promocja!",
                "campaign_id": "wiosna",
            },
        )
        assert r.status_code == 201, r.text
        await customer.text(tenant_b.number, "Dzień dobry")
        conv = (await b.get("/api/conversations?status=open")).json()
        conv_id = next(c["id"] for c in conv if c["contact"]["phone"] == customer.phone)

        # Six replies at once against three units left: three go, three are refused, none overdraws.
        answers = await asyncio.gather(
            *(
                b.post(f"/api/conversations/{conv_id}/messages", json={"text": f"Odpowiedź {i}"})
                for i in range(6)
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201, 201, 201, 409, 409, 409], [a.text for a in answers]
        refusal = next(a.json() for a in answers if a.status_code == 409)
        assert refusal["code"] == "usage_limit" and "prepaid balance" in refusal["error"], refusal
        assert (await row_of(op, tenant_b.account_id))["balance_units"] == 0

        # A 2WAY send at zero is refused before the campaign's binding is stored.
        r = await b.post(
            "/api/campaigns/messages",
            json={
                "number_id": str(virtual.id),
                "to": "+48601666777",
                "text": "Promocja!",
                "campaign_id": "wiosna",
            },
        )
        assert r.status_code == 409 and r.json()["code"] == "usage_limit", r.text
        assert await CampaignRecipient.find_one({"phone": "+48601666777"}) is None

        await until(lambda: settled(b_id), "the four accepted sends made")
        figures = await store_figures(b_id)
        assert figures["sms_messages"] == 4 and figures["by_kind"] == {"campaign": 1, "agent": 3}

        async def billed() -> bool:
            # A send is marked sent, then billed: the ledger may trail the message by that step.
            row = await row_of(op, tenant_b.account_id)
            return {k: row[k] for k in figures} == figures

        await until(billed, "the ledger bills the four sends")
        row = await row_of(op, tenant_b.account_id)
        assert row["balance_units"] == 0

        # A send job retried after the gateway took the message (its first run died before it
        # recorded that): the gateway de-duplicates, the ledger bills it once.
        sent = await Message.find_one({"account_id": b_id, "author.kind": "agent"})
        assert sent is not None
        # Its delivery report first: one applied after the rewind below would mark the message
        # delivered again, and the retried job would rightly find nothing to send.
        await until(lambda: _has_status(sent.id, MessageStatus.DELIVERED), "the first send delivered")
        await Message.get_pymongo_collection().update_one(
            {"_id": sent.id},
            {
                "$set": {
                    "status": MessageStatus.QUEUED.value,
                    "send_claimed_at": utcnow() - timedelta(minutes=5),
                }
            },
        )
        await running.hub.jobs.enqueue("send_message", key=f"retry:{sent.id}", message_id=str(sent.id))
        # The gateway was called again: the phone sees the same message id a second time.
        seen = 0
        while seen < 2:
            seen += (await customer.next_sms())["id"] == f"sim-{sent.id}"
        await until(lambda: settled(b_id), "the retried send finished")
        again = await Message.get(sent.id)
        assert again is not None and again.status != MessageStatus.FAILED
        assert await row_of(op, tenant_b.account_id) == row
        assert await UsageEntry.find({"message_id": sent.id}).count() == 1

        # Topped up, the account sends again.
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/top-up", json={"units": 2})
        assert r.json()["balance_units"] == 2
        r = await b.post(f"/api/conversations/{conv_id}/messages", json={"text": "Już działa"})
        assert r.status_code == 201, r.text
        assert (await row_of(op, tenant_b.account_id))["balance_units"] == 1


async def test_a_send_that_never_reached_the_gateway_is_not_billed(
    running: RunningHub, tenant_a: Tenant
) -> None:
    await make_operator(tenant_a)
    # The number's gateway is not configured: the send job fails before any gateway has the message.
    gamma = await make_tenant("gamma", "+48500100400", provider="nosuch")
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op,
        admin_client(running, gamma.admin_email, gamma.admin_password) as g,
        phone(running, "+48601222333") as customer,
    ):
        r = await op.post(f"/api/operator/accounts/{gamma.account_id}/top-up", json={"units": 1})
        assert r.json()["balance_units"] == 1, r.text
        await customer.text(gamma.number, "Halo")
        conv_id = (await g.get("/api/conversations")).json()[0]["id"]
        r = await g.post(f"/api/conversations/{conv_id}/messages", json={"text": "Odpowiedź"})
        assert r.status_code == 201, r.text
        reply_id = PydanticObjectId(r.json()["id"])

        async def failed() -> bool:
            reply = await Message.get(reply_id)
            return reply is not None and reply.status == MessageStatus.FAILED

        await until(failed, "the reply failed at the gateway look-up")
        # The unit taken when it was queued is back, and nothing is billed.
        await until(lambda: _balance_is(op, gamma.account_id, 1), "the unit given back when the send failed")
        row = await row_of(op, gamma.account_id)
        assert row["sms_messages"] == 0 and row["units"] == 0 and row["by_kind"] == {}


async def _balance_is(op: httpx.AsyncClient, account_id: str, units: int) -> bool:
    return (await row_of(op, account_id))["balance_units"] == units
