"""Helpers for the browser tests: Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Response,
    ViewportSize,
    async_playwright,
    expect,
)

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 780}
TIMEOUT_MS = 10_000

ADMIN = ("admin@demo.example", "demo-admin-pass")
AGENT = ("agent@demo.example", "demo-agent-pass")
DEMO_NUMBER = "+48500100200"

expect.set_options(timeout=TIMEOUT_MS)


async def wait_for_chromium(limit_s: float = 600.0) -> str:
    """Someone may be installing Chromium with apt right now: wait for the binary."""
    deadline = time.monotonic() + limit_s
    while not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{CHROMIUM} did not appear")
        await asyncio.sleep(2)
    return CHROMIUM


@contextlib.asynccontextmanager
async def launch() -> AsyncIterator[Browser]:
    executable = await wait_for_chromium()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class PageProblems:
    """Uncaught exceptions and console errors (CSP violations show up there) of the pages watched."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: uncaught {exc}"))

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type != "error":
                return
            text = msg.text
            # Chrome logs every failed request: a refused login's 400/401 is expected; a server error is
            # caught from the response itself (below), whatever the page does with it.
            if "Failed to load resource" in text:
                return
            self.errors.append(f"{page.url}: console error {text}")

        def on_response(response: Response) -> None:
            if response.status >= 500:
                self.errors.append(
                    f"{page.url}: {response.request.method} {response.url} -> {response.status}"
                )

        page.on("console", on_console)
        page.on("response", on_response)
        return page

    def check(self) -> None:
        assert not self.errors, "\n".join(self.errors)


async def new_page(
    browser: Browser,
    problems: PageProblems,
    viewport: ViewportSize | None = None,
    locale: str = "en-GB",
) -> tuple[BrowserContext, Page]:
    """A page in a fresh context. The pages speak the browser's language (web/static/i18n.js):
    tests that find text by its English words keep the default, British English (24-hour times, as a
    Polish team's would be); tests of the Polish pages pass "pl-PL"."""
    context = await browser.new_context(
        viewport=viewport or DESKTOP, locale=locale, timezone_id="Europe/Warsaw"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = problems.watch(await context.new_page())
    return context, page


async def log_in(page: Page, base: str, login: tuple[str, str]) -> Page:
    """Log in through the login page and wait until the inbox is live."""
    await page.goto(f"{base}/login")
    await page.fill("#email", login[0])
    await page.fill("#password", login[1])
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{base}/inbox")
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")
    return page


async def sim_send(
    base: str, phone: str, text: str, media: list[dict[str, Any]] | None = None, to: str = DEMO_NUMBER
) -> dict[str, Any]:
    """Text the hub as a phone through the simulator API."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        r = await client.post(
            "/simulator/api/messages", json={"from": phone, "to": to, "text": text, "media": media or []}
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


def tiny_png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (220, 40, 40)) -> bytes:
    """A real PNG, written out by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def screenshot(page: Page, name: str) -> None:
    """Save a screenshot when HUB_TEST_SCREENSHOTS names a directory (for looking at the pages)."""
    folder = os.environ.get("HUB_TEST_SCREENSHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        await page.screenshot(path=os.path.join(folder, f"{name}.png"))


async def goto_maybe_download(page: Page, url: str) -> str:
    """Navigate to `url`; returns "download" when the browser saved it instead of showing it."""
    try:
        await page.goto(url)
    except Error as exc:
        if "Download is starting" in str(exc) or "net::ERR_ABORTED" in str(exc):
            return "download"
        raise
    return "shown"
