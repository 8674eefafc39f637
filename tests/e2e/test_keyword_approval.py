"""Keyword reservations on a shared number: the per-account cap and the operator's approval."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from hub.store.audience import UnmatchedMessage
from tests.conftest import RunningHub, Tenant
from tests.e2e.browser import PHONE, PageProblems, launch, log_in, new_page, screenshot
from tests.e2e.keywords_helpers import created, operator_and_admin, phone
from tests.e2e.test_admin_pages import fits
from tests.panel import Panel

ND = "+48503340503"
CUSTOMER = "+48601555666"
DEFAULT_REPLY = "Nie rozpoznano hasła."


async def test_reservations_wait_for_approval_and_respect_the_cap(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async with operator_and_admin(running, tenant_a, tenant_b) as (op, b):
        nd = await created(op, "/api/operator/numbers", {"number": "503 340 503", "type": "ND"})
        assert nd["keyword_approval"] is False and nd["max_keywords_per_account"] == 10
        r = await op.patch(
            f"/api/operator/numbers/{nd['id']}",
            json={"default_reply": DEFAULT_REPLY, "keyword_approval": True, "max_keywords_per_account": 2},
        )
        assert r.status_code == 200, r.text
        assert r.json()["keyword_approval"] is True and r.json()["max_keywords_per_account"] == 2
        r = await op.patch(f"/api/operator/numbers/{nd['id']}", json={"max_keywords_per_account": -1})
        assert r.status_code == 400, r.text
        ndi = (await op.get("/api/operator/numbers?account=beta")).json()[0]
        r = await op.patch(f"/api/operator/numbers/{ndi['id']}", json={"keyword_approval": True})
        assert r.status_code == 422 and r.json()["field"] == "keyword_approval", r.text

        reply = await created(
            b,
            "/api/autoresponders",
            {"number_id": nd["id"], "template": "Dziękujemy za zgłoszenie ogrodnika!", "on_keyword": True},
        )
        ogrod = await created(
            b, "/api/keywords", {"number_id": nd["id"], "text": "OGRÓD", "autoresponder_ids": [reply["id"]]}
        )
        assert ogrod["status"] == "pending" and ogrod["status_reason"] is None

        # First come: a pending word is held, so another account cannot reserve it.
        r = await op.post("/api/keywords", json={"number_id": nd["id"], "text": "ogrod"})
        assert r.status_code == 422 and r.json()["code"] == "duplicate", r.text

        # An account admin decides nothing and sees no one's requests.
        assert (await b.get("/api/operator/keyword-requests?status=pending")).status_code == 403
        assert (await b.post(f"/api/operator/keyword-requests/{ogrod['id']}/approve")).status_code == 403
        r = await b.post(f"/api/operator/keyword-requests/{ogrod['id']}/refuse", json={"reason": "nie"})
        assert r.status_code == 403
        assert [k["text"] for k in (await op.get("/api/keywords")).json()] == []

        async with (
            phone(running, CUSTOMER) as customer,
            Panel(running.ws_base, b.headers["X-Token"]) as panel,
        ):
            # Pending: the word is nobody's keyword yet, so the number's default reply answers.
            stored = await customer.text(ND, "Ogród")
            assert stored["matched"] is False
            assert (await customer.next_sms())["text"] == DEFAULT_REPLY
            assert await UnmatchedMessage.find_one({"sender": CUSTOMER, "text": "Ogród"}) is not None
            assert (await b.get("/api/conversations")).json() == []

            r = await op.get("/api/operator/keyword-requests?status=maybe")
            assert r.status_code == 422 and r.json()["field"] == "status", r.text
            pending = (await op.get("/api/operator/keyword-requests?status=pending")).json()
            assert [(p["id"], p["account_slug"], p["number"], p["text"]) for p in pending] == [
                (ogrod["id"], "beta", ND, "OGRÓD")
            ]
            r = await op.post(f"/api/operator/keyword-requests/{ogrod['id']}/approve")
            assert r.status_code == 200 and r.json()["status"] == "approved", r.text
            # The account's panels are told at once.
            event = await panel.next("keyword.status", keyword_id=ogrod["id"])
            assert event["account_id"] == tenant_b.account_id
            assert (event["data"]["status"], event["data"]["reason"]) == ("approved", None)
            r = await op.post(f"/api/operator/keyword-requests/{ogrod['id']}/approve")
            assert r.status_code == 409 and r.json()["code"] == "not_pending"
            assert (await op.get("/api/operator/keyword-requests?status=pending")).json() == []

            # Approved: the text reaches the account and its keyword's reply is sent.
            stored = await customer.text(ND, "ogród")
            assert stored["matched"] is True
            assert (await customer.next_sms())["text"] == "Dziękujemy za zgłoszenie ogrodnika!"
        convs = (await b.get("/api/conversations")).json()
        assert [c["last_message"]["text"] for c in convs] == ["Dziękujemy za zgłoszenie ogrodnika!"]

        # The cap counts pending reservations: a third word is refused with the reason.
        kwiaty = await created(b, "/api/keywords", {"number_id": nd["id"], "text": "KWIATY"})
        assert kwiaty["status"] == "pending"
        r = await b.post("/api/keywords", json={"number_id": nd["id"], "text": "RÓŻE"})
        assert r.status_code == 409 and r.json()["code"] == "limit", r.text
        assert "2" in r.json()["error"]

        # Refused: the account sees why, the word is free for others, and the cap frees a place.
        r = await op.post(f"/api/operator/keyword-requests/{kwiaty['id']}/refuse", json={"reason": "  "})
        assert r.status_code == 422 and r.json()["field"] == "reason"
        reason = "Słowo zarezerwowane dla kwiaciarni."
        async with Panel(running.ws_base, b.headers["X-Token"]) as panel:
            r = await op.post(
                f"/api/operator/keyword-requests/{kwiaty['id']}/refuse", json={"reason": reason}
            )
            assert r.status_code == 200 and r.json()["status"] == "refused", r.text
            event = await panel.next("keyword.status", keyword_id=kwiaty["id"])
            assert (event["data"]["status"], event["data"]["reason"]) == ("refused", reason)
        listed = {k["text"]: (k["status"], k["status_reason"]) for k in (await b.get("/api/keywords")).json()}
        assert listed == {"OGRÓD": ("approved", None), "KWIATY": ("refused", reason)}
        refused = (await op.get("/api/operator/keyword-requests?status=refused")).json()
        assert [(x["text"], x["status_reason"]) for x in refused] == [("KWIATY", reason)]
        taken = await created(op, "/api/keywords", {"number_id": nd["id"], "text": "kwiaty"})
        assert taken["status"] == "pending"
        assert (await created(b, "/api/keywords", {"number_id": nd["id"], "text": "RÓŻE"}))[
            "status"
        ] == "pending"

        # Editing a refused keyword's word asks again: pending, reason gone.
        r = await b.delete(f"/api/keywords/{(await _keyword(b, 'RÓŻE'))['id']}")
        assert r.status_code == 204
        r = await b.patch(f"/api/keywords/{kwiaty['id']}", json={"number_id": nd["id"], "text": "BUKIET"})
        assert r.status_code == 200 and (r.json()["status"], r.json()["status_reason"]) == ("pending", None)
        pending = (await op.get("/api/operator/keyword-requests?status=pending")).json()
        assert [(p["account_slug"], p["text"]) for p in pending] == [("beta", "BUKIET"), ("alpha", "kwiaty")]


async def _keyword(client: httpx.AsyncClient, text: str) -> dict[str, str]:
    return dict(next(k for k in (await client.get("/api/keywords")).json() if k["text"] == text))


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_the_services_page_shows_a_reservation_s_status_and_refusal(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async with operator_and_admin(running, tenant_a, tenant_b) as (op, b):
        nd = await created(op, "/api/operator/numbers", {"number": ND, "type": "ND"})
        r = await op.patch(
            f"/api/operator/numbers/{nd['id']}",
            json={"keyword_approval": True, "max_keywords_per_account": 3},
        )
        assert r.status_code == 200, r.text
        await created(b, "/api/keywords", {"number_id": nd["id"], "text": "OGRÓD"})
        kwiaty = await created(b, "/api/keywords", {"number_id": nd["id"], "text": "KWIATY"})
        problems = PageProblems()
        async with launch() as browser:
            _, page = await new_page(browser, problems)
            await log_in(page, running.base, (tenant_b.admin_email, tenant_b.admin_password))
            await page.goto(f"{running.base}/services")
            await expect(page.locator("body")).to_have_attribute("data-loaded", "true")
            await expect(page.locator("body")).to_have_attribute("data-connection", "online")
            await page.click("#tab-keywords")
            group = page.locator(f'.keyword-group[data-number-id="{nd["id"]}"]')
            await expect(group.locator(".keyword-group-head")).to_contain_text("2 of 3 reserved")
            waiting = "waiting for the operator's approval"
            await expect(group.locator(".keyword-item .chip-warn")).to_have_text([waiting, waiting])

            # The operator refuses one while the page is open: the page shows it without a reload.
            reason = "Słowo zarezerwowane dla kwiaciarni."
            r = await op.post(
                f"/api/operator/keyword-requests/{kwiaty['id']}/refuse", json={"reason": reason}
            )
            assert r.status_code == 200, r.text
            refused = group.locator(".keyword-item", has_text="KWIATY")
            await expect(refused.locator(".chip-danger")).to_have_text("refused by the operator")
            await expect(refused.locator(".keyword-status-reason")).to_contain_text(reason)
            await expect(group.locator(".keyword-group-head")).to_contain_text("1 of 3 reserved")
            pending = group.locator(".keyword-item", has_text="OGRÓD")
            await expect(pending.locator(".chip-warn")).to_have_text(waiting)
            await page.select_option("#kw-number", nd["id"])
            await expect(page.locator("#kw-kind-hint")).to_contain_text(
                "at most 3 per account; each needs the operator's approval"
            )
            # A reservation made on the page says it waits for the operator.
            await page.locator("#kw-text").press_sequentially("Róże")
            await expect(page.locator("#kw-validation")).to_have_attribute("data-state", "ok")
            await page.click("#kw-submit")
            await expect(page.locator("#toast")).to_have_text(
                "Keyword created: waiting for the operator's approval"
            )
            await expect(group.locator(".keyword-group-head")).to_contain_text("2 of 3 reserved")
            await screenshot(page, "services-keyword-requests")
            # The statuses and the reason fit a phone's width.
            for size in (PHONE, {"width": 1366, "height": 768}):
                await page.set_viewport_size(size)
                await fits(page, f"keywords at {size['width']} px")
                await screenshot(page, f"services-keyword-requests-{size['width']}")
    assert problems.errors == []
