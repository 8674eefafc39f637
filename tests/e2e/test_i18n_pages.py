"""The pages in Polish and English in real headless Chromium: a browser preferring Polish gets
Polish pages (plural forms and 24-hour times included) that still fit 1366 px and 390 px windows;
the top bar's switch turns them English and the choice survives a reload; a public screen speaks
its own language setting, whatever the viewer's browser prefers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from hub.services import auth
from hub.store.accounts import Account, Role
from tests.conftest import RunningHub, Tenant, make_tenant
from tests.e2e.browser import ADMIN, PageProblems, launch, log_in, new_page, screenshot
from tests.e2e.keywords_helpers import admin_client
from tests.e2e.test_admin_pages import fits, loaded

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

OPERATOR = ("root@operator.test", "operator-password")
SIZES = [(1366, 768), (390, 844)]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


async def make_operator() -> None:
    account = Account(name="Operator", slug="operator", operator=True)
    await account.insert()
    assert account.id is not None
    await auth.create_agent(account.id, OPERATOR[0], "Operator", OPERATOR[1], Role.ADMIN)


async def operator_page_ready(page: Page) -> None:
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    await expect(page.locator(".topbar")).to_have_attribute("data-ready", "true")


async def test_polish_browser_gets_polish_pages_and_the_switch_keeps_english(
    running: RunningHub, browser: Browser, problems: PageProblems
) -> None:
    await make_operator()
    base = running.base
    context, page = await new_page(browser, problems, {"width": 1366, "height": 768}, locale="pl-PL")
    await page.goto(f"{base}/login")
    await expect(page.locator("html")).to_have_attribute("lang", "pl")
    await expect(page.locator("#login-title")).to_have_text("Zaloguj się do skrzynki")
    await expect(page).to_have_title("Logowanie · SMS Hub")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_have_text("Podaj e-mail i hasło.")
    await fits(page, "login pl")

    await log_in(page, base, OPERATOR)
    await expect(page.locator("#nav-inbox")).to_have_text("Skrzynka")
    await expect(page.locator("#logout")).to_have_text("Wyloguj")
    await page.click("#nav-operator")
    await operator_page_ready(page)
    await expect(page.locator("#accounts-title")).to_have_text("Konta")
    await expect(page.locator("#accounts-count")).to_have_text("1 konto")
    await expect(page.locator("#account-submit")).to_have_text("Utwórz konto")
    await expect(page.locator(".op-jump")).to_have_attribute("aria-label", "Sekcje")
    # The number types are explained where they are picked.
    await page.select_option("#number-type", "SCI")
    await expect(page.locator("#number-type-hint")).to_contain_text("Indywidualny numer skrócony")
    eco = page.locator('#number-type option[value="ECO+"]')
    assert "ECO+" in (await eco.get_attribute("title") or "")
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await fits(page, f"operator pl {width}px")
    await screenshot(page, "operator-pl-390")

    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.select_option("#lang-switch", "en")
    await operator_page_ready(page)
    await expect(page.locator("#accounts-title")).to_have_text("Accounts")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#accounts-count")).to_have_text("1 account")
    await page.reload()
    await operator_page_ready(page)
    await expect(page.locator("#accounts-title")).to_have_text("Accounts")
    await expect(page.locator("#nav-inbox")).to_have_text("Inbox")
    await expect(page.locator("#lang-switch")).to_have_value("en")
    assert await page.evaluate("localStorage.getItem('hub.lang')") == "en"
    # Another tab of the same browser, and the login page after logging out, remember it too.
    other = problems.watch(await context.new_page())
    await other.goto(f"{base}/inbox")
    await expect(other.locator("#nav-inbox")).to_have_text("Inbox")
    await expect(other.locator("html")).to_have_attribute("lang", "en")
    await page.click("#logout")
    await expect(page).to_have_url(f"{base}/login")
    await expect(page.locator("#login-title")).to_have_text("Log in to your inbox")
    await expect(page.locator("#lang-switch")).to_have_value("en")
    problems.check()


async def test_polish_plural_forms_and_24_hour_times(
    running: RunningHub, browser: Browser, problems: PageProblems
) -> None:
    checks = """async () => {
      const m = await import('/static/i18n.js');
      const at = (h, min) => new Date(2026, 11, 4, h, min);
      return {
        lang: m.lang(),
        messages: [1, 2, 5, 12, 22, 25].map((n) => m.tn('common.messages', n)),
        accounts: [1, 2, 5, 12, 22, 25].map((n) => m.tn('op.accounts-n', n)),
        times: [m.formatTime(at(12, 22)), m.formatTime(at(15, 5))],
      };
    }"""
    _, pl = await new_page(browser, problems, locale="pl-PL")
    await pl.goto(f"{running.base}/login")
    got: dict[str, Any] = await pl.evaluate(checks)
    assert got["lang"] == "pl"
    assert got["messages"] == [
        "1 wiadomość",
        "2 wiadomości",
        "5 wiadomości",
        "12 wiadomości",
        "22 wiadomości",
        "25 wiadomości",
    ]
    assert got["accounts"] == ["1 konto", "2 konta", "5 kont", "12 kont", "22 konta", "25 kont"]
    assert got["times"] == ["12:22", "15:05"]

    _, en = await new_page(browser, problems, locale="en-US")
    await en.goto(f"{running.base}/login")
    got = await en.evaluate(checks)
    assert got["lang"] == "en"
    assert got["messages"][:3] == ["1 message", "2 messages", "5 messages"]
    assert [t.replace("\u202f", " ") for t in got["times"]] == ["12:22 PM", "03:05 PM"]
    problems.check()


@pytest.mark.parametrize("size", SIZES, ids=["1366x768", "390x844"])
async def test_polish_agent_pages_fit_the_window(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems, size: tuple[int, int]
) -> None:
    base = running.base
    _, page = await new_page(browser, problems, {"width": size[0], "height": size[1]}, locale="pl-PL")
    await log_in(page, base, ADMIN)
    for path in ("/inbox", "/services", "/displays", "/forwarding"):
        await page.goto(base + path)
        await loaded(page, path)
        await expect(page.locator("html")).to_have_attribute("lang", "pl")
        await expect(page.locator("#nav-services")).to_have_text("Usługi")
        await fits(page, f"{path} pl")
        if path == "/services":
            await expect(page.locator("#tab-contacts")).to_have_text("Grupy i kontakty")
            for tab in ("keywords", "contacts", "autoresponders", "surveys", "stats"):
                await page.click(f"#tab-{tab}")
                await expect(page.locator(f"#panel-{tab}")).to_be_visible()
                await fits(page, f"/services {tab} pl")
        if path == "/displays":
            await expect(page.locator("#d-language")).to_have_value("pl")
            await expect(page.locator("label[for=d-language]")).to_have_text("Język ekranu")
        await screenshot(page, f"{path.strip('/')}-pl-{size[0]}")
    await page.goto(f"{base}/simulator")
    await expect(page.locator("html")).to_have_attribute("lang", "pl")
    await fits(page, "/simulator pl")
    problems.check()


async def create_display(admin: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    numbers = (await admin.get("/api/numbers")).json()
    own = next(n for n in numbers if n["owned"])
    r = await admin.post("/api/displays", json={"title": "Ściana SMS", "number_id": own["id"], **fields})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_screen_speaks_its_own_language_not_the_browsers(
    running: RunningHub, browser: Browser, problems: PageProblems
) -> None:
    alpha: Tenant = await make_tenant("alpha", "+48500100200")
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        english = await create_display(admin, language="en")
        polish = await create_display(admin)
        assert english["language"] == "en" and polish["language"] == "pl"
        r = await admin.post("/api/displays", json={"title": "X", "number_id": "x", "language": "de"})
        assert r.status_code == 400, r.text

        _, page = await new_page(browser, problems, locale="pl-PL")
        await page.goto(f"{running.base}{english['screen_url']}")
        await expect(page.locator("body")).to_have_attribute("data-connection", "online")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator(".wall-empty")).to_have_text("Send a text")
        await expect(page.locator("#screen-wall")).to_have_attribute("aria-label", "Messages")

        _, other = await new_page(browser, problems, locale="en-US")
        await other.goto(f"{running.base}{polish['screen_url']}")
        await expect(other.locator("body")).to_have_attribute("data-connection", "online")
        await expect(other.locator("html")).to_have_attribute("lang", "pl")
        await expect(other.locator(".wall-empty")).to_have_text("Wyślij SMS")

        # A change of the setting reaches the open screen with its other settings.
        change = {"title": "Ściana SMS", "number_id": polish["number_id"], "language": "en"}
        r = await admin.patch(f"/api/displays/{polish['id']}", json=change)
        assert r.status_code == 200, r.text
        assert r.json()["language"] == "en"
        await expect(other.locator("html")).to_have_attribute("lang", "en")
        await expect(other.locator(".wall-empty")).to_have_text("Send a text")
        # Left out of a change, the setting stays.
        r = await admin.patch(
            f"/api/displays/{polish['id']}", json={"title": "Ściana", "number_id": polish["number_id"]}
        )
        assert r.json()["language"] == "en"
    problems.check()
