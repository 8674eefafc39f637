"""The Kannel gateway against the real Debian Kannel (bearerbox + smsbox) with fakesmsc as the SMS centre."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest

from hub.domain.segments import count_segments
from hub.outbound.kannel import KannelProvider
from hub.settings import KannelSettings, Settings
from tests.conftest import RunningHub, Tenant, login, make_tenant
from tests.e2e.kannel_stack import (
    SECRET,
    SENDSMS_PASSWORD,
    SENDSMS_USER,
    Kannel,
    concatenated,
    eventually_sync,
    kannel_ports,
    run_kannel,
)
from tests.e2e.keywords_helpers import operator_and_admin
from tests.forwarding.helpers import eventually

POLISH = "Zażółć gęślą jaźń"
CUSTOMER = "48601222333"
"""As the SMS centre gives it: international, without the plus."""
LONG_REPLY = (
    "Dzień dobry! Przesyłka z Łodzi dotrze jutro przed południem; kurier zadzwoni wcześniej. "
    "Pozdrawiamy, zespół obsługi — Zażółć gęślą jaźń."
)


@pytest.fixture
def ports() -> dict[str, int]:
    return kannel_ports()


@pytest.fixture
def kannel_configured(request: pytest.FixtureRequest) -> bool:
    """Whether the hub has HUB_KANNEL_* set (parametrise indirectly to leave them unset)."""
    return bool(getattr(request, "param", True))


@pytest.fixture
def settings(settings: Settings, ports: dict[str, int], kannel_configured: bool) -> Settings:
    if not kannel_configured:
        return settings
    base = f"http://127.0.0.1:{settings.server.port}"
    return dataclasses.replace(
        settings,
        server=dataclasses.replace(settings.server, public_url=base),
        # smsbox meets the production answer: given as soon as the text is in the accept log.
        ingest=dataclasses.replace(settings.ingest, answer_wait_s=0.0),
        kannel=KannelSettings(
            sendsms_url=f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms",
            username=SENDSMS_USER,
            password=SENDSMS_PASSWORD,
            secret=SECRET,
        ),
    )


@pytest.fixture
def kannel(settings: Settings, ports: dict[str, int], tmp_path: Path) -> Iterator[Kannel]:
    with run_kannel(tmp_path / "kannel", settings.server.public_url, ports) as k:
        yield k


@pytest.fixture
async def shop(running: RunningHub) -> Tenant:
    return await make_tenant("sklep", "+48500100200", provider="kannel")


@pytest.fixture
async def agent(running: RunningHub, shop: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    token = await login(running.base, shop.agent_email, shop.agent_password)
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


async def _conversation_messages(agent: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]]] | None:
    convs = (await agent.get("/api/conversations")).json()
    if not convs:
        return None
    r = await agent.get(f"/api/conversations/{convs[0]['id']}/messages")
    assert r.status_code == 200, r.text
    body = r.json()
    items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return str(convs[0]["id"]), items


async def _with_status(agent: httpx.AsyncClient, message_id: str, status: str) -> dict[str, Any] | None:
    found = await _conversation_messages(agent)
    assert found is not None
    return next((m for m in found[1] if m["id"] == message_id and m["status"] == status), None)


async def _received(agent: httpx.AsyncClient, text: str) -> str:
    async def check() -> str | None:
        found = await _conversation_messages(agent)
        if found is None:
            return None
        conversation, items = found
        return conversation if any(m["text"] == text for m in items) else None

    return str(await eventually(check))


async def test_text_in_reply_out_and_its_delivery_report(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, kannel: Kannel
) -> None:
    kannel.inject(CUSTOMER, "48500100200", POLISH)
    conversation = await _received(agent, POLISH)

    r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": f"Odpowiedź: {POLISH}"})
    assert r.status_code in (200, 201, 202), r.text
    reply_id = r.json()["id"]

    parts = await eventually_sync(lambda: kannel.sent())
    assert isinstance(parts, list) and len(parts) == 1
    (sms,) = parts
    assert sms.sender.lstrip("+") == "48500100200" and sms.recipient.lstrip("+") == CUSTOMER
    assert sms.type == "ucs-2"
    assert kannel.text_of(sms) == f"Odpowiedź: {POLISH}"

    # fakesmsc takes every submit: Kannel reports "accepted by the SMSC" (8), then "delivered" (1).
    await eventually(lambda: _with_status(agent, reply_id, "delivered"))


async def test_long_polish_reply_goes_out_in_ucs2_parts(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, kannel: Kannel
) -> None:
    assert len(LONG_REPLY) > 70
    kannel.inject(CUSTOMER, "48500100200", "Kiedy przesyłka?")
    conversation = await _received(agent, "Kiedy przesyłka?")
    r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": LONG_REPLY})
    assert r.status_code in (200, 201, 202), r.text
    reply_id = r.json()["id"]

    found = await eventually_sync(lambda: concatenated(kannel.sent()))
    assert isinstance(found, tuple)
    parts, text = found
    assert text == LONG_REPLY
    # Kannel splits as the hub counts (and bills) it: 67 UTF-16 units a part.
    assert parts == count_segments(LONG_REPLY).segments > 1
    # Kannel reports the message, not each part: one "delivered" for the whole.
    await eventually(lambda: _with_status(agent, reply_id, "delivered"))


async def test_one_kannel_id_is_stored_once_and_a_wrong_secret_is_refused(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient
) -> None:
    params = {
        "id": "b5a8b2a4-5f0e-4b9c-9d3e-2a4f0c6e1d77",
        "from": CUSTOMER,
        "to": "48500100200",
        "text": POLISH,
        "coding": "0",
        "charset": "UTF-8",
    }
    async with httpx.AsyncClient(base_url=running.base) as kannel_calls:
        first = await kannel_calls.get("/webhooks/kannel/inbound", params={"secret": SECRET, **params})
        again = await kannel_calls.get("/webhooks/kannel/inbound", params={"secret": SECRET, **params})
        assert first.status_code == 200 and again.status_code == 200, (first.text, again.text)
        # Answered once the text is in the accept log: the repeat is known as one, routed or not yet.
        assert first.json()["created"] is True and again.json()["created"] is False

        # UCS-2 as smsbox passes it without mo-recode: the text's UTF-16 bytes.
        raw = POLISH.encode("utf-16-be")
        rest = {k: v for k, v in params.items() if k != "text"}
        query = urlencode({"secret": SECRET, **rest, "id": "ucs2-1", "coding": "2", "charset": "UTF-16BE"})
        ucs2 = await kannel_calls.get(f"/webhooks/kannel/inbound?{query}&text={quote(raw, safe='')}")
        assert ucs2.status_code == 200, ucs2.text

        # post-url: the text is the body, as smsbox sends it.
        posted = await kannel_calls.post(
            "/webhooks/kannel/inbound",
            params={"secret": SECRET, **rest, "id": "post-1"},
            content=f"Przez post-url: {POLISH}".encode(),
            headers={"Content-Type": 'text/plain; charset="UTF-8"'},
        )
        assert posted.status_code == 200 and posted.json()["created"] is True, posted.text
        unknown = await kannel_calls.get(
            "/webhooks/kannel/inbound", params={"secret": SECRET, **params, "id": "nn-1", "to": "48500999999"}
        )
        assert unknown.status_code == 404, unknown.text

        wrong = await kannel_calls.get("/webhooks/kannel/inbound", params={"secret": "guess", **params})
        assert wrong.status_code == 403, wrong.text
        # Refused before the input is judged: no secret with a broken body is still 403, not 400.
        bare = await kannel_calls.get("/webhooks/kannel/inbound", params={"coding": "9"})
        assert bare.status_code == 403, bare.text
        bad = await kannel_calls.get(
            "/webhooks/kannel/inbound", params={"secret": SECRET, **params, "id": "bad-1", "coding": "9"}
        )
        assert bad.status_code == 422 and "coding" in bad.json()["error"], bad.text
        status = await kannel_calls.get(
            "/webhooks/kannel/status", params={"secret": SECRET, "id": "x", "status": "3"}
        )
        assert status.status_code == 422 and "status" in status.json()["error"], status.text

    async def all_three() -> list[str] | None:
        found = await _conversation_messages(agent)
        texts = [m["text"] for m in found[1]] if found is not None else []
        return texts if len(texts) >= 3 else None

    texts = await eventually(all_three)
    assert texts.count(POLISH) == 2, texts  # the repeated id once, the UCS-2 one once
    assert f"Przez post-url: {POLISH}" in texts


async def test_a_reply_kannel_refuses_fails_with_kannels_answer(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, kannel: Kannel
) -> None:
    # The hub as it runs when HUB_KANNEL_PASSWORD does not match the sendsms-user.
    wrong = dataclasses.replace(running.hub.settings.kannel, password="not-the-password")
    running.hub.providers["kannel"] = KannelProvider(running.hub.http, wrong, None)
    kannel.inject(CUSTOMER, "48500100200", "Halo?")
    conversation = await _received(agent, "Halo?")
    r = await agent.post(f"/api/conversations/{conversation}/messages", json={"text": "Już odpisuję"})
    assert r.status_code in (200, 201, 202), r.text
    reply_id = r.json()["id"]

    message = await eventually(lambda: _with_status(agent, reply_id, "failed"))
    assert "Kannel refused the message (403)" in message["status_history"][-1]["detail"], message
    assert kannel.sent() == []


@pytest.mark.parametrize("kannel_configured", [True, False], ids=["configured", "unset"], indirect=True)
async def test_the_operator_may_give_a_number_kannel_once_it_is_configured(
    running: RunningHub, shop: Tenant, tenant_b: Tenant, kannel_configured: bool
) -> None:
    async with operator_and_admin(running, shop, tenant_b) as (op, _):
        r = await op.post(
            "/api/operator/numbers", json={"number": "500 700 800", "type": "ND", "provider": "kannel"}
        )
    if kannel_configured:
        assert r.status_code == 201 and r.json()["provider"] == "kannel", r.text
    else:
        assert r.status_code == 422 and r.json()["field"] == "provider", r.text


async def test_a_concatenated_text_arriving_out_of_order_is_stored_once_whole(
    running: RunningHub, shop: Tenant, agent: httpx.AsyncClient, kannel: Kannel
) -> None:
    # bearerbox joins the parts before smsbox calls the hub: the hub gets one text.
    kannel.inject_part(CUSTOMER, "48500100200", 7, 2, 2, "gęślą jaźń")
    kannel.inject_part(CUSTOMER, "48500100200", 7, 2, 1, "Zażółć ")
    await _received(agent, POLISH)
    kannel.inject(CUSTOMER, "48500100200", "znacznik")  # a later text: nothing else came before it
    await _received(agent, "znacznik")
    found = await _conversation_messages(agent)
    assert found is not None
    assert sorted(m["text"] for m in found[1]) == sorted([POLISH, "znacznik"])
