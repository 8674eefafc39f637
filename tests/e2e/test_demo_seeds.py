"""The demo walks the seeds' two examples: OGRODNIK to the shared ND 503 340 503, PROMOCJA to the
shared SC 4301, with a second account on the same ND and the operator's default reply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from hub.context import HubContext
from hub.demo import DEMO_SHORT_CODE, SHARED_ND, SHARED_SC, number_guide, seed_demo
from hub.domain.numbers import NumberType
from hub.services import auth
from hub.store.accounts import Account
from hub.store.audience import UnmatchedMessage
from hub.store.conversations import Contact, Conversation
from hub.store.keywords import ContactGroup, KeywordDoc
from hub.store.messages import Message
from hub.store.numbers import Number
from tests.conftest import RunningHub
from tests.e2e.browser import PageProblems, launch, new_page
from tests.e2e.keywords_helpers import admin_client, phone

pytestmark = pytest.mark.asyncio

CUSTOMER = "+48601234567"
SEEDED = ("accounts", "agents", "numbers", "keywords", "autoresponders", "contact_groups")


async def _account(slug: str) -> Account:
    account = await Account.find_one({"slug": slug})
    assert account is not None
    return account


async def _texted(account: Account, sender: str, number: str, text: str) -> Conversation:
    """The inbound message is in the account's conversation, with its keyword and an automatic reply."""
    inbound = await Message.find_one({"account_id": account.id, "sender": sender, "text": text})
    assert inbound is not None, f"{text!r} did not reach {account.slug}"
    assert inbound.keyword is not None and inbound.keyword.text == text.upper()
    conversation = await Conversation.get(inbound.conversation_id)
    assert conversation is not None and conversation.number == number
    replies = await Message.find(
        {"conversation_id": conversation.id, "direction": "out", "author.kind": "auto"}
    ).to_list()
    assert len(replies) == 1, [m.text for m in replies]
    return conversation


async def _dump(hub: HubContext) -> dict[str, list[dict[str, Any]]]:
    db = hub.client[hub.settings.mongo.database]
    return {name: await db[name].find({}).sort("_id").to_list() for name in SEEDED}


async def test_the_seeds_examples_reach_their_accounts_from_the_demo(running: RunningHub) -> None:
    await seed_demo()
    demo, roza = await _account("demo"), await _account("roza")
    async with phone(running, CUSTOMER) as p:
        # OGRODNIK on the shared ND: the demo shop's inbox, its group "Ogrodnicy", its reply.
        assert (await p.text(SHARED_ND, "Ogrodnik"))["matched"] is True
        sms = await p.next_sms()
        assert sms["sender"] == SHARED_ND and sms["text"].startswith("Dziękujemy, Ogrodniku!")
        await _texted(demo, CUSTOMER, SHARED_ND, "Ogrodnik")
        group = await ContactGroup.find_one({"account_id": demo.id, "name": "Ogrodnicy"})
        contact = await Contact.find_one({"account_id": demo.id, "phone": CUSTOMER})
        assert group is not None and contact is not None and contact.group_ids == [group.id]

        # PROMOCJA on the shared SC 4301: the demo shop again.
        assert (await p.text(SHARED_SC, "PROMOCJA"))["matched"] is True
        sms = await p.next_sms()
        assert sms["sender"] == SHARED_SC and sms["text"].startswith("Dzięki, Kliencie!")
        await _texted(demo, CUSTOMER, SHARED_SC, "PROMOCJA")

        # The flower shop's keyword on the same ND reaches the flower shop, not the demo shop.
        assert (await p.text(SHARED_ND, "Kwiaty"))["matched"] is True
        sms = await p.next_sms()
        assert sms["sender"] == SHARED_ND and sms["text"].startswith("Kwiaciarnia Róża dziękuje!")
        await _texted(roza, CUSTOMER, SHARED_ND, "Kwiaty")
        assert await Message.find_one({"account_id": demo.id, "text": "Kwiaty"}) is None

        # No keyword: the operator's default reply, and the operator's Unmatched list.
        assert (await p.text(SHARED_ND, "Dzień dobry"))["matched"] is False
        sms = await p.next_sms()
        assert sms["sender"] == SHARED_ND and sms["text"].startswith("Nie rozpoznaliśmy hasła.")
        assert await UnmatchedMessage.find_one({"sender": CUSTOMER, "text": "Dzień dobry"}) is not None

    async with admin_client(running, "admin@demo.example", "demo-admin-pass") as a:
        unmatched = (await a.get("/api/operator/unmatched")).json()
        assert [(u["number"], u["text"]) for u in unmatched] == [(SHARED_ND, "Dzień dobry")]
        # The shared numbers are offered to reserve keywords on; the demo's own come first.
        numbers = [(n["e164"], n["type"], n["owned"]) for n in (await a.get("/api/numbers")).json()]
        assert numbers == [
            ("+48500100200", "NDI", True),
            (DEMO_SHORT_CODE, "SCI", True),
            (SHARED_ND, "ND", False),
            (SHARED_SC, "SC", False),
        ]
    async with admin_client(running, "admin@roza.example", "roza-admin-pass") as r:
        assert (await r.get("/api/operator/unmatched")).status_code == 403
        assert [c["contact"]["phone"] for c in (await r.get("/api/conversations")).json()] == [CUSTOMER]


