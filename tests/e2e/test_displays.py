"""Billboards and chat screens in real Chromium, fed by real signed webhooks.

A texter's phone (tests.e2e.keywords_helpers.Phone) texts the hub; the screen page, opened with
its link, shows what it may show; the panel page moderates it live.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.conftest import RunningHub, Tenant, make_tenant, post_generic
from tests.e2e.browser import PageProblems, b64, launch, new_page, screenshot, tiny_png
from tests.e2e.keywords_helpers import admin_client, phone

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

TEXTER = "+48601234503"
OTHER = "+48602000777"
_ids = itertools.count(1)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
async def alpha(running: RunningHub) -> Tenant:
    return await make_tenant("alpha", "+48500100200")


async def text(client: httpx.AsyncClient, to: str, body: str, sender: str = TEXTER, **extra: Any) -> None:
    payload = {"from": sender, "to": to, "text": body, "id": f"disp-{next(_ids)}", **extra}
    r = await post_generic(client, payload)
    assert r.status_code == 200, r.text


async def create_display(admin: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    numbers = (await admin.get("/api/numbers")).json()
    own = next(n for n in numbers if n["owned"])
    r = await admin.post("/api/displays", json={"title": "Ściana SMS", "number_id": own["id"], **fields})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    assert body["token"] and body["screen_url"] == f"/screen#{body['token']}"
    return body


async def settled_screenshot(page: Page, name: str) -> None:
    # Let the arrival animation finish so the picture shows what a room would see.
    await page.wait_for_timeout(700)
    await screenshot(page, name)


async def open_screen(
    browser: Browser, problems: PageProblems, running: RunningHub, display: dict[str, Any]
) -> Page:
    _, page = await new_page(browser, problems)
    await page.goto(f"{running.base}{display['screen_url']}")
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")
    return page


async def open_panel(browser: Browser, problems: PageProblems, running: RunningHub, tenant: Tenant) -> Page:
    _, page = await new_page(browser, problems)
    await page.goto(f"{running.base}/login")
    await page.fill("#email", tenant.admin_email)
    await page.fill("#password", tenant.admin_password)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{running.base}/inbox")
    await page.goto(f"{running.base}/displays")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.locator("#mod-state")).to_contain_text("live")
    return page


def wall(page: Page) -> Any:
    return page.locator("#screen-wall .wall-card")


async def test_webhook_appears_on_the_billboard_masked_with_its_image(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, accent="#ff3366", lifetime_s=3600)
        page = await open_screen(browser, problems, running, display)
        await expect(page.locator("#screen-title")).to_have_text("Ściana SMS")
        media = [{"data": b64(tiny_png(40, 30)), "content_type": "image/png", "filename": "a.png"}]
        await text(admin, alpha.number, "Pozdrowienia z Krakowa! 🎉", media=media)
        card = wall(page).filter(has_text="Pozdrowienia z Krakowa!")
        await expect(card).to_have_count(1)
        await expect(card.locator(".wall-from")).to_have_text("+48 ••• ••• 503")
        image = card.locator("img.wall-media")
        await expect(image).to_have_count(1)
        await page.wait_for_function(
            "() => { const i = document.querySelector('img.wall-media'); return i && i.naturalWidth === 40; }"
        )
        # The unmasked number never reaches the screen's browser.
        assert "601234503" not in await page.content()
        assert "601234503" not in json.dumps(
            await page.evaluate("() => [...window.hubScreen.state.messages.values()]")
        )
        await settled_screenshot(page, "display-billboard")
        problems.check()


# The start of an MP4 file (an ISO media `ftyp` box): enough for the hub to store it as a video.
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free"


async def test_mms_video_plays_muted_on_the_billboard_and_shows_in_the_panel(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, lifetime_s=3600)
        page = await open_screen(browser, problems, running, display)
        panel = await open_panel(browser, problems, running, alpha)
        media = [{"data": b64(MP4), "content_type": "video/mp4", "filename": "klip.mp4"}]
        await text(admin, alpha.number, "Film z koncertu", media=media)
        card = wall(page).filter(has_text="Film z koncertu")
        await expect(card).to_have_count(1)
        video = card.locator("video.wall-media")
        await expect(video).to_have_count(1)
        await expect(card.locator("img")).to_have_count(0)
        # Nobody presses play on a wall: muted (so browsers let it autoplay), looping, inline.
        flags = await video.evaluate("v => [v.muted, v.autoplay, v.loop, v.playsInline, v.controls]")
        assert flags == [True, True, True, True, False]
        src = await video.get_attribute("src")
        assert src is not None and src.startswith("/api/screen/media/")
        served = await page.evaluate(
            "url => fetch(url).then(async r => [r.status, (await r.arrayBuffer()).byteLength])", src
        )
        assert served == [200, len(MP4)]
        # The moderators' panel shows it as a video with controls.
        item = panel.locator("#shown .mod-item").filter(has_text="Film z koncertu")
        await expect(item.locator("video[controls]")).to_have_count(1)
        await expect(item.locator("img")).to_have_count(0)
        items = (await admin.get(f"/api/displays/{display['id']}/items?status=shown")).json()
        assert [i["media_kinds"] for i in items] == [["video"]]
        problems.check()


async def test_pre_moderated_message_shows_only_after_approval_in_the_panel(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, moderation="pre", lifetime_s=3600)
        screen = await open_screen(browser, problems, running, display)
        panel = await open_panel(browser, problems, running, alpha)
        await text(admin, alpha.number, "Czekam na zatwierdzenie")
        queued = panel.locator("#queue .mod-item").filter(has_text="Czekam na zatwierdzenie")
        await expect(queued).to_have_count(1)
        await expect(panel.locator("#queue .mod-item")).to_contain_text(TEXTER)
        await screenshot(panel, "displays-panel-queue")
        # Marker: a later text approved first must be the only thing the screen shows.
        await text(admin, alpha.number, "Znacznik kolejności")
        marker = panel.locator("#queue .mod-item").filter(has_text="Znacznik kolejności")
        await marker.locator('[data-action="approve"]').click()
        await expect(wall(screen).filter(has_text="Znacznik kolejności")).to_have_count(1)
        await expect(wall(screen)).to_have_count(1)
        await queued.locator('[data-action="approve"]').click()
        await expect(wall(screen).filter(has_text="Czekam na zatwierdzenie")).to_have_count(1)
        await expect(panel.locator("#queue .mod-item[data-status]")).to_have_count(0)
        # Removing from the panel takes it off the screen.
        await (
            panel.locator("#shown .mod-item")
            .filter(has_text="Czekam")
            .locator('[data-action="remove"]')
            .click()
        )
        await expect(wall(screen).filter(has_text="Czekam na zatwierdzenie")).to_have_count(0)
        problems.check()


async def test_blocked_number_and_filtered_word_never_appear(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, filter_action="hide", lifetime_s=3600)
        screen = await open_screen(browser, problems, running, display)
        panel = await open_panel(browser, problems, running, alpha)
        await panel.fill("#block-phone", "602 000 777")
        await panel.click("#block-submit")
        await expect(panel.locator("#d-blocked")).to_have_value(OTHER)

        await text(admin, alpha.number, "Jestem zablokowany", sender=OTHER)
        await text(admin, alpha.number, "Co za KURWA impreza")
        await text(admin, alpha.number, "Ostatnia wiadomość")
        await expect(wall(screen).filter(has_text="Ostatnia wiadomość")).to_have_count(1)
        await expect(wall(screen)).to_have_count(1)
        assert "zablokowany" not in await screen.content()
        assert "KURWA" not in await screen.content()
        # Neither waits in the queue either.
        await expect(panel.locator("#queue .mod-item[data-status]")).to_have_count(0)
        problems.check()


async def test_the_screen_token_reads_nothing_else(running: RunningHub, alpha: Tenant) -> None:
    beta = await make_tenant("beta", "+48500100300")
    async with (
        admin_client(running, alpha.admin_email, alpha.admin_password) as admin,
        admin_client(running, beta.admin_email, beta.admin_password) as other,
    ):
        mine = await create_display(admin, moderation="pre")
        second = await create_display(admin, title="Druga")
        token = mine["token"]
        ws = running.ws_base
        async with websockets.connect(f"{ws}/ws/display?token={token}") as sock:
            first = json.loads(await sock.recv())
            assert first["type"] == "snapshot" and first["messages"] == []
            assert json.loads(await sock.recv())["type"] == "ready"
            image = [{"data": b64(tiny_png(6, 6)), "content_type": "image/png"}]
            await text(admin, alpha.number, "Do kolejki, nie na ekran", media=image)
            # The second billboard (post-moderation) shows it; this one's socket gets nothing of it,
            # nor of the moderation queue.
            # Marker: a later text approved at once must be the first thing this socket is sent.
            await text(admin, alpha.number, "Znacznik kolejności")
            pending = (await admin.get(f"/api/displays/{mine['id']}/items?status=pending")).json()
            marker = next(i for i in pending if i["text"] == "Znacznik kolejności")
            r = await admin.post(f"/api/displays/{mine['id']}/items/{marker['id']}/approve")
            assert r.status_code == 200, r.text
            got = await asyncio.wait_for(sock.recv(), 10)
            assert "Znacznik kolejności" in json.dumps(json.loads(got), ensure_ascii=False), (
                f"the screen was sent {got}"
            )
        items = (await admin.get(f"/api/displays/{second['id']}/items?status=shown")).json()
        assert sorted(i["text"] for i in items) == ["Do kolejki, nie na ekran", "Znacznik kolejności"]
        queued = (await admin.get(f"/api/displays/{mine['id']}/items?status=pending")).json()
        assert len(queued) == 1
        # A queued item's image is unreachable with the token; moderators see it.
        r = await admin.get(f"/api/screen/media/{queued[0]['id']}/0", params={"token": token})
        assert r.status_code == 404
        assert (await admin.get(queued[0]["media"][0])).content == tiny_png(6, 6)
        # Another screen's shown image is unreachable with this screen's token.
        pictured = next(i["id"] for i in items if i["text"] == "Do kolejki, nie na ekran")
        r = await admin.get(f"/api/screen/media/{pictured}/0", params={"token": token})
        assert r.status_code == 404
        r = await admin.get(f"/api/screen/media/{pictured}/0", params={"token": second["token"]})
        assert r.status_code == 200 and r.content == tiny_png(6, 6)

        async with httpx.AsyncClient(base_url=running.base) as anon:
            for path in (
                "/api/me",
                "/api/conversations",
                "/api/displays",
                f"/api/displays/{mine['id']}/items",
            ):
                r = await anon.get(path, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 401, (path, r.status_code)
                assert "error" in r.json()
        # The agent socket refuses it.
        async with websockets.connect(f"{ws}/ws?token={token}") as agent:
            assert json.loads(await agent.recv())["type"] == "error"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await agent.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        async with websockets.connect(
            f"{ws}/ws/display/moderate?token={token}&display_id={mine['id']}"
        ) as mod:
            assert json.loads(await mod.recv())["type"] == "error"
        # Another account's display ids are unknown to it; bad input is a 4xx with a reason.
        assert (await other.get(f"/api/displays/{mine['id']}")).status_code == 404
        assert (
            await other.post(f"/api/displays/{mine['id']}/items/{queued[0]['id']}/approve")
        ).status_code == 404
        assert (await other.post(f"/api/displays/{mine['id']}/link")).status_code == 404
        bad = await admin.post("/api/displays", json={"title": "x", "number_id": "nope"})
        assert bad.status_code == 422 and bad.json()["field"] == "number_id"
        beta_number = next(n for n in (await other.get("/api/numbers")).json() if n["owned"])
        bad = await admin.post("/api/displays", json={"title": "x", "number_id": beta_number["id"]})
        assert bad.status_code == 404 and bad.json()["field"] == "number_id"
        bad = await admin.post(
            "/api/displays/validate", json={"title": "x", "number_id": mine["number_id"], "background": "red"}
        )
        assert bad.status_code == 400 and "background" in bad.text
        bad = await admin.post(
            "/api/displays/validate", json={"title": "x", "number_id": mine["number_id"], "keyword": "NIEMA"}
        )
        assert bad.status_code == 422 and bad.json()["field"] == "keyword"
        # A new link closes screens opened with the old one and the old token stops working.
        async with websockets.connect(f"{ws}/ws/display?token={token}") as sock:
            await sock.recv()
            await sock.recv()
            fresh = (await admin.post(f"/api/displays/{mine['id']}/link")).json()
            assert json.loads(await asyncio.wait_for(sock.recv(), 5))["type"] == "display.closed"
        async with websockets.connect(f"{ws}/ws/display?token={token}") as sock:
            assert json.loads(await sock.recv())["type"] == "error"
        async with websockets.connect(f"{ws}/ws/display?token={fresh['token']}") as sock:
            assert json.loads(await sock.recv())["type"] == "snapshot"


async def test_the_screen_resumes_after_its_socket_drops_with_no_gap(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, lifetime_s=3600, max_shown=30)
        page = await open_screen(browser, problems, running, display)
        await text(admin, alpha.number, "przed 1")
        await expect(wall(page)).to_have_count(1)
        await page.evaluate("() => window.hubScreen.drop()")
        await expect(page.locator("body")).not_to_have_attribute("data-connection", "online")
        for i in range(5):
            await text(admin, alpha.number, f"w przerwie {i}")
        await expect(page.locator("body")).to_have_attribute("data-reconnects", "1")
        await expect(page.locator("body")).to_have_attribute("data-connection", "online")
        for i in range(3):
            await text(admin, alpha.number, f"po {i}")
        await expect(wall(page)).to_have_count(9)
        texts = await wall(page).locator(".wall-text").all_text_contents()
        expected = ["przed 1", *[f"w przerwie {i}" for i in range(5)], *[f"po {i}" for i in range(3)]]
        assert texts == expected
        # It resumed from its sequence number (a replay), not from a fresh snapshot.
        assert int(await page.locator("body").get_attribute("data-replayed") or "0") >= 1
        await settled_screenshot(page, "display-resumed")
        problems.check()


async def test_chat_screen_nicknames_and_host_answer_by_sms(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, mode="chat", title="Czat studia", lifetime_s=3600)
        screen = await open_screen(browser, problems, running, display)
        panel = await open_panel(browser, problems, running, alpha)
        async with phone(running, TEXTER) as texter:
            await texter.text(alpha.number, "NICK Anna")
            await texter.text(alpha.number, "Dzień dobry studio!")
            bubble = wall(screen).filter(has_text="Dzień dobry studio!")
            await expect(bubble.locator(".wall-nick")).to_have_text("Anna")
            # The command itself is not shown.
            await expect(wall(screen)).to_have_count(1)
            row = panel.locator("#shown .mod-item").filter(has_text="Dzień dobry studio!")
            await expect(row).to_contain_text("Anna")
            await row.locator(".reply-text").fill("Witaj Anno, jesteś na antenie!")
            await row.locator('[data-action="reply"]').click()
            host = screen.locator("#screen-wall .wall-card.host")
            # Under the screen's name for its hosts (by default the account's), not the agent's.
            await expect(host).to_have_text("AlphaWitaj Anno, jesteś na antenie!")
            sms = await texter.next_sms()
            assert sms["text"] == "Witaj Anno, jesteś na antenie!" and sms["sender"] == alpha.number
            await settled_screenshot(screen, "display-chat")
            await screenshot(panel, "displays-panel-chat")
        problems.check()


async def test_billboard_charts_live_survey_results_and_shows_its_keyword_only(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        number_id = next(n for n in (await admin.get("/api/numbers")).json() if n["owned"])["id"]
        r = await admin.post(
            "/api/surveys",
            json={
                "number_id": number_id,
                "name": "Ulubiona pora roku",
                "questions": [{"id": "q1", "text": "A) wiosna B) lato", "choices": ["A", "B"]}],
                "vote_limit": "unlimited",
            },
        )
        assert r.status_code == 201, r.text
        survey = r.json()
        r = await admin.post(
            "/api/keywords",
            json={"number_id": number_id, "text": "ANKIETA", "kind": "base", "survey_id": survey["id"]},
        )
        assert r.status_code == 201, r.text
        display = await create_display(admin, keyword="ankieta", survey_id=survey["id"], lifetime_s=3600)
        assert display["keyword"] == "ankieta"
        page = await open_screen(browser, problems, running, display)
        # Every choice has its bar from the start.
        await expect(page.locator('.bar[data-answer="B"]')).to_have_attribute("data-count", "0")
        async with phone(running, TEXTER) as texter:
            await texter.text(alpha.number, "ANKIETA pozdrawiam wszystkich")
            await texter.next_sms()
            await texter.text(alpha.number, "B")
            await expect(page.locator('.bar[data-answer="B"]')).to_have_attribute("data-count", "1")
        # The keyword's message shows without the keyword; the bare answer is not for this screen.
        await expect(wall(page).locator(".wall-text")).to_have_text(["pozdrawiam wszystkich"])
        await expect(page.locator("#screen-cta")).to_have_text(f"ANKIETA → {alpha.number}")
        # An admin's change restyles open screens at once.
        r = await admin.patch(
            f"/api/displays/{display['id']}",
            json={
                "title": "Wyniki na żywo",
                "number_id": number_id,
                "keyword": "ANKIETA",
                "survey_id": survey["id"],
            },
        )
        assert r.status_code == 200, r.text
        await expect(page.locator("#screen-title")).to_have_text("Wyniki na żywo")
        # Showing numbers is the admin's choice; the open screen relabels its messages at once.
        r = await admin.patch(
            f"/api/displays/{display['id']}",
            json={
                "title": "Wyniki na żywo",
                "number_id": number_id,
                "keyword": "ANKIETA",
                "survey_id": survey["id"],
                "masked": False,
            },
        )
        assert r.status_code == 200 and r.json()["masked"] is False
        await expect(wall(page).locator(".wall-from")).to_have_text([TEXTER])
        await expect(page.locator('.bar[data-answer="B"]')).to_have_attribute("data-count", "1")
        await settled_screenshot(page, "display-results")
        problems.check()


async def test_a_retried_webhook_shows_once_and_a_logo_can_be_uploaded(
    running: RunningHub, alpha: Tenant
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin)
        payload = {"from": TEXTER, "to": alpha.number, "text": "Raz", "id": "retry-1"}
        for _ in range(3):
            r = await post_generic(admin, payload)
            assert r.status_code == 200, r.text
        shown = (await admin.get(f"/api/displays/{display['id']}/items?status=shown")).json()
        assert [i["text"] for i in shown] == ["Raz"]
        async with websockets.connect(
            f"{running.ws_base}/ws/display?token={display['token']}&since=0"
        ) as sock:
            events = [json.loads(await sock.recv()) for _ in range(2)]
        assert [e["type"] for e in events] == ["display.message", "ready"]

        r = await admin.put(
            f"/api/displays/{display['id']}/logo",
            content=b"not an image",
            headers={"Content-Type": "image/png"},
        )
        assert r.status_code == 422 and r.json()["field"] == "logo"
        r = await admin.put(
            f"/api/displays/{display['id']}/logo",
            content=tiny_png(8, 8),
            headers={"Content-Type": "image/png"},
        )
        assert r.status_code == 200 and r.json()["has_logo"] is True
        async with httpx.AsyncClient(base_url=running.base) as anon:
            logo = await anon.get("/api/screen/logo", params={"token": display["token"]})
            assert logo.status_code == 200 and logo.content == tiny_png(8, 8)
            assert (await anon.get("/api/screen/logo", params={"token": "x" * 43})).status_code == 404


async def test_panel_checks_settings_as_the_admin_types(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    _, page = await new_page(browser, problems)
    await page.goto(f"{running.base}/login")
    await page.fill("#email", alpha.admin_email)
    await page.fill("#password", alpha.admin_password)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{running.base}/inbox")
    await page.goto(f"{running.base}/displays")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await page.fill("#d-title", "Ekran w holu")
    await page.fill("#d-keyword", "NIEMA")
    await expect(page.locator("#d-error")).to_contain_text("no keyword 'NIEMA'")
    await expect(page.locator("#d-keyword")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#d-save")).to_be_disabled()
    await page.fill("#d-keyword", "")
    await expect(page.locator("#d-error")).to_have_text("")
    await page.click("#d-save")
    await expect(page.locator("#d-link-box")).to_be_visible()
    link = await page.input_value("#d-link-url")
    assert link.startswith(f"{running.base}/screen#")
    await expect(page.locator("#display-list .display-row")).to_have_count(1)
    await screenshot(page, "displays-panel-new")
    _, screen = await new_page(browser, problems)
    await screen.goto(link)
    await expect(screen.locator("body")).to_have_attribute("data-connection", "online")
    await expect(screen.locator("#screen-title")).to_have_text("Ekran w holu")
    problems.check()


@pytest.mark.timeout(300)
async def test_no_input_makes_the_displays_api_fail(
    running: RunningHub, alpha: Tenant, tmp_path: Path
) -> None:
    """Schemathesis on the displays endpoints only (the whole API is fuzzed in test_schema_fuzz)."""
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, moderation="pre")
        await text(admin, alpha.number, "Do sprawdzenia")
        item = (await admin.get(f"/api/displays/{display['id']}/items?status=pending")).json()[0]
        token = admin.headers["X-Token"]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        'headers = { Authorization = "${FUZZ_AUTH}" }\n'
        "[parameters]\n"
        f'"path.display_id" = "{display["id"]}"\n'
        f'"path.item_id" = "{item["id"]}"\n'
    )
    for auth in (f"Bearer {token}", "Bearer hs_not-a-session"):
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(config),
            "run",
            f"{running.base}/schema/openapi.json",
            "--checks",
            "not_a_server_error",
            "--include-path-regex",
            "^/api/(displays|screen)",
            "--max-examples",
            "20",
            "--seed",
            "1",
            "--no-color",
            cwd=str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "FUZZ_AUTH": auth},
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 240)
        assert proc.returncode == 0, out.decode(errors="replace")[-4000:]
        assert "passed" in out.decode(errors="replace")


async def test_agents_moderate_but_only_admins_set_screens_up(running: RunningHub, alpha: Tenant) -> None:
    async with (
        admin_client(running, alpha.admin_email, alpha.admin_password) as admin,
        admin_client(running, alpha.agent_email, alpha.agent_password) as agent,
    ):
        display = await create_display(admin, moderation="pre")
        number_id = display["number_id"]
        r = await agent.post("/api/displays", json={"title": "x", "number_id": number_id})
        assert r.status_code == 403 and "admin" in r.json()["error"]
        r = await agent.patch(f"/api/displays/{display['id']}", json={"title": "x", "number_id": number_id})
        assert r.status_code == 403
        assert (await agent.post(f"/api/displays/{display['id']}/link")).status_code == 403
        listed = (await agent.get("/api/displays")).json()
        assert [d["id"] for d in listed] == [display["id"]] and listed[0]["token"] is None
        await text(admin, alpha.number, "Proszę o zgodę")
        queued = (await agent.get(f"/api/displays/{display['id']}/items?status=pending")).json()
        r = await agent.post(f"/api/displays/{display['id']}/items/{queued[0]['id']}/approve")
        assert r.status_code == 200 and r.json()["status"] == "shown"
        # Approving twice is harmless; rejecting what shows is refused with a reason.
        r = await agent.post(f"/api/displays/{display['id']}/items/{queued[0]['id']}/approve")
        assert r.status_code == 200
        r = await agent.post(f"/api/displays/{display['id']}/items/{queued[0]['id']}/reject")
        assert r.status_code == 409 and "shown" in r.json()["error"]
        r = await agent.post(f"/api/displays/{display['id']}/items/{queued[0]['id']}/explode")
        assert r.status_code == 404 and r.json()["field"] == "action"
        r = await agent.post(f"/api/displays/{display['id']}/reply/{queued[0]['id']}", json={"text": "hej"})
        assert r.status_code == 409 and "chat" in r.json()["error"]


async def test_every_display_path_is_404_to_another_account(running: RunningHub, alpha: Tenant) -> None:
    beta = await make_tenant("beta", "+48500100300")
    async with (
        admin_client(running, alpha.admin_email, alpha.admin_password) as a,
        admin_client(running, beta.admin_email, beta.admin_password) as b,
    ):
        theirs = await create_display(b, mode="chat", title="Sekret B")
        image = [{"data": b64(tiny_png(5, 5)), "content_type": "image/png"}]
        await text(b, beta.number, "Sekret B", sender=OTHER, media=image)
        item = (await b.get(f"/api/displays/{theirs['id']}/items?status=shown")).json()[0]
        mine = await create_display(a)
        ids = {
            "display_id": theirs["id"],
            "item_id": item["id"],
            "phone": OTHER,
            "index": "0",
            "action": "remove",
        }
        own_number = mine["number_id"]
        tried: set[str] = set()
        for method, template, payload in [
            ("GET", "/api/displays/{display_id}", None),
            ("PATCH", "/api/displays/{display_id}", {"title": "przejęty", "number_id": own_number}),
            ("DELETE", "/api/displays/{display_id}", None),
            ("POST", "/api/displays/{display_id}/link", None),
            ("PUT", "/api/displays/{display_id}/logo", None),
            ("GET", "/api/displays/{display_id}/items", None),
            ("GET", "/api/displays/{display_id}/items/{item_id}/media/{index}", None),
            *[
                ("POST", "/api/displays/{display_id}/items/{item_id}/" + act, None)
                for act in ("approve", "reject")
            ],
            ("POST", "/api/displays/{display_id}/items/{item_id}/{action}", None),
            ("POST", "/api/displays/{display_id}/reply/{item_id}", {"text": "przejęte"}),
            ("POST", "/api/displays/{display_id}/block", {"item_id": item["id"]}),
            ("DELETE", "/api/displays/{display_id}/block/{phone}", None),
            ("GET", "/api/screen/media/{item_id}/{index}", None),
        ]:
            path = template.format(**ids)
            if method == "PUT":
                r = await a.put(path, content=tiny_png(), headers={"Content-Type": "image/png"})
            else:
                r = await a.request(method, path, json=payload)
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert "Sekret" not in r.text and OTHER not in r.text
            tried.add(re.sub(r"\{[a-z_]+\}", "{}", template))
        # A's own screen with B's item, or A's screen token on B's item: still nothing.
        assert (await a.post(f"/api/displays/{mine['id']}/items/{item['id']}/remove")).status_code == 404
        r = await a.get(f"/api/screen/media/{item['id']}/0", params={"token": mine["token"]})
        assert r.status_code == 404
        # A cannot point a screen at B's number or survey.
        r = await a.post("/api/displays", json={"title": "x", "number_id": theirs["number_id"]})
        assert r.status_code == 404
        assert [d["id"] for d in (await a.get("/api/displays")).json()] == [mine["id"]]
        # B's screen is untouched.
        after = (await b.get(f"/api/displays/{theirs['id']}")).json()
        assert after["title"] == "Sekret B" and after["blocked"] == []
        shown = (await b.get(f"/api/displays/{theirs['id']}/items?status=shown")).json()
        assert [i["id"] for i in shown] == [item["id"]]

        schema = (await a.get("/schema/openapi.json")).json()
        paths = {p for p in schema["paths"] if "{" in p and p.startswith(("/api/displays", "/api/screen"))}
        normalised = {re.sub(r"\{[a-z_]+\}", "{}", p) for p in paths}
        assert normalised <= tried, f"untried id paths: {sorted(normalised - tried)}"


async def test_a_quiet_room_cycles_recent_approved_messages(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, lifetime_s=10)
        page = await open_screen(browser, problems, running, display)
        await text(admin, alpha.number, "Pierwsza")
        await text(admin, alpha.number, "Druga")
        await expect(wall(page)).to_have_count(2)
        # Past their lifetime the messages leave, and one at a time they come back.
        cycled = page.locator("#screen-wall .wall-card.cycled")
        await expect(cycled).to_have_count(1, timeout=20_000)
        await expect(wall(page)).to_have_count(1)
        assert await cycled.locator(".wall-text").text_content() in ("Pierwsza", "Druga")
        problems.check()


async def _next_message(sock: Any) -> dict[str, Any]:
    """The screen's next `display.message` (skipping the snapshot and `ready`)."""
    while True:
        event = json.loads(await asyncio.wait_for(sock.recv(), 10))
        if event["type"] == "display.message":
            data: dict[str, Any] = event["data"]
            return data


