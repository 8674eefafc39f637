"""The seeds' "Funkcjonalności / Functionality" table, row by row, for ND, SC, NDI, SCI and 2waySMS.

Each number type walks every row through the running hub: the keyword API says what may be set
up, and real signed webhooks show what happens to messages.

| Row                               | ND, SC | NDI, SCI | 2waySMS |
|-----------------------------------|--------|----------|---------|
| Handling incoming SMS             | ✓ (keyword) | ✓ (all) | ✓ (to the campaign) |
| Unlimited number of keywords      | ✗      | ✓        | ✗       |
| Base / phrase / removing keywords | ✗      | ✓        | ✗       |
| Exact keywords                    | ✓      | ✓        | ✗       |
| Surveys and contests              | ✗      | ✓        | ✗       |
| Statistics                        | ✗      | ✓        | ✗       |
| Individual number, dedicated      | ✗      | ✓        | ✗       |
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from beanie import PydanticObjectId

from hub.domain.keywords import MAX_SHARED_KEYWORDS_PER_ACCOUNT
from hub.domain.numbers import NumberType
from hub.store.conversations import Contact
from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import Phone, add_number, admin_client, created, phone

pytestmark = pytest.mark.asyncio

NUMBERS = {
    NumberType.ND: "+48503340503",
    NumberType.SC: "4301",
    NumberType.NDI: "+48503340600",
    NumberType.SCI: "7021",
    NumberType.TWO_WAY: "+48799100200",
}
CUSTOMER = "+48601234567"


async def keyword(client: httpx.AsyncClient, number_id: str, text: str, **extra: Any) -> httpx.Response:
    return await client.post("/api/keywords", json={"number_id": number_id, "text": text, **extra})


@pytest.mark.parametrize("kind", list(NUMBERS), ids=[k.value for k in NUMBERS])
async def test_functionality_table(running: RunningHub, tenant_a: Tenant, kind: NumberType) -> None:
    account_id = PydanticObjectId(tenant_a.account_id)
    individual = kind in (NumberType.NDI, NumberType.SCI)
    shared = kind in (NumberType.ND, NumberType.SC)
    e164 = NUMBERS[kind]
    number = await add_number(e164, kind, account_id=account_id if individual else None)
    nid = str(number.id)
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a,
        phone(running, CUSTOMER) as p,
    ):
        # Individual phone number, dedicated service.
        listed = {n["e164"]: n for n in (await a.get("/api/numbers")).json()}
        assert listed[e164]["owned"] is individual

        # Exact keywords.
        group = await created(a, "/api/groups", {"name": "Klub"})
        exact = await keyword(a, nid, "KLUB", group_ids=[group["id"]])
        if kind is NumberType.TWO_WAY:
            assert exact.status_code == 422 and exact.json()["code"] == "no_keywords"
        else:
            assert exact.status_code == 201, exact.text
            routed = await p.text(e164, "klub")
            assert routed["matched"] is True
            assert await _in_group(account_id, group["id"])

        # Base, phrase and removing keywords.
        kinds = {"base": "KONKURS", "phrase": "PIZZA", "removing": "WYPISZ KLUB"}
        responses = {
            k: await keyword(a, nid, text, kind=k, group_ids=[group["id"]]) for k, text in kinds.items()
        }
        if individual:
            assert all(r.status_code == 201 for r in responses.values()), [r.text for r in responses.values()]
            await _check_individual_kinds(p, e164, account_id, group["id"])
        else:
            expected = "no_keywords" if kind is NumberType.TWO_WAY else "kind_not_allowed"
            assert {r.json()["code"] for r in responses.values()} == {expected}

        # Unlimited number of keywords.
        results = [await keyword(a, nid, f"HASLO{i}") for i in range(MAX_SHARED_KEYWORDS_PER_ACCOUNT + 1)]
        codes = [r.status_code for r in results]
        if individual:
            assert set(codes) == {201}
        elif shared:
            # KLUB already holds one reservation: the account's tenth is its last.
            assert codes.count(201) == MAX_SHARED_KEYWORDS_PER_ACCOUNT - 1
            assert {r.json()["code"] for r in results if r.status_code == 409} == {"limit"}
        else:
            assert set(codes) == {422}

        # Surveys and contests.
        survey = await a.post(
            "/api/surveys",
            json={
                "number_id": nid,
                "name": "Q",
                "questions": [{"id": "q1", "text": "A czy B?", "choices": ["A", "B"]}],
            },
        )
        if individual:
            assert survey.status_code == 201, survey.text
            assert (await keyword(a, nid, "ANKIETA", survey_id=survey.json()["id"])).status_code == 201
            await p.text(e164, "Ankieta")
            assert (await _sms_with(p, "A czy B?"))["sender"] == e164
        else:
            assert survey.status_code == 422

        # Statistics.
        stats = (await a.get("/api/stats/keywords")).json()
        if individual:
            assert {r["keyword"] for r in stats} >= {"KLUB", "KONKURS", "PIZZA", "ANKIETA"}
        else:
            assert stats == []

        # Handling all incoming messages (no keyword at all).
        if kind is NumberType.TWO_WAY:
            assert (await p.text(e164, "Dzień dobry"))["matched"] is False
            await created(
                a,
                "/api/campaigns/messages",
                {"number_id": nid, "to": CUSTOMER, "text": "Promocja!", "campaign_id": "c1"},
            )
            await _sms_with(p, "Promocja!")
            assert (await p.text(e164, "Dzień dobry"))["matched"] is True
        else:
            assert (await p.text(e164, "Dzień dobry"))["matched"] is individual


async def _in_group(account_id: PydanticObjectId, group_id: str) -> bool:
    contact = await Contact.find_one({"account_id": account_id, "phone": CUSTOMER})
    return contact is not None and PydanticObjectId(group_id) in contact.group_ids


async def _sms_with(p: Phone, text: str) -> dict[str, Any]:
    while True:
        sms = await p.next_sms()
        if sms["text"] == text:
            return sms


async def _check_individual_kinds(p: Phone, e164: str, account_id: PydanticObjectId, group_id: str) -> None:
    from hub.store.messages import Message

    # Removing: the sender leaves the keyword's groups.
    await p.text(e164, "Wypisz klub!")
    assert not await _in_group(account_id, group_id)
    # Phrase: the words anywhere in the message.
    routed = await p.text(e164, "Poproszę dużą pizza z dostawą")
    stored = await Message.get(routed["message_id"])
    assert stored is not None and stored.keyword is not None and stored.keyword.text == "PIZZA"
    assert await _in_group(account_id, group_id)
    # Base: the rest of the message is the parameter.
    routed = await p.text(e164, "KONKURS Żółw")
    stored = await Message.get(routed["message_id"])
    assert stored is not None and stored.keyword is not None
    assert (stored.keyword.text, stored.keyword.param) == ("KONKURS", "Żółw")
