"""Webhook ingest: signatures, bad input, Twilio's formats, MMS media."""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from urllib.parse import urlencode

import httpx
import pytest

from hub.store.messages import Message
from tests.conftest import (
    TWILIO_SID,
    TWILIO_TOKEN,
    RunningHub,
    Tenant,
    login,
    post_generic,
    signed_headers,
    twilio_signature,
)


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"\x00\xff\x00\x00"  # one red pixel, filter byte first
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def messages_count() -> int:
    return await Message.find_all().count()


# --- generic JSON webhook ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"from": "+48600700800", "to": "+48500100200", "text": "x"}, "id"),
        ({"id": "a", "to": "+48500100200", "text": "x"}, "from"),
        ({"id": "a", "from": "not a phone", "to": "+48500100200", "text": "x"}, "from is not a valid phone"),
        ({"id": "a", "from": "+48600700800", "to": "+48500999999", "text": "x"}, "no number"),
        ({"id": "a", "from": "+48600700800", "to": "+48500100200", "text": 5}, "text"),
        ({"id": "a", "from": "+48600700800", "to": "+48500100200", "text": "x", "extra": 1}, "extra"),
        ({"id": "a", "from": "+48600700800", "to": "+48500100200", "media": [{"data": "@@@"}]}, "base64"),
        ({"id": "", "from": "+48600700800", "to": "+48500100200", "text": "x"}, "id"),
    ],
)
async def test_malformed_generic_payload_is_4xx_with_reason(
    running: RunningHub, tenant_a: Tenant, payload: dict[str, object], fragment: str
) -> None:
    async with httpx.AsyncClient(base_url=running.base) as client:
        r = await post_generic(client, payload)
    assert 400 <= r.status_code < 500, r.text
    assert fragment in r.json()["error"]
    assert await messages_count() == 0


async def test_body_that_is_not_json_is_4xx(running: RunningHub, tenant_a: Tenant) -> None:
    body = b"{not json"
    async with httpx.AsyncClient(base_url=running.base) as client:
        r = await client.post("/webhooks/generic/inbound", content=body, headers=signed_headers(body))
    assert r.status_code == 422 and "JSON" in r.json()["error"]


@pytest.mark.parametrize("case", ["missing", "wrong-secret", "tampered", "stale", "future"])
async def test_bad_generic_signature_is_403_and_nothing_stored(
    running: RunningHub, tenant_a: Tenant, case: str
) -> None:
    body = json.dumps({"id": "sig", "from": "+48600700800", "to": tenant_a.number, "text": "hi"}).encode()
    headers = signed_headers(body)
    if case == "missing":
        headers = {"Content-Type": "application/json"}
    elif case == "wrong-secret":
        headers = signed_headers(body, secret="other")
    elif case == "tampered":
        body = body.replace(b"hi", b"ho")
    elif case == "stale":
        headers = signed_headers(body, ts=int(time.time()) - 3600)
    elif case == "future":
        headers = signed_headers(body, ts=int(time.time()) + 3600)
    async with httpx.AsyncClient(base_url=running.base) as client:
        r = await client.post("/webhooks/generic/inbound", content=body, headers=headers)
    assert r.status_code == 403, r.text
    assert r.json()["error"]
    assert await messages_count() == 0


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
async def test_signed_body_not_declared_json_is_415(
    running: RunningHub, tenant_a: Tenant, content_type: str | None
) -> None:
    body = json.dumps({"id": "ct", "from": "+48600700800", "to": tenant_a.number, "text": "hi"}).encode()
    headers = signed_headers(body)
    del headers["Content-Type"]
    if content_type is not None:
        headers["Content-Type"] = content_type
    async with httpx.AsyncClient(base_url=running.base) as client:
        r = await client.post("/webhooks/generic/inbound", content=body, headers=headers)
        assert r.status_code == 415, r.text
        assert r.json()["field"] == "Content-Type"
        # Declared as JSON (with a charset), the same signed body is taken.
        headers["Content-Type"] = "application/json; charset=utf-8"
        r = await client.post("/webhooks/generic/inbound", content=body, headers=headers)
        assert r.status_code == 200, r.text
    assert await messages_count() == 1