async def test_the_start_up_guide_lists_every_number_and_its_keywords(hub: HubContext) -> None:
    """What `hub demo` prints under the simulator's address: the seeds' examples to try."""
    await seed_demo()
    assert await number_guide() == [
        "Demo Shop's own numbers: NDI +48 500 100 200, SCI 7126",
        "Shared ND +48 503 340 503: OGRODNIK (Demo Shop), KWIATY (Kwiaciarnia Róża)",
        "Shared SC 4301: PROMOCJA (Demo Shop)",
    ]
    # Read from what is configured: a keyword a shop gives up leaves the guide.
    roza = await _account("roza")
    await KeywordDoc.find({"account_id": roza.id}).delete()
    assert (await number_guide())[1] == "Shared ND +48 503 340 503: OGRODNIK (Demo Shop)"


async def test_seeding_again_changes_nothing(hub: HubContext) -> None:
    await seed_demo()
    first = await _dump(hub)
    assert len(first["accounts"]) == 2 and len(first["keywords"]) == 3
    await seed_demo()
    assert await _dump(hub) == first


async def test_an_older_demo_short_code_moves_and_4301_becomes_shared(hub: HubContext) -> None:
    # An older demo: the demo shop's individual short code was 4301, with a conversation on it.
    demo = await auth.create_account("Demo Shop", "demo")
    old = Number(account_id=demo.id, e164=SHARED_SC, type=NumberType.SCI, provider="simulator")
    await old.insert()
    contact = Contact(account_id=demo.id, phone=CUSTOMER)
    await contact.insert()
    assert demo.id is not None and old.id is not None and contact.id is not None
    conversation = Conversation(
        account_id=demo.id, number_id=old.id, number=SHARED_SC, contact_id=contact.id, contact_phone=CUSTOMER
    )
    await conversation.insert()

    await seed_demo()
    moved = await Number.get(old.id)
    assert moved is not None and moved.e164 == DEMO_SHORT_CODE and moved.type is NumberType.SCI
    assert moved.account_id == demo.id
    kept = await Conversation.get(conversation.id)
    assert kept is not None and kept.number == DEMO_SHORT_CODE and kept.number_id == old.id
    shared = await Number.find_one({"e164": SHARED_SC})
    assert shared is not None and shared.type is NumberType.SC and shared.account_id is None
    assert shared.default_reply


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch() as b:
        yield b


@pytest.mark.browser
@pytest.mark.timeout(120)
async def test_the_simulator_offers_the_shared_numbers(running: RunningHub, browser: Browser) -> None:
    await seed_demo()
    problems = PageProblems()
    _, sim = await new_page(browser, problems)
    await sim.goto(f"{running.base}/simulator")
    await sim.fill("#sim-phone", "+48600700807")
    await sim.locator("#sim-phone").dispatch_event("change")
    await expect(sim.locator("#sim-to option")).to_have_count(4)
    await expect(sim.locator(f'#sim-to option[value="{SHARED_ND}"]')).to_contain_text("ND (wspólny)")
    await expect(sim.locator("#sim-status")).to_have_attribute("data-state", "online")
    for number, text, reply in (
        (SHARED_ND, "Ogrodnik", "Dziękujemy, Ogrodniku!"),
        (SHARED_SC, "PROMOCJA", "Dzięki, Kliencie!"),
    ):
        await sim.select_option("#sim-to", number)
        await sim.fill("#sim-text", text)
        await sim.locator("#sim-text").press("Enter")
        theirs = sim.locator('#sim-thread .sim-message[data-direction="in"] .sim-text')
        await expect(theirs).to_contain_text(reply)
    problems.check()
