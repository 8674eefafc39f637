"""Each gateway's traffic and last error in `/health` and `/api/operator/gateways`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from hub.outbound.twilio import TwilioProvider
from tests.conftest import TWILIO_SID, TWILIO_TOKEN, RunningHub, Tenant, login, make_tenant
from tests.e2e.browser import PageProblems, launch, log_in, new_page, screenshot, sim_send
from tests.e2e.test_admin_pages import fits
from tests.e2e.test_operator_api import operator_client
from tests.e2e.test_operator_page import OPERATOR, create_operator, open_operator
from tests.e2e.test_webhooks import post_twilio, twilio_form
from tests.httpserver import HTTPServer, Recorded
from tests.panel import Panel


async def gateways(c: httpx.AsyncClient) -> dict[str, Any]:
    r = await c.get("/health")
    assert r.status_code == 200, r.text
    return dict(r.json()["gateways"])


async def test_texts_in_and_a_reply_out_are_counted(running: RunningHub, tenant_a: Tenant) -> None:
    n = 3
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        Panel(running.ws_base, token) as panel,
        httpx.AsyncClient(base_url=running.base, headers=auth) as c,
    ):
        before = (await gateways(c))["simulator"]
        assert before["in_last_minute"] == 0 and before["last_in_at"] is None, before
        for i in range(n):
            r = await c.post(
                "/simulator/api/messages",
                json={"from": "+48600700950", "to": tenant_a.number, "text": f"Zażółć {i}"},
            )
            assert r.status_code == 201, r.text
        conv = (await panel.next("message.created"))["data"]["conversation_id"]
        reply = (await c.post(f"/api/conversations/{conv}/messages", json={"text": "Dzień dobry"})).json()
        await panel.next("message.status", message_id=reply["id"], status="sent")
        sim = (await gateways(c))["simulator"]
        assert sim["configured"] is True
        assert (sim["in_last_minute"], sim["out_last_minute"]) == (n, 1), sim
        assert sim["last_in_at"] and sim["last_out_at"] and sim["last_error"] is None, sim
    async with await operator_client(running) as op:
        listed = {g["name"]: g for g in (await op.get("/api/operator/gateways")).json()}
        assert listed["simulator"]["in_last_minute"] == n and listed["simulator"]["out_last_minute"] == 1
        assert listed["twilio"]["in_last_minute"] == 0


async def test_a_send_the_provider_refuses_is_the_last_error(running: RunningHub) -> None:
    tenant = await make_tenant("refused", "+48500100810", provider="twilio")

    def fake_twilio(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        body = {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}
        return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()

    token = await login(running.base, tenant.agent_email, tenant.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        HTTPServer(fake_twilio) as api,
        Panel(running.ws_base, token) as panel,
        httpx.AsyncClient(base_url=running.base, headers=auth) as c,
    ):
        running.hub.providers["twilio"] = TwilioProvider(
            running.hub.http, TWILIO_SID, TWILIO_TOKEN, api.base, None
        )
        r = await post_twilio(
            c, f"{running.base}/webhooks/twilio/inbound", twilio_form(tenant, "SM" + "1" * 32)
        )
        assert r.status_code == 200, r.text
        conv = (await panel.next("message.created"))["data"]["conversation_id"]
        reply = (await c.post(f"/api/conversations/{conv}/messages", json={"text": "a"})).json()
        await panel.next("message.status", message_id=reply["id"], status="failed")
        twilio = (await gateways(c))["twilio"]
    assert twilio["in_last_minute"] == 1 and twilio["out_last_minute"] == 0, twilio
    assert "not a valid phone number" in twilio["last_error"] and twilio["last_error_at"], twilio
    assert twilio["last_out_at"] is None


async def test_a_webhook_with_a_bad_signature_is_the_last_error(
    running: RunningHub, tenant_a: Tenant
) -> None:
    async with httpx.AsyncClient(base_url=running.base) as c:
        assert (await gateways(c))["twilio"]["last_error"] is None
        url = f"{running.base}/webhooks/twilio/inbound"
        r = await c.post(
            url,
            data=twilio_form(tenant_a, "SM" + "2" * 32),
            headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        )
        assert r.status_code == 403, r.text
        health = await gateways(c)
    assert "X-Twilio-Signature does not match" in health["twilio"]["last_error"], health
    assert health["twilio"]["in_last_minute"] == 0
    assert health["simulator"]["last_error"] is None


@pytest.mark.browser
@pytest.mark.timeout(180)
async def test_the_operator_page_shows_the_gateways_table(running: RunningHub, tenant_a: Tenant) -> None:
    """Two texts in through the simulator and a refused Twilio webhook, in the numbers section's
    gateways table of a phone-sized window, without horizontal scrolling."""
    await create_operator(running)
    for i in range(2):
        await sim_send(running.base, "+48600700951", f"Żółw {i}", to=tenant_a.number)
    async with httpx.AsyncClient(base_url=running.base) as c:
        r = await c.post(
            "/webhooks/twilio/inbound",
            data=twilio_form(tenant_a, "SM" + "3" * 32),
            headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        )
        assert r.status_code == 403, r.text
    problems = PageProblems()
    async with launch() as browser:
        _, page = await new_page(browser, problems, {"width": 390, "height": 844})
        await log_in(page, running.base, OPERATOR)
        await open_operator(page, running.base)
        sim = page.locator('#gateway-list .gateway-row[data-name="simulator"]')
        await expect(sim.locator(".gateway-configured")).to_have_text("yes")
        await expect(sim.locator(".gateway-in")).to_have_text("2")
        await expect(sim.locator(".gateway-out")).to_have_text("0")
        await expect(sim.locator(".gateway-error")).to_have_text("none")
        twilio = page.locator('#gateway-list .gateway-row[data-name="twilio"]')
        await expect(twilio.locator(".gateway-error")).to_contain_text("X-Twilio-Signature does not match")
        await fits(page, "/operator gateways 390")
        await page.locator("#gateways-table").scroll_into_view_if_needed()
        await screenshot(page, "layout-operator-gateways-390")
    problems.check()