async def test_empty_message_is_stored_through_either_gateway(running: RunningHub, tenant_a: Tenant) -> None:
    """A phone can send a text with nothing in it: both webhooks store it, as an empty text."""
    async with httpx.AsyncClient(base_url=running.base) as client:
        generic = await post_generic(client, {"id": "empty-1", "from": "+48600700801", "to": tenant_a.number})
        assert generic.status_code == 200, generic.text
        url = f"{running.base}/webhooks/twilio/inbound"
        twilio = await post_twilio(client, url, twilio_form(tenant_a, "SM" + "e" * 32, body=""))
        assert twilio.status_code == 200, twilio.text
    stored = await Message.find({"provider_message_id": {"$in": ["empty-1", "SM" + "e" * 32]}}).to_list()
    assert sorted((m.provider, m.text, len(m.media)) for m in stored) == [
        ("generic", "", 0),
        ("twilio", "", 0),
    ]


# --- Twilio ------------------------------------------------------------------------------------


async def post_twilio(client: httpx.AsyncClient, url: str, params: dict[str, str]) -> httpx.Response:
    """POST form parameters signed with the hub's Twilio auth token, as Twilio does."""
    headers = {
        "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return await client.post(url, content=urlencode(params), headers=headers)


def twilio_form(tenant: Tenant, sid: str, body: str = "Cześć", **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "ACtest0000000000000000000000000000",
        "From": "+48600700900",
        "To": tenant.number,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


async def test_twilio_inbound_with_valid_signature(running: RunningHub, tenant_a: Tenant) -> None:
    url = f"{running.base}/webhooks/twilio/inbound"
    params = twilio_form(tenant_a, "SM" + "1" * 32, "Zażółć gęślą jaźń")
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    from tests.panel import Panel

    async with Panel(running.ws_base, token) as panel, httpx.AsyncClient() as client:
        r = await post_twilio(client, url, params)
        assert r.status_code == 200, r.text
        assert "<Response>" in r.text
        event = await panel.next("message.created")
    assert event["data"]["text"] == "Zażółć gęślą jaźń"
    assert event["data"]["sender"] == "+48600700900"


@pytest.mark.parametrize("case", ["forged", "stale-token", "other-url", "tampered", "missing"])
async def test_twilio_bad_signature_is_403_and_nothing_stored(
    running: RunningHub, tenant_a: Tenant, case: str
) -> None:
    url = f"{running.base}/webhooks/twilio/inbound"
    params = twilio_form(tenant_a, "SM" + "2" * 32)
    signature = twilio_signature(TWILIO_TOKEN, url, params)
    if case == "forged":
        signature = base64.b64encode(b"x" * 20).decode()
    elif case == "stale-token":
        signature = twilio_signature("an-old-rotated-token", url, params)
    elif case == "other-url":
        signature = twilio_signature(
            TWILIO_TOKEN, "https://elsewhere.example/webhooks/twilio/inbound", params
        )
    elif case == "tampered":
        params = {**params, "Body": "changed"}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if case != "missing":
        headers["X-Twilio-Signature"] = signature
    async with httpx.AsyncClient() as client:
        r = await client.post(url, content=urlencode(params), headers=headers)
    assert r.status_code == 403, r.text
    assert "Twilio" in r.json()["error"]
    assert await messages_count() == 0


async def test_twilio_garbage_with_a_bad_signature_is_403(running: RunningHub, tenant_a: Tenant) -> None:
    url = f"{running.base}/webhooks/twilio/inbound"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "bm90IGl0"}
    async with httpx.AsyncClient() as client:
        for body in (b"\xff\xfe\x00garbage", b"%%%&&&==", b""):
            r = await client.post(url, content=body, headers=headers)
            assert r.status_code == 403, r.text
            assert "Twilio" in r.json()["error"]
        # Signed, but not declared as a form.
        params = twilio_form(tenant_a, "SM" + "f" * 32)
        signed = {
            "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, params),
            "Content-Type": "text/plain",
        }
        r = await client.post(url, content=urlencode(params), headers=signed)
        assert r.status_code == 415, r.text
    assert await messages_count() == 0


@pytest.mark.parametrize("path", ["inbound", "status"])
async def test_twilio_without_any_message_sid_names_both_parameters(
    running: RunningHub, tenant_a: Tenant, path: str
) -> None:
    url = f"{running.base}/webhooks/twilio/{path}"
    params = twilio_form(tenant_a, "unused")
    del params["MessageSid"], params["SmsSid"]
    if path == "status":
        params["MessageStatus"] = "delivered"
    async with httpx.AsyncClient() as client:
        r = await post_twilio(client, url, params)
    assert r.status_code == 422, r.text
    assert "MessageSid" in r.json()["error"] and "SmsSid" in r.json()["error"]
    assert r.json()["field"] == "MessageSid"


async def test_twilio_round_trip_send_and_status_callbacks(running: RunningHub) -> None:
    """Inbound from Twilio, a reply sent through Twilio's REST API, then its status callbacks."""
    from urllib.parse import parse_qs

    from hub.outbound.twilio import TwilioProvider
    from tests.conftest import TWILIO_SID, make_tenant
    from tests.httpserver import HTTPServer, Recorded

    tenant = await make_tenant("tw", "+48500100400", provider="twilio")

    def fake_twilio(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        return (
            201,
            {"Content-Type": "application/json"},
            json.dumps({"sid": "SM" + "4" * 32, "status": "queued"}).encode(),
        )

    async with HTTPServer(fake_twilio) as api, httpx.AsyncClient() as client:
        running.hub.providers["twilio"] = TwilioProvider(
            running.hub.http, TWILIO_SID, TWILIO_TOKEN, api.base, f"{running.base}/webhooks/twilio/status"
        )
        url = f"{running.base}/webhooks/twilio/inbound"
        params = twilio_form(tenant, "SM" + "3" * 32)
        r = await post_twilio(client, url, params)
        assert r.status_code == 200
        inbound = await Message.find_one({"provider_message_id": "SM" + "3" * 32})
        assert inbound is not None
        token = await login(running.base, tenant.agent_email, tenant.agent_password)
        from tests.panel import Panel

        async with Panel(running.ws_base, token) as panel:
            r = await client.post(
                f"{running.base}/api/conversations/{inbound.conversation_id}/messages",
                json={"text": "Dziękujemy", "client_id": "tw-1"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 201, r.text
            reply_id = r.json()["id"]
            await panel.next("message.status", message_id=reply_id, status="sending")
            sent = api.requests[0]
            form = parse_qs(sent.body.decode())
            assert sent.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
            assert form["From"] == [tenant.number] and form["To"] == ["+48600700900"]
            assert form["Body"] == ["Dziękujemy"]
            assert form["StatusCallback"] == [f"{running.base}/webhooks/twilio/status"]
            assert (
                sent.headers["authorization"]
                == "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
            )

            status_url = f"{running.base}/webhooks/twilio/status"
            for status in ("sent", "delivered", "sent"):
                cb = {"MessageSid": "SM" + "4" * 32, "MessageStatus": status, "AccountSid": TWILIO_SID}
                r = await post_twilio(client, status_url, cb)
                assert r.status_code == 200, r.text
            await panel.next("message.status", message_id=reply_id, status="delivered")
    final = await Message.get(reply_id)
    assert final is not None
    # The late "sent" after "delivered" changed nothing.
    assert [h.status.value for h in final.status_history] == ["queued", "sending", "sent", "delivered"]
    assert len(api.requests) == 1


# --- MMS media ---------------------------------------------------------------------------------


async def test_mms_media_stored_sniffed_and_served_inert(running: RunningHub, tenant_a: Tenant) -> None:
    png = tiny_png()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    payload = {
        "id": "mms-1",
        "from": "+48600700800",
        "to": tenant_a.number,
        "text": "zdjęcie",
        "media": [
            {"data": base64.b64encode(png).decode(), "content_type": "text/plain", "filename": "a.png"},
            {"data": base64.b64encode(svg).decode(), "content_type": "image/svg+xml", "filename": "x.svg"},
            {"data": base64.b64encode(html).decode(), "content_type": "image/png", "filename": "evil.png"},
        ],
    }
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=running.base) as client:
        r = await post_generic(client, payload)
        assert r.status_code == 200, r.text
        message = await Message.get(r.json()["message_id"])
        assert message is not None
        png_item, svg_item, html_item = message.media
        assert png_item.mime == "image/png" and png_item.file_id is not None
        assert svg_item.mime == "image/svg+xml"
        assert html_item.file_id is None and html_item.rejected

        got = await client.get(f"/api/messages/{message.id}/media/0", headers=auth)
        assert got.status_code == 200 and got.content == png
        assert got.headers["content-type"] == "image/png"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in got.headers["content-security-policy"]

        got = await client.get(f"/api/messages/{message.id}/media/1", headers=auth)
        assert got.status_code == 200 and got.content == svg
        assert got.headers["content-type"] == "application/octet-stream"
        assert got.headers["content-disposition"].startswith("attachment")

        assert (await client.get(f"/api/messages/{message.id}/media/2", headers=auth)).status_code == 404
        assert (await client.get(f"/api/messages/{message.id}/media/0")).status_code == 401


@pytest.mark.parametrize("media_changes", [{"allow_private": True}], indirect=True)
async def test_media_fetched_from_url_with_size_limit(running: RunningHub, tenant_a: Tenant) -> None:
    """A gateway URL is fetched; one larger than the limit is kept as a rejection, not stored."""
    from tests.httpserver import HTTPServer, Recorded

    png = tiny_png()
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (running.hub.settings.media.max_bytes + 10)

    def files(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        body = {"/small.png": png, "/big.png": big}.get(req.path)
        return (200, {"Content-Type": "image/png"}, body) if body else (404, {}, b"")

    async with HTTPServer(files) as server:
        port = server.port
        async with httpx.AsyncClient(base_url=running.base) as client:
            r = await post_generic(
                client,
                {
                    "id": "mms-url",
                    "from": "+48600700800",
                    "to": tenant_a.number,
                    "text": "",
                    "media": [
                        {"url": f"http://127.0.0.1:{port}/small.png", "content_type": "image/png"},
                        {"url": f"http://127.0.0.1:{port}/big.png", "content_type": "image/png"},
                        {"url": f"http://127.0.0.1:{port}/gone.png", "content_type": "image/png"},
                    ],
                },
            )
        assert r.status_code == 200, r.text
    message = await Message.get(r.json()["message_id"])
    assert message is not None
    small, large, gone = message.media
    assert small.file_id is not None and small.size == len(png)
    assert large.file_id is None and "larger" in (large.rejected or "")
    assert gone.file_id is None and "404" in (gone.rejected or "")


async def test_media_from_private_addresses_is_refused_unless_allowed(
    running: RunningHub, tenant_a: Tenant
) -> None:
    """By default a signed webhook cannot make the hub fetch from its own network."""
    from tests.httpserver import HTTPServer, Recorded

    def files(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "image/png"}, tiny_png()

    async with HTTPServer(files) as server, httpx.AsyncClient(base_url=running.base) as client:
        urls = [
            f"http://127.0.0.1:{server.port}/a.png",
            f"http://localhost:{server.port}/b.png",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/c.png",
        ]
        r = await post_generic(
            client,
            {
                "id": "ssrf",
                "from": "+48600700800",
                "to": tenant_a.number,
                "media": [{"url": u} for u in urls],
            },
        )
        assert r.status_code == 200, r.text
        assert server.requests == []
    message = await Message.get(r.json()["message_id"])
    assert message is not None
    assert [(m.file_id, "not a public address" in (m.rejected or "")) for m in message.media] == [
        (None, True)
    ] * 4


async def twilio_mms(running: RunningHub, tenant: Tenant, sid: str, media_url: str) -> httpx.Response:
    url = f"{running.base}/webhooks/twilio/inbound"
    params = twilio_form(tenant, sid, "", NumMedia="1", MediaUrl0=media_url, MediaContentType0="image/png")
    async with httpx.AsyncClient() as client:
        return await post_twilio(client, url, params)


@pytest.mark.parametrize("media_changes", [{"allow_private": True}], indirect=True)
async def test_twilio_credentials_stay_away_from_other_hosts(running: RunningHub, tenant_a: Tenant) -> None:
    """A MediaUrl on a host that is not one of Twilio's media hosts is fetched without credentials."""
    from tests.httpserver import HTTPServer, Recorded

    def files(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        return 200, {"Content-Type": "image/png"}, tiny_png()

    async with HTTPServer(files) as server:
        r = await twilio_mms(running, tenant_a, "MM" + "1" * 32, f"{server.base}/m.png")
        assert r.status_code == 200, r.text
        assert [req.path for req in server.requests] == ["/m.png"]
        assert "authorization" not in server.requests[0].headers
    message = await Message.find_one({"provider_message_id": "MM" + "1" * 32})
    assert message is not None and message.media[0].file_id is not None


@pytest.mark.parametrize(
    "media_changes", [{"allow_private": True, "credential_hosts": ("localhost",)}], indirect=True
)
async def test_twilio_credentials_go_to_media_hosts_only_and_not_through_redirects(
    running: RunningHub, tenant_a: Tenant
) -> None:
    from tests.httpserver import HTTPServer, Recorded

    def files(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        if req.path == "/media/1":
            return 302, {"Location": f"http://127.0.0.1:{port}/cdn/1.png"}, b""
        return 200, {"Content-Type": "image/png"}, tiny_png()

    async with HTTPServer(files) as server:
        port = server.port
        r = await twilio_mms(running, tenant_a, "MM" + "2" * 32, f"http://localhost:{port}/media/1")
        assert r.status_code == 200, r.text
        first, second = server.requests
    expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
    assert first.path == "/media/1" and first.headers["authorization"] == expected
    assert second.path == "/cdn/1.png" and "authorization" not in second.headers
    message = await Message.find_one({"provider_message_id": "MM" + "2" * 32})
    assert message is not None and message.media[0].file_id is not None
