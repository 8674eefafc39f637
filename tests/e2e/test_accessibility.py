"""Every page in real headless Chromium checked by axe-core (the copy bundled with the
axe-playwright-python package, nothing fetched at run time) for serious and critical WCAG 2 A/AA
violations, and for sideways scrolling, at 1366 px and 390 px; the inbox used with the keyboard alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import Browser, Page, ViewportSize, expect

from hub.services import auth
from hub.store.accounts import Account, Role
from tests.conftest import RunningHub
from tests.e2e.browser import ADMIN, DEMO_NUMBER, PageProblems, launch, log_in, new_page, sim_send
from tests.e2e.test_admin_pages import OVERFLOWING, loaded

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

OPERATOR = ("root@operator.test", "operator-password")
SIZES = [(1366, 768), (390, 844)]
SERVICES_TABS = ("numbers", "keywords", "contacts", "autoresponders", "surveys", "stats")
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
BLOCKING = ("serious", "critical")
AXE = Axe()
# The animations that end (not a spinner's endless one) have ended.
SETTLED = """Promise.all(document.getAnimations()
  .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
  .map((a) => a.finished.catch(() => null)))"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


async def axe_problems(page: Page, where: str) -> list[str]:
    """The serious and critical violations axe finds on the page as it is now, one line a node."""
    results = await AXE.run(page, options=AXE_OPTIONS)
    found: list[str] = []
    for v in results.response["violations"]:
        if v["impact"] not in BLOCKING:
            continue
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            why = "; ".join(c["message"] for c in node.get("any", []) + node.get("all", []))
            found.append(f"{where}: [{v['impact']}] {v['id']} at {target}: {v['help']} ({why})")
    return found


async def sideways(page: Page, where: str) -> list[str]:
    width, client = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    if width <= client:
        return []
    wide = await page.evaluate(OVERFLOWING)
    return [f"{where}: scrolls sideways, {width} px wide in {client} px: {wide}"]


async def check(page: Page, where: str) -> list[str]:
    # Cards fade in: measured half-faded, their text would fail the contrast check by chance.
    await page.evaluate(SETTLED)
    return await axe_problems(page, where) + await sideways(page, where)


async def make_operator() -> None:
    account = Account(name="Operator", slug="operator", operator=True)
    await account.insert()
    assert account.id is not None
    await auth.create_agent(account.id, OPERATOR[0], "Operator", OPERATOR[1], Role.ADMIN)


async def make_screens(base: str, page: Page) -> dict[str, str]:
    """A billboard and a chat screen of the demo number, by mode: their public links."""
    number_id = await page.evaluate(
        f"fetch('/api/numbers').then(r => r.json()).then(ns => ns.find(n => n.e164 === '{DEMO_NUMBER}').id)"
    )
    links: dict[str, str] = {}
    for mode in ("billboard", "chat"):
        body = await page.evaluate(
            """([id, mode]) => fetch('/api/displays', {method: 'POST',
                 headers: {'Content-Type': 'application/json'},
                 body: JSON.stringify({title: 'Ekran ' + mode, number_id: id, mode})})
               .then(r => r.json())""",
            [number_id, mode],
        )
        links[mode] = base + body["screen_url"]
    return links


