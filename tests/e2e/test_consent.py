"""Consent through the running hub: opt-out scopes, START with its confirmation, and the automatic
replies the hub holds back (the number's limit, opt-outs), shown with the message in the inbox.

Negative checks wait for a later SMS (a marker) instead of sleeping: the phone's SMS arrive in order.
"""

from __future__ import annotations

import pytest
from beanie import PydanticObjectId

from hub.domain.numbers import NumberType
from hub.store.audience import Suppression
from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import add_number, admin_client, created, number_id, phone
from tests.panel import Panel

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]

ND = "+48503340503"
SCI = "7021"
VIRTUAL = "+48799100200"
CUSTOMER = "+48601234567"
CONFIRMATION = "Znowu jesteś zapisany."


async def test_start_to_the_accounts_number_lifts_a_campaign_stop_and_confirms(
    running: RunningHub, tenant_a: Tenant
) -> None:
    virtual = await add_number(VIRTUAL, NumberType.TWO_WAY)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, CUSTOMER) as p,
    ):
        r = await a.post("/api/settings/messaging", json={"opt_in_reply": CONFIRMATION})
        assert r.status_code == 200, r.text
        campaign = {
            "number_id": str(virtual.id),
            "to": CUSTOMER,
            "text": "Nowa kolekcja",
            "campaign_id": "c1",
        }
        await created(a, "/api/campaigns/messages", campaign)
        assert (await p.next_sms())["text"] == "Nowa kolekcja"
        # STOP to a campaign: the account as a whole may not text the phone, from any number.
        await p.text(VIRTUAL, "STOP")
        asked = await p.text(tenant_a.number, "Gdzie moja paczka?")
        message = await Message.get(asked["message_id"])
        assert message is not None
        reply = f"/api/conversations/{message.conversation_id}/messages"
        refused = await a.post(reply, json={"text": "Już sprawdzamy"})
        assert refused.status_code == 409, refused.text
        # START to the account's own number lifts the account-wide opt-out, and says so first.
        await p.text(tenant_a.number, "START")
        assert (await p.next_sms())["text"] == CONFIRMATION
        assert await Suppression.find({"phone": CUSTOMER}).count() == 0
        ok = await a.post(reply, json={"text": "Już sprawdzamy"})
        assert ok.status_code == 201, ok.text
        assert (await p.next_sms())["text"] == "Już sprawdzamy"
        await created(
            a, "/api/campaigns/messages", {**campaign, "text": "Druga kolekcja", "campaign_id": "c2"}
        )
        assert (await p.next_sms())["text"] == "Druga kolekcja"


async def test_stop_to_one_number_leaves_the_accounts_other_numbers_and_start_restores_it(
    running: RunningHub, tenant_a: Tenant
) -> None:
    sci = await add_number(SCI, NumberType.SCI, account_id=PydanticObjectId(tenant_a.account_id))
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, CUSTOMER) as p,
    ):
        await a.post("/api/settings/messaging", json={"opt_in_reply": CONFIRMATION})
        await created(a, "/api/autoresponders", {"number_id": str(sci.id), "template": "Tu SCI"})
        await created(
            a, "/api/autoresponders", {"number_id": await number_id(a, tenant_a.number), "template": "Tu NDI"}
        )
        await p.text(SCI, "STOP")
        await p.text(SCI, "Halo?")
        # The account's other number still answers; "Tu SCI" never came before it.
        await p.text(tenant_a.number, "Halo?")
        assert (await p.next_sms())["text"] == "Tu NDI"
        # START to the other number lifts nothing of the SCI's: its confirmation comes, the SCI stays quiet.
        await p.text(tenant_a.number, "START")
        assert (await p.next_sms())["text"] == CONFIRMATION
        await p.text(SCI, "Halo?")
        await p.text(tenant_a.number, "marker")
        assert (await p.next_sms())["text"] == "Tu NDI"
        await p.text(SCI, "START")
        assert (await p.next_sms())["text"] == CONFIRMATION
        await p.text(SCI, "Halo?")
        assert (await p.next_sms())["text"] == "Tu SCI"


async def test_a_shared_numbers_stop_holds_back_keyword_replies_until_start(
    running: RunningHub, tenant_a: Tenant
) -> None:
    await add_number(ND, NumberType.ND, opt_in_reply="Operator: zapisano ponownie.")
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, CUSTOMER) as p,
        Panel(running.ws_base, a.headers["X-Token"]) as panel,
    ):
        nd = await number_id(a, ND)
        welcome = await created(
            a, "/api/autoresponders", {"number_id": nd, "template": "Witaj, ogrodniku!", "on_keyword": True}
        )
        await created(
            a, "/api/keywords", {"number_id": nd, "text": "OGRODNIK", "autoresponder_ids": [welcome["id"]]}
        )
        # A bare STOP on a shared number is the number's: the keyword's welcome is held back, and
        # the inbox is told why.
        await p.text(ND, "STOP")
        await p.text(ND, "ogrodnik")
        held = await panel.next("message.created", text="ogrodnik")
        assert held["data"]["withheld"] == [
            {"send": "SendAutoreply", "text": "Witaj, ogrodniku!", "reason": "opted_out", "limit": None}
        ]
        # START to the number lifts it; the operator's confirmation is the first SMS the phone gets.
        await p.text(ND, "START")
        assert (await p.next_sms())["text"] == "Operator: zapisano ponownie."
        await p.text(ND, "ogrodnik")
        assert (await p.next_sms())["text"] == "Witaj, ogrodniku!"
        sent = await panel.next("message.created", text="ogrodnik")
        assert sent["data"]["withheld"] == []


