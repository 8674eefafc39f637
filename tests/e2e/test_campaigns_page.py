"""The campaigns page in real headless Chromium, for each sender kind: an admin builds a campaign
from the group a keyword collected (plus a CSV file), previews who it reaches and what it costs,
starts it, watches it finish live, and a recipient's reply shows in the inbox with the campaign's
chip. The page must not scroll sideways at 390 px, 1366x768 or 1920x1080."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Dialog, Page, ViewportSize, expect

from hub.demo import DEMO_NUMBER, SHARED_ND, seed_demo
from hub.domain.numbers import NumberType
from hub.services.routing import setup_changed
from hub.store.accounts import Account
from hub.store.audience import Suppression, SuppressionKind
from hub.store.messages import Message
from tests.conftest import RunningHub, login, post_generic
from tests.e2e.browser import ADMIN, AGENT, PageProblems, launch, log_in, new_page
from tests.e2e.keywords_helpers import add_number
from tests.e2e.test_webhooks import tiny_png

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

# Three gardeners join OGRODNIK; the third has opted out of everything the shop sends.
LUCJA = "+48600700801"
GRZEGORZ = "+48600700802"
OPTED_OUT = "+48600700803"
NAMES = {LUCJA: "Łucja Żółkiewska", GRZEGORZ: "Grzegorz Brzęczyszczykiewicz", OPTED_OUT: "Ździsław Nowak"}
# Łucja once more (a duplicate, in another form) and a row that is no phone number.
CSV = "telefon,name,city\n600 700 801,Łucja,Łódź\nnie-numer,Zły wiersz,Kraków\n"
TEXT = "Cześć {name|Ogrodniku}! Sadzonki -20% do niedzieli."
SIZES: list[ViewportSize] = [
    {"width": 1366, "height": 768},
    {"width": 1920, "height": 1080},
    {"width": 390, "height": 844},
]
_ids = itertools.count(1)
WATCH_COUNTS = """() => {
  window.__processedSeen = [];
  new MutationObserver(() => {
    const node = document.getElementById("campaign-progress-text");
    const value = node && node.textContent.split(" processed")[0];
    const seen = window.__processedSeen;
    if (value && seen[seen.length - 1] !== value) seen.push(value);
  }).observe(document.getElementById("progress-body"), {childList: true, subtree: true, characterData: true});
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


async def text_hub(client: httpx.AsyncClient, phone: str, to: str, text: str) -> None:
    r = await post_generic(client, {"from": phone, "to": to, "text": text, "id": f"cp-{phone}-{next(_ids)}"})
    assert r.status_code == 200, r.text


async def gardeners(running: RunningHub) -> str:
    """The demo with its shared numbers and OGRODNIK; three phones join "Ogrodnicy" by texting it.
    Returns the demo admin's API token."""
    account = await seed_demo()
    async with httpx.AsyncClient(base_url=running.base, timeout=30) as client:
        for phone in NAMES:
            await text_hub(client, phone, SHARED_ND, "OGRODNIK")
    token = await login(running.base, *ADMIN)
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {token}"}, timeout=20
    ) as api:
        groups = (await api.get("/api/groups")).json()
        group = next(g for g in groups if g["name"] == "Ogrodnicy")
        assert group["members"] == 3
        members = (await api.get("/api/contacts", params={"group": group["id"]})).json()
        for contact in members:
            r = await api.patch(f"/api/contacts/{contact['id']}", json={"name": NAMES[contact["phone"]]})
            assert r.status_code == 200, r.text
    # As a STOP to one of the shop's campaigns leaves it: every send of the account refused.
    await Suppression(
        phone=OPTED_OUT, number=None, account_id=account.id, kind=SuppressionKind.OPT_OUT
    ).insert()
    return token


async def virtual_numbers() -> None:
    """The operator's 2WAY pool and ECO+ pool."""
    for i in range(1, 4):
        await add_number(f"+4879900010{i}", NumberType.TWO_WAY)
        await add_number(f"+4879900020{i}", NumberType.TWO_WAY, eco_plus=True)
    setup_changed()


