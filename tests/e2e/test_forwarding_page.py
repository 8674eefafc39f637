"""The forwarding page in real headless Chromium: add a rule, watch a delivery die, replay it."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from hub.settings import ForwardingSettings, Settings
from hub.store.accounts import Account
from hub.store.mail import MailRecord
from tests.conftest import RunningHub
from tests.e2e.browser import ADMIN, AGENT, PageProblems, launch, log_in, new_page, screenshot, sim_send
from tests.forwarding.helpers import Receiver, verify_signature
from tests.httpserver import HTTPServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        forwarding=ForwardingSettings(timeout_s=1.0, horizon_s=3.0, first_retry_s=0.2, max_retry_s=0.5),
    )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


async def test_rules_deliveries_and_replay(running: RunningHub, demo: None, browser: Browser) -> None:
    problems = PageProblems()
    receiver = Receiver(default="500")
    async with HTTPServer(receiver) as server:
        _, page = await new_page(browser, problems)
        await log_in(page, running.base, ADMIN)
        await page.goto(f"{running.base}/forwarding")
        await expect(page.locator("body")).to_have_attribute("data-state", "ready")
        await expect(page.locator("#rules-empty")).to_be_visible()
        await expect(page.locator("#mail-empty")).to_be_visible()
        account = await Account.find_one({"slug": "demo"})
        assert account is not None
        await MailRecord(
            mailbox="hub@example.test",
            uidvalidity=1,
            uid=1,
            sender="stranger@elsewhere.test",
            subject="<b>Re: hi</b>",
            outcome="rejected",
            reason="not an agent of this account",
            account_id=account.id,
        ).insert()
        await page.reload()
        await expect(page.locator('#mail [data-outcome="rejected"]')).to_contain_text("not an agent")
        await expect(page.locator("#mail tr")).to_contain_text("<b>Re: hi</b>")  # shown as text

        # Refused input says why, and adds nothing.
        await page.select_option("#rule-kind", "url")
        await page.fill("#rule-target", "ftp://files.example.com/in")
        await page.click("#rule-submit")
        await expect(page.locator("#rule-error")).to_contain_text("http")
        await expect(page.locator("#rules tr")).to_have_count(0)

        await page.fill("#rule-name", "CRM")
        await page.fill("#rule-target", f"{server.base}/hook")
        await page.select_option("#rule-format", "xml")
        await page.click("#rule-submit")
        await expect(page.locator("#rules tr")).to_have_count(1)
        await expect(page.locator("#rules tr")).to_contain_text("URL (XML)")
        secret = await page.locator("#rule-secret-value").text_content()
        assert secret

        await sim_send(running.base, "+48600111222", "Proszę o kontakt")
        dead = page.locator('#deliveries [data-status="dead"]')
        await expect(dead).to_have_count(1, timeout=20_000)
        await expect(dead.locator(".fw-attempts li").first).to_contain_text("HTTP 500")
        await screenshot(page, "forwarding-dead")

        receiver.default = "ok"
        await dead.locator('[data-action="replay"]').click()
        delivered = page.locator('#deliveries [data-status="delivered"]')
        await expect(delivered).to_have_count(1, timeout=20_000)
        await expect(delivered.locator(".fw-attempt-ok")).to_have_count(1)
        await expect(delivered).to_contain_text("1 replay")

        # An agent sees the rules and deliveries but cannot change or replay anything.
        _, agent_page = await new_page(browser, problems)
        await log_in(agent_page, running.base, AGENT)
        await agent_page.goto(f"{running.base}/forwarding")
        await expect(agent_page.locator("body")).to_have_attribute("data-state", "ready")
        await expect(agent_page.locator("#rules tr")).to_have_count(1)
        await expect(agent_page.locator("#rule-form")).to_be_hidden()
        await expect(agent_page.locator("#replay-dead")).to_be_hidden()
        await expect(agent_page.locator('#rules [data-action="delete"]')).to_have_count(0)

    last = receiver.requests[-1]
    assert verify_signature(secret, last.headers, last.body)
    assert "Proszę o kontakt".encode() in last.body and last.body.startswith(b"<?xml")
    problems.check()