async def test_a_survey_refusal_to_its_keyword_beats_the_numbers_limit_and_the_inbox_sees_what_was_held(
    running: RunningHub, tenant_a: Tenant
) -> None:
    number = await add_number(SCI, NumberType.SCI, account_id=PydanticObjectId(tenant_a.account_id))
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        r = await a.patch(
            f"/api/numbers/{number.id}", json={"auto_reply_limit": {"max_count": 2, "window_s": 3600}}
        )
        assert r.status_code == 200, r.text
        assert r.json()["auto_reply_limit"] == {"max_count": 2, "window_s": 3600, "default": False}
        survey = await created(
            a,
            "/api/surveys",
            {
                "number_id": str(number.id),
                "name": "Ocena",
                "questions": [
                    {"id": "q1", "text": "Jak oceniasz? A) dobrze B) źle", "choices": ["A", "B"]},
                    {
                        "id": "q2",
                        "text": "Ile razy u nas byłeś?",
                        "answers": "number",
                        "minimum": 0,
                        "maximum": 99,
                    },
                ],
                "thanks_text": "Dziękujemy!",
                "vote_limit": "once",
                "limit_text": "Już głosowałeś.",
            },
        )
        await created(
            a, "/api/keywords", {"number_id": str(number.id), "text": "ANKIETA", "survey_id": survey["id"]}
        )
        async with phone(running, CUSTOMER) as p, Panel(running.ws_base, a.headers["X-Token"]) as panel:
            await p.text(SCI, "ANKIETA")
            assert (await p.next_sms())["text"] == "Jak oceniasz? A) dobrze B) źle"
            await p.text(SCI, "C")
            assert (await p.next_sms())["text"] == "Jak oceniasz? A) dobrze B) źle (A/B)"
            # A second invalid answer: its hint is over the number's limit (2 per hour).
            await p.text(SCI, "D")
            held = await panel.next("message.created", text="D")
            assert held["data"]["withheld"] == [
                {
                    "send": "SendSurveyMessage",
                    "text": "Jak oceniasz? A) dobrze B) źle (A/B)",
                    "reason": "auto_reply_limit",
                    "limit": "2/3600s",
                }
            ]
            # Questions and thanks answer the contact and are not limited; nor is the refusal to the
            # keyword they sent again: they asked for the survey and are told why there is none.
            await p.text(SCI, "a")
            assert (await p.next_sms())["text"] == "Ile razy u nas byłeś?"
            await p.text(SCI, "3")
            assert (await p.next_sms())["text"] == "Dziękujemy!"
            again = await p.text(SCI, "ankieta")
            assert (await p.next_sms())["text"] == "Już głosowałeś."
            stored = await Message.get(again["message_id"])
            assert stored is not None and stored.routing is not None and stored.routing.withheld == []
            # The inbox reads the same from the API.
            rows = (await a.get(f"/api/conversations/{stored.conversation_id}/messages")).json()
            d = next(m for m in rows if m["text"] == "D")
            assert d["withheld"][0]["reason"] == "auto_reply_limit"


async def test_the_auto_reply_limit_is_validated_and_only_the_owner_sets_it(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    shared = await add_number(ND, NumberType.ND)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        admin_client(running, tenant_a.agent_email, tenant_a.agent_password) as agent,
        admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as b,
    ):
        nid = await number_id(a, tenant_a.number)
        default = next(n for n in (await a.get("/api/numbers")).json() if n["id"] == nid)
        assert default["auto_reply_limit"] == {"max_count": 5, "window_s": 3600, "default": True}
        for bad in (
            {"max_count": -1, "window_s": 3600},
            {"max_count": 101, "window_s": 3600},
            {"max_count": 5, "window_s": 10},
            {"max_count": 5},
            "sometimes",
        ):
            r = await a.patch(f"/api/numbers/{nid}", json={"auto_reply_limit": bad})
            assert r.status_code == 400, (bad, r.text)
            assert "auto_reply_limit" in r.text
        assert (
            await agent.patch(
                f"/api/numbers/{nid}", json={"auto_reply_limit": {"max_count": 1, "window_s": 60}}
            )
        ).status_code == 403
        assert (
            await b.patch(f"/api/numbers/{nid}", json={"auto_reply_limit": {"max_count": 1, "window_s": 60}})
        ).status_code == 404
        assert (
            await a.patch(
                f"/api/numbers/{shared.id}", json={"auto_reply_limit": {"max_count": 1, "window_s": 60}}
            )
        ).status_code == 403
        r = await a.patch(f"/api/numbers/{nid}", json={"auto_reply_limit": {"max_count": 0, "window_s": 60}})
        assert r.json()["auto_reply_limit"] == {"max_count": 0, "window_s": 60, "default": False}
        r = await a.patch(f"/api/numbers/{nid}", json={"auto_reply_limit": "default"})
        assert r.json()["auto_reply_limit"] == {"max_count": 5, "window_s": 3600, "default": True}
