"""The admins' routing queue and the Snooze button in real headless Chromium, wide and phone-narrow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from hub.store.accounts import utcnow
from hub.store.conversations import Conversation
from tests.conftest import RunningHub
from tests.e2e.browser import ADMIN, PHONE, PageProblems, launch, log_in, new_page, screenshot, sim_send

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

LAPTOP: ViewportSize = {"width": 1366, "height": 768}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


async def call(page: Page, method: str, path: str, body: object = None) -> int:
    status = await page.evaluate(
        """([method, path, body]) => fetch(path, {method, headers: {'Content-Type': 'application/json'},
             body: body === null ? undefined : JSON.stringify(body)}).then(r => r.status)""",
        [method, path, body],
    )
    return int(status)


async def no_sideways_scroll(page: Page, width: int) -> None:
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, scroll


@pytest.mark.parametrize("redis_mode", [False], ids=["memory"], indirect=True)
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366", "390"])
async def test_queue_panel_is_live_and_snooze_hides_the_conversation(
    running: RunningHub, demo: None, browser: Browser, viewport: ViewportSize
) -> None:
    problems = PageProblems()
    base = running.base
    _, a = await new_page(browser, problems, viewport=viewport)
    await log_in(a, base, ADMIN)
    me = await a.evaluate("fetch('/api/me').then(r => r.json())")

    panel = a.locator("#queue-panel")
    await expect(panel).to_be_visible()
    await a.locator("#queue-panel summary").click()
    await a.locator("#queue-auto").check()
    await a.locator("#queue-threshold").fill("1")
    await a.locator("#queue-threshold").dispatch_event("change")
    capacity = a.locator(f"#cap-{me['id']}")
    await capacity.fill("1")
    await capacity.dispatch_event("change")
    mine = a.locator(f'#queue-agents [data-agent-id="{me["id"]}"]')
    await expect(mine.locator(".queue-load")).to_have_text("0/1")
    await expect(a.locator("#queue-waiting")).to_contain_text("Nobody waits.")

    # Two texts, room for one: one is the admin's, one waits — shown live, without a reload.
    await sim_send(base, "+48600700841", "Pierwsza")
    await sim_send(base, "+48600700842", "Druga")
    waiting = a.locator("#queue-waiting .queue-item")
    await expect(waiting).to_have_count(1)
    await expect(waiting).to_contain_text("+48600700842")
    await expect(mine.locator(".queue-load")).to_have_text("1/1")
    await expect(a.locator("#queue-summary-count")).to_have_text("1 waiting")
    await no_sideways_scroll(a, viewport["width"])

    # Waiting past the threshold is flagged (moved back two minutes; the panel reads it on reload).
    await Conversation.get_pymongo_collection().update_many(
        {"waiting_since": {"$ne": None}}, {"$set": {"waiting_since": utcnow() - timedelta(minutes=2)}}
    )
    await a.reload()
    await expect(a.locator("body")).to_have_attribute("data-connection", "online")
    await a.locator("#queue-panel summary").click()
    await expect(a.locator("#queue-waiting .queue-flag")).to_have_text("Waiting too long")
    await expect(a.locator("#queue-summary-count")).to_have_text("1 waiting, 1 too long")
    await screenshot(a, f"inbox-queue-{viewport['width']}")

    # The admin snoozes their conversation: out of the open list, under "Snoozed".
    first = await Conversation.find_one({"contact_phone": "+48600700841"})
    other = await Conversation.find_one({"contact_phone": "+48600700842"})
    assert first is not None and other is not None and str(first.assignee_id) == me["id"]
    await a.goto(f"{base}/inbox#c={first.id}")
    await expect(a.locator("body")).to_have_attribute("data-connection", "online")
    await expect(a.locator("#thread .msg-in")).to_have_count(1)
    await a.locator("#snooze-toggle").click()
    menu = a.locator("#snooze-menu")
    await expect(menu).to_be_visible()
    await expect(a.locator("#snooze-1h")).to_be_focused()
    await no_sideways_scroll(a, viewport["width"])
    await screenshot(a, f"inbox-snooze-{viewport['width']}")
    await a.locator("#snooze-1h").click()
    await expect(menu).to_be_hidden()
    await expect(a.locator("#snooze-toggle")).to_contain_text("Snoozed")
    listed = await a.evaluate("fetch('/api/conversations?status=open').then(r => r.json())")
    assert str(first.id) not in [c["id"] for c in listed]
    if viewport["width"] < 760:
        await a.locator("#thread-back").click()
    await a.select_option("#filter-status", "snoozed")
    row = a.locator(f'#conversation-list [data-conversation-id="{first.id}"]')
    await expect(row).to_have_count(1)
    await expect(a.locator(f'#conversation-list [data-conversation-id="{other.id}"]')).to_have_count(0)

    # Reopened from the menu; then closing it hands the waiting conversation to the admin, live.
    await row.click()
    await a.locator("#snooze-toggle").click()
    await a.locator("#snooze-wake").click()
    await expect(a.locator("#snooze-toggle")).to_have_text("Snooze")
    assert await call(a, "POST", f"/api/conversations/{first.id}/status", {"status": "closed"}) == 200
    if viewport["width"] < 760:
        await a.locator("#thread-back").click()
    await a.select_option("#filter-status", "open")
    await expect(a.locator("#queue-waiting")).to_contain_text("Nobody waits.")
    await expect(mine.locator(".queue-load")).to_have_text("1/1")
    await expect(a.locator(f'#conversation-list [data-conversation-id="{other.id}"]')).to_have_count(1)
    await no_sideways_scroll(a, viewport["width"])
    problems.check()
