"""The browser pages in real headless Chromium: login, inbox and phone simulator against a running hub."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from beanie import PydanticObjectId
from playwright.async_api import Browser, Locator, Page, expect

from tests.conftest import RunningHub
from tests.e2e.browser import (
    ADMIN,
    AGENT,
    DEMO_NUMBER,
    PHONE,
    PageProblems,
    b64,
    goto_maybe_download,
    launch,
    log_in,
    new_page,
    screenshot,
    sim_send,
    tiny_png,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

GREETING = "Dzień dobry, czy macie żółwie?"
REPLY = "Tak, mamy! Zapraszamy."

# Record every text a message's status element shows, in order (installed before sending).
STATUS_RECORDER = """() => {
  window.__statusLog = {};
  const seen = (node) => {
    const bubble = node.closest && node.closest('[data-message-id]');
    const status = bubble && bubble.querySelector('.message-status');
    if (!status) return;
    const log = (window.__statusLog[bubble.dataset.messageId] ||= []);
    if (log[log.length - 1] !== status.textContent) log.push(status.textContent);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (node) node.querySelectorAll('[data-message-id]').forEach(seen);
      if (node) seen(node);
    }
  }).observe(document.getElementById('thread'), { subtree: true, childList: true, characterData: true });
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


def row(page: Page, conversation_id: str) -> Locator:
    return page.locator(f'#conversation-list [data-conversation-id="{conversation_id}"]')


async def open_simulator(browser: Browser, problems: PageProblems, base: str, phone: str) -> Page:
    _, sim = await new_page(browser, problems)
    await sim.goto(f"{base}/simulator")
    await sim.fill("#sim-phone", phone)
    await sim.locator("#sim-phone").dispatch_event("change")
    await expect(sim.locator("#sim-to option")).to_have_count(2)
    await sim.select_option("#sim-to", DEMO_NUMBER)
    await expect(sim.locator("#sim-status")).to_have_attribute("data-state", "online")
    await expect(sim.locator("#sim-status")).to_contain_text(phone)
    return sim


