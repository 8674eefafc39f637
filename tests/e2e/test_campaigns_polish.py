"""The campaigns page in a browser that prefers Polish, in real headless Chromium: the list, the
editor, the preview (plural forms, the hub's invalid-row reason and small-pool warning in Polish)
and a campaign's live view speak Polish, and the page fits 1366x768 and 390 px windows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from hub.domain.numbers import NumberType
from hub.services.routing import setup_changed
from tests.conftest import RunningHub
from tests.e2e.browser import ADMIN, PageProblems, launch, log_in, new_page
from tests.e2e.keywords_helpers import add_number
from tests.e2e.test_admin_pages import fits
from tests.e2e.test_campaigns_page import CSV, TEXT, gardeners

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SIZES = [(1366, 768), (390, 844)]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


async def fits_both(page: Page, where: str) -> None:
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await fits(page, f"{where} at {width}x{height}")
        await page.screenshot(path=f"/tmp/campaigns-pl-{where}-{width}.png", full_page=True)
    await page.set_viewport_size({"width": 1366, "height": 768})


async def test_a_polish_browser_gets_the_campaigns_page_in_polish_and_it_fits(
    running: RunningHub, browser: Browser
) -> None:
    await gardeners(running)
    # Two 2WAY numbers: fewer than the hub likes, so the preview warns about the small pool.
    for i in (1, 2):
        await add_number(f"+4879900030{i}", NumberType.TWO_WAY)
    setup_changed()

    problems = PageProblems()
    _, page = await new_page(browser, problems, {"width": 1366, "height": 768}, locale="pl-PL")
    await log_in(page, running.base, ADMIN)
    await page.goto(f"{running.base}/campaigns")
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    await expect(page.locator("html")).to_have_attribute("lang", "pl")
    await expect(page).to_have_title("Kampanie · SMS Hub")
    await expect(page.locator("#list-title")).to_have_text("Kampanie")
    await expect(page.locator("#campaigns-empty")).to_have_text("Nie ma jeszcze kampanii.")
    await expect(page.locator("#new-campaign")).to_have_text("Nowa kampania")

    await page.click("#new-campaign")
    await expect(page.locator("#editor-card legend").nth(2)).to_have_text("Odbiorcy")
    await expect(page.locator("#cp-preview")).to_have_text("Podgląd")
    await expect(page.locator("#cp-window-on + span")).to_have_text("Wysyłaj tylko w oknie wysyłki")
    await expect(page.locator("#cp-contact-search")).to_have_attribute(
        "placeholder", "Szukaj po nazwisku lub numerze…"
    )
    await page.fill("#cp-name", "Sadzonki po polsku")
    await page.fill("#cp-text", TEXT)
    # 50 characters: "znaków" (many), one SMS; Polish letters need UCS-2.
    await expect(page.locator("#cp-counter")).to_contain_text(f"{len(TEXT)} znaków · 1 SMS · UCS-2")
    await expect(page.locator("#cp-vars-help")).to_contain_text("Polskie litery")
    await expect(page.locator("#cp-sender-2way-help")).to_contain_text("na pewno wrócą")
    await expect(page.locator("#cp-sender-eco-help")).to_contain_text("w miarę możliwości")
    await expect(page.locator("#cp-sender-name-help")).to_contain_text("odpowiedzi nie są możliwe")
    # The number kinds are explained with the common dictionary's texts.
    await expect(page.locator('.cp-choice[data-kind="2way"]')).to_have_attribute(
        "title",
        "2WAY: Numer wirtualny z puli dostawcy do kampanii: odpowiedź trafia do kampanii, "
        "która pisała na ten telefon.",
    )
    await page.check("#cp-sender-2way")
    group = page.locator("#cp-groups label", has_text="Ogrodnicy")
    await expect(group).to_contain_text("3 kontakty")
    await group.locator("input").check()
    await page.set_input_files(
        "#cp-csv", files=[{"name": "lista.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
    )
    await expect(page.locator("#cp-csv-info")).to_have_text("lista.csv: 3 wiersze (razem z nagłówkiem)")
    await page.uncheck("#cp-window-on")
    await page.click("#cp-preview")

    # Two recipients: "2 odbiorcy" (few), their two UCS-2 texts "2 segmenty SMS".
    await expect(page.locator("#preview-recipients")).to_have_text("2 odbiorcy")
    await expect(page.locator("#preview-cost")).to_contain_text("2 segmenty SMS")
    excluded = page.locator("#preview-excluded")
    await expect(excluded.locator('[data-excluded="opted_out"]')).to_have_text("wypisani: 1")
    await expect(excluded.locator('[data-excluded="invalid"]')).to_have_text("błędne numery: 1")
    invalid = page.locator("#preview-invalid")
    await expect(invalid.locator("th").nth(2)).to_have_text("Powód")
    await expect(invalid).to_contain_text("'nie-numer' nie jest numerem telefonu")
    await expect(page.locator("#preview-warnings")).to_contain_text("Pula 2WAY ma 2 numery")
    await expect(page.locator("#preview-start")).to_have_text("Uruchom kampanię")
    await expect(page.locator("#preview-draft")).to_have_text("Zapisz jako szkic")
    await fits_both(page, "preview")

    await page.click("#preview-draft")
    card = page.locator("#progress-card")
    await expect(card).to_have_attribute("data-status", "draft")
    await expect(page.locator("#progress-title .cp-status")).to_have_text("Szkic")
    await expect(page.locator("#campaign-progress-text")).to_have_text("Przetworzono 0 z 2 (0%)")
    await expect(page.locator("#campaign-replies")).to_have_text(
        "Odpowiedzi wracają do tej kampanii i odbiorcy (pula 2WAY)."
    )
    await expect(page.locator('#campaign-counts [data-count="recipients"] .cp-count-label')).to_have_text(
        "Odbiorcy"
    )
    await expect(page.locator("#campaign-start")).to_have_text("Uruchom")
    await expect(page.locator("#campaign-cancel")).to_have_text("Anuluj kampanię")
    await page.click("#campaign-start")
    await expect(card).to_have_attribute("data-status", "done", timeout=30_000)
    await expect(page.locator("#progress-title .cp-status")).to_have_text("Zakończona")
    await expect(page.locator("#campaign-progress-text")).to_have_text("Przetworzono 2 z 2 (100%)")
    row = page.locator("#campaigns tr.cp-row").first
    await expect(row.locator(".cp-row-sender")).to_have_text("Pula 2WAY")
    await expect(row.locator(".cp-row-replies")).to_have_text("0 odpowiedzi")
    await expect(page.locator("#recipients tr")).to_have_count(2)
    await expect(page.locator('#recipients tr[data-status="delivered"]').first).to_contain_text("Doręczona")
    await fits_both(page, "progress")
    problems.check()


async def test_the_english_page_keeps_its_english_plurals(running: RunningHub, browser: Browser) -> None:
    """The same preview in the default British English browser: "2 recipients", "2 SMS segments"."""
    await gardeners(running)
    for i in (1, 2):
        await add_number(f"+4879900030{i}", NumberType.TWO_WAY)
    setup_changed()
    problems = PageProblems()
    _, page = await new_page(browser, problems)
    await log_in(page, running.base, ADMIN)
    await page.goto(f"{running.base}/campaigns")
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    await page.click("#new-campaign")
    await page.fill("#cp-name", "Seedlings")
    await page.fill("#cp-text", TEXT)
    await expect(page.locator("#cp-counter")).to_contain_text(f"{len(TEXT)} characters · 1 SMS · UCS-2")
    await page.check("#cp-sender-2way")
    await page.locator("#cp-groups label", has_text="Ogrodnicy").locator("input").check()
    await page.uncheck("#cp-window-on")
    await page.click("#cp-preview")
    await expect(page.locator("#preview-recipients")).to_have_text("2 recipients")
    await expect(page.locator("#preview-cost")).to_contain_text("2 SMS segments")
    await expect(page.locator("#preview-warnings")).to_contain_text("The 2WAY pool has 2 numbers")
    problems.check()
