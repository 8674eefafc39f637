"""Canned replies and private notes in real headless Chromium, wide and phone-narrow: "/" inserts a
reply filled for the contact and it is sent; a note with an @mention reaches the colleague's page
(entry and desktop notification) and never the gateway."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from hub.outbound.simulator import phone_channel
from hub.realtime.fanout import Subscription
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

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]

LAPTOP: ViewportSize = {"width": 1366, "height": 768}
CONTACT = "+48600700871"

# The colleague's page: in the background, with desktop notifications allowed (recorded, not shown).
BACKGROUND_TAB = """
Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'});
window.__notifications = [];
window.Notification = class {
  constructor(title, options) { window.__notifications.push({title, body: options && options.body}); }
  close() {}
};
window.Notification.permission = 'granted';
window.Notification.requestPermission = async () => 'granted';
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


@pytest.fixture
async def contact_phone(running: RunningHub) -> AsyncIterator[Subscription]:
    """What the simulator gateway delivers to the contact's phone."""
    channel = phone_channel(running.hub.settings.redis.channel_prefix, CONTACT)
    async with running.hub.fanout.subscribe(channel) as sub:
        yield sub


async def delivered_until(phone: Subscription, text: str) -> list[str]:
    """The texts the phone got, up to and including `text`."""
    got: list[str] = []
    while text not in got:
        got.append(str(json.loads(await asyncio.wait_for(phone.get(), 10))["text"]))
    return got


async def call(page: Page, method: str, path: str, body: object = None) -> dict[str, object]:
    result: dict[str, object] = await page.evaluate(
        """([method, path, body]) => fetch(path, {method, headers: {'Content-Type': 'application/json'},
             body: body === null ? undefined : JSON.stringify(body)})
             .then(async r => ({status: r.status, body: await r.json().catch(() => null)}))""",
        [method, path, body],
    )
    return result


async def no_sideways_scroll(page: Page, width: int) -> None:
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, scroll


