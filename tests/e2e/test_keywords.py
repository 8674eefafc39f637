"""Keyword services through the running hub: real signed webhooks in, real sends out.

Each test follows a row of the product's comparison tables (docs/keywords.md) with the seeds' own
examples: OGRODNIK to 503 340 503 on an ND, PROMOCJA to 4301 on an SC, a survey on an SCI.
"""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from beanie import PydanticObjectId

from hub.domain.numbers import NumberType
from hub.domain.surveys import draw_winners
from hub.store.audience import UnmatchedMessage
from hub.store.conversations import Contact, Conversation
from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant, make_tenant
from tests.e2e.keywords_helpers import add_number, admin_client, created, number_id, phone
from tests.panel import Panel

pytestmark = pytest.mark.asyncio

ND = "+48503340503"
SC = "4301"
SCI = "7021"
CUSTOMER = "+48601234567"


async def _messages(account_id: str) -> list[Message]:
    return await Message.find({"account_id": PydanticObjectId(account_id)}).sort("seq").to_list()


async def _outbound_settled(conversation_id: object, count: int) -> list[Message]:
    for _ in range(100):
        out = (
            await Message.find(
                {
                    "conversation_id": conversation_id,
                    "direction": "out",
                    "status": {"$in": ["sent", "delivered", "failed"]},
                }
            )
            .sort("seq")
            .to_list()
        )
        if len(out) >= count:
            return out
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} outbound messages settled")


async def test_nd_keyword_routes_to_the_reserving_account_only(running: RunningHub) -> None:
    alpha = await make_tenant("alpha", "+48500100200")
    beta = await make_tenant("beta", "+48500100300")
    await add_number(ND, NumberType.ND, default_reply="Nie rozpoznano hasła. Sprawdź pisownię.")
    async with (
        admin_client(running, alpha.admin_email, alpha.admin_password) as a,
        admin_client(running, beta.admin_email, beta.admin_password) as b,
    ):
        numbers = (await a.get("/api/numbers")).json()
        nd = next(n for n in numbers if n["e164"] == ND)
        assert nd["owned"] is False and nd["type"] == "ND"
        group = await created(a, "/api/groups", {"name": "Ogrodnicy"})
        await created(
            a, "/api/keywords", {"number_id": nd["id"], "text": "OGRODNIK", "group_ids": [group["id"]]}
        )
        await created(b, "/api/keywords", {"number_id": nd["id"], "text": "PROMO"})
        # A reservation is unique per shared number, and only exact keywords are offered there.
        taken = await b.post("/api/keywords", json={"number_id": nd["id"], "text": "ogródnik"})
        assert taken.status_code == 422 and taken.json()["code"] == "duplicate"
        phrase = await b.post("/api/keywords", json={"number_id": nd["id"], "text": "LATO", "kind": "phrase"})
        assert phrase.status_code == 422 and phrase.json()["code"] == "kind_not_allowed"

        async with phone(running, CUSTOMER) as p:
            token = a.headers["X-Token"]
            async with Panel(running.ws_base, token) as panel_a:
                stored = await p.text(ND, "Ogródnik!")
                assert stored["matched"] is True
                event = await panel_a.next("message.created")
                assert event["data"]["text"] == "Ogródnik!"
                contact = await Contact.find_one(
                    {"phone": CUSTOMER, "account_id": PydanticObjectId(alpha.account_id)}
                )
                assert contact is not None and [str(g) for g in contact.group_ids] == [group["id"]]
                assert (await a.get("/api/groups")).json()[0]["members"] == 1

                # Nobody's keyword: the number's default reply, and the operator keeps it.
                stored = await p.text(ND, "xyz")
                assert stored["matched"] is False and stored["seq"] is None
                sms = await p.next_sms()
                assert sms["text"] == "Nie rozpoznano hasła. Sprawdź pisownię." and sms["sender"] == ND
                lost = await UnmatchedMessage.find_one({"sender": CUSTOMER, "text": "xyz"})
                assert lost is not None and lost.reason == "no_keyword"

                # STOP <keyword> leaves the keyword's groups (the implicit removing keyword).
                await p.text(ND, "STOP OGRODNIK")
                await panel_a.next("message.created", text="STOP OGRODNIK")
                contact = await Contact.find_one({"_id": contact.id})
                assert contact is not None and contact.group_ids == []

        # Beta never sees alpha's messages; alpha's inbox holds only its own keyword's.
        assert [m.text for m in await _messages(beta.account_id)] == []
        assert [m.text for m in await _messages(alpha.account_id)] == ["Ogródnik!", "STOP OGRODNIK"]
        # ND and SC offer no keyword statistics ("Statystyki ✗").
        assert (await a.get("/api/stats/keywords")).json() == []


