"""The audit log on the operator's page and on an account admin's services page, the operator's
gateway picker, and the top bar at phone width, in real headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import RunningHub, login
from tests.e2e.browser import PageProblems, log_in, new_page, screenshot
from tests.e2e.test_admin_pages import fits, open_services, tab
from tests.e2e.test_operator_page import (
    OPERATOR,
    SIZES,
    account_row,
    add_number,
    browser,
    create_account,
    create_operator,
    number_row,
    open_operator,
    problems,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
__all__ = ["browser", "problems"]

GAMMA_ADMIN = ("szef@gamma.test", "gamma-password")
DELTA_ADMIN = ("szef@delta.test", "delta-password")
ND = "+48503340503"
NDI = "+48500600700"


def audit_rows(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#audit-list .audit-row")


async def filter_action(page: Page, action: str) -> None:
    """Type an action filter and wait until the rows shown answer it."""
    await page.fill("#audit-action", action)
    await expect(page.locator("#audit-list")).to_have_attribute(
        "data-query", re.compile(re.escape(f"action={action}"))
    )


async def rename(page: Page, slug: str, name: str) -> None:
    await account_row(page, slug).get_by_role("button").click()
    await page.fill("#rename-name", name)
    await page.click("#rename-submit")
    await expect(account_row(page, slug).locator(".account-name")).to_have_text(name)
    await page.click("#account-editor-close")


async def test_operator_and_account_admin_read_the_audit_log(
    running: RunningHub, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    await create_operator(running)
    _, op = await new_page(browser, problems)
    await log_in(op, base, OPERATOR)
    await open_operator(op, base)

    # Each change made on the page is at the top of the log, with who made it and what changed.
    await create_account(op, "Gamma", "gamma", GAMMA_ADMIN)
    await expect(account_row(op, "gamma")).to_be_visible()
    top = audit_rows(op).first
    await expect(top).to_have_attribute("data-action", "account.create")
    await expect(top.locator(".audit-actor")).to_have_text("Operator")
    await expect(top.locator(".audit-account")).to_have_text("Gamma (gamma)")
    await expect(top.locator(".audit-change")).to_contain_text("slug: gamma")
    await rename(op, "gamma", "Gamma Kraków")
    await expect(top).to_have_attribute("data-action", "account.rename")
    await expect(top.locator(".audit-change")).to_have_text("name: Gamma → Gamma Kraków")
    await create_account(op, "Delta", "delta", DELTA_ADMIN)
    await expect(account_row(op, "delta")).to_be_visible()
    await rename(op, "delta", "Delta Wrocław")

    # The gateway is picked from the hub's: the simulator, and Twilio (said to be not configured
    # when the hub has no credentials for it).
    options = await op.locator("#number-provider option").evaluate_all(
        "(os) => os.map((o) => [o.value, o.textContent])"
    )
    twilio = "twilio" if running.hub.providers["twilio"].configured else "twilio (not configured)"
    assert options == [["simulator", "simulator"], ["twilio", twilio]], options
    await expect(op.locator("#number-provider")).to_have_value("simulator")
    await add_number(op, "503 340 503", "ND")
    await expect(number_row(op, ND).locator(".number-provider")).to_have_text("simulator")
    await number_row(op, ND).get_by_role("button", name=f"Edit {ND}").click()
    await expect(op.locator("#ns-provider")).to_have_value("simulator")
    await op.select_option("#ns-provider", "twilio")
    await op.click("#ns-submit")
    await expect(number_row(op, ND).locator(".number-provider")).to_have_text("twilio")

    # Filters: an action prefix, then one account.
    await filter_action(op, "number.*")
    await expect(audit_rows(op)).to_have_count(2)
    await expect(audit_rows(op).first).to_have_attribute("data-action", "number.edit")
    await expect(audit_rows(op).first.locator(".audit-change")).to_have_text("provider: simulator → twilio")
    await expect(audit_rows(op).last).to_have_attribute("data-action", "number.create")
    await filter_action(op, "account.rename")
    await expect(audit_rows(op)).to_have_count(2)
    await op.select_option("#audit-account", label="Delta Wrocław (delta)")
    await expect(audit_rows(op)).to_have_count(1)
    await expect(audit_rows(op).first.locator(".audit-change")).to_have_text("name: Delta → Delta Wrocław")
    # The CSV link downloads the same filters.
    href = await op.locator("#audit-csv").get_attribute("href")
    assert href and href.startswith("/api/operator/audit.csv?") and "action=account.rename" in href, href
    rows = list(csv.DictReader(io.StringIO(await (await op.context.request.get(base + href)).text())))
    assert [(r["action"], r["after"]) for r in rows] == [("account.rename", '{"name": "Delta Wrocław"}')]

    # Paging: 50 entries a page, "Older" fetches the rest.
    gamma_id = await account_row(op, "gamma").get_attribute("data-account-id")
    token = await login(base, *OPERATOR)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
        for i in range(54):
            r = await c.patch(f"/api/operator/accounts/{gamma_id}", json={"name": f"Gamma {i}"})
            assert r.status_code == 200, r.text
    assert gamma_id
    await op.select_option("#audit-account", gamma_id)
    await expect(audit_rows(op)).to_have_count(50)
    await expect(audit_rows(op).first.locator(".audit-change")).to_have_text("name: Gamma 52 → Gamma 53")
    await op.click("#audit-older")
    await expect(audit_rows(op)).to_have_count(55)
    await expect(audit_rows(op).last.locator(".audit-change")).to_have_text("name: Gamma → Gamma Kraków")
    await expect(op.locator("#audit-older")).to_be_hidden()
    await op.locator("#audit-table").scroll_into_view_if_needed()
    await screenshot(op, "operator-audit")

    # Gamma's admin sees Gamma's changes on the services page, its own too, and none of Delta's.
    _, admin = await new_page(browser, problems)
    await log_in(admin, base, GAMMA_ADMIN)
    await open_services(admin, base)
    await tab(admin, "contacts")
    await admin.fill("#group-name", "Stali klienci")
    await admin.click("#group-submit")
    await expect(admin.locator("#group-list")).to_contain_text("Stali klienci")
    await tab(admin, "audit")
    top = audit_rows(admin).first
    await expect(top).to_have_attribute("data-action", "group.create")
    await expect(top.locator(".audit-actor")).to_have_text("Szef")
    await expect(top.locator(".audit-change")).to_contain_text("name: Stali klienci")
    await filter_action(admin, "account.*")
    await expect(audit_rows(admin)).to_have_count(50)
    # "Download CSV" carries the filters shown, and downloads this account's entries only.
    await admin.fill("#audit-since", "2020-01-02")
    await expect(admin.locator("#audit-list")).to_have_attribute("data-query", re.compile("since="))
    href = await admin.locator("#audit-csv").get_attribute("href")
    assert href and href.startswith("/api/audit.csv?"), href
    query = dict(re.findall(r"([a-z_]+)=([^&]*)", href.split("?", 1)[1]))
    assert query.get("action") == "account.*", href
    assert "since" in query and "limit" not in query and "actor" not in query, href
    async with admin.expect_download() as fetched:
        await admin.click("#audit-csv")
    rows = list(csv.DictReader(io.StringIO(Path(await (await fetched.value).path()).read_text("utf-8"))))
    assert len(rows) == 56 and {r["account_id"] for r in rows} == {gamma_id}, len(rows)
    assert any("Gamma Kraków" in r["after"] for r in rows)
    await admin.fill("#audit-since", "")
    # The cleared filter reloads the first page; "older" clicked before that reload ends would be
    # undone by it.
    await expect(admin.locator("#audit-list")).not_to_have_attribute("data-query", re.compile("since="))
    await expect(audit_rows(admin)).to_have_count(50)
    await admin.click("#audit-older")
    await expect(audit_rows(admin)).to_have_count(56)  # created, renamed 55 times
    ids = await audit_rows(admin).evaluate_all("(rs) => [...new Set(rs.map((r) => r.dataset.accountId))]")
    assert ids == [gamma_id], ids
    await expect(admin.locator("#audit-list")).not_to_contain_text("Delta")
    await expect(admin.locator("#audit-list")).not_to_contain_text("delta")
    problems.check()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_audit_log_and_top_bar_fit_the_window(
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
        r = await c.post(
            f"/api/operator/accounts/{r.json()['id']}/suspend",
            json={"reason": "Nieopłacona faktura za listopad " * 6},
        )
        assert r.status_code == 200, r.text
    _, page = await new_page(browser, problems, {"width": width, "height": height})
    await log_in(page, base, OPERATOR)
    # Every page's links are all in the window, Operator too.
    for path in ("/inbox", "/services", "/displays", "/forwarding", "/operator"):
        await page.goto(base + path)
        await expect(page.locator(".topbar")).to_have_attribute("data-ready", "true")
        link = page.locator("#nav-operator")
        await expect(link).to_be_visible()
        box = await link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (path, box)
        await fits(page, f"{path} {width}")
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")
    await expect(audit_rows(page).first).to_have_attribute("data-action", "account.suspend")
    await fits(page, f"/operator audit {width}")
    await page.locator("#audit-table").scroll_into_view_if_needed()
    await screenshot(page, f"layout-operator-audit-{width}")
    await page.goto(base + "/services#audit")
    await expect(page.locator("#panel-audit")).to_be_visible()
    await expect(page.locator("#audit-list")).to_have_attribute("data-query", re.compile("^/api/audit[?]"))
    await fits(page, f"/services audit {width}")
    await screenshot(page, f"layout-services-audit-{width}")
    problems.check()


async def test_operator_exports_then_deletes_an_account(
    running: RunningHub, browser: Browser, problems: PageProblems
) -> None:
    base = running.base
    await create_operator(running)
    _, op = await new_page(browser, problems)
    await log_in(op, base, OPERATOR)
    await open_operator(op, base)
    await create_account(op, "Epsilon Łódź", "epsilon")
    await expect(account_row(op, "epsilon")).to_be_visible()
    await add_number(op, "0048 500 600 700", "NDI", "Epsilon Łódź (epsilon)")
    await expect(number_row(op, NDI)).to_be_visible()
    # The operator's own account can be neither exported nor deleted here.
    await account_row(op, "operator").get_by_role("button").click()
    await expect(op.locator("#account-data")).to_be_hidden()

    await account_row(op, "epsilon").get_by_role("button").click()
    await expect(op.locator("#delete-form")).to_be_hidden()
    await op.click("#delete-open")
    await expect(op.locator("#delete-slug")).to_have_text("epsilon")
    # A wrong slug, then the right one before any export: each refusal is the hub's reason.
    await op.fill("#delete-confirm", "epsilo")
    await op.click("#delete-submit")
    await expect(op.locator("#delete-error")).to_contain_text("confirm it with its slug")
    await op.fill("#delete-confirm", "epsilon")
    await op.click("#delete-submit")
    await expect(op.locator("#delete-error")).to_contain_text("export the account's data first")
    await expect(account_row(op, "epsilon")).to_be_visible()

    async with op.expect_download() as json_download:
        await op.click("#export-json")
    exported = json.loads(Path(await (await json_download.value).path()).read_text("utf-8"))
    assert exported["account"]["name"] == "Epsilon Łódź", exported["account"]
    assert [n["e164"] for n in exported["numbers"]] == [NDI]
    async with op.expect_download() as csv_download:
        await op.click("#export-csv")
    with zipfile.ZipFile(await (await csv_download.value).path()) as z:
        assert any(name.startswith("numbers") for name in z.namelist()), z.namelist()

    await op.click("#delete-submit")
    await expect(account_row(op, "epsilon")).to_have_count(0)
    await expect(op.locator("#account-editor")).to_be_hidden()
    await expect(number_row(op, NDI)).to_have_count(0)
    await expect(audit_rows(op).first).to_have_attribute("data-action", "account.delete")
    problems.check()