@pytest.mark.parametrize("redis_mode", [False], ids=["memory"], indirect=True)
@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366", "390"])
async def test_canned_reply_and_a_note_with_a_mention(
    running: RunningHub, demo: None, browser: Browser, viewport: ViewportSize, contact_phone: Subscription
) -> None:
    problems = PageProblems()
    base = running.base
    _, colleague = await new_page(browser, problems, viewport=viewport)
    await colleague.add_init_script(BACKGROUND_TAB)
    await log_in(colleague, base, ADMIN)
    admin_me = await colleague.evaluate("fetch('/api/me').then(r => r.json())")
    _, page = await new_page(browser, problems, viewport=viewport)
    await log_in(page, base, AGENT)
    me = await page.evaluate("fetch('/api/me').then(r => r.json())")

    # An account-wide reply (the admin's) and a personal one (the agent's); the contact is Anna.
    r = await call(
        colleague,
        "POST",
        "/api/canned-replies",
        {"shortcut": "powitanie", "text": "Dzień dobry {name|Kliencie}! Tu {agent}.", "scope": "account"},
    )
    assert r["status"] == 201, r
    r = await call(page, "POST", "/api/canned-replies", {"shortcut": "pozdro", "text": "Pozdrawiam, {agent}"})
    assert r["status"] == 201, r
    await sim_send(base, CONTACT, "Mam pytanie o fakturę")
    row = page.locator(".conv-row", has_text=CONTACT)
    await expect(row).to_be_visible()
    conv = await call(page, "GET", "/api/conversations?status=open")
    body = conv["body"]
    assert isinstance(body, list)
    found = next(c for c in body if c["contact"]["phone"] == CONTACT)
    r = await call(colleague, "PATCH", f"/api/contacts/{found['contact']['id']}", {"name": "Anna"})
    assert r["status"] == 200, r

    await row.click()
    text = page.locator("#reply-text")
    await expect(text).to_be_visible()
    await text.click()

    # "/" and Escape: the list opens and closes.
    await text.press_sequentially("/")
    picker = page.locator(".picker[aria-label='Canned replies']")
    await expect(picker).to_be_visible()
    await expect(picker.locator(".picker-item")).to_have_count(2)
    await text.press("Escape")
    await expect(picker).to_be_hidden()

    # "/po": both match; arrows move, Enter inserts the reply filled for Anna and this agent.
    await text.fill("")
    await text.press_sequentially("/po")
    await expect(picker).to_be_visible()
    items = picker.locator(".picker-item")
    await expect(items).to_have_count(2)
    await expect(items.nth(0)).to_contain_text("Dzień dobry Anna! Tu")
    await text.press("ArrowDown")
    await expect(items.nth(1)).to_have_attribute("aria-selected", "true")
    await text.press("ArrowUp")
    await expect(items.nth(0)).to_have_attribute("aria-selected", "true")
    await no_sideways_scroll(page, viewport["width"])
    await screenshot(page, f"canned-picker-{viewport['width']}")
    await text.press("Enter")
    reply = f"Dzień dobry Anna! Tu {me['name']}."
    await expect(text).to_have_value(reply)
    await expect(picker).to_be_hidden()
    await no_sideways_scroll(page, viewport["width"])
    await screenshot(page, f"canned-inserted-{viewport['width']}")
    await page.locator("#reply-send").click()
    await expect(page.locator(".msg-out .msg-text", has_text=reply)).to_be_visible()
    await expect(text).to_have_value("")
    assert await delivered_until(contact_phone, reply) == [reply]
    # Searching by text: "anna" matches the account-wide reply's filled text only; Tab inserts it too.
    await text.press_sequentially("/anna")
    await expect(items).to_have_count(1)
    await text.press("Tab")
    await expect(text).to_have_value(reply)
    await text.fill("")

    # A note with an @mention of the colleague: never sent, shown on yellow with its author.
    await page.locator("#composer-mode button", has_text="Note").click()
    await expect(page.locator("#reply-send")).to_have_text("Add note")
    first = str(admin_me["name"]).split()[0]
    await text.press_sequentially(f"Sprawdź proszę @{first[:3]}")
    mentions = page.locator(".picker[aria-label='Mention a colleague']")
    await expect(mentions.locator(".picker-item").first).to_contain_text(str(admin_me["name"]))
    await text.press("Enter")
    await expect(text).to_have_value(f"Sprawdź proszę @{admin_me['name']} ")
    await text.press_sequentially("czy faktura 17 poszła")
    note_text = f"Sprawdź proszę @{admin_me['name']} czy faktura 17 poszła"
    await no_sideways_scroll(page, viewport["width"])
    await screenshot(page, f"note-composer-{viewport['width']}")
    await text.press("Control+Enter")
    note = page.locator(".msg-note")
    await expect(note).to_have_count(1)
    await expect(note.locator(".note-label")).to_have_text("Note")
    await expect(note.locator(".note-author")).to_have_text(str(me["name"]))
    await expect(note.locator(".note-mention")).to_have_text(f"@{admin_me['name']}")
    background = await note.locator(".bubble").evaluate("n => getComputedStyle(n).backgroundColor")
    assert background == "rgb(255, 246, 204)", background
    await expect(text).to_have_value("")
    await no_sideways_scroll(page, viewport["width"])
    await screenshot(page, f"note-thread-{viewport['width']}")

    # The colleague's page: the bell counts it, the entry leads to the conversation, and the
    # background tab raised a desktop notification.
    count = colleague.locator("#mentions-toggle .mention-count")
    await expect(count).to_have_text("1")
    notified = await colleague.evaluate("window.__notifications")
    assert notified == [{"title": f"{me['name']} mentioned you", "body": f"Anna: {note_text}"}], notified
    await colleague.locator("#mentions-toggle").click()
    entry = colleague.locator("#mentions-list .mention-item")
    await expect(entry).to_have_count(1)
    await expect(entry).to_contain_text(note_text)
    await expect(count).to_be_hidden()
    await no_sideways_scroll(colleague, viewport["width"])
    await screenshot(colleague, f"mentions-{viewport['width']}")
    await entry.locator("a").click()
    await expect(colleague.locator("#thread-contact")).to_have_text("Anna")
    await expect(colleague.locator(".msg-note .msg-text")).to_have_text(note_text)
    # Reloaded, the thread still has the note between the messages, and the bell its entry.
    await page.reload()
    await expect(page.locator("#thread .msg, #thread .msg-note").last).to_contain_text(note_text)

    # The gateway never gets the note: the next reply is the next thing the phone receives.
    await page.locator("#composer-mode button", has_text="Reply").click()
    await page.locator("#reply-text").fill("Już sprawdzamy")
    await page.locator("#reply-send").click()
    assert await delivered_until(contact_phone, "Już sprawdzamy") == ["Już sprawdzamy"]

    # The dialog: lists both, refuses a malformed text with its reason.
    await page.locator("#canned-manage").click()
    dialog = page.locator("#canned-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator(".canned-item")).to_have_count(2)
    await dialog.locator("#canned-shortcut").fill("zle")
    await dialog.locator("#canned-text").fill("Witaj {name")
    await dialog.locator("button[type=submit]").click()
    await expect(dialog.locator(".canned-error")).to_contain_text("is not closed")
    await dialog.locator("#canned-text").fill("Witaj {name|Kliencie}")
    await dialog.locator("button[type=submit]").click()
    await expect(dialog.locator(".canned-item")).to_have_count(3)
    # An agent cannot change the account-wide one: no buttons on it.
    await expect(dialog.locator(".canned-item[data-shortcut=powitanie] button")).to_have_count(0)
    await no_sideways_scroll(page, viewport["width"])
    await screenshot(page, f"canned-dialog-{viewport['width']}")
    problems.check()