async def no_sideways_scroll(page: Page, name: str) -> None:
    for size in SIZES:
        await page.set_viewport_size(size)
        await page.wait_for_timeout(100)  # let the layout settle before measuring (not an assertion)
        scroll, inner = await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name} scrolls sideways at {size}: {scroll} > {inner}"
        await page.screenshot(
            path=f"/tmp/campaigns-{name}-{size['width']}x{size['height']}.png", full_page=True
        )


async def build_and_preview(page: Page, kind: str, name: str, number_id: str, start_at: str | None) -> None:
    await page.click("#new-campaign")
    await page.fill("#cp-name", name)
    await page.fill("#cp-text", TEXT)
    counter = page.locator("#cp-counter")
    await expect(counter).to_have_attribute("data-encoding", "UCS-2")  # Polish letters
    await expect(counter).to_have_attribute("data-segments", "1")
    await page.check(f"#cp-sender-{kind}")
    if kind == "number":
        await page.select_option("#cp-number", number_id)
    elif kind == "name":
        await expect(page.locator("#cp-sender-name-help")).to_contain_text("no replies")
        await page.fill("#cp-sender-name-text", "SKLEP")
    elif kind == "eco":
        await expect(page.locator("#cp-sender-eco-help")).to_contain_text("best-effort")
    elif kind == "2way":
        await expect(page.locator("#cp-sender-2way-help")).to_contain_text("guaranteed")
    await page.locator("#cp-groups label", has_text="Ogrodnicy").locator("input").check()
    await page.set_input_files(
        "#cp-csv", files=[{"name": "lista.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
    )
    await expect(page.locator("#cp-csv-info")).to_contain_text("lista.csv")
    # The default window (08:00-21:00 Warsaw) would hold the sends at night: send at any hour.
    await expect(page.locator("#cp-window-tz")).to_have_value("Europe/Warsaw")
    await page.uncheck("#cp-window-on")
    if start_at:
        await page.check('input[name="cp-when"][value="at"]')
        await page.fill("#cp-start-at", start_at)
    await page.click("#cp-preview")

    await expect(page.locator("#preview-recipients")).to_have_attribute("data-count", "2")
    excluded = page.locator("#preview-excluded")
    await expect(excluded.locator('[data-excluded="opted_out"]')).to_have_attribute("data-count", "1")
    await expect(excluded.locator('[data-excluded="duplicates"]')).to_have_attribute("data-count", "1")
    await expect(excluded.locator('[data-excluded="invalid"]')).to_have_attribute("data-count", "1")
    await expect(page.locator("#preview-invalid")).to_contain_text("nie-numer")
    await expect(page.locator("#preview-cost")).to_have_attribute("data-segments", "2")
    await expect(page.locator("#preview-samples")).to_contain_text("Cześć Łucja")
    await expect(page.locator("#preview-samples")).to_contain_text("Grzegorz Brzęczyszczykiewicz")


async def reply_in_inbox(
    page: Page, running: RunningHub, token: str, campaign_id: str, name: str, kind: str
) -> None:
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {token}"}, timeout=20
    ) as api:
        r = await api.get(f"/api/campaigns/{campaign_id}/recipients")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
    lucja = next(i for i in items if i["phone"] == LUCJA)
    sender = DEMO_NUMBER if kind == "number" else "+" + re.sub(r"\D", "", lucja["sender"] or "")
    async with httpx.AsyncClient(base_url=running.base, timeout=30) as client:
        await text_hub(client, LUCJA, sender, "Poproszę dwie sadzonki róż")
    # The reply counts, live.
    await expect(page.locator('#campaign-counts [data-count="replied"]')).to_have_attribute("data-value", "1")
    lucja_row = page.locator(f'#recipients tr[data-phone="{LUCJA}"]')
    await expect(lucja_row).to_contain_text("Poproszę dwie sadzonki")

    await page.goto(f"{running.base}/inbox")
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")
    # Her conversation on the sender's number (the one on the keyword's number has no campaign).
    row = page.locator(".conv-row", has_text="Łucja Żółkiewska").filter(has=page.locator(".campaign-chip"))
    await expect(row).to_have_count(1)
    chip = row.locator(".campaign-chip")
    await expect(chip).to_have_text(f"Campaign: {name}")
    await expect(chip).to_have_attribute("href", f"/campaigns#{campaign_id}")
    await row.locator(".conv-phone").click()
    reply = page.locator(".msg-in", has_text="Poproszę dwie sadzonki róż")
    await expect(reply.locator(".campaign-chip")).to_have_text(f"Campaign: {name}")
    if kind == "number":
        await page.screenshot(path="/tmp/campaigns-inbox-chip.png")
    await reply.locator(".campaign-chip").click()
    await expect(page).to_have_url(f"{running.base}/campaigns#{campaign_id}")
    await expect(page.locator("#progress-card")).to_have_attribute("data-campaign-id", campaign_id)
    await expect(page.locator("#progress-title")).to_contain_text(name)


@pytest.mark.parametrize("kind", ["number", "2way", "eco", "name"])
async def test_campaign_from_a_keyword_group_runs_live_and_its_reply_reaches_the_inbox(
    running: RunningHub, browser: Browser, kind: str
) -> None:
    token = await gardeners(running)
    await virtual_numbers()
    account = await Account.find_one({"slug": "demo"})
    assert account is not None
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {token}"}, timeout=20
    ) as api:
        numbers = (await api.get("/api/numbers")).json()
    number_id = next(n["id"] for n in numbers if n["e164"] == DEMO_NUMBER)
    name = f"Sadzonki {kind}: żółte róże"

    problems = PageProblems()
    _, page = await new_page(browser, problems)
    await log_in(page, running.base, ADMIN)
    await expect(page.locator("#nav-campaigns")).to_be_visible()
    await page.click("#nav-campaigns")
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")
    await expect(page.locator("#campaigns-empty")).to_be_visible()

    # The ECO+ campaign is scheduled (to the minute, a quarter to one and a quarter minutes ahead);
    # the others are saved as drafts and started from their own view.
    start_at = None
    if kind == "eco":
        soon = datetime.now(ZoneInfo("Europe/Warsaw")) + timedelta(seconds=75)
        start_at = soon.strftime("%Y-%m-%dT%H:%M")
    await build_and_preview(page, kind, name, number_id, start_at)
    if kind == "number":
        await no_sideways_scroll(page, "editor")
        await page.set_viewport_size({"width": 1280, "height": 800})

    # From here on the page is never reloaded: what changes arrives over the socket. Every
    # value the "processed" count shows is noted, to see it go up rather than appear at the end.
    await page.evaluate(WATCH_COUNTS)
    card = page.locator("#progress-card")
    if start_at:
        await expect(page.locator("#preview-start")).to_have_text("Schedule campaign")
        await page.click("#preview-start")
        await expect(card).to_have_attribute("data-status", "scheduled")
    else:
        await page.click("#preview-draft")
        await expect(card).to_have_attribute("data-status", "draft")
    await expect(page).to_have_url(re.compile(r"/campaigns#[0-9a-f]+$"))
    campaign_id = page.url.rsplit("#", 1)[1]
    await expect(card).to_have_attribute("data-campaign-id", campaign_id)
    await expect(page.locator("#campaign-progress-text")).to_contain_text("0 of 2")
    if not start_at:
        await page.click("#campaign-start")
    await expect(page.locator("#progress-title")).to_contain_text(name)
    list_row = page.locator(f'#campaigns tr[data-campaign-id="{campaign_id}"]')
    await expect(list_row).to_contain_text(name)

    counts = page.locator("#campaign-counts")
    await expect(counts.locator('[data-count="recipients"]')).to_have_attribute("data-value", "2")
    await expect(card).to_have_attribute("data-status", "done", timeout=100_000 if start_at else 30_000)
    await expect(counts.locator('[data-count="queued"]')).to_have_attribute("data-value", "0")
    # A sender name's sends ask for no delivery report: they stay "sent".
    done = "sent" if kind == "name" else "delivered"
    await expect(counts.locator(f'[data-count="{done}"]')).to_have_attribute("data-value", "2")
    await expect(page.locator("#campaign-progress-text")).to_contain_text("2 of 2")
    await expect(list_row).to_have_attribute("data-status", "done")
    await expect(list_row.locator(".cp-row-count")).to_have_text("2 of 2")
    await expect(page.locator("#recipients tr")).to_have_count(2)
    # The recipients' page follows the events too.
    await expect(page.locator(f'#recipients tr[data-status="{done}"]')).to_have_count(2)
    await expect(page.locator(f'#recipients tr[data-phone="{LUCJA}"]')).to_contain_text("Łucja")
    seen = await page.evaluate("() => window.__processedSeen")
    assert seen is not None, "the page was reloaded"
    assert seen[0] == "0 of 2" and seen[-1] == "2 of 2", seen
    report = page.locator("#campaign-report")
    await expect(report).to_have_attribute("href", f"/api/campaigns/{campaign_id}/report.csv")

    replies = page.locator("#campaign-replies")
    expected = {"number": "number", "2way": "guaranteed", "eco": "best_effort", "name": "none"}[kind]
    await expect(replies).to_have_attribute("data-replies", expected)
    if kind == "name":
        await expect(replies).to_contain_text("No replies")
        await expect(page.locator('[data-rate="delivery"]')).to_have_text("not reported for a sender name")
    if kind == "number":
        await no_sideways_scroll(page, "progress")
        await page.set_viewport_size({"width": 1280, "height": 800})
    if kind != "name":
        await reply_in_inbox(page, running, token, campaign_id, name, kind)
    problems.check()


