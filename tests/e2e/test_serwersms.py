"""The SerwerSMS gateway against a stand-in of its API v2 (tests/e2e/serwersms_standin.py says
which client-library file each shape follows): the hub polls received messages and reports, and
sends through send_sms and send_mms."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hub.context import HubContext
from hub.outbound.base import OutboundRequest, ProviderError
from hub.outbound.serwersms import SerwerSmsApi, SerwerSmsProvider
from hub.settings import SerwerSmsSettings, Settings
from hub.store.audience import UnmatchedMessage
from hub.store.gateway_polls import PollCursor
from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant, login, make_tenant
from tests.e2e.keywords_helpers import operator_and_admin
from tests.e2e.serwersms_standin import TOKEN, SerwerSmsStandIn
from tests.forwarding.helpers import eventually
from workers.serwersms import SerwerSmsPoller

POLISH = "Zażółć gęślą jaźń"
CUSTOMER = "+48601222333"
OUR_NDI = "+48500100200"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
TIMEOUT_S = 1.0
"""The hub's timeout for one API call here: an outage must outlast it."""


@pytest.fixture
async def standin() -> AsyncIterator[SerwerSmsStandIn]:
    s = SerwerSmsStandIn()
    await s.start()
    try:
        yield s
    finally:
        s.hanging_s = 0
        await s.stop()


@pytest.fixture
def serwersms_changes(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Changes to the hub's SerwerSMS settings (parametrise indirectly)."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def settings(settings: Settings, standin: SerwerSmsStandIn, serwersms_changes: dict[str, Any]) -> Settings:
    chosen: dict[str, Any] = {"types": ("ndi", "mms"), "poll_s": 0.2, "timeout_s": TIMEOUT_S}
    return dataclasses.replace(
        settings,
        serwersms=SerwerSmsSettings(api_url=standin.api_url, token=TOKEN, **(chosen | serwersms_changes)),
    )


async def _stored(provider_ids: list[str]) -> set[str]:
    """Which of these SerwerSMS ids the hub holds, for an account or as unmatched."""
    query = {"provider": "serwersms", "provider_message_id": {"$in": provider_ids}}
    found = {m.provider_message_id for m in await Message.find(query).to_list()}
    return found | {m.provider_message_id for m in await UnmatchedMessage.find(query).to_list()}


@pytest.fixture
async def shop(running: RunningHub) -> Tenant:
    return await make_tenant("sklep", OUR_NDI, provider="serwersms")


@pytest.fixture
async def agent(running: RunningHub, shop: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    token = await login(running.base, shop.agent_email, shop.agent_password)
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


async def _messages(agent: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]]] | None:
    convs = (await agent.get("/api/conversations")).json()
    if not convs:
        return None
    r = await agent.get(f"/api/conversations/{convs[0]['id']}/messages")
    assert r.status_code == 200, r.text
    body = r.json()
    return str(convs[0]["id"]), body["items"] if isinstance(body, dict) else body


async def _received(agent: httpx.AsyncClient, text: str) -> str:
    async def check() -> str | None:
        found = await _messages(agent)
        return found[0] if found and any(m["text"] == text for m in found[1]) else None

    return str(await eventually(check))


async def _with_status(agent: httpx.AsyncClient, message_id: str, status: str) -> dict[str, Any] | None:
    found = await _messages(agent)
    assert found is not None
    return next((m for m in found[1] if m["id"] == message_id and m["status"] == status), None)


def _polls(standin: SerwerSmsStandIn) -> int:
    return sum(
        1 for action, params in standin.calls if action == "messages/recived" and not params.get("read")
    )


async def _polled_again(standin: SerwerSmsStandIn, times: int = 2) -> None:
    start = _polls(standin)

    async def check() -> bool:
        return _polls(standin) >= start + times * 2  # a poll reads the ndi and the mms listings

    await eventually(check)


