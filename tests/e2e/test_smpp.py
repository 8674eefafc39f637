"""The SMPP gateway against an SMSC we did not write: the SMPP server of the `smpp34` package.

The hub binds to it as an ESME (transceiver); the tests play the operator's side: they deliver
texts, parts of long texts and receipts, and read what the hub submitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from hub.domain import gsm7
from hub.domain.segments import count_segments
from hub.outbound.smpp import encode
from hub.settings import Settings, SmppSettings
from hub.smpp import pdu
from tests.conftest import RunningHub, Tenant, make_tenant, post_generic
from tests.e2e.gateway_helpers import agent_client, first_conversation
from tests.e2e.smpp_smsc import PASSWORD, SYSTEM_ID, Smsc
from tests.e2e.tcp_proxy import CuttableProxy
from tests.forwarding.helpers import eventually

CUSTOMER = "48601222333"
"""As the SMSC gives it: international, without the plus."""
OURS = "48500100200"
LONG_POLISH = (
    "Dzień dobry! Zamówienie z Łodzi dotarło, ale brakuje jednej paczki: proszę o sprawdzenie. "
    "Źdźbło, gęś, żółć, ćma, ósemka, łąka, śnieg, zając. Pozdrawiam serdecznie, Małgorzata Żółkiewska."
)
REPLY = "Dziękujemy! Paczka wyjechała dziś z magazynu w Łodzi i dotrze jutro do południa; kurier zadzwoni."


@pytest.fixture
async def smsc() -> AsyncIterator[Smsc]:
    server = Smsc()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def proxy(smsc: Smsc) -> AsyncIterator[CuttableProxy]:
    """Between the hub and the SMSC, to drop the bind (the tests that ask for it connect through it)."""
    relay = CuttableProxy(smsc.port)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.close()


@pytest.fixture
def through_proxy() -> bool:
    return False


@pytest.fixture
def smpp_changes(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Changes to the hub's SMPP settings (parametrise indirectly)."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def ingest_changes(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Changes to the hub's accept-log settings (parametrise indirectly)."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def settings(
    settings: Settings,
    smsc: Smsc,
    smpp_changes: dict[str, Any],
    ingest_changes: dict[str, Any],
    request: pytest.FixtureRequest,
) -> Settings:
    port = smsc.port
    if "proxy" in request.fixturenames:
        port = request.getfixturevalue("proxy").port
    return dataclasses.replace(
        settings,
        ingest=dataclasses.replace(settings.ingest, **ingest_changes),
        smpp=dataclasses.replace(
            SmppSettings(
                host="127.0.0.1",
                port=port,
                system_id=SYSTEM_ID,
                password=PASSWORD,
                enquire_link_s=5.0,
                response_timeout_s=10.0,
                throughput=50.0,
                reconnect_min_s=0.1,
                reconnect_max_s=0.5,
                part_hold_s=3.0,
                reassembly_timeout_s=4.0,
            ),
            **smpp_changes,
        ),
    )


@pytest.fixture
async def shop(running: RunningHub) -> Tenant:
    return await make_tenant("sklep", "+" + OURS, provider="smpp")


@pytest.fixture
async def agent(running: RunningHub, shop: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    async with agent_client(running, shop) as client:
        yield client


_messages = first_conversation


async def _health(agent: httpx.AsyncClient) -> dict[str, Any]:
    r = await agent.get("/health")
    assert r.status_code == 200, r.text
    return dict(r.json()["gateways"]["smpp"])


async def test_a_text_is_answered_only_once_it_is_in_the_inbox(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, smsc: Smsc
) -> None:
    status = await smsc.deliver(CUSTOMER, OURS, gsm7.encode("Dzien dobry, czy sklep jest otwarty?"))
    assert status == pdu.ESME_ROK
    # No waiting: deliver_sm_resp came after the message was stored.
    _, items = await _messages(agent)
    assert [(m["text"], m["direction"]) for m in items] == [("Dzien dobry, czy sklep jest otwarty?", "in")]

    # The same deliver_sm again (an SMSC that saw no answer) is the same message.
    assert await smsc.deliver(CUSTOMER, OURS, gsm7.encode("Dzien dobry, czy sklep jest otwarty?")) == 0
    status = await smsc.deliver(CUSTOMER, OURS, "Zażółć gęślą jaźń".encode("utf-16-be"), data_coding=8)
    assert status == pdu.ESME_ROK
    _, items = await _messages(agent)
    assert sorted(m["text"] for m in items) == sorted(
        ["Dzien dobry, czy sklep jest otwarty?", "Zażółć gęślą jaźń"]
    )
    health = await _health(agent)
    assert (health["binds"], health["in_last_minute"], health["configured"]) == (1, 3, True), health


async def test_a_text_to_an_unknown_number_or_in_a_bad_coding_is_refused_and_the_bind_stays(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, smsc: Smsc
) -> None:
    assert await smsc.deliver(CUSTOMER, "48500999999", b"Halo") == pdu.ESME_RINVDSTADR
    assert await smsc.deliver(CUSTOMER, OURS, b"\x00\xff\xfe", data_coding=4) == pdu.ESME_RINVDCS
    assert smsc.binds == 1
    assert await smsc.deliver(CUSTOMER, OURS, b"Halo") == pdu.ESME_ROK
    _, items = await _messages(agent)
    assert [m["text"] for m in items] == ["Halo"]
    health = running.hub.gateway_health.figures("smpp")
    assert health.last_error is not None and "data_coding 4" in health.last_error


async def test_three_polish_parts_out_of_order_are_stored_once_as_one_text(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, smsc: Smsc
) -> None:
    encoded = encode(LONG_POLISH)
    assert encoded.data_coding == 8 and len(encoded.parts) == 3

    def part(seq: int) -> bytes:
        return bytes([6, 0x08, 4, 0x01, 0x2C, 3, seq]) + encoded.parts[seq - 1]  # 16-bit reference 300

    # The SMSC sends the parts at once, the last first; each is answered once the text is stored.
    statuses = await asyncio.gather(
        *(smsc.deliver(CUSTOMER, OURS, part(seq), data_coding=8, esm_class=0x40) for seq in (3, 1, 2))
    )
    assert statuses == [0, 0, 0]
    _, items = await _messages(agent)
    assert [m["text"] for m in items] == [LONG_POLISH]
    # A part resent afterwards (its answer was lost) stores nothing new, even once the time a
    # text's parts are waited for is up.
    assert await smsc.deliver(CUSTOMER, OURS, part(2), data_coding=8, esm_class=0x40) == 0
    await asyncio.sleep(running.hub.settings.smpp.reassembly_timeout_s + 1.5)
    _, items = await _messages(agent)
    assert [m["text"] for m in items] == [LONG_POLISH]


async def test_a_ucs2_reply_goes_out_in_two_parts_and_its_receipt_marks_it_delivered(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, smsc: Smsc
) -> None:
    assert count_segments(REPLY).segments == 2 and count_segments(REPLY).encoding == "UCS-2"
    assert await smsc.deliver(CUSTOMER, OURS, b"Gdzie moja paczka?") == 0
    conversation, _ = await _messages(agent)
    r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": REPLY})
    assert r.status_code in (200, 201, 202), r.text
    reply_id = r.json()["id"]

    async def two_parts() -> bool:
        return len(smsc.submitted) == 2

    await eventually(two_parts)
    first, second = smsc.submitted
    assert {(s.source, s.destination, s.data_coding, s.esm_class) for s in smsc.submitted} == {
        (OURS, CUSTOMER, 8, 0x40)
    }
    assert first.short_message[:6] == bytes([5, 0, 3, first.short_message[3], 2, 1])
    assert second.short_message[:6] == bytes([5, 0, 3, first.short_message[3], 2, 2])
    assert (first.short_message[6:] + second.short_message[6:]).decode("utf-16-be") == REPLY
    assert (first.registered_delivery, second.registered_delivery) == (0, 1)

    async def status_of(wanted: str) -> dict[str, Any] | None:
        _, items = await _messages(agent)
        return next((m for m in items if m["id"] == reply_id and m["status"] == wanted), None)

    await eventually(lambda: status_of("sent"))
    receipt = f"id:{second.message_id} sub:001 dlvrd:001 done date:2612041201 stat:DELIVRD err:000 text:"
    assert await smsc.deliver(CUSTOMER, OURS, receipt.encode(), esm_class=0x04) == 0
    assert await status_of("delivered") is not None


async def test_a_throttled_reply_is_sent_after_slowing_down(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, smsc: Smsc
) -> None:
    assert await smsc.deliver(CUSTOMER, OURS, b"Czesc") == 0
    conversation, _ = await _messages(agent)
    smsc.refuse_next = [pdu.ESME_RTHROTTLED, pdu.ESME_RMSGQFUL]
    r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": "Juz odpisuje"})
    reply_id = r.json()["id"]

    async def sent() -> dict[str, Any] | None:
        _, items = await _messages(agent)
        return next((m for m in items if m["id"] == reply_id and m["status"] == "sent"), None)

    await eventually(sent)
    assert smsc.refuse_next == []
    assert [(s.short_message, s.data_coding) for s in smsc.submitted] == [(b"Juz odpisuje", 0)]


async def test_a_bind_dropped_mid_burst_loses_and_duplicates_nothing(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, smsc: Smsc, proxy: CuttableProxy
) -> None:
    texts = [f"Wiadomosc numer {i}" for i in range(30)]
    await smsc.bound()
    answered: dict[str, int] = {}

    async def send(text: str) -> None:
        # The bind may go away before the answer: the SMSC keeps the text to resend.
        with contextlib.suppress(Exception):
            answered[text] = await smsc.deliver(CUSTOMER, OURS, text.encode())

    burst = [asyncio.create_task(send(t)) for t in texts]
    while len(answered) < 5:
        await asyncio.sleep(0.005)
    proxy.cut()
    proxy.restore()
    await asyncio.wait(burst, timeout=15)
    assert 5 <= len(answered) < len(texts), answered
    # As an SMSC does: after the ESME binds again, resend what it has no answer for.
    await smsc.bound(after=1)
    for text in texts:
        if answered.get(text) != 0:
            assert await smsc.deliver(CUSTOMER, OURS, text.encode()) == 0
    _, items = await _messages(agent)
    assert sorted(m["text"] for m in items) == sorted(texts)
    health = await _health(agent)
    assert health["binds"] == 1 and health["last_error"] == "bind lost", health


@pytest.mark.parametrize("smpp_changes", [{"bind_mode": "split", "binds": 2}], indirect=True)
async def test_split_binds_send_on_the_transmitters(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, smsc: Smsc
) -> None:
    async def all_bound() -> bool:
        return smsc.binds == 4 and (await _health(agent))["binds"] == 4

    await eventually(all_bound)
    # smpp34's server takes no deliver_sm_resp on a receiver bind (its deliver_sm times out with
    # ESME_RSYSERR), so the customer's text comes through the generic webhook; the replies are the point.
    async with httpx.AsyncClient(base_url=running.base) as gateway:
        r = await post_generic(
            gateway, {"id": "g-1", "from": "+" + CUSTOMER, "to": "+" + OURS, "text": "Halo"}
        )
        assert r.status_code == 200, r.text
    conversation, _ = await _messages(agent)
    for text in ("Pierwsza", "Druga"):
        r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": text})
        assert r.status_code in (200, 201, 202), r.text

    async def both_sent() -> bool:
        return len(smsc.submitted) == 2

    await eventually(both_sent)
    assert sorted(s.short_message for s in smsc.submitted) == [b"Druga", b"Pierwsza"]


@pytest.mark.parametrize("smpp_changes", [{"message_payload": True}], indirect=True)
async def test_a_long_reply_goes_whole_in_message_payload_where_the_smsc_asks_for_it(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, smsc: Smsc
) -> None:
    assert await smsc.deliver(CUSTOMER, OURS, b"Halo") == 0
    conversation, _ = await _messages(agent)
    r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": REPLY})
    assert r.status_code in (200, 201, 202), r.text

    async def sent() -> bool:
        return len(smsc.submitted) == 1

    await eventually(sent)
    (sms,) = smsc.submitted
    assert (sms.short_message, sms.data_coding, sms.esm_class) == (b"", 8, 0)
    assert sms.tlvs[0x0424].decode("utf-16-be") == REPLY


@pytest.mark.parametrize("ingest_changes", [{"max_lag": 0}], indirect=True)
async def test_a_hub_too_far_behind_asks_the_smsc_to_resend_later(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, smsc: Smsc
) -> None:
    # max_lag 0: the accept log counts itself full, as it does past its backlog limit.
    assert await smsc.deliver(CUSTOMER, OURS, b"Halo") == pdu.ESME_RX_T_APPN
    assert smsc.binds == 1
    assert (await _messages(agent))[1] == []