async def test_sc_keyword_with_autoresponder_replies_through_the_outbound_path(running: RunningHub) -> None:
    shop = await make_tenant("shop", "+48500100400")
    await add_number(SC, NumberType.SC)
    async with admin_client(running, shop.admin_email, shop.admin_password) as a:
        sc = next(n for n in (await a.get("/api/numbers")).json() if n["e164"] == SC)
        ar = await created(
            a,
            "/api/autoresponders",
            {
                "number_id": sc["id"],
                "template": "Dziękujemy, {name}! Kod rabatowy: LATO10",
                "on_keyword": True,
            },
        )
        assert ar["placeholders"] == ["name"]
        await created(
            a, "/api/keywords", {"number_id": sc["id"], "text": "PROMOCJA", "autoresponder_ids": [ar["id"]]}
        )
        async with phone(running, CUSTOMER) as p:
            await p.text(SC, "promocja")
            sms = await p.next_sms()
            assert sms["text"] == "Dziękujemy, ! Kod rabatowy: LATO10" and sms["sender"] == SC
            conv = await Conversation.find_one({"contact_phone": CUSTOMER, "number": SC})
            assert conv is not None
            [auto] = await _outbound_settled(conv.id, 1)
            assert auto.author.kind == "auto" and auto.author.name == "Autoresponder"
            # A keyword that is not reserved on the SC reaches nobody.
            assert (await p.text(SC, "PROMO"))["matched"] is False


async def test_sci_survey_asks_hints_records_and_pushes_results(running: RunningHub) -> None:
    club = await make_tenant("club", "+48500100500")
    number = await add_number(SCI, NumberType.SCI, account_id=PydanticObjectId(club.account_id))
    async with admin_client(running, club.admin_email, club.admin_password) as a:
        survey = await created(
            a,
            "/api/surveys",
            {
                "number_id": str(number.id),
                "name": "Ulubiona pora roku",
                "questions": [
                    {"id": "q1", "text": "Ulubiona pora roku? A) wiosna B) lato", "choices": ["A", "B"]},
                    {
                        "id": "q2",
                        "text": "Ile razy w roku jeździsz na urlop?",
                        "answers": "number",
                        "minimum": 0,
                        "maximum": 20,
                    },
                ],
                "thanks_text": "Dziękujemy za udział!",
                "vote_limit": "once",
                "limit_text": "Już głosowałeś.",
            },
        )
        await created(
            a, "/api/keywords", {"number_id": str(number.id), "text": "ANKIETA", "survey_id": survey["id"]}
        )
        async with phone(running, CUSTOMER) as p, Panel(running.ws_base, a.headers["X-Token"]) as panel:
            await p.text(SCI, "ankieta")
            assert (await p.next_sms())["text"] == "Ulubiona pora roku? A) wiosna B) lato"
            await p.text(SCI, "C")
            assert (await p.next_sms())["text"] == "Ulubiona pora roku? A) wiosna B) lato (A/B)"
            await p.text(SCI, "b")
            assert (await p.next_sms())["text"] == "Ile razy w roku jeździsz na urlop?"
            results = await panel.next("survey.results")
            assert results["data"]["questions"][0]["answers"][0] == {"answer": "B", "count": 1}
            await p.text(SCI, "2")
            assert (await p.next_sms())["text"] == "Dziękujemy za udział!"
            await p.text(SCI, "ANKIETA")
            assert (await p.next_sms())["text"] == "Już głosowałeś."
        body = (await a.get(f"/api/surveys/{survey['id']}/answers.csv")).text
        rows = list(csv.DictReader(io.StringIO(body)))
        assert [(r["question_id"], r["answer"]) for r in rows] == [("q1", "B"), ("q2", "2")]
        res = (await a.get(f"/api/surveys/{survey['id']}/results")).json()
        assert res["questions"][1]["total"] == 1
        # Surveys need an individual number.
        nd = await add_number(ND, NumberType.ND)
        bad = await a.post(
            "/api/surveys", json={**{k: survey[k] for k in ("name", "questions")}, "number_id": str(nd.id)}
        )
        assert bad.status_code == 422