async def test_commands_never_show_on_billboards_or_chat_screens(running: RunningHub, alpha: Tenant) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        board = await create_display(admin, title="Ściana")
        chat = await create_display(admin, title="Czat", mode="chat")
        ws = running.ws_base
        async with (
            websockets.connect(f"{ws}/ws/display?token={board['token']}") as board_sock,
            websockets.connect(f"{ws}/ws/display?token={chat['token']}") as chat_sock,
        ):
            # The number's opt-out, opt-in and help words, and the chat screen's nickname command.
            for body in ("NICK Anna", "STOP", "START", "HELP", "Pomoc!"):
                await text(admin, alpha.number, body)
            # The marker: the first message either screen is sent.
            await text(admin, alpha.number, "Dzień dobry")
            on_board = await _next_message(board_sock)
            on_chat = await _next_message(chat_sock)
        assert on_board["text"] == "Dzień dobry"
        assert on_chat["text"] == "Dzień dobry" and on_chat["nick"] == "Anna"
        for display in (board, chat):
            for status in ("shown", "pending", "hidden"):
                items = (await admin.get(f"/api/displays/{display['id']}/items?status={status}")).json()
                assert [i["text"] for i in items] == (["Dzień dobry"] if status == "shown" else [])


async def test_a_chat_screen_names_its_hosts_by_its_setting_never_by_the_agent(
    running: RunningHub, alpha: Tenant
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        chat = await create_display(admin, mode="chat", title="Czat")
        assert chat["host_name"] == "Alpha"  # the account's name to start
        number_id = chat["number_id"]
        for bad, status in (("  \t ", 422), ("x" * 41, 400)):
            r = await admin.post(
                "/api/displays/validate", json={"title": "Czat", "number_id": number_id, "host_name": bad}
            )
            assert r.status_code == status and "host_name" in r.text, r.text
        r = await admin.patch(
            f"/api/displays/{chat['id']}",
            json={"title": "Czat", "number_id": number_id, "mode": "chat", "host_name": " Studio  Trójki "},
        )
        assert r.status_code == 200 and r.json()["host_name"] == "Studio Trójki", r.text
        # Leaving it out keeps it.
        r = await admin.patch(
            f"/api/displays/{chat['id']}", json={"title": "Czat 2", "number_id": number_id, "mode": "chat"}
        )
        assert r.json()["host_name"] == "Studio Trójki"
        ws = running.ws_base
        frames: list[str] = []
        async with websockets.connect(f"{ws}/ws/display?token={chat['token']}") as sock:
            await text(admin, alpha.number, "Pytanie do studia")
            asked = await _next_message(sock)
            r = await admin.post(
                f"/api/displays/{chat['id']}/reply/{asked['id']}", json={"text": "Odpowiedź"}
            )
            assert r.status_code == 201, r.text
            # The moderators' panel still says which agent answered.
            assert r.json()["nick"] == "alpha admin"
            while True:
                raw = await asyncio.wait_for(sock.recv(), 10)
                frames.append(str(raw))
                event = json.loads(raw)
                if event["type"] == "display.message" and event["data"]["author"] == "host":
                    break
        assert event["data"]["nick"] == "Studio Trójki" and event["data"]["text"] == "Odpowiedź"
        # A screen opening now (snapshot) and one resuming (replay) are told the same.
        async with websockets.connect(f"{ws}/ws/display?token={chat['token']}") as sock:
            frames += [str(await sock.recv()) for _ in range(2)]
        async with websockets.connect(f"{ws}/ws/display?token={chat['token']}&since=0") as sock:
            while True:
                frames.append(str(await asyncio.wait_for(sock.recv(), 10)))
                if json.loads(frames[-1])["type"] == "ready":
                    break
        snapshot = next(json.loads(f) for f in frames if json.loads(f)["type"] == "snapshot")
        hosts = [m["nick"] for m in snapshot["messages"] if m["author"] == "host"]
        assert hosts == ["Studio Trójki"]
        for frame in frames:
            assert "alpha admin" not in frame, frame


SIZES: list[ViewportSize] = [
    {"width": 1366, "height": 768},
    {"width": 1920, "height": 1080},
    {"width": 390, "height": 844},
]
LONG = (
    "Pozdrowienia dla całej sali z trzeciego rzędu, bawimy się świetnie i prosimy o jeszcze jeden bis "
    "na koniec, bo ten koncert jest najlepszy w tym roku! Dziękujemy organizatorom i wszystkim muzykom. "
) * 2


async def _fully_shown(page: Page, newest: str) -> None:
    """Every card the wall shows lies inside the window, the newest among them, and nothing scrolls."""
    # Let arrival animations end and pictures load before measuring.
    await page.wait_for_function(
        "() => !document.getAnimations().length && [...document.images].every(i => i.complete)"
    )
    # A picture that just loaded has the wall refitted on the next frame.
    await page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    boxes = await page.evaluate(
        """() => [...document.querySelectorAll('#screen-wall .wall-card')]
            .filter(c => c.checkVisibility())
            .map(c => { const r = c.getBoundingClientRect();
                        return {text: c.textContent, top: r.top, left: r.left,
                                bottom: r.bottom, right: r.right}; })"""
    )
    size = await page.evaluate("() => [innerWidth, innerHeight, document.scrollingElement.scrollHeight]")
    width, height, scroll_height = size
    assert scroll_height <= height
    for box in boxes:
        inside = box["top"] >= 0 and box["left"] >= 0 and box["bottom"] <= height and box["right"] <= width
        assert inside, (size, box)
    assert any(newest in box["text"] for box in boxes), (newest, [b["text"][:30] for b in boxes])
    return None


async def test_a_full_billboard_shows_every_card_and_the_newest_on_any_screen(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, lifetime_s=3600)  # 8 cards, the default
        assert display["max_shown"] == 8
        tall = [{"data": b64(tiny_png(60, 200)), "content_type": "image/png"}]
        wide = [{"data": b64(tiny_png(300, 80, (40, 120, 220))), "content_type": "image/png"}]
        for i in range(9):
            media = tall if i % 3 == 0 else wide if i % 3 == 1 else []
            body = f"{i}: {LONG}" if i % 2 else f"{i}: Krótko"
            await text(admin, alpha.number, body, media=media)
        await text(admin, alpha.number, f"Najnowsza: {LONG}", media=tall)
        for size in SIZES:
            _, page = await new_page(browser, problems, size)
            await page.goto(f"{running.base}{display['screen_url']}")
            await expect(wall(page)).to_have_count(8)
            await _fully_shown(page, "Najnowsza:")
            await settled_screenshot(page, f"display-full-{size['width']}x{size['height']}")
            await page.close()
        problems.check()


async def test_a_chat_screen_keeps_its_newest_bubbles_in_the_window(
    running: RunningHub, alpha: Tenant, browser: Browser, problems: PageProblems
) -> None:
    async with admin_client(running, alpha.admin_email, alpha.admin_password) as admin:
        display = await create_display(admin, mode="chat", lifetime_s=3600)
        image = [{"data": b64(tiny_png(60, 200)), "content_type": "image/png"}]
        for i in range(7):
            await text(admin, alpha.number, f"{i}: {LONG}", media=image if i % 2 else [])
        await text(admin, alpha.number, f"Najnowsza: {LONG * 3}")
        for size in SIZES:
            _, page = await new_page(browser, problems, size)
            await page.goto(f"{running.base}{display['screen_url']}")
            await expect(wall(page)).to_have_count(8)
            await _fully_shown(page, "Najnowsza:")
            await settled_screenshot(page, f"display-chat-full-{size['width']}x{size['height']}")
            await page.close()
        problems.check()
