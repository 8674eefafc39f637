"""MMS from the inbox: uploads, replies with media, signed links, gateways without MMS, opt-outs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from beanie import PydanticObjectId

from hub.domain.media_links import signed_path
from hub.domain.mms_limits import NO_MMS
from hub.outbound.twilio import TwilioProvider
from hub.store.messages import Message
from hub.store.usage import UsageEntry
from tests.conftest import TWILIO_SID, TWILIO_TOKEN, RunningHub, Tenant, login, make_tenant, post_generic
from tests.e2e.keywords_helpers import phone
from tests.e2e.test_webhooks import tiny_png
from tests.httpserver import HTTPServer, Recorded

CUSTOMER = "+48600700950"


async def agent(running: RunningHub, tenant: Tenant) -> httpx.AsyncClient:
    token = await login(running.base, tenant.agent_email, tenant.agent_password)
    return httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {token}"}, timeout=20)


async def conversation_of(client: httpx.AsyncClient, to: str, text: str = "Dzień dobry") -> str:
    """A conversation started by CUSTOMER texting `to`."""
    r = await post_generic(
        client, {"id": f"in-{to}-{time.time_ns()}", "from": CUSTOMER, "to": to, "text": text}
    )
    assert r.status_code == 200, r.text
    message = await Message.get(PydanticObjectId(r.json()["message_id"]))
    assert message is not None
    return str(message.conversation_id)


async def upload(
    client: httpx.AsyncClient, conv: str, data: bytes, name: str = "kwiat.png", mime: str = "image/png"
) -> httpx.Response:
    return await client.post(f"/api/conversations/{conv}/attachments", files={"file": (name, data, mime)})


async def files_stored(running: RunningHub) -> int:
    return int(await running.hub.db["media.files"].count_documents({}))


async def test_media_reply_reaches_the_simulated_phone_once(running: RunningHub, tenant_a: Tenant) -> None:
    png = tiny_png()
    async with await agent(running, tenant_a) as c, phone(running, CUSTOMER) as p:
        conv = await conversation_of(c, tenant_a.number)
        limits = (await c.get(f"/api/conversations/{conv}/mms")).json()
        assert limits["can_send"] is True and "image/png" in limits["types"]
        assert limits["max_bytes"] == 5 * 1024 * 1024

        r = await upload(c, conv, png)
        assert r.status_code == 201, r.text
        uploaded = r.json()
        assert uploaded["mime"] == "image/png" and uploaded["size"] == len(png)

        body = {"text": "Zdjęcie kwiatu", "client_id": "mms-1", "media": [uploaded["id"]]}
        first = await c.post(f"/api/conversations/{conv}/messages", json=body)
        assert first.status_code == 201, first.text
        again = await c.post(f"/api/conversations/{conv}/messages", json=body)
        assert again.json()["id"] == first.json()["id"]
        media = first.json()["media"]
        assert [(m["mime"], m["size"]) for m in media] == [("image/png", len(png))]

        got = await p.next_sms()
        assert got["text"] == "Zdjęcie kwiatu" and len(got["media"]) == 1
        # The simulated phone fetches the picture from its signed link, without a session.
        async with httpx.AsyncClient(base_url=running.base) as anonymous:
            served = await anonymous.get(got["media"][0])
        assert served.status_code == 200 and served.content == png
        assert served.headers["content-type"] == "image/png"
        # The phone page's history carries the links too.
        history = (await c.get("/simulator/api/messages", params={"phone": CUSTOMER})).json()
        assert [len(m["media_urls"]) for m in history if m["direction"] == "out"] == [1]

    sent = await Message.find({"conversation_id": PydanticObjectId(conv), "direction": "out"}).to_list()
    assert len(sent) == 1 and sent[0].media[0].file_id is not None
    charge = await UsageEntry.get(f"msg:{sent[0].id}")
    assert charge is not None and charge.channel == "mms" and charge.units == 1


async def test_media_without_text_is_a_reply(running: RunningHub, tenant_a: Tenant) -> None:
    async with await agent(running, tenant_a) as c, phone(running, CUSTOMER) as p:
        conv = await conversation_of(c, tenant_a.number)
        media_id = (await upload(c, conv, tiny_png())).json()["id"]
        r = await c.post(f"/api/conversations/{conv}/messages", json={"text": "", "media": [media_id]})
        assert r.status_code == 201, r.text
        got = await p.next_sms()
        assert got["text"] == "" and len(got["media"]) == 1
        empty = await c.post(f"/api/conversations/{conv}/messages", json={"text": " ", "media": []})
        assert empty.status_code == 422


@pytest.mark.parametrize("media_changes", [{"max_bytes": 60}], indirect=True)
async def test_too_big_wrong_type_and_unknown_files_are_refused(
    running: RunningHub, tenant_a: Tenant
) -> None:
    async with await agent(running, tenant_a) as c:
        conv = await conversation_of(c, tenant_a.number)
        before = await files_stored(running)

        big = await upload(c, conv, tiny_png() + b"\0" * 100)
        assert big.status_code == 422 and "at most 60 B" in big.json()["error"], big.text

        text = await upload(c, conv, b"BEGIN:VCARD\nFN:Jan\nEND:VCARD\n", "jan.vcf", "text/vcard")
        assert text.status_code == 422 and "cannot be sent as MMS" in text.json()["error"], text.text

        html = await upload(c, conv, b"<!doctype html><script>alert(1)</script>", "a.png", "image/png")
        assert html.status_code == 422 and "HTML" in html.json()["error"], html.text
        assert await files_stored(running) == before

        other = str(PydanticObjectId())
        r = await c.post(f"/api/conversations/{conv}/messages", json={"text": "x", "media": [other]})
        assert r.status_code == 422 and r.json()["field"] == "media", r.text
        assert await Message.find({"direction": "out"}).count() == 0


async def test_a_file_uploaded_for_another_conversation_is_refused(
    running: RunningHub, tenant_a: Tenant
) -> None:
    async with await agent(running, tenant_a) as c:
        conv = await conversation_of(c, tenant_a.number)
        media_id = (await upload(c, conv, tiny_png())).json()["id"]
        r = await post_generic(
            c, {"id": "other-1", "from": "+48600700951", "to": tenant_a.number, "text": "x"}
        )
        other = await Message.get(PydanticObjectId(r.json()["message_id"]))
        assert other is not None
        r = await c.post(
            f"/api/conversations/{other.conversation_id}/messages", json={"text": "x", "media": [media_id]}
        )
        assert r.status_code == 422, r.text


async def test_gateway_without_mms_refuses_before_storing(running: RunningHub) -> None:
    tenant = await make_tenant("kannelco", "+48500100700", provider="kannel")
    async with await agent(running, tenant) as c:
        conv = await conversation_of(c, tenant.number)
        limits = (await c.get(f"/api/conversations/{conv}/mms")).json()
        assert limits == {"can_send": False, "reason": NO_MMS, "max_bytes": 0, "max_files": 0, "types": []}
        before = await files_stored(running)
        r = await upload(c, conv, tiny_png())
        assert r.status_code == 409 and r.json()["error"] == NO_MMS, r.text
        assert await files_stored(running) == before
        r = await c.post(
            f"/api/conversations/{conv}/messages", json={"text": "x", "media": [str(PydanticObjectId())]}
        )
        assert r.status_code == 409 and r.json()["error"] == NO_MMS, r.text
    assert await Message.find({"direction": "out"}).count() == 0


async def test_media_reply_to_an_opted_out_contact_is_refused_like_text(
    running: RunningHub, tenant_a: Tenant
) -> None:
    async with await agent(running, tenant_a) as c, phone(running, CUSTOMER) as p:
        conv = await conversation_of(c, tenant_a.number)
        media_id = (await upload(c, conv, tiny_png())).json()["id"]
        await p.text(tenant_a.number, "STOP")
        text = await c.post(f"/api/conversations/{conv}/messages", json={"text": "x"})
        media = await c.post(f"/api/conversations/{conv}/messages", json={"text": "x", "media": [media_id]})
        alone = await c.post(f"/api/conversations/{conv}/messages", json={"text": "", "media": [media_id]})
        assert text.status_code == media.status_code == alone.status_code == 409
        assert text.json() == media.json() == alone.json()
    assert await Message.find({"direction": "out", "media": {"$ne": []}}).count() == 0


@pytest.fixture
async def twilio_api(running: RunningHub) -> AsyncIterator[HTTPServer]:
    """Twilio's Messages API stood in, and the hub's public address set (Twilio fetches from it)."""

    def answer(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        sid = "SM" + f"{len(twilio.requests):032d}"
        return (
            201,
            {"Content-Type": "application/json"},
            json.dumps({"sid": sid, "status": "queued"}).encode(),
        )

    hub = running.hub
    server = dataclasses.replace(hub.settings.server, public_url=running.base)
    hub.settings = dataclasses.replace(hub.settings, server=server)
    async with HTTPServer(answer) as twilio:
        hub.providers["twilio"] = TwilioProvider(hub.http, TWILIO_SID, TWILIO_TOKEN, twilio.base, None)
        yield twilio


async def test_twilio_mms_carries_a_signed_expiring_media_url(
    running: RunningHub, twilio_api: HTTPServer
) -> None:
    tenant = await make_tenant("twco", "+48500100800", provider="twilio")
    png = tiny_png()
    async with await agent(running, tenant) as c:
        conv = await conversation_of(c, tenant.number)
        media_id = (await upload(c, conv, png)).json()["id"]
        r = await c.post(f"/api/conversations/{conv}/messages", json={"text": "Proszę", "media": [media_id]})
        assert r.status_code == 201, r.text
        for _ in range(200):
            if twilio_api.requests:
                break
            await asyncio.sleep(0.05)
        form = parse_qs(twilio_api.requests[0].body.decode())
        assert form["Body"] == ["Proszę"]
        [url] = form["MediaUrl"]
        assert url.startswith(f"{running.base}/media/{media_id}?")

    secret = running.hub.settings.security.secret
    async with httpx.AsyncClient() as anonymous:
        served = await anonymous.get(url)
        assert served.status_code == 200 and served.content == png
        assert served.headers["content-type"] == "image/png"

        query = parse_qs(urlsplit(url).query)
        signature, expires = query["signature"][0], int(query["expires"][0])
        tampered = await anonymous.get(
            f"{running.base}/media/{media_id}", params={"expires": expires + 3600, "signature": signature}
        )
        assert tampered.status_code == 403 and "signature" in tampered.json()["error"]
        other = str(PydanticObjectId())
        moved = await anonymous.get(
            f"{running.base}/media/{other}", params={"expires": expires, "signature": signature}
        )
        assert moved.status_code == 403

        expired = signed_path(secret, media_id, time.time() - 7200, 3600)
        gone = await anonymous.get(running.base + expired)
        assert gone.status_code == 403 and "expired" in gone.json()["error"]


async def test_twilio_without_a_public_url_fails_the_mms_with_a_reason(running: RunningHub) -> None:
    tenant = await make_tenant("twnourl", "+48500100810", provider="twilio")
    async with await agent(running, tenant) as c:
        conv = await conversation_of(c, tenant.number)
        media_id = (await upload(c, conv, tiny_png())).json()["id"]
        r = await c.post(f"/api/conversations/{conv}/messages", json={"text": "x", "media": [media_id]})
        assert r.status_code == 201
        for _ in range(200):
            message = await Message.get(PydanticObjectId(r.json()["id"]))
            assert message is not None
            if message.status.value == "failed":
                break
            await asyncio.sleep(0.05)
        assert message.status.value == "failed"
        assert "HUB_PUBLIC_URL" in (message.status_history[-1].detail or "")