async def test_contest_with_base_keyword_enters_correct_senders_and_draws_reproducibly(
    running: RunningHub, tenant_a: Tenant
) -> None:
    number = await add_number(SCI, NumberType.SCI, account_id=PydanticObjectId(tenant_a.account_id))
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        contest = await created(
            a,
            "/api/surveys",
            {
                "number_id": str(number.id),
                "name": "Konkurs",
                "questions": [
                    {
                        "id": "q1",
                        "text": "Stolica Polski? A) Kraków B) Warszawa",
                        "choices": ["A", "B"],
                        "correct": "B",
                    }
                ],
                "vote_limit": "unlimited",
                "thanks_text": "Dziękujemy!",
            },
        )
        await created(
            a,
            "/api/keywords",
            {"number_id": str(number.id), "text": "KONKURS", "kind": "base", "contest_id": contest["id"]},
        )
        phones = ["+48601000001", "+48601000002", "+48601000003"]
        for who, answer in zip(phones, ["KONKURS B", "konkurs b", "KONKURS A"], strict=True):
            async with phone(running, who) as p:
                await p.text(SCI, answer)
                assert (await p.next_sms())["text"] == "Dziękujemy!"
        draw = await created(a, f"/api/surveys/{contest['id']}/draws", {"winners": 1})
        assert draw["entrants"] == phones[:2]
        assert draw["winners"] == draw_winners(draw["seed"], phones[:2], 1)
        again = await created(a, f"/api/surveys/{contest['id']}/draws", {"winners": 1, "seed": draw["seed"]})
        assert again["winners"] == draw["winners"]
        audit = (await a.get(f"/api/surveys/{contest['id']}/draws/{draw['id']}/entrants.csv")).text
        assert len(audit.strip().splitlines()) == 3


async def test_2way_reply_comes_back_to_the_campaign_conversation(
    running: RunningHub, tenant_a: Tenant
) -> None:
    virtual = await add_number("+48799100200", NumberType.TWO_WAY)
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        async with phone(running, CUSTOMER) as p:
            sent = await created(
                a,
                "/api/campaigns/messages",
                {
                    "number_id": str(virtual.id),
                    "to": CUSTOMER,
                    "text": "Wyprzedaż! Odpisz TAK",
                    "campaign_id": "nov-sale",
                },
            )
            assert (await p.next_sms())["text"] == "Wyprzedaż! Odpisz TAK"
            reply = await p.text(virtual.e164, "Chętnie")
            assert reply["matched"] is True
            stored = await Message.get(reply["message_id"])
            assert stored is not None
            assert str(stored.conversation_id) == sent["conversation_id"] and stored.campaign_id == "nov-sale"
            # Someone the campaign never wrote to reaches nobody.
        async with phone(running, "+48601999999") as stranger:
            assert (await stranger.text(virtual.e164, "?"))["matched"] is False


