"""Forwarding to a phone: from a shared number's keyword; never to a phone that opted out or is blocked."""

from __future__ import annotations

import pytest

from hub.domain.numbers import NumberType
from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import Phone, add_number, admin_client, created, number_id, phone
from tests.forwarding.helpers import delivery_with_status

pytestmark = [pytest.mark.timeout(90), pytest.mark.asyncio]

ND = "+48503340503"
TEXTER = "+48601234567"
ON_CALL = "+48600700801"


async def _marker(texter: Phone, on_call: Phone, number: str, text: str) -> None:
    """Forward one more message and wait for it on the target: anything sent before it has arrived."""
    await texter.text(number, text)
    sms = await on_call.next_sms()
    assert sms["text"].endswith(text), sms


async def test_forward_to_phone_from_a_shared_number_keyword_is_sent_from_that_number(
    running: RunningHub, tenant_a: Tenant
) -> None:
    await add_number(ND, NumberType.ND)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, TEXTER) as texter,
        phone(running, ON_CALL) as on_call,
    ):
        keyword = await created(a, "/api/keywords", {"number_id": await number_id(a, ND), "text": "OGRODNIK"})
        await created(
            a, "/api/forwarding/rules", {"kind": "phone", "target": ON_CALL, "keyword_id": keyword["id"]}
        )
        await texter.text(ND, "Ogrodnik")
        sms = await on_call.next_sms()
        assert sms["sender"] == ND and sms["text"] == f"{TEXTER}: Ogrodnik"
        [delivery] = await delivery_with_status(a, a.headers["X-Token"], "delivered")
        assert delivery["attempt_count"] == 1 and delivery["billable_segments"] == 1
        assert delivery["last_error"] is None


async def test_a_phone_that_opted_out_is_not_forwarded_to_and_not_billed(
    running: RunningHub, tenant_a: Tenant
) -> None:
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, TEXTER) as texter,
        phone(running, ON_CALL) as on_call,
    ):
        await created(a, "/api/forwarding/rules", {"kind": "phone", "target": ON_CALL})
        await _marker(texter, on_call, tenant_a.number, "pierwsza")
        # The on-call phone answers the forwarded SMS with STOP, to the number it came from. That STOP
        # is itself a message of the number, so its own forward is refused too, as is the next one.
        await on_call.text(tenant_a.number, "STOP")
        await texter.text(tenant_a.number, "druga")
        refused = await delivery_with_status(a, a.headers["X-Token"], "refused", count=2)
        reason = f"refused: {ON_CALL} opted out of messages from {tenant_a.number}"
        for delivery in refused:
            assert delivery["billable_segments"] == 0 and delivery["attempt_count"] == 1
            assert delivery["last_error"] == reason and delivery["attempts"][0]["error"] == reason
        # START lifts it: its own forward arrives, then the next message; "druga" never did.
        await on_call.text(tenant_a.number, "START")
        assert (await on_call.next_sms())["text"] == f"{ON_CALL}: START"
        await _marker(texter, on_call, tenant_a.number, "trzecia")
        delivered = await delivery_with_status(a, a.headers["X-Token"], "delivered", count=3)
        assert sum(d["billable_segments"] for d in delivered) == 3
        assert (await a.get("/api/forwarding/deliveries", params={"status": "bogus"})).status_code == 422


async def test_a_blocked_phone_is_not_forwarded_to(running: RunningHub, tenant_a: Tenant) -> None:
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, TEXTER) as texter,
        phone(running, ON_CALL) as on_call,
    ):
        await created(a, "/api/forwarding/rules", {"kind": "phone", "target": ON_CALL})
        blocked = await created(a, "/api/contacts", {"phone": ON_CALL, "blocked": True})
        await texter.text(tenant_a.number, "pierwsza")
        [refused] = await delivery_with_status(a, a.headers["X-Token"], "refused")
        assert refused["last_error"] == f"refused: {ON_CALL} is blocked from messages from {tenant_a.number}"
        assert refused["billable_segments"] == 0
        r = await a.patch(f"/api/contacts/{blocked['id']}", json={"blocked": False})
        assert r.status_code == 200, r.text
        await _marker(texter, on_call, tenant_a.number, "druga")
