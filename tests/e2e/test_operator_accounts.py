"""A suspended account: its inbound is stored and shown, but nothing is sent for it (replies,
automatic replies, forwards), each refusal naming the operator's reason; reactivated, it sends."""

from __future__ import annotations

import asyncio
import time

from beanie import PydanticObjectId

from hub.store.accounts import Account
from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import admin_client, created, number_id, phone

REASON = "unpaid invoice 12/2026"


async def test_a_suspended_account_receives_but_sends_nothing(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    operator = await Account.get(PydanticObjectId(tenant_a.account_id))
    assert operator is not None
    await operator.set({"operator": True})
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op,
        admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as b,
        phone(running, "+48601222333") as customer,
    ):
        b_number = await number_id(b, tenant_b.number)
        await created(b, "/api/autoresponders", {"number_id": b_number, "template": "Dziękujemy!"})
        await created(b, "/api/forwarding/rules", {"kind": "phone", "target": "+48601999888"})

        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/suspend", json={"reason": " "})
        assert r.status_code == 422 and r.json()["field"] == "reason"
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/suspend", json={"reason": REASON})
        assert r.status_code == 200 and r.json()["suspended_reason"] == REASON, r.text

        received = await customer.text(tenant_b.number, "Dzień dobry")
        convs = (await b.get("/api/conversations")).json()
        assert [c["last_message"]["text"] for c in convs] == ["Dzień dobry"]
        r = await b.post(f"/api/conversations/{convs[0]['id']}/messages", json={"text": "Odpowiedź"})
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "account_suspended" and REASON in r.json()["error"]

        # The forward is refused with the reason (the worker's attempt records it).
        deadline = time.monotonic() + 20
        while True:
            deliveries = (await b.get("/api/forwarding/deliveries")).json()
            if deliveries and deliveries[0]["status"] != "pending":
                break
            assert time.monotonic() < deadline, deliveries
            await asyncio.sleep(0.1)
        assert deliveries[0]["status"] == "refused" and REASON in deliveries[0]["last_error"]

        # Reactivated, the account sends again: the next text gets the autoresponder's answer, and
        # it is the first SMS the customer gets (none was sent while suspended).
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/reactivate")
        assert r.status_code == 200 and r.json()["suspended"] is False
        await customer.text(tenant_b.number, "Jest ktoś?")
        assert (await customer.next_sms())["text"] == "Dziękujemy!"
        first = await Message.get(received["message_id"])
        assert first is not None
        outbound = await Message.find(
            {"conversation_id": first.conversation_id, "direction": "out"}
        ).to_list()
        assert [m.text for m in outbound] == ["Dziękujemy!"]
        r = await b.post(f"/api/conversations/{convs[0]['id']}/messages", json={"text": "Odpowiedź"})
        assert r.status_code == 201, r.text


async def test_operator_accounts_are_validated(running: RunningHub, tenant_a: Tenant) -> None:
    operator = await Account.get(PydanticObjectId(tenant_a.account_id))
    assert operator is not None
    await operator.set({"operator": True})
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op:

        def admin(email: str, password: str = "long-enough") -> dict[str, object]:
            return {"name": "X", "slug": "new", "admin": {"email": email, "name": "X", "password": password}}

        for body, status, field in [
            ({"name": "X", "slug": "Zła"}, 422, "slug"),
            ({"name": " ", "slug": "ok"}, 422, "name"),
            ({"name": "X", "slug": "alpha"}, 409, "slug"),
            (admin("x"), 422, "email"),
            (admin("a@b.pl", "short"), 422, "password"),
            (admin(tenant_a.agent_email), 409, "email"),
        ]:
            r = await op.post("/api/operator/accounts", json=body)
            assert r.status_code == status and r.json()["field"] == field, (body, r.text)
        assert {a["slug"] for a in (await op.get("/api/operator/accounts")).json()} == {"alpha"}
        r = await op.post(f"/api/operator/accounts/{tenant_a.account_id}/suspend", json={"reason": "x"})
        assert r.status_code == 409
        r = await op.patch(f"/api/operator/accounts/{tenant_a.account_id}", json={"name": "Operator"})
        assert r.status_code == 200 and r.json()["name"] == "Operator"
        assert (await op.get("/api/operator/accounts/nope")).status_code == 404