async def test_opt_out_is_honoured_by_every_kind_of_send(running: RunningHub, tenant_a: Tenant) -> None:
    account_id = PydanticObjectId(tenant_a.account_id)
    number = await add_number(SCI, NumberType.SCI, account_id=account_id)
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        texts = {"help_text": "Pomoc: 22 100 00 00", "opt_in_reply": "Znowu jesteś zapisany."}
        r = await a.post("/api/settings/messaging", json=texts)
        assert r.status_code == 200, r.text
        await created(
            a, "/api/autoresponders", {"number_id": str(number.id), "template": "Odpowiemy wkrótce."}
        )
        await created(
            a,
            "/api/autoresponders",
            {
                "number_id": await number_id(a, tenant_a.number),
                "template": "Auto",
            },
        )
        async with phone(running, CUSTOMER) as p:
            await p.text(SCI, "Dzień dobry")
            assert (await p.next_sms())["text"] == "Odpowiemy wkrótce."
            conv = await Conversation.find_one({"contact_phone": CUSTOMER, "number": SCI})
            assert conv is not None
            await p.text(SCI, "STOP")
            await p.no_sms(a)
            # No autoresponder, no help text, no agent reply, no campaign.
            await p.text(SCI, "Halo?")
            await p.text(SCI, "POMOC")
            await p.no_sms(a)
            refused = await a.post(
                f"/api/conversations/{conv.id}/messages", json={"text": "Czy możemy pomóc?"}
            )
            assert refused.status_code == 409, refused.text
            # The opt-out is per number: the account's other number may still write.
            await p.text(tenant_a.number, "Cześć")
            assert (await p.next_sms())["text"] == "Auto"
            # START restores, and its confirmation is the first thing sent.
            await p.text(SCI, "START")
            assert (await p.next_sms())["text"] == "Znowu jesteś zapisany."
            ok = await a.post(f"/api/conversations/{conv.id}/messages", json={"text": "Witamy ponownie"})
            assert ok.status_code == 201, ok.text
            assert (await p.next_sms())["text"] == "Witamy ponownie"
            # A reply queued before an opt-out is not sent after it: checked again at send time.
            contact = await a.get("/api/contacts", params={"phone": CUSTOMER})
            contact_id = contact.json()[0]["id"]
            blocked = await a.patch(f"/api/contacts/{contact_id}", json={"blocked": True})
            assert blocked.json()["blocked"] is True
            await p.text(SCI, "Jeszcze raz")
            await p.no_sms(a)


async def test_eco_plus_reply_is_matched_best_effort_to_the_last_message_sent(
    running: RunningHub, tenant_a: Tenant
) -> None:
    pool_a = await add_number("+48799000001", NumberType.TWO_WAY, eco_plus=True)
    pool_b = await add_number("+48799000002", NumberType.TWO_WAY, eco_plus=True)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, CUSTOMER) as p,
        Panel(running.ws_base, a.headers["X-Token"]) as panel,
    ):
        sent = await created(
            a,
            "/api/campaigns/messages",
            {"number_id": str(pool_a.id), "to": CUSTOMER, "text": "Oferta ECO", "campaign_id": "eco-1"},
        )
        await p.next_sms()
        # The reply comes back on another number of the provider's pool.
        reply = await p.text(pool_b.e164, "Poproszę")
        assert reply["matched"] is True
        event = await panel.next("message.created", text="Poproszę")
        assert event["data"]["best_effort"] is True
        assert event["data"]["conversation_id"] == sent["conversation_id"]


async def test_own_number_is_verified_by_a_code_sent_to_it(running: RunningHub, tenant_a: Tenant) -> None:
    own = "+48601777888"
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        async with phone(running, own) as p:
            started = await created(a, "/api/own-numbers", {"phone": "601 777 888"})
            sms = await p.next_sms()
            code = sms["text"].split("code is ")[1][:6]
            wrong = "000000" if code != "000000" else "111111"
            bad = await a.post(f"/api/own-numbers/{started['verification_id']}/confirm", json={"code": wrong})
            assert bad.status_code == 422 and bad.json()["code"] == "wrong_code"
            number = await created(
                a, f"/api/own-numbers/{started['verification_id']}/confirm", {"code": code}
            )
            assert number["type"] == "OWN" and number["e164"] == own and number["owned"] is True
            again = await a.post("/api/own-numbers", json={"phone": own})
            assert again.status_code == 409
        # The own number now routes like an individual one: every message is the account's.
        async with phone(running, CUSTOMER) as p:
            assert (await p.text(own, "Czy to Pan Jan?"))["matched"] is True


