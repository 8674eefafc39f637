"""The inbox shows, under an inbound message, the automatic replies the hub held back and why."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import RunningHub
from tests.e2e.browser import ADMIN, DEMO_NUMBER, PageProblems, launch, log_in, new_page, sim_send
from tests.e2e.keywords_helpers import admin_client, created, number_id

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CUSTOMER = "+48600700811"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


async def test_a_held_back_autoreply_is_shown_with_its_reason(
    running: RunningHub, demo: None, browser: Browser
) -> None:
    problems = PageProblems()
    async with admin_client(running, *ADMIN) as a:
        await created(
            a,
            "/api/autoresponders",
            {"number_id": await number_id(a, DEMO_NUMBER), "template": "Odpiszemy wkrótce."},
        )
    await sim_send(running.base, CUSTOMER, "STOP")
    await sim_send(running.base, CUSTOMER, "Halo?")
    _, page = await new_page(browser, problems)
    await log_in(page, running.base, ADMIN)
    conversation = page.locator("#conversation-list [data-conversation-id]", has_text=CUSTOMER)
    await conversation.click()
    held = page.locator("#thread .msg-in", has_text="Halo?").locator(".msg-withheld")
    await expect(held).to_have_text("Autoresponder not sent: the contact opted out")
    assert await held.locator(".msg-tag").get_attribute("title") == "Not sent: Odpiszemy wkrótce."
    await expect(page.locator("#thread .msg-in", has_text="STOP").locator(".msg-withheld")).to_have_count(0)
    problems.check()
