"""The inbox's contact panel (GET /api/contacts/{id}/profile) and the search by a message's text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from beanie import PydanticObjectId

from hub.store.accounts import Account
from hub.store.campaigns import Campaign, CampaignTarget, ScheduleModel, SenderModel
from tests.conftest import RunningHub, Tenant, login, post_generic

PHONE = "+48601111001"


async def _client(running: RunningHub, email: str, password: str) -> httpx.AsyncClient:
    token = await login(running.base, email, password)
    return httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {token}"})


async def _text(c: httpx.AsyncClient, number: str, phone: str, text: str, key: str) -> str:
    r = await post_generic(c, {"id": key, "from": phone, "to": number, "text": text})
    assert r.status_code == 200, r.text
    return str(r.json()["message_id"])


async def _conversation_of(c: httpx.AsyncClient, phone: str) -> dict[str, Any]:
    rows = (await c.get("/api/conversations", params={"status": ""})).json()
    return next(x for x in rows if x["contact"]["phone"] == phone)


async def test_search_finds_a_conversation_by_a_word_of_its_text_and_names_the_message(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async with (
        await _client(running, tenant_a.agent_email, tenant_a.agent_password) as c,
        await _client(running, tenant_b.agent_email, tenant_b.agent_password) as b,
    ):
        await _text(c, tenant_a.number, PHONE, "Dzień dobry", "t-0")
        turtle = await _text(c, tenant_a.number, PHONE, "Mam żółwia w ogrodzie, co robić?", "t-1")
        await _text(c, tenant_a.number, "+48602222002", "Faktura za październik", "t-2")
        # Another account's text with the same word is never found.
        await _text(c, tenant_b.number, "+48603333003", "Żółw też u nas", "t-b")
        conv = await _conversation_of(c, PHONE)
        r = await c.post(
            f"/api/conversations/{conv['id']}/messages", json={"text": "Dziękujemy za zgłoszenie żółwia"}
        )
        assert r.status_code == 201, r.text
        reply = r.json()["id"]

        async def found(q: str) -> list[tuple[str, str | None]]:
            r = await c.get("/api/conversations", params={"q": q, "status": ""})
            assert r.status_code == 200, (q, r.text)
            return [(x["contact"]["phone"], (x.get("match") or {}).get("message_id")) for x in r.json()]

        # "zolw" typed without the diacritics finds "żółwia"; the newest matching message is named.
        assert await found("zolw") == [(PHONE, reply)]
        assert await found("ŻÓŁW") == [(PHONE, reply)]
        assert await found("ogrod") == [(PHONE, turtle)]
        assert await found("zolwia ogrodzie") == [(PHONE, turtle)]
        rows = (await c.get("/api/conversations", params={"q": "pazdziernik"})).json()
        assert [x["contact"]["phone"] for x in rows] == ["+48602222002"]
        assert rows[0]["match"]["snippet"] == "Faktura za październik"
        assert rows[0]["match"]["direction"] == "in"
        assert await found("zolw kot") == []
        assert await found("kot") == []
        # A number is still found in any form; a phone search names no message.
        assert await found("601 111 001") == [(PHONE, None)]
        # With the other filters: a closed-only list has none of these.
        assert (await c.get("/api/conversations", params={"q": "zolw", "status": "closed"})).json() == []
        # The other account finds only its own text.
        r = await b.get("/api/conversations", params={"q": "zolw"})
        assert [x["contact"]["phone"] for x in r.json()] == ["+48603333003"]


async def test_the_profile_shows_the_opt_out_with_where_and_when_and_why_the_contact_cannot_be_texted(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async with (
        await _client(running, tenant_a.agent_email, tenant_a.agent_password) as agent,
        await _client(running, tenant_a.admin_email, tenant_a.admin_password) as admin,
        await _client(running, tenant_b.admin_email, tenant_b.admin_password) as other,
    ):
        r = await admin.post("/api/groups", json={"name": "VIP"})
        assert r.status_code == 201, r.text
        group = r.json()["id"]
        r = await admin.post(
            "/api/contacts",
            json={"phone": PHONE, "name": "Żółw Łukasz", "group_ids": [group], "fields": {"city": "Łódź"}},
        )
        assert r.status_code == 201, r.text
        contact = r.json()["id"]
        await _text(agent, tenant_a.number, PHONE, "Hej", "p-0")
        conv = await _conversation_of(agent, PHONE)

        r = await agent.get(f"/api/contacts/{contact}/profile")
        assert r.status_code == 200, r.text
        p = r.json()
        assert (p["name"], p["phone"], p["fields"]) == ("Żółw Łukasz", PHONE, {"city": "Łódź"})
        assert p["groups"] == [{"id": group, "name": "VIP"}]
        assert p["stops"] == [] and not p["blocked"] and not p["opted_out"]
        assert [(t["id"], t["number"], t["can_text"], t["reasons"]) for t in p["conversations"]] == [
            (conv["id"], tenant_a.number, True, [])
        ]

        before = datetime.now(UTC)
        await _text(agent, tenant_a.number, PHONE, "STOP", "p-1")
        p = (await agent.get(f"/api/contacts/{contact}/profile")).json()
        assert p["opted_out"] and not p["blocked"]
        [s] = p["stops"]
        assert (s["kind"], s["number"], s["word"], s["by"]) == ("opt_out", tenant_a.number, "STOP", None)
        assert datetime.fromisoformat(s["at"]) >= before.replace(microsecond=0)
        assert s["text"].startswith(f'Opted out by texting "STOP" to {tenant_a.number} on ')
        [t] = p["conversations"]
        assert not t["can_text"]
        assert [r["code"] for r in t["reasons"]] == ["opted_out"]
        assert "STOP" in t["reasons"][0]["text"] and tenant_a.number in t["reasons"][0]["text"]
        # The reply the composer would send is refused for the same reason.
        r = await agent.post(f"/api/conversations/{conv['id']}/messages", json={"text": "Halo"})
        assert r.status_code == 409, r.text

        # A block records who set it; a suspended account is a reason too.
        r = await admin.patch(f"/api/contacts/{contact}", json={"blocked": True})
        assert r.status_code == 200, r.text
        await Account.find_one({"_id": PydanticObjectId(tenant_a.account_id)}).set(  # type: ignore[union-attr]
            {"suspended_reason": "unpaid invoice"}
        )
        p = (await agent.get(f"/api/contacts/{contact}/profile")).json()
        block = next(s for s in p["stops"] if s["kind"] == "block")
        assert block["number"] is None and block["by"] and block["at"]
        assert block["text"].startswith(f"Blocked by {block['by']} on ")
        codes = [r["code"] for r in p["conversations"][0]["reasons"]]
        assert sorted(codes) == ["blocked", "opted_out", "suspended"]
        assert "unpaid invoice" in next(
            r["text"] for r in p["conversations"][0]["reasons"] if r["code"] == "suspended"
        )

        # The campaigns it received.
        campaign = Campaign(
            account_id=PydanticObjectId(tenant_a.account_id),
            name="Wiosna",
            text="Promocja",
            sender=SenderModel(kind="number", number=tenant_a.number),
            replies="inbox",
            schedule=ScheduleModel(),
            status="done",
        )
        await campaign.insert()
        assert campaign.id is not None
        await CampaignTarget(
            campaign_id=campaign.id,
            account_id=PydanticObjectId(tenant_a.account_id),
            n=0,
            phone=PHONE,
            stage="handed",
            status="delivered",
            sent_at=datetime.now(UTC),
        ).insert()
        p = (await agent.get(f"/api/contacts/{contact}/profile")).json()
        assert [(x["id"], x["name"], x["status"]) for x in p["campaigns"]] == [
            (str(campaign.id), "Wiosna", "delivered")
        ]

        # An API token limited to some numbers reaches no contact (contacts are account-wide).
        numbers = (await admin.get("/api/numbers")).json()
        number_id = next(n["id"] for n in numbers if n["e164"] == tenant_a.number)
        r = await admin.post("/api/tokens", json={"name": "scoped", "numbers": [number_id]})
        assert r.status_code == 201, r.text
        scoped = {"Authorization": f"Bearer {r.json()['token']}"}
        r = await agent.get(f"/api/contacts/{contact}/profile", headers=scoped)
        assert r.status_code == 403, r.text
        r = await agent.patch(f"/api/contacts/{contact}/details", json={"name": "x"}, headers=scoped)
        assert r.status_code == 403, r.text

        # Another account's contact id answers 404, like one that does not exist.
        for path in (f"/api/contacts/{contact}/profile", "/api/contacts/nope/profile"):
            r = await other.get(path)
            assert r.status_code == 404, (path, r.text)
            assert "Łukasz" not in r.text
        r = await other.patch(f"/api/contacts/{contact}/details", json={"name": "x"})
        assert r.status_code == 404, r.text


async def test_an_agent_edits_the_name_and_fields_and_bad_fields_are_refused(
    running: RunningHub, tenant_a: Tenant
) -> None:
    async with (
        await _client(running, tenant_a.agent_email, tenant_a.agent_password) as agent,
        httpx.AsyncClient(base_url=running.base) as anonymous,
    ):
        await _text(agent, tenant_a.number, PHONE, "Hej", "e-0")
        conv = await _conversation_of(agent, PHONE)
        contact = conv["contact"]["id"]
        # Agents may not block or regroup (the admins' PATCH), but they may edit name and fields.
        r = await agent.patch(f"/api/contacts/{contact}", json={"blocked": True})
        assert r.status_code == 403, r.text
        r = await agent.patch(
            f"/api/contacts/{contact}/details", json={"name": " Anna Wąs ", "fields": {"city": "Kraków"}}
        )
        assert r.status_code == 200, r.text
        assert (r.json()["name"], r.json()["fields"]) == ("Anna Wąs", {"city": "Kraków"})
        # The conversation shows the new name and is found by it.
        r = await agent.get("/api/conversations", params={"q": "was"})
        assert [x["contact"]["name"] for x in r.json()] == ["Anna Wąs"]

        for body, what in [
            ({"fields": {"1st": "x"}}, "field name"),
            ({"fields": {"a b": "x"}}, "field name"),
            ({"fields": {"": "x"}}, "field name"),
            ({"fields": {"city": "x" * 501}}, "longer than"),
            ({"fields": {f"f{i}": "x" for i in range(31)}}, "at most"),
            ({"name": "x" * 101}, "name"),
            ({"fields": ["city"]}, "fields"),
        ]:
            r = await agent.patch(f"/api/contacts/{contact}/details", json=body)
            # What the body's schema refuses is a 400 everywhere in the API; a bad field a 422.
            assert r.status_code == (422 if isinstance(body.get("fields"), dict) else 400), (body, r.text)
            assert what in r.text, (body, r.text)
        # Nothing of a refused change was stored.
        p = (await agent.get(f"/api/contacts/{contact}/profile")).json()
        assert (p["name"], p["fields"]) == ("Anna Wąs", {"city": "Kraków"})
        r = await anonymous.get(f"/api/contacts/{contact}/profile")
        assert r.status_code == 401, r.text