async def test_an_admin_pauses_resumes_and_cancels_and_an_agent_only_reads(
    running: RunningHub, browser: Browser
) -> None:
    await gardeners(running)
    await virtual_numbers()
    name = "Przymrozki: okryj rośliny"
    problems = PageProblems()
    _, page = await new_page(browser, problems)
    await log_in(page, running.base, ADMIN)
    await page.goto(f"{running.base}/campaigns")
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    await page.click("#new-campaign")
    await page.fill("#cp-name", name)
    await page.fill("#cp-text", "Uwaga na przymrozki, {name|Ogrodniku}!")
    await page.check("#cp-sender-2way")
    await page.locator("#cp-groups label", has_text="Ogrodnicy").locator("input").check()
    await page.uncheck("#cp-window-on")
    # One a minute: the second of the two recipients waits a minute, long enough to pause.
    await page.fill("#cp-rate", "1")
    await page.click("#cp-preview")
    await expect(page.locator("#preview-recipients")).to_have_attribute("data-count", "2")
    # Changing the form makes the preview stale: it must be asked again before anything is saved.
    await page.fill("#cp-rate", "2")
    await expect(page.locator("#preview-stale")).to_be_visible()
    await expect(page.locator("#preview-draft")).to_be_disabled()
    await page.fill("#cp-rate", "1")
    await page.click("#cp-preview")
    await expect(page.locator("#preview-stale")).to_be_hidden()
    await page.click("#preview-draft")
    card = page.locator("#progress-card")
    await expect(card).to_have_attribute("data-status", "draft")
    campaign_id = page.url.rsplit("#", 1)[1]

    await page.click("#campaign-start")
    await expect(card).to_have_attribute("data-status", "running")
    await page.click("#campaign-pause")
    await expect(card).to_have_attribute("data-status", "paused")
    await expect(page.locator("#campaign-pause")).to_have_count(0)
    await page.click("#campaign-resume")
    await expect(card).to_have_attribute("data-status", re.compile("running|waiting"))

    async def accept(dialog: Dialog) -> None:
        assert name in dialog.message
        await dialog.accept()

    page.once("dialog", accept)
    await page.click("#campaign-cancel")
    await expect(card).to_have_attribute("data-status", "cancelled")
    await expect(page.locator("#progress-actions button")).to_have_count(0)
    await expect(page.locator(f'#campaigns tr[data-campaign-id="{campaign_id}"]')).to_have_attribute(
        "data-status", "cancelled"
    )

    # An agent sees the campaign (the inbox links there) but changes nothing.
    _, agent = await new_page(browser, problems)
    await log_in(agent, running.base, AGENT)
    await expect(agent.locator("#nav-campaigns")).to_be_hidden()
    await agent.goto(f"{running.base}/campaigns#{campaign_id}")
    await expect(agent.locator("body")).to_have_attribute("data-state", "ready")
    await expect(agent.locator("#progress-title")).to_contain_text(name)
    await expect(agent.locator("#campaign-report")).to_be_visible()
    await expect(agent.locator("#progress-actions button")).to_have_count(0)
    await expect(agent.locator("#new-campaign")).to_be_hidden()
    problems.check()


