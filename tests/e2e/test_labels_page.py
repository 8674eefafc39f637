"""Labels, bulk actions and saved views in the inbox, in headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.conftest import RunningHub
from tests.e2e.browser import (
    ADMIN,
    AGENT,
    PHONE,
    PageProblems,
    launch,
    log_in,
    new_page,
    screenshot,
    sim_send,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

LAPTOP: ViewportSize = {"width": 1366, "height": 768}

# The WCAG contrast of an element's text colour on its background colour, as the browser computes them.
CONTRAST = """(e) => {
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = c.map((v) => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const style = getComputedStyle(e);
  const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


async def no_horizontal_scroll(page: Page, width: int) -> None:
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, scroll


def row(page: Page, phone: str):  # type: ignore[no-untyped-def]
    return page.locator("#conversation-list [data-conversation-id]", has_text=phone)


@pytest.mark.parametrize("redis_mode", [False], indirect=True)
async def test_labels_filter_bulk_close_and_saved_view(
    running: RunningHub, demo: None, browser: Browser
) -> None:
    base = running.base
    problems = PageProblems()
    _, admin = await new_page(browser, problems, viewport=LAPTOP)
    await log_in(admin, base, ADMIN)

    # The admin makes two labels.
    await admin.click("#labels-panel summary")
    for count, (name, colour) in enumerate((("Pilne", "red"), ("Faktura", "blue")), start=1):
        await admin.fill("#label-new-name", name)
        await admin.select_option("#label-new-colour", colour)
        await admin.click("#label-new button[type=submit]")
        await expect(admin.locator("#labels-list .labels-item")).to_have_count(count)
    await expect(admin.locator("#filter-label option")).to_have_text(["Any label", "Faktura", "Pilne"])
    # A duplicate name is refused with the hub's reason.
    await admin.fill("#label-new-name", "pilne")
    await admin.click("#label-new button[type=submit]")
    await expect(admin.locator("#toast")).to_contain_text("already exists")
    await expect(admin.locator("#labels-list .labels-item")).to_have_count(2)
    for chip in await admin.locator("#labels-list .label-chip").all():
        assert await chip.evaluate(CONTRAST) >= 4.5
    await no_horizontal_scroll(admin, LAPTOP["width"])
    await screenshot(admin, "inbox-labels-admin")

    for phone, text in (
        ("+48600700821", "Proszę o fakturę"),
        ("+48600700822", "dzięki"),
        ("+48600700823", "ok"),
    ):
        await sim_send(base, phone, text)

    # The agent labels a conversation; the chip shows in the header and in both agents' lists.
    _, agent = await new_page(browser, problems, viewport=LAPTOP)
    await log_in(agent, base, AGENT)
    rows = agent.locator("#conversation-list [data-conversation-id]")
    await expect(rows).to_have_count(3)
    await row(agent, "+48600700821").click()
    await expect(agent.locator("#thread .msg-in")).to_have_count(1)
    await agent.select_option("#thread-label-add", label="Pilne")
    await expect(agent.locator("#thread-labels .label-chip")).to_have_text(
        ["Pilne\u00d7"]
    )  # the name, and the remove button
    await expect(row(agent, "+48600700821").locator(".label-chip")).to_have_text("Pilne")
    await expect(row(admin, "+48600700821").locator(".label-chip")).to_have_text("Pilne")
    chip = row(agent, "+48600700821").locator(".label-chip")
    assert await chip.evaluate(CONTRAST) >= 4.5

    # Filtered by that label, the list holds it alone.
    await agent.select_option("#filter-label", label="Pilne")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("+48600700821")
    await agent.reload()
    await expect(agent.locator("body")).to_have_attribute("data-connection", "online")
    await agent.select_option("#filter-label", label="Pilne")
    await expect(rows).to_have_count(1)  # from the hub this time (GET /api/conversations?label=)
    await agent.select_option("#filter-label", "")
    await expect(rows).to_have_count(3)

    # Bulk: the newest row, then shift-click the second: both selected; close them in one action.
    await row(agent, "+48600700823").locator(".bulk-check").click()
    await row(agent, "+48600700822").locator(".bulk-check").click(modifiers=["Shift"])
    await expect(agent.locator("#bulk-count")).to_have_text("2 selected")
    await expect(agent.locator("#bulk-actions")).to_be_visible()
    await screenshot(agent, "inbox-bulk")
    await agent.click("#bulk-close")
    await expect(rows).to_have_count(1)  # the open list keeps only the first
    await expect(agent.locator("#bulk-count")).to_have_text("Select")
    await expect(row(admin, "+48600700822")).to_have_count(0)  # live for the admin too

    # A label made after the agent's page loaded shows as soon as a conversation carries it.
    conv_id = await row(agent, "+48600700821").get_attribute("data-conversation-id")
    status = await admin.evaluate(
        """async (id) => {
          const post = (url, body) => fetch(url, {
            method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body),
          }).then((r) => r.json());
          const label = await post('/api/labels', {name: 'Oddzwonić', colour: 'yellow'});
          return (await post(`/api/conversations/${id}/labels`, {label_id: label.id})).labels.length;
        }""",
        conv_id,
    )
    assert status == 2
    await expect(row(agent, "+48600700821").locator(".label-chip")).to_have_text(["Pilne", "Oddzwonić"])

    # A saved view: closed ones; picked again after a reload.
    await agent.select_option("#filter-status", "closed")
    await expect(rows).to_have_count(2)
    await agent.fill("#view-name", "Zamknięte")
    await agent.click("#view-save button[type=submit]")
    await expect(agent.locator("#views-list .views-pick")).to_have_text(["Zamknięte"])
    await agent.select_option("#filter-status", "open")
    await expect(rows).to_have_count(1)
    await agent.reload()
    await expect(agent.locator("body")).to_have_attribute("data-connection", "online")
    await expect(rows).to_have_count(1)
    await agent.locator("#views-list .views-pick", has_text="Zamknięte").click()
    await expect(agent.locator("#filter-status")).to_have_value("closed")
    await expect(rows).to_have_count(2)
    await expect(agent.locator("#views-list .views-pick.active")).to_have_text("Zamknięte")
    await no_horizontal_scroll(agent, LAPTOP["width"])

    # On a phone: the list with its bulk bar, the admins' label panel and a thread fit.
    _, phone = await new_page(browser, problems, viewport=PHONE)
    await log_in(phone, base, ADMIN)
    await phone.click("#labels-panel summary")
    await row(phone, "+48600700821").locator(".bulk-check").click()
    await expect(phone.locator("#bulk-actions")).to_be_visible()
    await no_horizontal_scroll(phone, PHONE["width"])
    await screenshot(phone, "inbox-labels-phone")
    await row(phone, "+48600700821").locator(".conv-phone").click()
    await expect(phone.locator("#thread-labels .label-chip")).to_have_count(2)
    await no_horizontal_scroll(phone, PHONE["width"])
    problems.check()