async def test_an_sms_and_an_mms_reach_the_inbox_once_and_are_marked_read_after(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, standin: SerwerSmsStandIn
) -> None:
    marked: list[str] = []
    unstored: list[str] = []

    async def check_stored(items: list[dict[str, Any]]) -> None:
        ids = [f"{i['type']}-{i['id']}" for i in items]
        marked.extend(ids)
        unstored.extend(set(ids) - await _stored(ids))

    standin.before_marking_read = check_stored
    sms = standin.customer_sms("ndi", CUSTOMER, POLISH, ndi=OUR_NDI.lstrip("+"))
    png = {"name": "foto.png", "content_type": "image/png", "data": base64.b64encode(PNG).decode()}
    mms = standin.customer_mms(CUSTOMER, OUR_NDI, "Zdjęcie", [png])
    await _received(agent, POLISH)
    await _received(agent, "Zdjęcie")
    # Routing may show a text before the poller's call marking it read has ended: wait for that.
    await _marked_read(standin, sms, mms)
    # Marked read only once stored.
    assert sorted(marked) == sorted([f"ndi-{sms}", f"mms-{mms}"]) and unstored == []
    # The NDI is polled with its own filter, so its texts reach the number they were sent to.
    assert any(p.get("ndi") == "48500100200" for a, p in standin.calls if a == "messages/recived")

    await _polled_again(standin)
    cursors = await PollCursor.find_all().to_list()
    assert len(cursors) == 2 and all(c.since for c in cursors)
    # A poller that died before it moved its cursors reads everything again (another process, or
    # this one restarted): the provider message ids are already stored.
    await PollCursor.get_pymongo_collection().delete_many({})
    again = SerwerSmsPoller(running.hub, running.hub.settings.serwersms)
    assert [await again.read(listing) for listing in await again.listings()] == [0, 0]
    await _polled_again(standin)

    found = await _messages(agent)
    assert found is not None
    assert sorted(m["text"] for m in found[1]) == sorted([POLISH, "Zdjęcie"])
    (with_media,) = [m for m in found[1] if m["text"] == "Zdjęcie"]
    assert len(with_media["media"]) == 1 and with_media["media"][0]["mime"] == "image/png", with_media
    r = await agent.get(with_media["media"][0]["url"])
    assert r.status_code == 200 and r.content == PNG


async def test_a_second_process_does_not_poll_while_the_first_holds_the_lease(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, standin: SerwerSmsStandIn
) -> None:
    standin.customer_sms("ndi", CUSTOMER, "pierwszy", ndi=OUR_NDI.lstrip("+"))
    await _received(agent, "pierwszy")
    other = SerwerSmsPoller(running.hub, running.hub.settings.serwersms)
    assert await other.lease.take() is False


async def test_a_reply_goes_out_as_full_sms_and_its_report_marks_it_delivered(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, standin: SerwerSmsStandIn
) -> None:
    standin.customer_sms("ndi", CUSTOMER, "Halo?", ndi=OUR_NDI.lstrip("+"))
    conversation = await _received(agent, "Halo?")
    r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": f"Odpowiedź: {POLISH}"})
    assert r.status_code in (200, 201, 202), r.text
    reply_id = r.json()["id"]

    await eventually(lambda: _with_status(agent, reply_id, "sending"))
    (sent,) = standin.sent.values()
    assert (sent["phone"], sent["sender"], sent["type"], sent["text"]) == (
        CUSTOMER,
        "48500100200",  # FULL from the hub's own number: the customer's answer comes back to it
        "full",
        f"Odpowiedź: {POLISH}",
    )
    assert sent["utf"] is True  # Polish letters
    standin.report(sent["id"], "delivered")
    await eventually(lambda: _with_status(agent, reply_id, "delivered"))


