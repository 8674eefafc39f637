"""The services page in real headless Chromium: numbers, keywords with live validation, groups and
contacts with CSV, autoresponders, surveys with live results, statistics; agents read-only."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from hub.domain.numbers import NumberType
from tests.conftest import RunningHub, make_tenant
from tests.e2e.browser import (
    ADMIN,
    AGENT,
    DEMO_NUMBER,
    PHONE,
    PageProblems,
    launch,
    log_in,
    new_page,
    screenshot,
    sim_send,
)
from tests.e2e.keywords_helpers import add_number, admin_client, created, phone

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHARED_ND = "+48503340503"
CUSTOMER = "+48601234567"
QUESTION = "Ulubiona pora roku? A) wiosna B) lato"
QUESTION_2 = "Ile razy w roku jeździsz na urlop?"
AUTOREPLY = "Witamy w klubie ogrodnika!"
CSV_TWO = "phone,name,groups\n+48600111222,Zofia Żak,Ogrodnicy\n600333444,Jan Kos,\n"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


async def open_services(page: Page, base: str) -> None:
    """From the inbox, follow the top bar's link to the services page."""
    await page.click("#nav-services")
    await expect(page).to_have_url(f"{base}/services")
    await expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")


async def tab(page: Page, name: str) -> None:
    await page.click(f"#tab-{name}")
    await expect(page.locator(f"#panel-{name}")).to_be_visible()


