"""The contact panel, the composer's "cannot text" notice and the search by a message's text, in
real headless Chromium at 1366x768 and 390 px wide."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.conftest import RunningHub
from tests.e2e.browser import AGENT, DEMO_NUMBER, PageProblems, launch, log_in, new_page, screenshot, sim_send

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CUSTOMER = "+48601111001"
SIZES: list[ViewportSize] = [{"width": 1366, "height": 768}, {"width": 390, "height": 844}]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


async def no_sideways_scroll(page: Page, width: int) -> None:
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, scroll


@pytest.mark.parametrize("size", SIZES, ids=["1366x768", "390px"])
async def test_the_panel_says_why_an_opted_out_contact_cannot_be_texted_and_search_finds_its_text(
    running: RunningHub, demo: None, browser: Browser, size: ViewportSize
) -> None:
    phone = size["width"] < 760
    problems = PageProblems()
    await sim_send(running.base, CUSTOMER, "Mam żółwia w ogrodzie, co robić?")
    await sim_send(running.base, CUSTOMER, "STOP")
    _, page = await new_page(browser, problems, size)
    await log_in(page, running.base, AGENT)
    await page.locator("#conversation-list [data-conversation-id]", has_text=CUSTOMER).click()
    await expect(page.locator("#thread .msg-in", has_text="STOP")).to_be_visible()

    panel = page.locator("#contact-panel")
    toggle = page.locator("#contact-toggle")
    if phone:
        # On a phone the thread comes first; the toggle shows the panel over it.
        await expect(panel).to_be_hidden()
        await toggle.click()
    await expect(panel).to_be_visible()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    stop = panel.locator(".contact-stop[data-kind='opt_out']")
    await expect(stop).to_contain_text(f'Opted out by texting "STOP" to {DEMO_NUMBER} on ')
    await expect(panel.locator(".contact-phone")).to_have_text(CUSTOMER)
    thread_link = panel.locator(".contact-threads a", has_text=DEMO_NUMBER)
    await expect(thread_link).to_have_attribute("aria-current", "page")
    await no_sideways_scroll(page, size["width"])
    await screenshot(page, f"contact-panel-{size['width']}")

    # An agent names the contact and gives it a field.
    await panel.locator("#contact-name").fill("Żółw Jan")
    await panel.locator(".contact-add-field").click()
    await panel.locator(".contact-field-key").last.fill("miasto")
    await panel.locator(".contact-field-value").last.fill("Łódź")
    await panel.locator("button[type=submit]").click()
    await expect(page.locator("#toast")).to_have_text("Contact saved")
    await expect(panel.locator("#contact-name")).to_have_value("Żółw Jan")
    await expect(panel.locator(".contact-field-value")).to_have_value("Łódź")
    # Every inbox of the account shows the new name (conversation.updated, change "contact").
    await expect(page.locator("#thread-contact")).to_have_text("Żółw Jan")
    # A field name that is not a word is refused before it is sent.
    await panel.locator(".contact-field-key").last.fill("1 zła")
    await panel.locator("button[type=submit]").click()
    await expect(panel.locator(".contact-form-error")).to_contain_text("A field name starts with a letter")

    if phone:
        await panel.locator(".contact-close").click()
        await expect(panel).to_be_hidden()
    # The composer says why before anything is typed: sending is off, the text stays usable.
    notice = page.locator("#composer-blocked")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("Cannot text this contact")
    await expect(notice).to_contain_text(f'"STOP" to {DEMO_NUMBER}')
    await expect(page.locator("#reply-send")).to_be_disabled()
    await expect(page.locator("#reply-text")).to_be_editable()
    await no_sideways_scroll(page, size["width"])
    await screenshot(page, f"contact-composer-{size['width']}")

    # Search by a word of the text, typed without its diacritics: the row shows the message.
    if phone:
        await page.locator("#thread-back").click()
    await page.locator("#filter-status").select_option("")
    await page.locator("#filter-search").fill("zolw ogrod")
    # The list shows the contact by its new name.
    row = page.locator("#conversation-list [data-conversation-id]", has_text="Żółw Jan")
    await expect(row.locator(".conv-match")).to_contain_text("Mam żółwia w ogrodzie")
    await expect(row.locator(".conv-match mark")).to_have_text(["żółwia", "ogrodzie"])
    await expect(page.locator("#conversation-list [data-conversation-id]")).to_have_count(1)
    await no_sideways_scroll(page, size["width"])
    await screenshot(page, f"contact-search-{size['width']}")
    # And by the number as people write it.
    await page.locator("#filter-search").fill("601 111 001")
    await expect(row).to_be_visible()
    await expect(row.locator(".conv-match")).to_have_count(0)
    await expect(page.locator("#conversation-list [data-conversation-id]")).to_have_count(1)
    problems.check()