@pytest.mark.parametrize("redis_mode", [False], ids=["memory"], indirect=True)
@pytest.mark.parametrize("size", SIZES, ids=["1366x768", "390x844"])
async def test_every_page_passes_axe_and_fits_the_window(
    running: RunningHub, demo: None, browser: Browser, size: tuple[int, int]
) -> None:
    base = running.base
    problems = PageProblems()
    await make_operator()
    viewport: ViewportSize = {"width": size[0], "height": size[1]}
    found: list[str] = []

    _, page = await new_page(browser, problems, viewport)
    await page.goto(f"{base}/login")
    await expect(page.locator("#login-submit")).to_be_visible()
    found += await check(page, "login")

    await log_in(page, base, ADMIN)
    screens = await make_screens(base, page)
    await sim_send(base, "+48600700841", "Dzień dobry, czy sklep jest dziś otwarty?")
    first = page.locator("#conversation-list [data-conversation-id]").first
    await expect(first).to_be_visible()
    found += await check(page, "inbox")
    # The side panels open and a row ticked (the bulk bar).
    for panel in ("#labels-panel", "#queue-panel"):
        await page.click(f"{panel} summary")
    await first.locator(".bulk-check").check()
    found += await check(page, "inbox panels and bulk bar")
    await first.locator(".conv-phone").click()
    await expect(page.locator("#reply-text")).to_be_visible()
    found += await check(page, "inbox conversation")
    await page.click("#canned-manage")
    await expect(page.locator("dialog[open]")).to_be_visible()
    found += await check(page, "inbox canned replies dialog")
    await page.keyboard.press("Escape")
    await expect(page.locator("dialog[open]")).to_have_count(0)
    # The composer in note mode, the mentions list.
    await page.locator("#composer-mode button", has_text="Note").click()
    await page.click("#mentions-toggle")
    await expect(page.locator("#mentions-panel")).to_be_visible()
    found += await check(page, "inbox note and mentions")

    for path in ("/services", "/displays", "/forwarding"):
        await page.goto(base + path)
        await loaded(page, path)
        if path == "/services":
            for tab in SERVICES_TABS:
                await page.click(f"#tab-{tab}")
                await expect(page.locator(f"#panel-{tab}")).to_be_visible()
                found += await check(page, f"services {tab}")
        else:
            found += await check(page, path.strip("/"))
        if path == "/displays":
            await page.locator("#display-list .display-pick", has_text="Ekran chat").click()
            await expect(page.locator("#moderation")).to_be_visible()
            await expect(page.locator("#shown [data-item-id]")).to_have_count(1)
            found += await check(page, "displays moderation")

    await page.goto(f"{base}/campaigns")
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    found += await check(page, "campaigns")
    await page.click("#new-campaign")
    await expect(page.locator("#cp-name")).to_be_visible()
    found += await check(page, "campaigns editor")

    for mode, link in screens.items():
        _, screen = await new_page(browser, problems, viewport)
        await screen.goto(link)
        await expect(screen.locator("body")).to_have_attribute("data-connection", "online")
        found += await check(screen, f"screen {mode}")

    _, sim = await new_page(browser, problems, viewport)
    await sim.goto(f"{base}/simulator")
    await sim.fill("#sim-phone", "+48600700842")
    await sim.locator("#sim-phone").dispatch_event("change")
    await sim.select_option("#sim-to", DEMO_NUMBER)
    await expect(sim.locator("#sim-status")).to_have_attribute("data-state", "online")
    found += await check(sim, "simulator")

    _, op = await new_page(browser, problems, viewport)
    await log_in(op, base, OPERATOR)
    await op.goto(f"{base}/operator")
    await expect(op.locator("body")).to_have_attribute("data-state", "ready")
    await expect(op.locator(".topbar")).to_have_attribute("data-ready", "true")
    found += await check(op, "operator")
    await op.locator('#usage-list .usage-row[data-slug="demo"]').get_by_role("button").click()
    await expect(op.locator("#limits-form")).to_be_visible()
    found += await check(op, "operator limits")
    # The operator's admins see the services page's unmatched texts and audit log too.
    await op.goto(f"{base}/services")
    await loaded(op, "/services")
    for tab in ("unmatched", "audit"):
        await op.click(f"#tab-{tab}")
        await expect(op.locator(f"#panel-{tab}")).to_be_visible()
        found += await check(op, f"services {tab} (operator)")

    assert not found, f"{len(found)} problems:\n" + "\n".join(found)
    problems.check()