async def test_an_undelivered_report_shows_its_reason_to_the_agent(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, standin: SerwerSmsStandIn
) -> None:
    standin.customer_sms("ndi", CUSTOMER, "Czy jest?", ndi=OUR_NDI.lstrip("+"))
    conversation = await _received(agent, "Czy jest?")
    r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": "Jest"})
    reply_id = r.json()["id"]
    await eventually(lambda: _with_status(agent, reply_id, "sending"))
    (sent,) = standin.sent.values()
    standin.report(sent["id"], "sent")
    await eventually(lambda: _with_status(agent, reply_id, "sent"))
    standin.report(sent["id"], "undelivered", "number_is_blacklisted")
    message = await eventually(lambda: _with_status(agent, reply_id, "undelivered"))
    assert message["status_history"][-1]["detail"] == (
        "the number is on the SerwerSMS blacklist (number_is_blacklisted)"
    )


async def test_an_mms_from_the_inbox_goes_out_through_send_mms(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, standin: SerwerSmsStandIn
) -> None:
    standin.customer_sms("ndi", CUSTOMER, "Poproszę zdjęcie", ndi=OUR_NDI.lstrip("+"))
    conversation = await _received(agent, "Poproszę zdjęcie")
    limits = (await agent.get(f"/api/conversations/{conversation}/mms")).json()
    assert limits["can_send"] and limits["max_bytes"] == 300 * 1024
    too_big = await agent.post(
        f"/api/conversations/{conversation}/attachments",
        files={"file": ("duze.png", PNG + b"\0" * (300 * 1024), "image/png")},
    )
    assert too_big.status_code == 422 and "300 KB" in too_big.json()["error"], too_big.text
    up = await agent.post(
        f"/api/conversations/{conversation}/attachments", files={"file": ("foto.png", PNG, "image/png")}
    )
    assert up.status_code == 201, up.text
    r = await agent.post(
        f"/api/conversations/{conversation}/messages", json={"text": "Proszę", "media": [up.json()["id"]]}
    )
    assert r.status_code == 201, r.text
    await eventually(lambda: _with_status(agent, r.json()["id"], "sending"))
    (sent,) = standin.sent.values()
    assert sent["type"] == "mms" and sent["text"] == "Proszę"
    assert [base64.b64decode(f) for f in sent["files"]] == [PNG]


async def test_an_outage_is_survived_without_loss(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, standin: SerwerSmsStandIn
) -> None:
    standin.customer_sms("ndi", CUSTOMER, "przed awarią", ndi=OUR_NDI.lstrip("+"))
    conversation = await _received(agent, "przed awarią")

    standin.failing = 503
    first = standin.customer_sms("ndi", CUSTOMER, "w czasie 503", ndi=OUR_NDI.lstrip("+"))
    r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": "Odpiszę"})
    reply_id = r.json()["id"]

    async def health_error() -> str | None:
        h = (await agent.get("/health")).json()
        gateways = h.get("gateways", {})
        return (gateways.get("serwersms") or {}).get("last_error")

    assert "503" in str(await eventually(health_error))
    standin.failing = None
    # A 5xx is retried: the reply goes out once SerwerSMS answers again, and the text is received.
    await eventually(lambda: _with_status(agent, reply_id, "sending"), timeout_s=30)
    assert [s["text"] for s in standin.sent.values()] == ["Odpiszę"]
    await _received(agent, "w czasie 503")

    # Then no answer at all (longer than the hub waits), then nothing listening.
    standin.hanging_s = TIMEOUT_S * 2
    slow = standin.customer_sms("ndi", CUSTOMER, "bez odpowiedzi", ndi=OUR_NDI.lstrip("+"))
    await eventually(lambda: _last_error_has(running, "ReadTimeout"))
    standin.hanging_s = 0
    await standin.stop()
    refused = standin.customer_sms("ndi", CUSTOMER, "gdy nikt nie słucha", ndi=OUR_NDI.lstrip("+"))
    await eventually(lambda: _last_error_has(running, "unreachable"))
    await standin.start()

    await _received(agent, "bez odpowiedzi")
    await _received(agent, "gdy nikt nie słucha")
    await _marked_read(standin, first, slow, refused)
    await _polled_again(standin)
    found = await _messages(agent)
    assert found is not None
    inbound = [m["text"] for m in found[1] if m["direction"] == "in"]
    expected = ["przed awarią", "w czasie 503", "bez odpowiedzi", "gdy nikt nie słucha"]
    assert sorted(inbound) == sorted(expected)