async def test_admin_sets_up_services_and_sees_live_results(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    nd = await add_number(SHARED_ND, NumberType.ND)
    other = await make_tenant("beta", "+48500100300")
    async with admin_client(running, other.admin_email, other.admin_password) as b:
        await created(b, "/api/keywords", {"number_id": str(nd.id), "text": "PROMOCJA"})
    _, page = await new_page(browser, problems)
    await log_in(page, base, ADMIN)
    await open_services(page, base)

    # Numbers: the account's own with their types, then the shared one, which cannot be edited here.
    await tab(page, "numbers")
    numbers = page.locator("#number-list .number-item")
    await expect(numbers).to_have_count(3)
    ndi = page.locator('#number-list .number-item[data-type="NDI"]')
    await expect(ndi.locator(".type-badge")).to_have_text("NDI")
    await expect(page.locator('#number-list .number-item[data-type="SCI"] .type-badge')).to_have_text("SCI")
    shared = page.locator('#number-list .number-item[data-type="ND"]')
    await expect(shared).to_contain_text("shared")
    await expect(shared.locator("form")).to_have_count(0)
    await ndi.get_by_text("Edit label and texts").click()
    await ndi.get_by_label("Label").fill("Linia ogrodnika")
    await ndi.get_by_role("button", name="Save number").click()
    await expect(page.locator('#number-list .number-item[data-type="NDI"]')).to_contain_text(
        "Linia ogrodnika"
    )
    await page.fill("#ms-help-text", "Pomoc: 22 100 00 00")
    await page.click("#ms-submit")
    await expect(page.locator("#toast")).to_have_text("Messaging settings saved")
    await screenshot(page, "services-numbers")

    # Groups: one group for the keyword's senders.
    await tab(page, "contacts")
    await page.fill("#group-name", "Ogrodnicy")
    await page.click("#group-submit")
    group = page.locator("#group-list .group-item", has_text="Ogrodnicy")
    await expect(group.locator(".group-members")).to_have_text("0 members")

    # Autoresponder: the placeholders its template uses show as it is typed.
    await tab(page, "autoresponders")
    ndi_id = await ndi.get_attribute("data-number-id")
    assert ndi_id
    await page.select_option("#ar-number", ndi_id)
    await page.fill("#ar-name", "Powitanie")
    await page.locator("#ar-template").press_sequentially("Witaj {name}, {kod}")
    await expect(page.locator('#ar-placeholders [data-placeholder="name"]')).to_be_visible()
    # A name the hub does not fill is flagged (a custom field, or a typo).
    await expect(page.locator('#ar-placeholders [data-placeholder="kod"]')).to_have_class(
        "chip placeholder chip-warn"
    )
    await page.fill("#ar-template", AUTOREPLY)
    await page.check("#ar-on-keyword")
    await page.check("#ar-outside-hours")
    await expect(page.locator("#ar-hours")).to_be_visible()
    # A malformed range is refused before anything is sent; closed all week means "always outside".
    await page.fill("#ar-day-0", "9-17")
    await page.click("#ar-submit")
    await expect(page.locator("#ar-error")).to_contain_text("09:00-17:00")
    await expect(page.locator("#ar-day-0")).to_have_attribute("aria-invalid", "true")
    await screenshot(page, "services-autoresponder-hours")
    for day in range(7):
        await page.fill(f"#ar-day-{day}", "")
    await page.click("#ar-submit")
    responder = page.locator("#autoresponder-list .autoresponder-item", has_text="Powitanie")
    await expect(responder).to_contain_text("outside hours (Europe/Warsaw)")
    await expect(responder).to_contain_text("on keyword")
    await expect(responder).to_contain_text("at most 5 per 1 h")
    await screenshot(page, "services-autoresponders")

    # Survey on the demo NDI number.
    await tab(page, "surveys")
    await page.select_option("#sv-number", ndi_id)
    await page.fill("#sv-name", "Ulubiona pora roku")
    await page.fill("#sv-q1-text", QUESTION)
    await page.fill("#sv-q1-choices", "A, B")
    await page.click("#sv-add-question")
    await expect(page.locator("#sv-q2-text")).to_be_focused()
    await page.fill("#sv-q2-text", QUESTION_2)
    await page.select_option("#sv-q2-type", "number")
    await expect(page.locator("#sv-q2-choices")).to_be_hidden()
    await page.fill("#sv-q2-min", "0")
    await page.fill("#sv-q2-max", "20")
    await page.fill("#sv-opens", "2020-01-01T08:00")
    await page.fill("#sv-closes", "2099-12-31T20:00")
    await page.fill("#sv-thanks", "Dziękujemy za udział!")
    await page.click("#sv-submit")
    card = page.locator(".survey-card", has_text="Ulubiona pora roku")
    await expect(card).to_contain_text("2 questions")
    await expect(card).to_contain_text("closes 31 Dec 2099")
    await expect(card.locator('.bar-row[data-answer="A"]')).to_have_attribute("data-count", "0")
    await expect(card.locator('.bar-row[data-answer="B"]')).to_have_attribute("data-count", "0")
    survey_id = await card.get_attribute("data-survey-id")
    assert survey_id

    # Keyword: live validation against the hub as the admin types.
    await tab(page, "keywords")
    # Only exact keywords are offered on a shared number.
    shared_id = await shared.get_attribute("data-number-id")
    assert shared_id
    await page.select_option("#kw-number", shared_id)
    await expect(page.locator("#kw-kind option")).to_have_count(1)
    await expect(page.locator("#kw-kind")).to_have_value("exact")
    # Another account already reserved PROMOCJA on the shared number.
    validation = page.locator("#kw-validation")
    await page.locator("#kw-text").press_sequentially("Promocja!")
    await expect(validation).to_have_attribute("data-state", "error")
    await expect(validation).to_contain_text("is already taken on this number by another account")
    await expect(validation.locator(".validation-code")).to_have_text("duplicate")
    await expect(page.locator("#kw-submit")).to_be_disabled()
    await page.fill("#kw-text", "")
    await page.select_option("#kw-number", ndi_id)
    await expect(page.locator("#kw-kind option")).to_have_count(4)
    await page.locator("#kw-text").press_sequentially("STOP")
    await expect(validation).to_have_attribute("data-state", "error")
    await expect(validation).to_contain_text("'STOP' is an opt-out, opt-in or help word")
    await expect(validation.locator(".validation-code")).to_have_text("reserved")
    await expect(page.locator("#kw-submit")).to_be_disabled()
    await expect(page.locator("#kw-text")).to_have_attribute("aria-invalid", "true")
    await screenshot(page, "services-keyword-invalid")
    await page.fill("#kw-text", "")
    await page.locator("#kw-text").press_sequentially("Ogródnik!")
    await expect(validation).to_have_attribute("data-state", "ok")
    await expect(validation.locator(".normalised")).to_have_text("ogrodnik")
    await expect(page.locator("#kw-submit")).to_be_enabled()
    await page.locator("#kw-groups label", has_text="Ogrodnicy").locator("input").check()
    await page.locator("#kw-autoresponders label", has_text="Powitanie").locator("input").check()
    await page.select_option("#kw-survey", f"survey:{survey_id}")
    await expect(validation).to_have_attribute("data-state", "ok")
    await page.click("#kw-submit")
    keyword = page.locator("#keyword-list .keyword-item", has_text="Ogródnik!")
    await expect(keyword).to_contain_text("joins Ogrodnicy")
    await expect(keyword).to_contain_text("survey: Ulubiona pora roku")
    await expect(keyword).to_contain_text("replies: Powitanie")
    # The same keyword again is taken.
    await page.locator("#kw-text").press_sequentially("OGRODNIK")
    await expect(validation).to_have_attribute("data-state", "error")
    await expect(validation.locator(".validation-code")).to_have_text("duplicate")
    await expect(page.locator("#kw-submit")).to_be_disabled()
    await screenshot(page, "services-keywords")

    # A customer texts the keyword: the survey asks, the autoresponder answers; the chart follows
    # the answer live, without a reload.
    await tab(page, "surveys")
    await page.evaluate("window.__sameDocument = true")
    async with phone(running, CUSTOMER) as p:
        await p.text(DEMO_NUMBER, "ogrodnik")
        got = {(await p.next_sms())["text"], (await p.next_sms())["text"]}
        assert got == {QUESTION, AUTOREPLY}
        await p.text(DEMO_NUMBER, "b")
        assert (await p.next_sms())["text"] == QUESTION_2
        q1 = card.locator('.question-results[data-question-id="q1"]')
        await expect(q1.locator('.bar-row[data-answer="B"]')).to_have_attribute("data-count", "1")
        await expect(q1.locator('.bar-row[data-answer="A"]')).to_have_attribute("data-count", "0")
        await expect(q1).to_have_attribute("data-total", "1")
        await p.text(DEMO_NUMBER, "7")
        assert (await p.next_sms())["text"] == "Dziękujemy za udział!"
    q2 = card.locator('.question-results[data-question-id="q2"]')
    await expect(q2.locator('.bar-row[data-answer="7"]')).to_have_attribute("data-count", "1")
    # The same page all along (no reload), fed by the socket it opened once.
    assert await page.evaluate("window.__sameDocument === true && window.__services.readyCount === 1")
    await screenshot(page, "services-surveys")
    csv_link = await card.locator(".answers-csv").get_attribute("href")
    assert csv_link
    answers = await page.context.request.get(f"{base}{csv_link}")
    rows = list(csv.DictReader(io.StringIO(await answers.text())))
    assert [(r["phone"], r["question_id"], r["answer"]) for r in rows] == [
        (CUSTOMER, "q1", "B"),
        (CUSTOMER, "q2", "7"),
    ]

    # Contacts: the keyword put the customer in the group; a bad phone is refused inline.
    await tab(page, "contacts")
    await expect(group.locator(".group-members")).to_have_text("1 member")
    await page.fill("#contact-phone", "+48 12")
    await page.click("#contact-submit")
    await expect(page.locator("#contact-error")).to_contain_text("not a valid phone number")
    await expect(page.locator("#contact-phone")).to_have_attribute("aria-invalid", "true")
    await page.fill("#contact-phone", "call me")
    await page.click("#contact-submit")
    await expect(page.locator("#contact-error")).to_contain_text("Enter a phone number")
    # CSV import of two contacts, then they are listed and exported.
    await page.set_input_files(
        "#contact-import-file",
        files=[
            {
                "name": "kontakty.csv",
                "mimeType": "text/csv",
                "buffer": CSV_TWO.encode(),
            }
        ],
    )
    await expect(page.locator("#contact-import-result")).to_have_text(
        "Imported 2 contacts from kontakty.csv."
    )
    await expect(page.locator('#contact-list [data-phone="+48600111222"]')).to_contain_text("Zofia Żak")
    await expect(page.locator('#contact-list [data-phone="+48600333444"]')).to_contain_text("Jan Kos")
    await expect(group.locator(".group-members")).to_have_text("2 members")
    # A bad line imports nothing and says which line.
    await page.set_input_files(
        "#contact-import-file",
        files=[{"name": "zle.csv", "mimeType": "text/csv", "buffer": b"phone,name\n+48600555666,A\nxyz,B\n"}],
    )
    await expect(page.locator("#contact-import-result")).to_contain_text("line 3")
    await expect(page.locator("#contact-import-result")).to_have_attribute("data-state", "error")
    await expect(page.locator('#contact-list [data-phone="+48600555666"]')).to_have_count(0)
    export_href = await page.locator("#contact-export").get_attribute("href")
    exported = await page.context.request.get(f"{base}{export_href}")
    body = await exported.text()
    assert "+48600111222,Zofia Żak,Ogrodnicy" in body and "+48600333444,Jan Kos," in body
    # Search by phone and block.
    await page.fill("#contact-search", "+4860011")
    await expect(page.locator("#contact-list .contact-row")).to_have_count(1)
    row = page.locator('#contact-list [data-phone="+48600111222"]')
    await row.get_by_role("button", name="Block").click()
    await expect(page.locator('#contact-list [data-phone="+48600111222"]')).to_have_attribute(
        "data-blocked", "true"
    )
    # Search by a part of the name, in any case.
    await page.fill("#contact-search", "KOS")
    await expect(page.locator("#contact-list .contact-row")).to_have_count(1)
    await expect(page.locator("#contact-list .contact-row")).to_have_attribute("data-phone", "+48600333444")
    await page.fill("#contact-search", "")
    await expect(page.locator("#contact-list .contact-row")).to_have_count(3)
    await screenshot(page, "services-contacts")

    # Statistics: the keyword's messages and the number's traffic as charts.
    await tab(page, "stats")
    await expect(page.locator("body")).to_have_attribute("data-stats-loaded", "true")
    await expect(page.locator("#chart-keywords")).to_have_attribute("data-total", "1")
    await expect(page.locator('#chart-keywords rect[data-series="Ogródnik!"]')).to_have_count(1)
    await page.select_option("#stats-number", DEMO_NUMBER)
    await expect(page.locator("#chart-numbers rect.col")).not_to_have_count(0)
    await expect(page.locator("#first-response .figure")).to_have_count(6)
    await screenshot(page, "services-stats")

    # A narrow screen: the same page, one column.
    await page.set_viewport_size(PHONE)
    await tab(page, "keywords")
    await screenshot(page, "services-phone")
    problems.check()


async def test_contest_draw_shows_seed_entrants_and_winners(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, page = await new_page(browser, problems)
    await log_in(page, base, ADMIN)
    await open_services(page, base)
    await tab(page, "surveys")
    await page.fill("#sv-name", "Konkurs")
    await page.check("#sv-contest")
    await page.fill("#sv-q1-text", "Stolica Polski? A) Kraków B) Warszawa")
    await page.fill("#sv-q1-choices", "A, B")
    await page.click("#sv-submit")
    await expect(page.locator("#sv-error")).to_contain_text("correct answer")
    await page.fill("#sv-q1-correct", "B")
    await page.select_option("#sv-vote-limit", "unlimited")
    await page.fill("#sv-thanks", "Dziękujemy!")
    await page.click("#sv-submit")
    card = page.locator(".survey-card", has_text="Konkurs")
    await expect(card).to_have_attribute("data-contest", "true")
    contest_id = await card.get_attribute("data-survey-id")
    await tab(page, "keywords")
    await page.select_option("#kw-kind", "base")
    await page.locator("#kw-text").press_sequentially("KONKURS")
    await page.select_option("#kw-survey", f"contest:{contest_id}")
    await expect(page.locator("#kw-validation")).to_have_attribute("data-state", "ok")
    await page.click("#kw-submit")
    konkurs = page.locator("#keyword-list .keyword-item", has_text="KONKURS")
    await expect(konkurs).to_contain_text("contest: Konkurs")
    # Editing: the keyword does not collide with its old self.
    await konkurs.get_by_role("button", name="Edit").click()
    await expect(page.locator("#kw-form-title")).to_have_text("Edit keyword KONKURS")
    await expect(page.locator("#kw-kind")).to_have_value("base")
    await expect(page.locator("#kw-validation")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#kw-validation .normalised")).to_have_text("konkurs")
    await page.click("#kw-submit")
    await expect(page.locator("#toast")).to_have_text("Keyword saved")
    await expect(page.locator("#kw-form-title")).to_have_text("New keyword")
    await expect(konkurs).to_contain_text("contest: Konkurs")
    await expect(page.locator("#keyword-list .keyword-group[data-number-id] h3")).to_contain_text("1 keyword")

    await tab(page, "surveys")
    # No entrants yet: the hub says so.
    await card.locator(".draw-button").click()
    await expect(card.locator(".draw-box .form-error")).to_contain_text("no correct entrants")
    entrants = ["+48601000001", "+48601000002", "+48601000003"]
    for who, text in zip(entrants, ["KONKURS B", "konkurs b", "KONKURS A"], strict=True):
        async with phone(running, who) as p:
            await p.text(DEMO_NUMBER, text)
            assert (await p.next_sms())["text"] == "Dziękujemy!"
    await expect(card.locator(".entrant-count")).to_have_text("2")
    await expect(card.locator('.bar-row[data-answer="B"]')).to_have_attribute("data-count", "2")
    await card.locator(".draw-button").click()
    await expect(card.locator(".draw-seed")).not_to_be_empty()
    await expect(card.locator(".draw-entrants")).to_have_text(", ".join(entrants[:2]))
    await expect(card.locator(".draw-winners li")).to_have_count(1)
    winner = await card.locator(".draw-winners li").text_content()
    assert winner in entrants[:2]
    await screenshot(page, "services-contest-draw")
    # A contest a keyword still starts cannot be deleted: the hub says why.
    page.once("dialog", lambda dialog: dialog.accept())
    await card.get_by_role("button", name="Delete").click()
    await expect(page.locator("#toast")).to_contain_text("a keyword still starts this survey")
    await expect(card).to_be_visible()
    problems.check()


async def test_agent_sees_services_read_only(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, page = await new_page(browser, problems)
    await log_in(page, base, AGENT)
    await open_services(page, base)
    await expect(page.locator("body")).to_have_attribute("data-role", "agent")
    await expect(page.locator("#readonly-note")).to_be_visible()
    for name in ("numbers", "keywords", "contacts", "autoresponders", "surveys", "stats"):
        await tab(page, name)
        panel = page.locator(f"#panel-{name}")
        # Nothing to change: no forms to submit, no edit, delete or block buttons.
        await expect(panel.locator("form:visible:not(#messaging-form)")).to_have_count(0)
        await expect(panel.locator("button:visible")).to_have_count(0)
        await screenshot(page, f"services-agent-{name}")
    await tab(page, "numbers")
    await expect(page.locator("#ms-help-text")).not_to_be_editable()
    await expect(page.locator("#number-list .number-item")).to_have_count(2)
    # Keyboard: arrows move between the tabs.
    await page.focus("#tab-numbers")
    await page.keyboard.press("ArrowRight")
    await expect(page.locator("#tab-keywords")).to_be_focused()
    await expect(page.locator("#panel-keywords")).to_be_visible()
    await page.keyboard.press("End")
    await expect(page.locator("#panel-stats")).to_be_visible()
    # The link back to the inbox.
    await page.click("#nav-inbox")
    await expect(page).to_have_url(f"{base}/inbox")
    problems.check()


async def test_operator_admin_sees_unmatched_messages_others_do_not(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    await add_number(SHARED_ND, NumberType.ND)
    await add_number("+48503340504", NumberType.ND)
    other = await make_tenant("beta", "+48500100300")
    async with phone(running, CUSTOMER) as p:
        # No account reserved a keyword on these shared numbers: both messages reach no account.
        assert (await p.text(SHARED_ND, "Dzień dobry, <b>czy</b> jest ktoś?"))["matched"] is False
        assert (await p.text("+48503340504", "Inny numer"))["matched"] is False

    # The demo account is the platform operator (hub demo makes it so): its admin has the tab.
    _, page = await new_page(browser, problems)
    await log_in(page, base, ADMIN)
    await open_services(page, base)
    await expect(page.locator("#tab-unmatched")).to_be_visible()
    await tab(page, "unmatched")
    rows = page.locator("#unmatched-list .unmatched-row")
    await expect(rows).to_have_count(2)
    # Newest first; the text is shown as text, never as markup.
    await expect(rows.nth(0).locator(".unmatched-text")).to_have_text("Inny numer")
    older = rows.nth(1)
    await expect(older.locator(".unmatched-text")).to_have_text("Dzień dobry, <b>czy</b> jest ktoś?")
    await expect(older.locator(".unmatched-number")).to_have_text(SHARED_ND)
    await expect(older.locator(".unmatched-sender")).to_have_text(CUSTOMER)
    await expect(older.locator(".unmatched-reason")).to_have_text("no reserved keyword")
    await screenshot(page, "services-unmatched")
    # Only one number's messages.
    await page.fill("#unmatched-number", SHARED_ND)
    await expect(rows).to_have_count(1)
    await expect(rows.nth(0).locator(".unmatched-number")).to_have_text(SHARED_ND)
    # A message that arrives later shows on Refresh.
    async with phone(running, "+48601234568") as p:
        assert (await p.text(SHARED_ND, "Jeszcze jeden"))["matched"] is False
    await page.click("#unmatched-refresh")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0).locator(".unmatched-text")).to_have_text("Jeszcze jeden")
    await page.fill("#unmatched-number", "+48500000000")
    await expect(page.locator("#unmatched-empty")).to_be_visible()
    await expect(rows).to_have_count(0)
    # The keyboard reaches the tab: End goes to the last one (the audit log), Left to it.
    await page.focus("#tab-numbers")
    await page.keyboard.press("End")
    await expect(page.locator("#tab-audit")).to_be_focused()
    await page.keyboard.press("ArrowLeft")
    await expect(page.locator("#tab-unmatched")).to_be_focused()

    # The operator's agents and other accounts' admins have no such tab, and the API refuses them.
    for login in (AGENT, (other.admin_email, other.admin_password)):
        _, them = await new_page(browser, problems)
        await log_in(them, base, login)
        await them.goto(f"{base}/services#unmatched")
        await expect(them.locator("body")).to_have_attribute("data-loaded", "true")
        await expect(them.locator("#tab-unmatched")).to_be_hidden()
        await expect(them.locator("#panel-numbers")).to_be_visible()
        await expect(them.locator("#panel-unmatched")).to_be_hidden()
        status = await them.evaluate("fetch('/api/operator/unmatched').then(r => r.status)")
        assert status == 403, login
    async with admin_client(running, other.admin_email, other.admin_password) as b:
        assert (await b.get("/api/me")).json()["operator"] is False
    async with admin_client(running, *ADMIN) as a:
        assert (await a.get("/api/me")).json()["operator"] is True
    problems.check()


PAGES = ("/inbox", "/services", "/displays", "/forwarding")
NAV = {"Inbox": "/inbox", "Services": "/services", "Displays": "/displays", "Forwarding": "/forwarding"}
# Elements wider than the window, for the failure message.
OVERFLOWING = """() => {
  const w = window.innerWidth;
  return [...document.querySelectorAll('body *')]
    .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > w + 0.5)
    .slice(0, 8)
    .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].join('.')}`
      + ` right=${Math.round(e.getBoundingClientRect().right)}`);
}"""


async def fits(page: Page, where: str) -> None:
    """No horizontal scrolling: the document is no wider than the window."""
    width, inner = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    wide = await page.evaluate(OVERFLOWING)
    assert width <= inner, f"{where}: {width} px wide in a {inner} px window: {wide}"


async def loaded(page: Page, path: str) -> None:
    marker = {
        "/inbox": ("data-connection", "online"),
        "/services": ("data-loaded", "true"),
        "/displays": ("data-ready", "true"),
        "/forwarding": ("data-state", "ready"),
    }[path]
    await expect(page.locator("body")).to_have_attribute(*marker)
    await expect(page.locator(".topbar")).to_have_attribute("data-ready", "true")


@pytest.mark.parametrize(
    "size", [(1366, 768), (1920, 1080), (390, 844)], ids=["1366x768", "1920x1080", "390x844"]
)
async def test_every_agent_page_has_the_same_top_bar_and_fits_the_window(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems, size: tuple[int, int]
) -> None:
    base = running.base
    width, height = size
    _, page = await new_page(browser, problems, {"width": width, "height": height})
    await log_in(page, base, ADMIN)
    # A chat screen with a texter's message on it, so the moderation column shows its Answer field.
    number_id = await page.evaluate(
        f"fetch('/api/numbers').then(r => r.json()).then(ns => ns.find(n => n.e164 === '{DEMO_NUMBER}').id)"
    )
    status = await page.evaluate(
        """(id) => fetch('/api/displays', {method: 'POST',
             headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({title: 'Ekran na scenie', number_id: id, mode: 'chat'})})
           .then(r => r.status)""",
        number_id,
    )
    assert status == 201
    await sim_send(base, "+48600700841", "Pozdrowienia dla całej sali i dla organizatorów festiwalu!")
    await expect(page.locator("#conversation-list [data-conversation-id]")).to_have_count(1)

    for path in PAGES:
        await page.goto(base + path)
        await loaded(page, path)
        nav = page.locator(".topbar-nav")
        for name, href in NAV.items():
            link = nav.get_by_role("link", name=name, exact=True)
            await expect(link).to_be_visible()
            assert await link.get_attribute("href") == href
        await expect(nav.locator("[aria-current=page]")).to_have_attribute("href", path)
        await expect(page.locator(".topbar").get_by_role("button", name="Log out")).to_be_visible()
        await fits(page, path)
        name = path.strip("/")
        if path == "/services":
            for t in ("numbers", "keywords", "contacts", "autoresponders", "surveys", "stats"):
                await tab(page, t)
                await fits(page, f"{path} {t}")
                await screenshot(page, f"layout-{name}-{t}-{width}")
        elif path == "/displays":
            await expect(page.locator("#shown [data-item-id]")).to_have_count(1)
            answer = page.get_by_label("Answer", exact=True)
            await expect(answer).to_be_visible()
            # The moderation column is usable: the answer box is not squeezed nor cut off.
            # Measured in one call in the page: the list is re-rendered when live events arrive, and
            # an element found in one step may be replaced before a second step measures it.
            box = await answer.evaluate(
                "e => { const r = e.getBoundingClientRect(); return {x: r.x, width: r.width}; }"
            )
            assert box["width"] >= 150 and box["x"] + box["width"] <= width, box
            await fits(page, f"{path} moderation")
            await screenshot(page, f"layout-{name}-moderation-{width}")
            # The form: the logo fields do not overlap.
            logo = await page.locator("#d-logo").bounding_box()
            link = await page.locator("#d-logo-media").bounding_box()
            assert logo and link
            apart = logo["x"] + logo["width"] <= link["x"] or logo["y"] + logo["height"] <= link["y"]
            assert apart, (logo, link)
            await page.locator("#display-form").scroll_into_view_if_needed()
            await screenshot(page, f"layout-{name}-form-{width}")
        else:
            await screenshot(page, f"layout-{name}-{width}")
    problems.check()