# The focused element, and whether it shows it: an outline or a focus ring (box-shadow).
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const s = getComputedStyle(e);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  const ring = s.boxShadow && s.boxShadow !== "none";
  const row = e.closest(".conv-row");
  const rowRing = row && getComputedStyle(row).boxShadow !== "none";
  return {
    tag: e.tagName.toLowerCase(),
    id: e.id,
    cls: e.className && typeof e.className === "string" ? e.className : "",
    text: (e.textContent || "").trim().slice(0, 30),
    visible: Boolean(outline || ring || rowRing),
  };
}"""


async def tab_to(page: Page, selector: str, unseen: list[str], limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus; on the way note every button
    and link whose focus does not show."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        if focused and focused["tag"] in ("a", "button") and not focused["visible"]:
            unseen.append(f"{focused['tag']}#{focused['id']}.{focused['cls']} {focused['text']!r}")
        if await page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
    raise AssertionError(f"{selector} not reached with {limit} presses of Tab")


@pytest.mark.parametrize("redis_mode", [False], ids=["memory"], indirect=True)
async def test_the_inbox_works_with_the_keyboard_alone(
    running: RunningHub, demo: None, browser: Browser
) -> None:
    base = running.base
    problems = PageProblems()
    unseen: list[str] = []
    _, page = await new_page(browser, problems, {"width": 1366, "height": 768})
    await page.goto(f"{base}/login")
    await tab_to(page, "#email", unseen)
    await page.keyboard.type(ADMIN[0])
    await tab_to(page, "#password", unseen)
    await page.keyboard.type(ADMIN[1])
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{base}/inbox")
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")

    await sim_send(base, "+48600700843", "Czy mogę odebrać zamówienie jutro?")
    row = page.locator("#conversation-list .conv-row", has_text="Czy mogę odebrać")
    await expect(row).to_be_visible()
    await tab_to(page, "#conversation-list .conv-phone", unseen)
    await page.keyboard.press("Enter")
    await expect(row).to_have_attribute("aria-current", "true")
    await expect(page.locator("#thread")).to_contain_text("Czy mogę odebrać zamówienie jutro?")

    await tab_to(page, "#reply-text", unseen)
    await page.keyboard.type("Tak, zapraszamy od 9:00.")
    await tab_to(page, "#reply-send", unseen)
    await page.keyboard.press("Enter")
    await expect(page.locator("#thread")).to_contain_text("Tak, zapraszamy od 9:00.")
    await expect(page.locator("#reply-text")).to_have_value("")

    # Every control of the top bar and the inbox reached on the way showed its focus.
    assert not unseen, "focus not shown on:\n" + "\n".join(unseen)
    problems.check()


@pytest.mark.parametrize("redis_mode", [False], ids=["memory"], indirect=True)
async def test_inbox_shortcuts_move_open_assign_close_and_list_themselves(
    running: RunningHub, demo: None, browser: Browser
) -> None:
    base = running.base
    problems = PageProblems()
    _, page = await new_page(browser, problems, {"width": 1366, "height": 768})
    await log_in(page, base, ADMIN)
    await sim_send(base, "+48600700844", "Pierwsza sprawa")
    await sim_send(base, "+48600700845", "Druga sprawa")
    rows = page.locator("#conversation-list .conv-row")
    await expect(rows).to_have_count(2)
    ids = [await r.get_attribute("data-conversation-id") for r in await rows.all()]

    focused_row = "() => document.activeElement.closest('.conv-row')?.dataset.conversationId ?? null"
    await page.keyboard.press("j")
    assert await page.evaluate(focused_row) == ids[0]
    await page.keyboard.press("j")
    assert await page.evaluate(focused_row) == ids[1]
    await page.keyboard.press("k")
    assert await page.evaluate(focused_row) == ids[0]
    await page.keyboard.press("Enter")
    first = rows.nth(0)
    await expect(first).to_have_attribute("aria-current", "true")

    # Typed in the reply box, the letters are text, not shortcuts.
    await page.focus("#reply-text")
    await page.keyboard.type("jeka?")
    await expect(page.locator("#reply-text")).to_have_value("jeka?")
    await expect(page.locator("#keys-help")).to_have_count(0)
    await expect(page.locator("#status-toggle")).to_have_text("Close")
    await page.fill("#reply-text", "")

    await page.locator("#thread").click()
    await page.keyboard.press("a")
    await expect(first.locator(".conv-assignee")).to_have_text("→ Ada Admin")
    await page.keyboard.press("e")
    await expect(page.locator("#thread-status")).to_have_text("closed")

    await page.keyboard.press("?")
    help_dialog = page.locator("#keys-help")
    await expect(help_dialog).to_be_visible()
    await expect(help_dialog).to_contain_text("Assign the open conversation to me")
    found = await check(page, "inbox shortcuts")
    assert not found, "\n".join(found)
    await page.keyboard.press("Escape")
    await expect(help_dialog).to_be_hidden()
    problems.check()