async def _marked_read(standin: SerwerSmsStandIn, *ids: int) -> None:
    async def check() -> bool:
        return all(standin.is_read(i) for i in ids)

    await eventually(check)


async def _last_error_has(running: RunningHub, words: str) -> bool:
    return words in str(running.hub.gateway_health.figures("serwersms").last_error)


@dataclass
class _File:
    data: bytes
    mime: str
    filename: str | None


async def test_an_mms_goes_out_with_its_files_in_base64_and_a_refusal_is_permanent(
    hub: Any, standin: SerwerSmsStandIn
) -> None:
    settings = hub.settings.serwersms

    async def files(message_id: str) -> list[_File]:
        assert message_id == "m-1"
        return [_File(PNG, "image/png", "foto.png")]

    provider = SerwerSmsProvider(SerwerSmsApi(hub.http, settings), files)
    long_text = "Zdjęcie z wczorajszego spotkania w Łodzi, jak obiecaliśmy"
    result = await provider.send(
        OutboundRequest(
            "m-1", OUR_NDI, CUSTOMER, long_text, media_urls=("http://hub/api/messages/m-1/media/0",)
        )
    )
    sent = standin.sent[result.provider_message_id]
    assert sent["type"] == "mms" and len(sent["text"]) == 40
    assert [base64.b64decode(f) for f in sent["files"]] == [PNG, long_text.encode()]

    with pytest.raises(ProviderError) as refused:
        await provider.send(OutboundRequest("m-2", OUR_NDI, "nie-numer", "x"))
    assert refused.value.permanent and "Niepoprawny numer" in str(refused.value)

    wrong = SerwerSmsProvider(
        SerwerSmsApi(hub.http, dataclasses.replace(settings, token="", username="hub", password="zle")),
        files,
    )
    with pytest.raises(ProviderError) as denied:
        await wrong.send(OutboundRequest("m-3", OUR_NDI, CUSTOMER, "x"))
    assert denied.value.permanent and denied.value.code == "1001"
    login_ok = SerwerSmsProvider(
        SerwerSmsApi(hub.http, dataclasses.replace(settings, token="", username="hub", password="hub-pass")),
        files,
    )
    assert (await login_ok.send(OutboundRequest("m-4", OUR_NDI, CUSTOMER, "x"))).status == "queued"
    (_, params) = standin.calls[-1]
    assert (params["username"], params["password"]) == ("hub", "hub-pass")


async def test_the_operator_may_give_a_number_serwersms(
    running: RunningHub, shop: Tenant, tenant_b: Tenant
) -> None:
    async with operator_and_admin(running, shop, tenant_b) as (op, _):
        gateways = (await op.get("/api/operator/gateways")).json()
        assert "serwersms" in [g["name"] for g in gateways]
        r = await op.post(
            "/api/operator/numbers", json={"number": "500 700 800", "type": "ND", "provider": "serwersms"}
        )
    assert r.status_code == 201 and r.json()["provider"] == "serwersms", r.text