async def test_an_mms_campaign_carries_a_picture_to_each_recipient(
    running: RunningHub, browser: Browser
) -> None:
    await gardeners(running)
    await virtual_numbers()
    png = tiny_png()
    name = "Zdjęcie róży"
    problems = PageProblems()
    _, page = await new_page(browser, problems)
    await log_in(page, running.base, ADMIN)
    await page.goto(f"{running.base}/campaigns")
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    await page.click("#new-campaign")
    await page.fill("#cp-name", name)
    await page.fill("#cp-text", "Nasze róże, {name|Ogrodniku}!")
    await page.locator("#cp-groups label", has_text="Ogrodnicy").locator("input").check()
    await page.uncheck("#cp-window-on")
    # A sender name sends text only, and the page says so before anything is attached.
    await page.check("#cp-sender-name")
    await page.fill("#cp-sender-name-text", "SKLEP")
    limits = page.locator("#cp-media-limits")
    await expect(limits).to_have_attribute("data-mms", "no")
    await expect(limits).to_contain_text("sender name cannot carry MMS")
    await expect(limits).to_contain_text("not kannel, smpp")
    await page.set_input_files(
        "#cp-media-file", files=[{"name": "roza.png", "mimeType": "image/png", "buffer": png}]
    )
    attached = page.locator("#cp-media-list li")
    await expect(attached).to_have_attribute("data-media-id", re.compile(r"^[0-9a-f]{24}$"))
    media_id = await attached.get_attribute("data-media-id")
    await page.click("#cp-preview")
    await expect(page.locator("#cp-error")).to_contain_text("sender name cannot carry MMS")
    await expect(page.locator("#preview")).to_be_hidden()

    # The account's own number is on the simulator: it carries the picture.
    await page.check("#cp-sender-number")
    await expect(limits).to_have_attribute("data-mms", "yes")
    await expect(limits).to_contain_text("MMS through simulator")
    await expect(limits).to_contain_text("5 MB")
    await page.click("#cp-preview")
    mms = page.locator("#preview-mms")
    await expect(mms).to_have_attribute("data-files", "1")
    await expect(mms).to_have_attribute("data-gateway", "simulator")
    await expect(mms).to_contain_text("MMS through simulator")
    thumb = mms.locator(f'img[data-media-id="{media_id}"]')
    await expect(thumb).to_be_visible()
    assert await thumb.evaluate("img => img.complete && img.naturalWidth") == 1
    await expect(page.locator("#preview-cost")).to_contain_text("2 MMS")
    await no_sideways_scroll(page, "mms-preview")
    await page.set_viewport_size({"width": 1280, "height": 800})

    await page.click("#preview-draft")
    card = page.locator("#progress-card")
    await expect(card).to_have_attribute("data-status", "draft")
    campaign_id = page.url.rsplit("#", 1)[1]
    await page.click("#campaign-start")
    await expect(card).to_have_attribute("data-status", "done", timeout=30_000)
    await expect(page.locator('#campaign-counts [data-count="delivered"]')).to_have_attribute(
        "data-value", "2"
    )
    await page.locator(".cp-text-box summary").click()
    await expect(page.locator("#campaign-media")).to_have_text("MMS with roza.png (image/png)")
    problems.check()

    # Each recipient's message carries the picture, and the simulated phone got its signed link.
    sent = await Message.find({"campaign_id": campaign_id}).to_list()
    assert sorted(m.recipient for m in sent) == [LUCJA, GRZEGORZ]
    assert all([str(f.file_id) for f in m.media] == [media_id] for m in sent)
    async with httpx.AsyncClient(base_url=running.base, timeout=20) as client:
        history = (await client.get("/simulator/api/messages", params={"phone": LUCJA})).json()
        outbound = [m for m in history if m["direction"] == "out" and m["media_urls"]]
        assert len(outbound) == 1 and outbound[0]["text"] == "Nasze róże, Łucja Żółkiewska!"
        served = await client.get(outbound[0]["media_urls"][0])
        assert served.status_code == 200 and served.content == png