async def test_verification_codes_cannot_be_guessed(running: RunningHub, tenant_a: Tenant) -> None:
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        started = await created(a, "/api/own-numbers", {"phone": "+48601777999"})
        path = f"/api/own-numbers/{started['verification_id']}/confirm"
        codes = [(await a.post(path, json={"code": f"{i:06d}x"})).json()["code"] for i in range(6)]
        assert codes == ["wrong_code"] * 5 + ["attempts"]


async def test_words_and_help_text_are_the_accounts_own(running: RunningHub, tenant_a: Tenant) -> None:
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        settings = {
            "help_text": "Infolinia: 22 100 00 00",
            "opt_out_words": ["KONIEC"],
            "help_words": ["INFO"],
            "opt_in_reply": "Witamy z powrotem",
        }
        r = await a.post("/api/settings/messaging", json=settings)
        assert r.status_code == 200, r.text
        clash = await a.post("/api/settings/messaging", json={"opt_out_words": ["TAK"]})
        assert clash.status_code == 422  # a word may not both opt out and opt in
        async with phone(running, CUSTOMER) as p:
            await p.text(tenant_a.number, "info")
            assert (await p.next_sms())["text"] == "Infolinia: 22 100 00 00"
            await p.text(tenant_a.number, "STOP")  # not this account's word any more: an ordinary message
            await p.text(tenant_a.number, "Koniec.")
            await p.text(tenant_a.number, "info")
            await p.no_sms(a)
            await p.text(tenant_a.number, "start")
            assert (await p.next_sms())["text"] == "Witamy z powrotem"


async def test_autoreplies_are_rate_limited_per_contact(running: RunningHub, tenant_a: Tenant) -> None:
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        nid = await number_id(a, tenant_a.number)
        await created(
            a,
            "/api/autoresponders",
            {"number_id": nid, "template": "Jestem robotem", "limit_count": 2, "limit_window_s": 3600},
        )
        # Another robot answering every message: the loop stops after two automatic replies.
        async with phone(running, "+48601555444") as robot:
            for i in range(4):
                await robot.text(tenant_a.number, f"Auto-odpowiedź {i}")
            assert [(await robot.next_sms())["text"] for _ in range(2)] == ["Jestem robotem"] * 2
            await robot.no_sms(a)


async def test_statistics_count_messages_segments_and_first_response(
    running: RunningHub, tenant_a: Tenant
) -> None:
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        async with phone(running, CUSTOMER) as p:
            stored = await p.text(tenant_a.number, "Pytanie o zamówienie")
            message = await Message.get(stored["message_id"])
            assert message is not None
            reply = await a.post(
                f"/api/conversations/{message.conversation_id}/messages", json={"text": "Już sprawdzam"}
            )
            assert reply.status_code == 201
            await p.next_sms()
        [row] = (await a.get("/api/stats/numbers", params={"days": 1})).json()
        assert (row["number"], row["inbound"], row["outbound"], row["segments_out"]) == (
            tenant_a.number,
            1,
            1,
            1,
        )
        first = (await a.get("/api/stats/first-response")).json()
        assert first["conversations"] == 1 and first["answered"] == 1 and first["median_s"] >= 0
        assert (await a.get("/api/stats/numbers", params={"tz": "Mars/Olympus"})).status_code == 422


async def test_stop_to_a_campaign_stops_the_accounts_campaigns(running: RunningHub, tenant_a: Tenant) -> None:
    first = await add_number("+48799100200", NumberType.TWO_WAY)
    second = await add_number("+48799100300", NumberType.TWO_WAY)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, CUSTOMER) as p,
    ):
        body = {"to": CUSTOMER, "text": "Nowa kolekcja", "campaign_id": "c1"}
        await created(a, "/api/campaigns/messages", {**body, "number_id": str(first.id)})
        await p.next_sms()
        await p.text(first.e164, "STOP")
        # A virtual number is only a return path: the opt-out covers all the account's campaigns.
        refused = await a.post(
            "/api/campaigns/messages", json={**body, "number_id": str(second.id), "campaign_id": "c2"}
        )
        assert refused.status_code == 409, refused.text
        await p.no_sms(a)