@pytest.mark.parametrize("lists_read", [True, False], ids=["lists-read-too", "lists-unread-only"])
async def test_a_listing_of_many_pages_is_read_whole_once(
    hub: HubContext, standin: SerwerSmsStandIn, lists_read: bool
) -> None:
    await make_tenant("sklep", OUR_NDI, provider="serwersms")
    standin.lists_read = lists_read
    ndi = OUR_NDI.lstrip("+")
    first = [standin.customer_sms("ndi", CUSTOMER, f"tekst {n}", ndi=ndi) for n in range(7)]
    poller = SerwerSmsPoller(hub, hub.settings.serwersms)
    poller.page_size = 2
    (listing,) = [x for x in await poller.listings() if x.type == "ndi"]
    assert await poller.read(listing) == 7
    assert await poller.read(listing) == 0
    later = [standin.customer_sms("ndi", CUSTOMER, f"później {n}", ndi=ndi) for n in range(3)]
    assert await poller.read(listing) == 3
    assert all(standin.is_read(i) for i in first + later)
    texts = [m.text for m in await Message.find({"provider": "serwersms"}).to_list()]
    assert sorted(texts) == sorted([f"tekst {n}" for n in range(7)] + [f"później {n}" for n in range(3)])


@pytest.mark.parametrize("serwersms_changes", [{"eco": True, "types": ("ndi", "eco")}], indirect=True)
async def test_an_eco_reply_is_answered_into_the_same_conversation(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, standin: SerwerSmsStandIn
) -> None:
    standin.customer_sms("ndi", CUSTOMER, "Pytanie", ndi=OUR_NDI.lstrip("+"))
    conversation = await _received(agent, "Pytanie")
    r = await agent.post(
        f"/api/conversations/{conversation}/messages", json={"text": "Odpowiedz TAK lub NIE"}
    )
    reply_id = r.json()["id"]
    await eventually(lambda: _with_status(agent, reply_id, "sending"))
    (sent,) = standin.sent.values()
    assert sent["type"] == "eco" and sent["sender"] is None
    # ECO goes out from SerwerSMS's pool; the answer comes back as type eco naming the message.
    standin.customer_sms("eco", CUSTOMER, "TAK", message_id=sent["id"])
    assert await _received(agent, "TAK") == conversation


async def test_a_message_the_hub_cannot_take_is_passed_over_and_shown(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, standin: SerwerSmsStandIn
) -> None:
    bad = standin.customer_mms(CUSTOMER, "+48500999999", "Do nikogo", [])
    standin.customer_sms("ndi", CUSTOMER, "po nim", ndi=OUR_NDI.lstrip("+"))
    await _received(agent, "po nim")
    await eventually(lambda: _last_error_has(running, f"mms-{bad}"))
    error = str(running.hub.gateway_health.figures("serwersms").last_error)
    assert "no number +48500999999" in error, error


async def test_polling_moves_to_another_process_when_the_first_stops_and_nothing_is_stored_twice(
    hub: HubContext, standin: SerwerSmsStandIn
) -> None:
    await make_tenant("sklep", OUR_NDI, provider="serwersms")
    ndi = OUR_NDI.lstrip("+")
    first, second = (SerwerSmsPoller(hub, hub.settings.serwersms) for _ in range(2))
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    running_first = asyncio.create_task(first.run(stop_first))
    await eventually(lambda: _async(first.holding))
    running_second = asyncio.create_task(second.run(stop_second))
    try:
        early = [standin.customer_sms("ndi", CUSTOMER, f"do pierwszego {n}", ndi=ndi) for n in range(3)]
        await eventually(lambda: _async(all(standin.is_read(i) for i in early)))
        assert not second.holding
        stop_first.set()
        await running_first  # releases the lease on its way out
        late = [standin.customer_sms("ndi", CUSTOMER, f"do drugiego {n}", ndi=ndi) for n in range(3)]
        await eventually(lambda: _async(all(standin.is_read(i) for i in late)))
        assert second.holding
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.gather(running_first, running_second)
    texts = sorted(m.text for m in await Message.find({"provider": "serwersms"}).to_list())
    assert texts == sorted([f"do pierwszego {n}" for n in range(3)] + [f"do drugiego {n}" for n in range(3)])


async def _async(value: object) -> bool:
    return bool(value)
