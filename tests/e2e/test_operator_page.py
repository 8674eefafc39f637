"""The operator's page in real headless Chromium, from an empty database (no demo seeding): the
operator, only through the page, sets up an account with its admin and numbers; the account's admin
reserves a keyword with an autoresponder on the shared number; a text from the simulator reaches the
account's inbox, an agent answers it, and the operator's usage section counts the answer."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import RunningHub, login
from tests.e2e.browser import PageProblems, launch, log_in, new_page, screenshot, sim_send
from tests.e2e.keywords_helpers import phone
from tests.e2e.test_admin_pages import fits
from tests.e2e.test_operator_api import hub_command

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

OPERATOR = ("root@operator.test", "operator-password")
PIZZA_ADMIN = ("szef@pizza.test", "pizza-password")
NDI = "+48500600700"
ND = "+48503340503"
CUSTOMER = "+48601222333"
AUTOREPLY = "Dziękujemy! Pizza będzie za 30 minut."
REPLY = "Zapraszamy, stolik czeka"
SIZES = [(1366, 768), (1920, 1080), (390, 844)]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


async def create_operator(running: RunningHub) -> None:
    """The operator's first admin, made as in production: `hub create-agent --operator`."""
    done = await asyncio.to_thread(
        hub_command,
        running,
        "create-agent",
        "--account",
        "operator",
        "--email",
        OPERATOR[0],
        "--name",
        "Operator",
        "--password",
        OPERATOR[1],
        "--role",
        "admin",
        "--operator",
    )
    assert done.returncode == 0, done.stderr


async def open_operator(page: Page, base: str) -> None:
    await page.click("#nav-operator")
    await expect(page).to_have_url(f"{base}/operator")
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    await expect(page.locator(".topbar")).to_have_attribute("data-ready", "true")


