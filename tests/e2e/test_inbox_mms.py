"""An agent sends an MMS from the inbox composer in real headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from beanie import PydanticObjectId
from playwright.async_api import Browser, Page, expect

from hub.store.messages import Message
from tests.conftest import RunningHub
from tests.e2e.browser import (
    AGENT,
    DEMO_NUMBER,
    PHONE,
    PageProblems,
    launch,
    log_in,
    new_page,
    screenshot,
    sim_send,
    tiny_png,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CUSTOMER = "+48600700870"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


async def open_conversation(page: Page, base: str, conversation_id: str) -> None:
    await page.goto(f"{base}/inbox#c={conversation_id}")
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")
    await expect(page.locator("#thread .msg-in")).to_have_count(1)


async def test_agent_attaches_an_image_and_the_phone_gets_it(
    running: RunningHub, demo: None, browser: Browser
) -> None:
    problems = PageProblems()
    base = running.base
    sent = await sim_send(base, CUSTOMER, "Jak wygląda ten kwiat?")
    inbound = await Message.get(PydanticObjectId(sent["message_id"]))
    assert inbound is not None
    conv = str(inbound.conversation_id)

    _, sim = await new_page(browser, problems)
    await sim.goto(f"{base}/simulator")
    await sim.fill("#sim-phone", CUSTOMER)
    await sim.locator("#sim-phone").dispatch_event("change")
    await sim.select_option("#sim-to", DEMO_NUMBER)
    await expect(sim.locator("#sim-status")).to_have_attribute("data-state", "online")

    _, page = await new_page(browser, problems)
    await log_in(page, base, AGENT)
    await open_conversation(page, base, conv)

    # The limits are shown before anything is attached.
    limits = page.locator("#attach-limits")
    await expect(limits).to_contain_text("MMS: JPEG, PNG, GIF, MP4")
    await expect(limits).to_contain_text("5.0 MB in all")
    await expect(page.locator("#attach-button")).to_be_enabled()

    # A wrong type and a file too large are refused in the page, saying why.
    await page.set_input_files(
        "#attach-input", files=[{"name": "notatka.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    await expect(page.locator("#attach-error")).to_contain_text("notatka.txt is text/plain")
    big = b"\0" * (5 * 1024 * 1024 + 1)
    await page.set_input_files(
        "#attach-input", files=[{"name": "duze.png", "mimeType": "image/png", "buffer": big}]
    )
    await expect(page.locator("#attach-error")).to_contain_text(
        "duze.png is too large: this number sends at most 5.0 MB"
    )
    await expect(page.locator("#attach-list .attach-item")).to_have_count(0)

    # The picked image is previewed, uploaded, and goes out with the text.
    png = tiny_png()
    await page.set_input_files(
        "#attach-input", files=[{"name": "kwiat.png", "mimeType": "image/png", "buffer": png}]
    )
    item = page.locator("#attach-list .attach-item")
    await expect(item).to_have_attribute("data-state", "ready")
    await expect(item.locator("img.attach-thumb")).to_be_visible()
    await expect(item).to_contain_text("kwiat.png")
    await expect(page.locator("#segment-counter")).to_have_text("MMS · 1 file")
    await expect(page.locator("#attach-error")).to_be_hidden()
    await screenshot(page, "inbox-mms-compose")

    await page.fill("#reply-text", "Taki jak na zdjęciu")
    await page.click("#reply-send")
    out = page.locator("#thread .msg-out")
    await expect(out).to_have_count(1)
    await expect(out.locator(".msg-text")).to_have_text("Taki jak na zdjęciu")
    await page.wait_for_function(
        "() => { const i = document.querySelector('#thread .msg-out img');"
        " return i && i.complete && i.naturalWidth === 4; }"
    )
    await expect(page.locator("#attach-list .attach-item")).to_have_count(0)
    await expect(out.locator(".message-status")).to_have_text("delivered")

    # The simulated phone shows the picture.
    await expect(sim.locator('#sim-thread .sim-message[data-direction="in"] .sim-text')).to_have_text(
        "Taki jak na zdjęciu"
    )
    await sim.wait_for_function(
        "() => { const i = document.querySelector('#sim-thread .sim-media-image');"
        " return i && i.complete && i.naturalWidth === 4; }"
    )
    problems.check()


async def test_composer_with_an_attachment_fits_390px(
    running: RunningHub, demo: None, browser: Browser
) -> None:
    problems = PageProblems()
    base = running.base
    sent = await sim_send(base, CUSTOMER, "Halo")
    inbound = await Message.get(PydanticObjectId(sent["message_id"]))
    assert inbound is not None
    _, page = await new_page(browser, problems, PHONE)
    await log_in(page, base, AGENT)
    await open_conversation(page, base, str(inbound.conversation_id))
    await expect(page.locator("#attach-limits")).to_contain_text("MMS:")
    await page.set_input_files(
        "#attach-input",
        files=[
            {
                "name": "bardzo-dluga-nazwa-pliku-ze-zdjeciem-kwiatu.png",
                "mimeType": "image/png",
                "buffer": tiny_png(),
            }
        ],
    )
    await expect(page.locator("#attach-list .attach-item")).to_have_attribute("data-state", "ready")
    await screenshot(page, "inbox-mms-390")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    problems.check()