@pytest.mark.parametrize("redis_mode", [False, True], ids=["memory", "redis"], indirect=True)
async def test_walk_through(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, a = await new_page(browser, problems)
    _, b = await new_page(browser, problems)
    await log_in(a, base, ADMIN)
    await log_in(b, base, AGENT)
    await expect(a.locator("#agent-name")).to_have_text("Ada Admin")
    await expect(a.locator("#account-name")).to_have_text("Demo Shop")
    await expect(b.locator("#agent-name")).to_have_text("Olek Agent")
    await expect(a.locator("#connection-banner")).to_be_hidden()

    # The customer texts the hub from the simulator.
    sim = await open_simulator(browser, problems, base, "+48600700800")
    await sim.fill("#sim-text", GREETING)
    await sim.click("#sim-send")
    await expect(sim.locator('#sim-thread .sim-message[data-direction="out"]')).to_have_count(1)
    await expect(sim.locator('#sim-thread .sim-message[data-direction="out"] .sim-text')).to_have_text(
        GREETING
    )

    # Both agents see the new conversation at the top, unread.
    for page in (a, b):
        first = page.locator("#conversation-list [data-conversation-id]").first
        await expect(first).to_contain_text("+48600700800")
        await expect(first).to_contain_text(GREETING)
        await expect(first.locator(".unread-badge")).to_be_visible()
        await expect(first.locator(".unread-badge")).to_have_text("1")
    conv_id = await a.locator("#conversation-list [data-conversation-id]").first.get_attribute(
        "data-conversation-id"
    )
    assert conv_id

    # A opens it: the message is there, Polish letters intact, and the badge goes (for B too).
    await row(a, conv_id).click()
    await expect(a.locator("#thread .msg-in .msg-text")).to_have_text(GREETING)
    await expect(a.locator("#thread-contact")).to_have_text("+48600700800")
    await expect(row(a, conv_id).locator(".unread-badge")).to_be_hidden()
    await expect(row(b, conv_id).locator(".unread-badge")).to_be_hidden()
    assert (
        await a.evaluate("getComputedStyle(document.querySelector('#thread .msg-text')).whiteSpace")
        == "pre-wrap"
    )

    await row(b, conv_id).click()
    await expect(b.locator("#thread .msg-in .msg-text")).to_have_text(GREETING)

    # A writes the reply; the counter follows the text and B sees A typing.
    await a.evaluate(STATUS_RECORDER)
    await a.locator("#reply-text").press_sequentially("Tak, mamy żółwie")
    await expect(a.locator("#segment-counter")).to_contain_text("UCS-2")
    await expect(b.locator("#typing-indicator")).to_have_text("Ada is typing…")
    await a.fill("#reply-text", REPLY)
    # The reply as given is plain GSM-7 (no diacritics): 22 characters of 160.
    await expect(a.locator("#segment-counter")).to_have_text("1 SMS · 138 left · GSM-7")
    await a.locator("#reply-text").press("Control+Enter")

    out_a = a.locator("#thread .msg-out")
    await expect(out_a).to_have_count(1)
    await expect(out_a.locator(".msg-text")).to_have_text(REPLY)
    await expect(out_a.locator(".msg-author")).to_have_text("Ada Admin")
    await expect(out_a.locator(".message-status")).to_have_text("delivered")
    await expect(a.locator("#reply-text")).to_have_value("")
    message_id = await out_a.get_attribute("data-message-id")
    log = await a.evaluate("(id) => window.__statusLog[id]", message_id)
    assert log == ["queued", "sent", "delivered"], log

    out_b = b.locator("#thread .msg-out")
    await expect(out_b).to_have_count(1)
    await expect(out_b.locator(".msg-text")).to_have_text(REPLY)
    await expect(out_b.locator(".message-status")).to_have_text("delivered")
    await expect(b.locator("#typing-indicator")).to_have_text("")

    await expect(sim.locator('#sim-thread .sim-message[data-direction="in"] .sim-text')).to_have_text(REPLY)
    await expect(sim.locator("#sim-thread .sim-message")).to_have_count(2)
    await screenshot(a, "inbox")
    await screenshot(sim, "simulator")

    # A assigns it to Olek and closes it; B sees both live.
    agents = {
        (await o.text_content() or "").replace(" (you)", ""): await o.get_attribute("value")
        for o in await a.locator("#assign-select option").all()
    }
    olek_id = agents["Olek Agent"]
    assert olek_id
    await a.select_option("#assign-select", olek_id)
    await expect(b.locator("#assign-select")).to_have_value(olek_id)
    await expect(row(b, conv_id)).to_contain_text("Olek Agent")
    await a.click("#status-toggle")
    await expect(a.locator("#status-toggle")).to_have_text("Reopen")
    await expect(b.locator("#thread-status")).to_have_text("closed")
    await expect(b.locator("#status-toggle")).to_have_text("Reopen")
    await expect(row(b, conv_id).locator(".status-pill")).to_have_text("closed")
    await screenshot(b, "inbox-closed")

    # The server agrees with what the pages show.
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.post("/api/auth/login", json={"email": AGENT[0], "password": AGENT[1]})
        token = r.json()["token"]
        conv = (
            await client.get(f"/api/conversations/{conv_id}", headers={"Authorization": f"Bearer {token}"})
        ).json()
    assert conv["status"] == "closed" and conv["assignee_id"] == olek_id and conv["unread"] == 0

    # B's list keeps the open conversation while it changes; changing the filters applies them.
    await expect(row(b, conv_id)).to_be_visible()
    await b.select_option("#filter-status", "closed")
    await expect(row(b, conv_id)).to_be_visible()
    await b.select_option("#filter-status", "open")
    await expect(row(b, conv_id)).to_be_hidden()
    await expect(b.locator("#thread .msg-out")).to_have_count(1)  # the thread itself stays open
    problems.check()


@pytest.mark.parametrize("redis_mode", [False, True], ids=["memory", "redis"], indirect=True)
async def test_reconnect_banner_and_resume(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, a = await new_page(browser, problems)
    await log_in(a, base, ADMIN)
    await sim_send(base, "+48600700801", "Pierwsza wiadomość")
    first = a.locator("#conversation-list [data-conversation-id]").first
    await expect(first).to_contain_text("+48600700801")
    conv_id = await first.get_attribute("data-conversation-id")
    assert conv_id
    await first.click()
    await expect(a.locator("#thread .msg-in")).to_have_count(1)
    await expect(first.locator(".unread-badge")).to_be_hidden()  # marked read: its event is recorded
    account_id = (await a.evaluate("fetch('/api/me').then(r => r.json())"))["account_id"]
    head = await running.hub.bus.head(PydanticObjectId(account_id))
    await a.wait_for_function("(head) => window.__hub.lastSeq === head", arg=head)
    banner = a.locator("#connection-banner")
    await expect(banner).to_be_hidden()
    connects = await a.evaluate("window.__hub.connects")
    last_seq = await a.evaluate("window.__hub.lastSeq")

    await a.evaluate("window.__hub.pauseReconnect(6000); window.__hub.socket.close()")
    await expect(banner).to_be_visible()
    await expect(banner).to_have_text(re.compile("Reconnecting"))
    await screenshot(a, "inbox-reconnecting")
    await expect(a.locator("body")).to_have_attribute("data-connection", "down")

    # Sent while the page is disconnected: one to the open conversation, one from a new phone.
    await sim_send(base, "+48600700801", "Druga, podczas przerwy")
    await sim_send(base, "+48600700802", "Nowy klient")
    assert await a.evaluate("window.__hub.socket") is None
    assert await a.evaluate("window.__hub.connects") == connects
    await expect(banner).to_be_visible()

    await expect(banner).to_be_hidden(timeout=15_000)
    await expect(a.locator("body")).to_have_attribute("data-connection", "online")
    assert await a.evaluate("window.__hub.lastUrl") == f"{running.ws_base}/ws?since={last_seq}"
    ready = await a.evaluate("window.__hub.lastReady")
    assert ready["replayed"] >= 2, ready

    await expect(a.locator("#thread .msg-in")).to_have_count(2)
    await expect(a.locator("#thread .msg-in .msg-text").last).to_have_text("Druga, podczas przerwy")
    top = a.locator("#conversation-list [data-conversation-id]").first
    await expect(top).to_contain_text("+48600700802")
    await expect(top.locator(".unread-badge")).to_have_text("1")
    await expect(row(a, conv_id)).to_contain_text("Druga, podczas przerwy")
    assert await a.evaluate("window.__hub.lastSeq") > last_seq

    # Live again: a new message arrives without reloading.
    await sim_send(base, "+48600700801", "Trzecia, na żywo")
    await expect(a.locator("#thread .msg-in")).to_have_count(3)
    await a.locator("#reply-text").fill("Odpowiedź przez gniazdo")
    await a.click("#reply-send")
    await expect(a.locator("#thread .msg-out")).to_have_count(1)
    assert await a.evaluate("window.__hub.lastSendVia") == "socket"

    # A reply written while disconnected goes over REST, shows once, and stays once after the
    # replay brings its message.created again.
    await a.evaluate("window.__hub.pauseReconnect(3000); window.__hub.socket.close()")
    await expect(banner).to_be_visible()
    await a.locator("#reply-text").fill("Odpowiedź bez gniazda")
    await a.locator("#reply-text").press("Control+Enter")
    await expect(a.locator("#thread .msg-out")).to_have_count(2)
    assert await a.evaluate("window.__hub.lastSendVia") == "rest"
    await expect(banner).to_be_hidden(timeout=15_000)
    out = a.locator("#thread .msg-out")
    await expect(out.last.locator(".msg-text")).to_have_text("Odpowiedź bez gniazda")
    await expect(out.locator(".message-status")).to_have_text(["delivered", "delivered"])
    await expect(a.locator("#thread [data-message-id]")).to_have_count(5)
    ids = await a.locator("#thread [data-message-id]").evaluate_all(
        "els => els.map(e => e.dataset.messageId)"
    )
    assert len(set(ids)) == 5
    problems.check()


async def test_missed_pong_shows_reconnecting_and_reconnects_at_once(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    """A connection whose pong never comes and whose close never completes (a dead link: the
    browser would fire `close` only minutes later) is given up at once."""
    base = running.base
    _, a = await new_page(browser, problems)
    await log_in(a, base, ADMIN)
    connects = await a.evaluate("window.__hub.connects")
    # Record every connection state the page shows, so a short "down" is seen too.
    await a.evaluate(
        """() => {
          window.__states = [];
          new MutationObserver(() => window.__states.push(document.body.dataset.connection))
            .observe(document.body, { attributes: true, attributeFilter: ['data-connection'] });
        }"""
    )
    # Make the current socket dead as the browser sees one: what it sends goes nowhere (no pong
    # comes back) and closing it never finishes (no close event).
    await a.evaluate(
        """() => {
          const ws = window.__hub.socket;
          window.__deadSocket = ws;
          ws.send = () => {};
          ws.close = () => {};
          window.__hub.heartbeat(200, 300);
        }"""
    )
    await a.wait_for_function("(n) => window.__hub.connects > n", arg=connects)
    await expect(a.locator("body")).to_have_attribute("data-connection", "online")
    # "down" is what shows the "Reconnecting…" banner (test_reconnect_banner_and_resume).
    assert await a.evaluate("window.__states") == ["down", "online"]
    assert await a.evaluate("window.__hub.socket !== window.__deadSocket")

    # Live on the new connection.
    await sim_send(base, "+48600700821", "Po zerwaniu")
    await expect(a.locator("#conversation-list [data-conversation-id]").first).to_contain_text("Po zerwaniu")
    problems.check()


async def test_hand_over_shows_who_and_the_note_and_hands_back(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, a = await new_page(browser, problems)
    await log_in(a, base, ADMIN)
    await sim_send(base, "+48600700831", "Chcę rozmawiać z człowiekiem")
    first = a.locator("#conversation-list [data-conversation-id]").first
    await expect(first).to_contain_text("+48600700831")
    conv_id = await first.get_attribute("data-conversation-id")
    await first.click()  # open: it stays listed when it leaves the "Open" filter
    await expect(a.locator("#thread .msg-in")).to_have_count(1)
    bar = a.locator("#handover-bar")
    await expect(bar).to_be_hidden()
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        # A bot hands over with its token (made by the admin logged in on the page).
        made = await a.evaluate(
            """() => fetch('/api/tokens', {method: 'POST', headers: {'Content-Type': 'application/json'},
                 body: JSON.stringify({name: 'FAQ bot'})}).then(r => r.json())"""
        )
        bot = {"Authorization": f"Bearer {made['token']}"}
        r = await client.post(
            f"/api/conversations/{conv_id}/handover", json={"note": "Klient prosi o fakturę"}, headers=bot
        )
        assert r.status_code == 200, r.text
        assert r.json()["handover_by"] == {"kind": "bot", "name": "FAQ bot"}

    pill = row(a, str(conv_id)).locator(".status-handover")
    await expect(pill).to_have_text("Handed over by FAQ bot")
    await expect(bar).to_be_visible()
    await expect(a.locator("#handover-by")).to_have_text("Handed over by FAQ bot")
    await expect(a.locator("#handover-note")).to_be_visible()
    await expect(a.locator("#handover-note")).to_have_text("Klient prosi o fakturę")
    await expect(a.locator("#thread-status")).to_have_text("pending")
    # Sentence case on screen: the first letter only.
    assert await pill.evaluate("e => e.innerText") == "Handed over by FAQ bot"
    assert await a.locator("#thread-status").evaluate("e => e.innerText") == "Pending"
    await screenshot(a, "inbox-handover")

    await a.get_by_role("button", name="Hand back to bot").click()
    await expect(bar).to_be_hidden()
    await expect(pill).to_have_count(0)
    await expect(a.locator("#thread-status")).to_have_text("open")

    # An agent hands over through the API (no note): the page names the agent.
    r = await a.evaluate(
        """(id) => fetch(`/api/conversations/${id}/handover`, {method: 'POST',
             headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)""",
        conv_id,
    )
    assert r == 200
    me = (await a.evaluate("fetch('/api/me').then(r => r.json())"))["name"]
    await expect(a.locator("#handover-by")).to_have_text(f"Handed over by {me} (agent)")
    await expect(a.locator("#handover-note")).to_be_hidden()
    await expect(pill).to_have_text(f"Handed over by {me} (agent)")
    problems.check()


async def test_filters_and_search(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, a = await new_page(browser, problems)
    await log_in(a, base, AGENT)
    await sim_send(base, "+48600700811", "pierwszy")
    await sim_send(base, "+48600700812", "drugi")
    await sim_send(base, "+48700700813", "trzeci")
    rows = a.locator("#conversation-list [data-conversation-id]")
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_contain_text("+48700700813")  # newest first

    # Take the middle one: assign it to me and close it.
    await a.locator("#conversation-list [data-conversation-id]", has_text="+48600700812").click()
    await expect(a.locator("#thread .msg-in")).to_have_count(1)
    me = await a.locator("#assign-select option", has_text="(you)").get_attribute("value")
    assert me
    await a.select_option("#assign-select", me)
    await expect(
        a.locator("#conversation-list [data-conversation-id]", has_text="+48600700812")
    ).to_contain_text("Olek")
    await a.click("#status-toggle")
    await expect(a.locator("#thread-status")).to_have_text("closed")
    # It stays listed while open in the thread; looking at another one drops it from "open".
    await expect(rows).to_have_count(3)
    await a.locator("#conversation-list [data-conversation-id]", has_text="+48600700811").click()
    await expect(rows).to_have_count(2)
    await a.select_option("#filter-status", "closed")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("+48600700812")
    await a.select_option("#filter-status", "")
    await expect(rows).to_have_count(3)
    await a.select_option("#filter-assignee", "me")
    await expect(rows).to_have_count(1)
    await a.select_option("#filter-assignee", "unassigned")
    await expect(rows).to_have_count(2)
    await a.check("#filter-unread")
    await expect(rows).to_have_count(1)  # both opened ones were read
    await expect(rows.first).to_contain_text("+48700700813")
    await a.select_option("#filter-assignee", "")
    await expect(rows).to_have_count(1)
    await a.uncheck("#filter-unread")
    await a.fill("#filter-search", "+48 7")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("+48700700813")
    # A national number with spaces, and the last digits, find it too.
    await a.fill("#filter-search", "700 700 813")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("+48700700813")
    await a.fill("#filter-search", "0813")
    await expect(rows).to_have_count(1)
    # Too little to search by: said so, and nothing is filtered.
    await a.fill("#filter-search", "+4")
    await expect(a.locator("#search-hint")).to_have_text("Type at least 3 digits")
    await expect(rows).to_have_count(3)
    await a.fill("#filter-search", "+486007008")
    await expect(a.locator("#search-hint")).to_be_hidden()
    await expect(rows).to_have_count(2)

    # A new message that matches the filters appears live; one that does not, does not.
    await sim_send(base, "+48600700814", "czwarty")
    await sim_send(base, "+48510700815", "piąty")
    await expect(rows).to_have_count(3)
    await expect(rows.first).to_contain_text("+48600700814")
    await a.fill("#filter-search", "")
    await expect(rows).to_have_count(5)
    await expect(rows.first).to_contain_text("+48510700815")
    problems.check()


async def test_login_error_and_redirect(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, page = await new_page(browser, problems)
    await page.goto(f"{base}/inbox")
    await expect(page).to_have_url(f"{base}/login")
    await expect(page.locator("#login-error")).to_be_hidden()

    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.post("/api/auth/login", json={"email": "nobody@demo.example", "password": "x"})
    assert r.status_code == 400
    api_error = r.json()["error"]

    await page.fill("#email", ADMIN[0])
    await page.fill("#password", "not-the-password")
    await page.click("#login-submit")
    await expect(page.locator("#login-error")).to_be_visible()
    await expect(page.locator("#login-error")).to_have_text(api_error)
    await screenshot(page, "login-error")
    await expect(page).to_have_url(f"{base}/login")
    cookies = await page.context.cookies()
    assert not any(c["name"] == "hub_session" for c in cookies)

    await page.fill("#password", ADMIN[1])
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{base}/inbox")
    await expect(page.locator("#agent-name")).to_have_text("Ada Admin")

    await page.click("#logout")
    await expect(page).to_have_url(f"{base}/login")
    await page.goto(f"{base}/inbox")
    await expect(page).to_have_url(f"{base}/login")
    problems.check()


async def test_mms_thumbnail_and_inert_svg(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    context, a = await new_page(browser, problems)
    await log_in(a, base, ADMIN)
    png = tiny_png(4, 3)
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>window.__pwned=1</script><rect width='10' height='10'/></svg>"
    )
    await sim_send(
        base,
        "+48600700803",
        "Zdjęcie żółwia",
        [{"data": b64(png), "content_type": "image/png", "filename": "zolw.png"}],
    )
    await sim_send(
        base,
        "+48600700803",
        "",
        [{"data": b64(svg), "content_type": "image/svg+xml", "filename": "evil.svg"}],
    )
    await sim_send(
        base,
        "+48600700803",
        "i strona",
        [
            {
                "data": b64(b"<html><script>alert(1)</script></html>"),
                "content_type": "text/html",
                "filename": "x.html",
            }
        ],
    )

    first = a.locator("#conversation-list [data-conversation-id]").first
    await expect(first).to_contain_text("+48600700803")
    await expect(first.locator(".unread-badge")).to_have_text("3")
    await first.click()
    await expect(a.locator("#thread .msg-in")).to_have_count(3)

    # The PNG is a thumbnail that really loaded, linking to the attachment in a new tab.
    img = a.locator("#thread .msg-in img")
    await expect(img).to_have_count(1)
    src = await img.get_attribute("src")
    assert src and re.fullmatch(r"/api/messages/[0-9a-f]{24}/media/0", src), src
    await a.wait_for_function(
        "() => { const i = document.querySelector('#thread .msg-in img');"
        " return i && i.complete && i.naturalWidth === 4; }"
    )
    link = a.locator("#thread .msg-in a.media-image")
    assert await link.get_attribute("target") == "_blank"
    assert await link.get_attribute("href") == src
    box = await img.bounding_box()
    assert box and box["width"] <= 200 and box["height"] <= 200
    await screenshot(a, "inbox-mms")

    # The SVG is offered as a download link, never as an inline document.
    svg_link = a.locator("#thread .msg-in a.media-file", has_text="evil.svg")
    await expect(svg_link).to_have_count(1)
    svg_url = await svg_link.get_attribute("href")
    assert svg_url and svg_url.startswith("/api/messages/")
    await expect(a.locator("#thread .msg-in .media-rejected")).to_have_text(
        re.compile(r"^attachment rejected: .*HTML")
    )
    assert await a.evaluate("window.__pwned") is None

    r = await context.request.get(base + svg_url)
    assert r.status == 200
    assert await r.body() == svg  # the script is really in there
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith("attachment")

    # Open the SVG's URL itself (as a click-through would): nothing may run.
    viewer = problems.watch(await context.new_page())
    outcome = await goto_maybe_download(viewer, base + svg_url)
    assert outcome == "download"  # an attachment: saved, never opened as a document
    assert await viewer.evaluate("window.__pwned") is None
    # While the PNG opens inline.
    png_page = problems.watch(await context.new_page())
    assert await goto_maybe_download(png_page, base + src) == "shown"
    assert await png_page.evaluate("document.contentType") == "image/png"
    assert await a.evaluate("window.__pwned") is None
    problems.check()


async def test_segment_counter(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, a = await new_page(browser, problems)
    await log_in(a, base, AGENT)
    await sim_send(base, "+48600700804", "hej")
    await a.locator("#conversation-list [data-conversation-id]").first.click()
    counter = a.locator("#segment-counter")
    box = a.locator("#reply-text")
    await expect(counter).to_have_text("0 SMS · 160 left · GSM-7")
    await box.fill("a" * 160)
    await expect(counter).to_have_text("1 SMS · 0 left · GSM-7")
    await box.press("End")
    await box.press_sequentially("a")
    await expect(counter).to_have_text("2 SMS · 145 left · GSM-7")
    await box.press_sequentially("ą")
    # 162 UTF-16 units at 67 per part: three parts, 39 left.
    await expect(counter).to_have_text("3 SMS · 39 left · UCS-2")
    await box.fill("ą")
    await expect(counter).to_have_text("1 SMS · 69 left · UCS-2")
    await box.fill("€")  # GSM-7 extension: two septets
    await expect(counter).to_have_text("1 SMS · 158 left · GSM-7")
    problems.check()


async def test_narrow_screen_stacks_list_and_thread(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, a = await new_page(browser, problems, viewport=PHONE)
    await log_in(a, base, AGENT)
    await sim_send(base, "+48600700805", "Z telefonu")
    first = a.locator("#conversation-list [data-conversation-id]").first
    await expect(first).to_be_visible()
    await expect(a.locator("#thread-view")).to_be_hidden()
    await screenshot(a, "phone-list")
    await first.click()
    await expect(a.locator("#thread .msg-in .msg-text")).to_have_text("Z telefonu")
    await expect(a.locator("#conversation-list")).to_be_hidden()
    await expect(a.locator("#reply-send")).to_be_in_viewport()
    await screenshot(a, "phone-thread")
    width = await a.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    await a.click("#thread-back")
    await expect(a.locator("#conversation-list")).to_be_visible()
    await expect(first).to_be_visible()
    problems.check()


async def test_simulator_attachment_and_history(
    running: RunningHub, demo: None, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    _, a = await new_page(browser, problems)
    await log_in(a, base, ADMIN)
    sim = await open_simulator(browser, problems, base, "+48600700806")
    await sim.set_input_files(
        "#sim-file", files=[{"name": "kot.png", "mimeType": "image/png", "buffer": tiny_png(5, 5)}]
    )
    await expect(sim.locator("#sim-files")).to_contain_text("kot.png")
    await sim.fill("#sim-text", "Zobacz")
    await sim.locator("#sim-text").press("Enter")
    mine = sim.locator('#sim-thread .sim-message[data-direction="out"]')
    await expect(mine).to_have_count(1)
    await expect(mine).to_contain_text("1 attachment")
    await expect(sim.locator("#sim-files")).to_be_empty()

    first = a.locator("#conversation-list [data-conversation-id]").first
    await expect(first).to_contain_text("+48600700806")
    await first.click()
    await expect(a.locator("#thread .msg-in .msg-text")).to_have_text("Zobacz")
    await a.wait_for_function(
        "() => { const i = document.querySelector('#thread .msg-in img'); return i && i.naturalWidth === 5; }"
    )
    await a.fill("#reply-text", "Ładny kot")
    await a.click("#reply-send")
    theirs = sim.locator('#sim-thread .sim-message[data-direction="in"]')
    await expect(theirs.locator(".sim-text")).to_have_text("Ładny kot")

    # The phone number is remembered and the history comes back after a reload, without duplicates.
    await sim.reload()
    await expect(sim.locator("#sim-phone")).to_have_value("+48600700806")
    await expect(sim.locator("#sim-status")).to_have_attribute("data-state", "online")
    await expect(sim.locator("#sim-thread .sim-message")).to_have_count(2)
    await expect(mine).to_contain_text("Zobacz")
    await expect(theirs).to_contain_text("Ładny kot")
    problems.check()