def account_row(page: Page, slug: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#account-list .account-row[data-slug="{slug}"]')


def number_row(page: Page, e164: str):  # type: ignore[no-untyped-def]
    return page.locator(f'#number-list .number-row[data-e164="{e164}"]')


async def create_account(page: Page, name: str, slug: str, admin: tuple[str, str] | None = None) -> None:
    await page.fill("#account-name-input", name)
    await page.fill("#account-slug", slug)
    if admin:
        await page.fill("#account-admin-email", admin[0])
        await page.fill("#account-admin-name", "Szef")
        await page.fill("#account-admin-password", admin[1])
    await page.click("#account-submit")


async def add_number(page: Page, number: str, kind: str, account: str | None = None) -> None:
    await page.fill("#number-value", number)
    await page.select_option("#number-type", kind)
    if account:
        await page.select_option("#number-account", label=account)
    await page.click("#number-submit")


async def operator_sets_up(page: Page, base: str) -> None:
    """Accounts, numbers and the shared number's settings, each refusal shown by its form."""
    await open_operator(page, base)
    # Only the operator's own account so far.
    await expect(page.locator("#account-list .account-row")).to_have_count(1)
    await expect(page.locator("#number-list .number-row")).to_have_count(0)

    await create_account(page, "Pizza Kraków", "pizza", PIZZA_ADMIN)
    pizza = account_row(page, "pizza")
    await expect(pizza.locator(".account-name")).to_have_text("Pizza Kraków")
    await expect(pizza.locator(".op-status")).to_have_text("active")
    # A taken slug: the hub's reason next to the form, the form kept.
    await create_account(page, "Druga pizza", "pizza")
    await expect(page.locator("#account-error")).to_contain_text("pizza")
    await expect(page.locator("#account-error")).to_be_visible()
    await expect(page.locator("#account-slug")).to_have_value("pizza")
    await create_account(page, "Kawiarnia Żółta", "kawiarnia")
    await expect(account_row(page, "kawiarnia")).to_be_visible()
    await expect(page.locator("#account-error")).to_be_hidden()

    # Suspend with a reason, which the table shows; then reactivate.
    await account_row(page, "kawiarnia").get_by_role("button", name="Manage").click()
    await page.click("#suspend-submit")
    await expect(page.locator("#suspend-error")).to_contain_text("reason")
    await page.fill("#suspend-reason", "Nieopłacona faktura 11/2026")
    await page.click("#suspend-submit")
    kawiarnia = account_row(page, "kawiarnia")
    await expect(kawiarnia).to_have_attribute("data-suspended", "true")
    await expect(kawiarnia.locator(".op-status")).to_contain_text("Nieopłacona faktura 11/2026")
    await page.click("#reactivate-submit")
    await expect(kawiarnia).to_have_attribute("data-suspended", "false")
    await page.fill("#rename-name", "Kawiarnia Zielona")
    await page.click("#rename-submit")
    await expect(kawiarnia.locator(".account-name")).to_have_text("Kawiarnia Zielona")
    await page.click("#account-editor-close")

    # Numbers: a short code is not an ND (refused with the reason), the NDI starts with the café
    # and is moved to the pizzeria.
    await add_number(page, "4301", "ND")
    await expect(page.locator("#number-error")).to_contain_text("short code")
    await add_number(page, "0048 500 600 700", "NDI", "Kawiarnia Zielona (kawiarnia)")
    ndi = number_row(page, NDI)
    await expect(ndi.locator(".number-owner")).to_have_text("Kawiarnia Zielona (kawiarnia)")
    await expect(ndi.locator(".type-badge")).to_have_attribute(
        "title", "Individual long number: belongs to one account, every text to it is that account's."
    )
    await expect(page.locator("#number-error")).to_be_hidden()
    await add_number(page, "503 340 503", "ND")
    nd = number_row(page, ND)
    await expect(nd.locator(".number-owner")).to_have_text("shared")
    await expect(nd.locator(".number-provider")).to_have_text("simulator")
    await expect(nd.locator(".type-badge")).to_have_attribute(
        "title",
        "Shared long number: accounts reserve keywords on it; "
        "a text goes to the account whose keyword starts it.",
    )

    await ndi.get_by_role("button", name=f"Edit {NDI}").click()
    await expect(page.locator("#assign-submit")).to_have_text("Move")
    await expect(page.locator("#ns-shared")).to_be_hidden()
    await page.select_option("#assign-account", label="Pizza Kraków (pizza)")
    await page.click("#assign-submit")
    await expect(ndi.locator(".number-owner")).to_have_text("Pizza Kraków (pizza)")

    # The shared number's texts: an opt-out word that is also a help word is refused.
    await nd.get_by_role("button", name=f"Edit {ND}").click()
    await expect(page.locator("#assign-form")).to_be_hidden()
    await page.fill("#ns-default-reply", "Nie znamy tego hasła.")
    await page.fill("#ns-opt-out-words", "STOP, KONIEC")
    await page.fill("#ns-help-words", "koniec")
    await page.click("#ns-submit")
    await expect(page.locator("#ns-error")).to_contain_text("'koniec' is both")
    await page.fill("#ns-help-words", "")
    await page.uncheck("#ns-limit-default")
    await page.fill("#ns-limit-count", "3")
    await page.fill("#ns-limit-window", "120")
    await page.click("#ns-submit")
    await expect(page.locator("#ns-error")).to_be_hidden()
    await expect(page.locator("#toast")).to_have_text(f"{ND} saved")
    await screenshot(page, "operator-set-up")


async def admin_sets_up_keyword(page: Page, base: str, nd_id: str) -> None:
    """The account's admin, on the services page: an autoresponder and the keyword PIZZA on the ND."""
    await log_in(page, base, PIZZA_ADMIN)
    await expect(page.locator(".topbar")).to_have_attribute("data-ready", "true")
    await expect(page.locator("#nav-operator")).to_be_hidden()
    await page.click("#nav-services")
    await expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    await page.click("#tab-autoresponders")
    await page.select_option("#ar-number", nd_id)
    await page.fill("#ar-name", "Zamówienie")
    await page.fill("#ar-template", AUTOREPLY)
    await page.check("#ar-on-keyword")
    await page.click("#ar-submit")
    await expect(
        page.locator("#autoresponder-list .autoresponder-item", has_text="Zamówienie")
    ).to_be_visible()
    await page.click("#tab-keywords")
    await page.select_option("#kw-number", nd_id)
    await page.locator("#kw-text").press_sequentially("PIZZA")
    await expect(page.locator("#kw-validation")).to_have_attribute("data-state", "ok")
    await page.locator("#kw-autoresponders label", has_text="Zamówienie").locator("input").check()
    await page.click("#kw-submit")
    await expect(page.locator("#keyword-list .keyword-item", has_text="PIZZA")).to_contain_text(
        "replies: Zamówienie"
    )


async def test_operator_sets_up_an_account_that_then_answers_a_text(
    running: RunningHub, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    await create_operator(running)
    _, op = await new_page(browser, problems)
    await log_in(op, base, OPERATOR)
    await operator_sets_up(op, base)
    nd_id = await number_row(op, ND).get_attribute("data-number-id")
    assert nd_id
    saved = await op.evaluate("(id) => fetch(`/api/operator/numbers/${id}`).then((r) => r.json())", nd_id)
    assert saved["default_reply"] == "Nie znamy tego hasła." and saved["opt_out_words"] == ["STOP", "KONIEC"]
    assert saved["auto_reply_limit"] == {"max_count": 3, "window_s": 7200, "default": False}

    _, admin = await new_page(browser, problems)
    await admin_sets_up_keyword(admin, base, nd_id)
    # A shared number with a reserved keyword cannot be released: the hub's reason is shown.
    op.once("dialog", lambda dialog: dialog.accept())
    await op.click("#remove-submit")
    await expect(op.locator("#remove-error")).to_contain_text("1 keywords are still set up on it")
    await expect(number_row(op, ND)).to_be_visible()

    # A customer texts the keyword from the simulator: the autoresponder answers, the text is in
    # the pizzeria's inbox, and its admin replies from there.
    async with phone(running, CUSTOMER) as customer:
        await sim_send(base, CUSTOMER, "Pizza", to=ND)
        assert (await customer.next_sms())["text"] == AUTOREPLY
        await admin.click("#nav-inbox")
        conversation = admin.locator("#conversation-list [data-conversation-id]").first
        await expect(conversation).to_contain_text(CUSTOMER)
        await conversation.click()
        await expect(admin.locator("#thread .msg-in .msg-text")).to_have_text("Pizza")
        await admin.fill("#reply-text", REPLY)
        await admin.click("#reply-send")
        await expect(admin.locator("#thread .msg-out .message-status").last).to_have_text("delivered")
        got = await customer.next_sms()
        assert got["text"] == REPLY and got["sender"] == ND
        # A text that is nobody's keyword gets the shared number's default reply, and the operator
        # sees it among the unmatched texts.
        await sim_send(base, CUSTOMER, "Czy macie <b>kebab</b>?", to=ND)
        assert (await customer.next_sms())["text"] == "Nie znamy tego hasła."
    await op.click("#op-unmatched-refresh")
    unmatched = op.locator("#op-unmatched-list .unmatched-row")
    await expect(unmatched).to_have_count(1)
    await expect(unmatched.locator(".unmatched-text")).to_have_text("Czy macie <b>kebab</b>?")
    await expect(unmatched.locator(".unmatched-number")).to_have_text(ND)
    await expect(unmatched.locator(".unmatched-sender")).to_have_text(CUSTOMER)
    await expect(unmatched.locator(".unmatched-reason")).to_have_text("no reserved keyword")
    # Filtered by the number, written as people write it.
    await op.fill("#op-unmatched-number", "0048 500 600 700")
    await expect(op.locator("#op-unmatched-empty")).to_be_visible()
    await expect(unmatched).to_have_count(0)
    await op.fill("#op-unmatched-number", "503 340 503")
    await expect(unmatched).to_have_count(1)

    # Someone else's admin is told the page is the operator's; the API refuses them.
    await admin.goto(f"{base}/operator")
    await expect(admin.locator("body")).to_have_attribute("data-state", "denied")
    await expect(admin.locator("#op-denied")).to_contain_text("Only the platform operator")
    await expect(admin.locator("#accounts")).to_be_hidden()
    status = await admin.evaluate("fetch('/api/operator/accounts').then(r => r.status)")
    assert status == 403
    token = await login(base, *PIZZA_ADMIN)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        assert (await c.get("/api/operator/numbers")).status_code == 403

    # The operator's usage section shows the month's segments: the autoreply and the reply.
    await op.reload()
    await expect(op.locator("body")).to_have_attribute("data-state", "ready")
    usage = op.locator('#usage-list .usage-row[data-slug="pizza"]')
    await expect(usage.locator(".usage-total")).to_have_text("2")
    await expect(usage.locator(".usage-sms")).to_have_text("2")
    await expect(usage.locator(".usage-kinds")).to_have_text("agent 1 · autoreply 1")
    await expect(account_row(op, "pizza").locator(".account-usage")).to_have_text("2 segments")
    # Limits: a monthly cap and a prepaid balance, then a top-up.
    await usage.get_by_role("button", name="Limits of Pizza Kraków").click()
    await op.fill("#limit-segments", "-5")
    await op.click("#limits-submit")
    await expect(op.locator("#limits-error")).to_be_visible()
    await op.fill("#limit-segments", "1000")
    await op.fill("#limit-balance", "50")
    await op.click("#limits-submit")
    await expect(usage.locator(".usage-limit")).to_have_text("1000")
    await expect(usage.locator(".usage-balance")).to_have_text("50")
    await expect(account_row(op, "pizza").locator(".account-usage")).to_have_text(
        "2 segments · limit 1000 units · balance 50"
    )
    await op.fill("#topup-units", "25")
    await op.click("#topup-submit")
    await expect(usage.locator(".usage-balance")).to_have_text("75")
    # The month as CSV, as the link downloads it.
    month = await op.locator("#usage-month").input_value()
    href = await op.locator("#usage-csv").get_attribute("href")
    assert href == f"/api/operator/usage.csv?month={month}"
    download = await op.context.request.get(base + href)
    rows = list(csv.DictReader(io.StringIO((await download.text()).lstrip("\ufeff"))))
    pizza = next(r for r in rows if r["slug"] == "pizza")
    assert pizza["total_segments"] == "2", pizza
    # An earlier month has none.
    await op.fill("#usage-month", "2020-01")
    await expect(op.locator("body")).to_have_attribute("data-usage-month", "2020-01")
    await expect(usage.locator(".usage-total")).to_have_text("0")
    await screenshot(op, "operator-usage")
    problems.check()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_operator_page_fits_the_window(
    running: RunningHub, browser: Browser, problems: PageProblems, size: tuple[int, int]
) -> None:
    base = running.base
    width, height = size
    await create_operator(running)
    token = await login(base, *OPERATOR)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        r = await c.post(
            "/api/operator/accounts",
            json={
                "name": "Bardzo długa nazwa konta pizzerii w Krakowie",
                "slug": "pizzeria-krakow-stare-miasto",
            },
        )
        assert r.status_code == 201, r.text
        suspend = f"/api/operator/accounts/{r.json()['id']}/suspend"
        r = await c.post(suspend, json={"reason": "Nieopłacona faktura za listopad " * 4})
        assert r.status_code == 200, r.text
        for number, kind, account in ((ND, "ND", None), (NDI, "NDI", "pizzeria-krakow-stare-miasto")):
            body = {
                "number": number,
                "type": kind,
                "account": account,
                "label": "Linia zamówień i reklamacji",
            }
            r = await c.post("/api/operator/numbers", json=body)
            assert r.status_code == 201, r.text
    _, page = await new_page(browser, problems, {"width": width, "height": height})
    await log_in(page, base, OPERATOR)
    await open_operator(page, base)
    await expect(page.locator("#number-list .number-row")).to_have_count(2)
    await fits(page, f"/operator {width}")
    await number_row(page, ND).get_by_role("button", name=f"Edit {ND}").click()
    await account_row(page, "pizzeria-krakow-stare-miasto").get_by_role("button").click()
    await fits(page, f"/operator editors {width}")
    # A pool number made on the page: ECO+ is a 2WAY number of the cheaper pool.
    await add_number(page, "+48 799 100 200", "ECO+")
    eco = number_row(page, "+48799100200")
    await expect(eco.locator(".type-badge")).to_have_text("ECO+")
    await expect(eco.locator(".number-owner")).to_have_text("operator's pool")
    usage = page.locator('#usage-list .usage-row[data-slug="pizzeria-krakow-stare-miasto"]')
    await usage.get_by_role("button").click()
    await expect(page.locator("#limits-form")).to_be_visible()
    await fits(page, f"/operator limits {width}")
    await screenshot(page, f"layout-operator-{width}")
    for path in ("/inbox", "/services", "/displays", "/forwarding"):
        await page.goto(base + path)
        await expect(page.locator("#nav-operator")).to_be_visible()
        await fits(page, f"{path} {width}")
    problems.check()
