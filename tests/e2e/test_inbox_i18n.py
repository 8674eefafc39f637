"""The inbox in Polish and English in real headless Chromium: a browser preferring Polish gets a
Polish inbox (filters, composer, empty state, plural forms, the unread count in the title and 24-hour
times) that fits 1366 px and 390 px windows without horizontal scrolling; the top bar's switch turns
it English."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.conftest import RunningHub
from tests.e2e.browser import ADMIN, PageProblems, launch, log_in, new_page, screenshot, sim_send
from tests.e2e.test_admin_pages import fits

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PHONES = ("+48600700931", "+48600700932")
# A time of today, as the thread shows it: hours and minutes, no AM/PM.
TIME_24H = re.compile(r"^\d{2}:\d{2}$")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


def row(page: Page, phone: str) -> Locator:
    return page.locator("#conversation-list .conv-row", has_text=phone)


async def test_the_inbox_speaks_polish_fits_and_switches_to_english(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    context, page = await new_page(browser, problems, {"width": 1366, "height": 768}, locale="pl-PL")
    await log_in(page, base, ADMIN)
    await expect(page.locator("html")).to_have_attribute("lang", "pl")
    # Two texts from one phone (two unread messages), one from another.
    await sim_send(base, PHONES[0], "Dzień dobry, mam pytanie.")
    await sim_send(base, PHONES[0], "Czy jesteście otwarci w sobotę?")
    await sim_send(base, PHONES[1], "Halo?")
    first = row(page, PHONES[0])
    await expect(first.locator(".unread-badge")).to_have_text("2")

    # Static texts, plural forms and the unread count in the title.
    await expect(page.locator("#thread-empty")).to_have_text("Wybierz rozmowę")
    await expect(page.locator("#filter-status option[value=open]")).to_have_text("Otwarte")
    await expect(page.locator("#filter-assignee option[value=unassigned]")).to_have_text("Nieprzypisane")
    search = page.locator("#filter-search")
    await expect(search).to_have_attribute("placeholder", "Szukaj numeru, nazwy lub tekstu…")
    await expect(page.locator("#connection-banner")).to_contain_text("Ponowne łączenie…")
    badge = first.locator(".unread-badge")
    await expect(badge).to_have_attribute("aria-label", "2 nieprzeczytane wiadomości")
    await expect(first.locator(".status-pill")).to_have_text("otwarta")
    await expect(first.locator(".conv-number")).to_contain_text("na +48")
    await expect(page).to_have_title(re.compile(r"^\(\d+\) Skrzynka · SMS Hub$"))
    await expect(page.locator("#bulk-count")).to_have_text("Zaznacz")
    await row(page, PHONES[0]).locator(".bulk-check").check()
    await expect(page.locator("#bulk-count")).to_have_text("1 zaznaczona")
    await row(page, PHONES[1]).locator(".bulk-check").check()
    await expect(page.locator("#bulk-count")).to_have_text("2 zaznaczone")
    await expect(page.locator("#bulk-close")).to_have_text("Zamknij")
    await page.click("#bulk-clear")
    await fits(page, "/inbox pl list 1366")

    # The thread and the composer: 24-hour times, Polish buttons.
    await first.locator(".conv-phone").click()
    await expect(page.locator("#thread .msg-in")).to_have_count(2)
    times = await page.locator("#thread .msg-in .msg-meta time").all_text_contents()
    assert all(TIME_24H.match(t) for t in times), times
    await expect(page.locator("#status-toggle")).to_have_text("Zamknij")
    await expect(page.locator("#snooze-toggle")).to_have_text("Odłóż")
    await expect(page.locator("#reply-send")).to_have_text("Wyślij")
    await expect(page.locator("#attach-button")).to_contain_text("Załącz")
    await expect(page.locator("#canned-manage")).to_have_text("/ Odpowiedzi")
    await expect(page.locator("#composer-mode .mode-btn")).to_have_text(["Odpowiedź", "Notatka"])
    await expect(page.locator("#thread-number")).to_contain_text("na +48")
    await page.click("#composer-mode .mode-btn >> nth=1")
    await expect(page.locator("#reply-send")).to_have_text("Dodaj notatkę")
    await page.click("#composer-mode .mode-btn >> nth=0")
    await page.fill("#reply-text", "Tak")
    await expect(page.locator("#segment-counter")).to_contain_text("zostało")
    await fits(page, "/inbox pl thread 1366")
    await screenshot(page, "inbox-pl-1366")

    # A phone-sized window: the list and the open thread fit.
    await page.set_viewport_size({"width": 390, "height": 844})
    await fits(page, "/inbox pl thread 390")
    await page.click("#thread-back")
    await expect(page.locator("#conversation-list")).to_be_visible()
    await fits(page, "/inbox pl list 390")
    await screenshot(page, "inbox-pl-390")

    # The switch turns the inbox English (and the choice is kept).
    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.select_option("#lang-switch", "en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")
    await expect(page.locator("#thread-empty")).to_have_text("Select a conversation")
    await expect(page.locator("#filter-status option[value=open]")).to_have_text("Open")
    # The first conversation was read; the second still has its one text unread.
    english = row(page, PHONES[1])
    await expect(english.locator(".unread-badge")).to_have_attribute("aria-label", "1 unread message")
    await expect(page).to_have_title(re.compile(r"^\(\d+\) Inbox · SMS Hub$"))
    await english.locator(".bulk-check").check()
    await row(page, PHONES[0]).locator(".bulk-check").check()
    await expect(page.locator("#bulk-count")).to_have_text("2 selected")
    await fits(page, "/inbox en 1366")
    await context.close()
    problems.check()
