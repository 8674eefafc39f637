"""Failures half-way: each retry finishes the work, nothing is doubled, nothing is lost."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from hub.domain.messages import MessageStatus
from hub.outbound.twilio import TwilioProvider
from hub.store.conversations import Conversation
from hub.store.events import EventRecord
from hub.store.messages import Message
from tests.conftest import TWILIO_SID, TWILIO_TOKEN, RunningHub, Tenant, login, make_tenant, post_generic
from tests.e2e.test_webhooks import post_twilio
from tests.httpserver import HTTPServer, Recorded
from tests.panel import Panel


class FailOnce:
    """Wraps an async callable so that its next call raises; later calls pass through."""

    def __init__(self, target: Any, attr: str, exc: Exception) -> None:
        self.target, self.attr, self.exc = target, attr, exc
        self.original = getattr(target, attr)
        self.armed = True
        setattr(target, attr, self)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.armed:
            self.armed = False
            raise self.exc
        return await self.original(*args, **kwargs)

    def restore(self) -> None:
        setattr(self.target, self.attr, self.original)


async def queued_reply_without_job(
    running: RunningHub, c: httpx.AsyncClient, tenant: Tenant, phone: str, text: str
) -> Message:
    """A reply stored as queued whose send job was never enqueued, for a test to run the jobs by hand."""
    token = await login(running.base, tenant.agent_email, tenant.agent_password)
    await post_generic(c, {"id": f"in-{phone}", "from": phone, "to": tenant.number, "text": "q"})
    conv = await Conversation.find_one({"contact_phone": phone})
    assert conv is not None
    fault = FailOnce(running.hub.jobs, "enqueue", RuntimeError("held back"))
    r = await c.post(
        f"/api/conversations/{conv.id}/messages",
        json={"text": text},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 500
    fault.restore()
    message = await Message.find_one({"text": text})
    assert message is not None and message.status == MessageStatus.QUEUED
    return message


async def test_webhook_retry_after_event_write_failed_counts_once_and_publishes(
    running: RunningHub, tenant_a: Tenant
) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    payload = {"id": "half-1", "from": "+48600700810", "to": tenant_a.number, "text": "raz"}
    fault = FailOnce(running.hub.bus, "record", RuntimeError("event log write failed"))
    async with Panel(running.ws_base, token) as panel, httpx.AsyncClient(base_url=running.base) as client:
        # The text is in the accept log before routing starts: the pipeline routes it again after
        # the failure, within the time the answer waits, and the first delivery is answered stored.
        first = await post_generic(client, payload)
        assert first.status_code == 200 and first.json()["message_id"], first.text
        assert not fault.armed, "the event write never failed: this test proves nothing"
        fault.restore()
        retry = await post_generic(client, payload)
        assert retry.status_code == 200 and retry.json()["created"] is False
        event = await panel.next("message.created")
        assert event["conversation"]["unread"] == 1
    conv = await Conversation.find_one({"contact_phone": "+48600700810"})
    assert conv is not None and conv.unread == 1
    assert await EventRecord.find({"type": "message.created"}).count() == 1


async def test_reply_retry_after_enqueue_failed_is_sent(running: RunningHub, tenant_a: Tenant) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        Panel(running.ws_base, token) as panel,
        httpx.AsyncClient(base_url=running.base, headers=auth) as c,
    ):
        await post_generic(c, {"id": "q-1", "from": "+48600700811", "to": tenant_a.number, "text": "q"})
        conv = (await panel.next("message.created"))["data"]["conversation_id"]
        fault = FailOnce(running.hub.jobs, "enqueue", RuntimeError("queue unavailable"))
        first = await c.post(
            f"/api/conversations/{conv}/messages", json={"text": "a", "client_id": "retry-me"}
        )
        assert first.status_code == 500
        fault.restore()
        retry = await c.post(
            f"/api/conversations/{conv}/messages", json={"text": "a", "client_id": "retry-me"}
        )
        assert retry.status_code == 201
        await panel.next("message.status", message_id=retry.json()["id"], status="delivered")
    assert await Message.find({"client_id": "retry-me"}).count() == 1


async def test_socket_request_that_fails_unexpectedly_answers_and_stays_open(
    running: RunningHub, tenant_a: Tenant
) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with Panel(running.ws_base, token) as panel, httpx.AsyncClient(base_url=running.base) as c:
        await post_generic(c, {"id": "w-1", "from": "+48600700812", "to": tenant_a.number, "text": "q"})
        conv = (await panel.next("message.created"))["data"]["conversation_id"]
        fault = FailOnce(running.hub.jobs, "enqueue", RuntimeError("queue unavailable"))
        await panel.send(
            {"type": "reply", "conversation_id": conv, "text": "x", "client_id": "w", "request_id": "r1"}
        )
        error = await panel.next("error")
        assert error["request_id"] == "r1" and error["error"] == "internal error"
        fault.restore()
        await panel.send({"type": "ping", "request_id": "p"})
        assert (await panel.next("pong"))["request_id"] == "p"
        await panel.send(
            {"type": "reply", "conversation_id": conv, "text": "x", "client_id": "w", "request_id": "r2"}
        )
        ack = await panel.next("ack")
        await panel.next("message.status", message_id=ack["message_id"], status="delivered")


async def test_repeated_report_records_an_event_a_failed_attempt_left_out(running: RunningHub) -> None:
    """A reply sent through Twilio; its status callback's event write fails once, so the status is
    stored without its event. Twilio calls again: nothing changes, but the missing event is published."""
    tenant = await make_tenant("reports", "+48500100800", provider="twilio")
    sid = "SM" + "5" * 32

    def fake_twilio(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        return 201, {"Content-Type": "application/json"}, json.dumps({"sid": sid, "status": "sent"}).encode()

    token = await login(running.base, tenant.agent_email, tenant.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        HTTPServer(fake_twilio) as api,
        Panel(running.ws_base, token) as panel,
        httpx.AsyncClient(base_url=running.base, headers=auth) as c,
    ):
        running.hub.providers["twilio"] = TwilioProvider(
            running.hub.http, TWILIO_SID, TWILIO_TOKEN, api.base, None
        )
        await post_generic(c, {"id": "s-1", "from": "+48600700813", "to": tenant.number, "text": "q"})
        conv = (await panel.next("message.created"))["data"]["conversation_id"]
        reply = (await c.post(f"/api/conversations/{conv}/messages", json={"text": "a"})).json()
        await panel.next("message.status", message_id=reply["id"], status="sent")
        status_url = f"{running.base}/webhooks/twilio/status"
        callback = {"MessageSid": sid, "MessageStatus": "undelivered", "AccountSid": TWILIO_SID}
        fault = FailOnce(running.hub.bus, "record", RuntimeError("event log write failed"))
        r = await post_twilio(c, status_url, callback)
        assert r.status_code == 500, r.text
        fault.restore()
        assert (await Message.get(reply["id"])).status == MessageStatus.UNDELIVERED  # type: ignore[union-attr]
        r = await post_twilio(c, status_url, callback)
        assert r.status_code == 200, r.text  # no progress now...
        event = await panel.next(
            "message.status", message_id=reply["id"], status="undelivered"
        )  # ...but published
        assert event["seq"] == (await Message.get(reply["id"])).status_history[-1].seq  # type: ignore[union-attr]


async def test_two_send_jobs_for_one_message_call_a_non_idempotent_provider_once(running: RunningHub) -> None:
    from workers.send import send_message

    tenant = await make_tenant("claim", "+48500100700", provider="twilio")
    calls: list[Recorded] = []

    def fake_twilio(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        calls.append(req)
        return (
            201,
            {"Content-Type": "application/json"},
            json.dumps({"sid": "SM" + "9" * 32, "status": "sent"}).encode(),
        )

    async with HTTPServer(fake_twilio) as api, httpx.AsyncClient(base_url=running.base) as c:
        running.hub.providers["twilio"] = TwilioProvider(
            running.hub.http, TWILIO_SID, TWILIO_TOKEN, api.base, None
        )
        # Two attempts can race by hand.
        message_id = (await queued_reply_without_job(running, c, tenant, "+48600700814", "once")).id
        ctx: Any = {"hub": running.hub, "attempt": 1, "max_attempts": 8}
        results = await asyncio.gather(
            send_message(ctx, message_id=str(message_id)),
            send_message(ctx, message_id=str(message_id)),
            return_exceptions=True,
        )
    assert len(calls) == 1, results
    final = await Message.get(message_id)
    assert final is not None and final.status == MessageStatus.SENT


async def test_a_report_arriving_while_the_send_job_stores_the_provider_id_is_applied(
    running: RunningHub, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report job looks the message up by provider id twice; the send job's update may land between."""
    import workers.send
    from hub.services.delivery import apply_report, set_status

    async with httpx.AsyncClient(base_url=running.base) as c:
        # No provider id yet: the send job never ran.
        message = await queued_reply_without_job(running, c, tenant_a, "+48600700816", "raced")
    provider_id = f"sim-{message.id}"

    calls = 0

    async def send_job_lands_after_the_first_lookup(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        result = await apply_report(*args, **kwargs)
        if calls == 1:
            assert result is None
            await set_status(running.hub, message, MessageStatus.SENT, message.created_at, None, provider_id)
        return result

    monkeypatch.setattr(workers.send, "apply_report", send_job_lands_after_the_first_lookup)
    ctx: Any = {"hub": running.hub, "attempt": 1, "max_attempts": 8}
    await workers.send.simulated_delivery(ctx, provider_message_id=provider_id)
    final = await Message.get(message.id)
    assert final is not None and final.status == MessageStatus.DELIVERED


async def test_simulator_history_shows_no_other_gateway_traffic(running: RunningHub) -> None:
    tenant = await make_tenant("real", "+48500100800", provider="twilio")
    async with httpx.AsyncClient(base_url=running.base) as c:
        r = await post_generic(
            c, {"id": "pin", "from": "+48600700815", "to": tenant.number, "text": "my PIN is 4321"}
        )
        assert r.status_code == 200
        history = await c.get("/simulator/api/messages", params={"phone": "+48600700815"})
    assert history.status_code == 200 and history.json() == []


async def test_parallel_wrong_logins_are_throttled(running: RunningHub, tenant_a: Tenant) -> None:
    async with httpx.AsyncClient(base_url=running.base, timeout=30) as c:
        answers = await asyncio.gather(
            *(
                c.post("/api/auth/login", json={"email": tenant_a.agent_email, "password": "guess"})
                for _ in range(20)
            )
        )
    codes = [a.status_code for a in answers]
    # Five free attempts, the sixth sets the first delay; every other one is refused unverified.
    assert codes.count(400) <= 6 and codes.count(429) >= 14, codes
    assert all("error" in a.json() for a in answers)


async def test_revoked_token_socket_is_closed_at_next_request(running: RunningHub, tenant_a: Tenant) -> None:
    admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {admin}"}) as c:
        created = (await c.post("/api/tokens", json={"name": "bot"})).json()
        async with Panel(running.ws_base, created["token"]) as bot:
            assert (await c.delete(f"/api/tokens/{created['info']['id']}")).status_code == 204
            import hub.realtime.agent_socket as sock

            original, sock.RECHECK_S = sock.RECHECK_S, 0.0
            try:
                await bot.send({"type": "ping", "request_id": "p"})
                with pytest.raises(ConnectionError, match="4401"):
                    await bot.next("pong")
            finally:
                sock.RECHECK_S = original


async def test_resume_positions_the_server_cannot_serve_get_reset(
    running: RunningHub, tenant_a: Tenant
) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with websockets.connect(
        f"{running.ws_base}/ws?since={10**6}", additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first["type"] == "reset" and "ahead" in first["reason"]
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "ready"
    for bad in (str(2**64), "-1", "x"):
        async with websockets.connect(
            f"{running.ws_base}/ws?since={bad}", additional_headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_resume_past_expired_events_gets_reset_and_one_within_the_log_is_replayed(
    running: RunningHub, tenant_a: Tenant
) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=running.base) as c:
        for i in range(6):
            body = {"id": f"exp-{i}", "from": "+48600700950", "to": tenant_a.number, "text": str(i)}
            assert (await post_generic(c, body)).status_code == 200
    account = (await EventRecord.find_one({"type": "message.created"})).account_id  # type: ignore[union-attr]
    seqs = sorted(e.seq for e in await EventRecord.find({"account_id": account}).to_list())
    # The log's retention removed the oldest half (as its TTL index would).
    expired = seqs[: len(seqs) // 2]
    await EventRecord.find({"account_id": account, "seq": {"$in": expired}}).delete()
    oldest = min(set(seqs) - set(expired))

    async def first_answer(since: int) -> dict[str, Any]:
        async with websockets.connect(f"{running.ws_base}/ws?since={since}", additional_headers=auth) as ws:
            return dict(json.loads(await asyncio.wait_for(ws.recv(), 5)))

    gone = await first_answer(oldest - 2)  # event oldest - 1 is gone
    assert gone["type"] == "reset" and "expired" in gone["reason"], gone
    kept = await first_answer(oldest - 1)  # everything after it is still stored
    assert kept["type"] != "reset" and kept["seq"] == oldest, kept


async def test_out_of_range_and_non_ascii_inputs_are_4xx(running: RunningHub, tenant_a: Tenant) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {token}"}) as c:
        await post_generic(c, {"id": "r-1", "from": "+48600700816", "to": tenant_a.number, "text": "q"})
        conv = await Conversation.find_one({"contact_phone": "+48600700816"})
        r = await c.get(f"/api/conversations/{conv.id}/messages", params={"before_seq": str(2**64)})  # type: ignore[union-attr]
        assert r.status_code == 400 and r.json()["error"]
        body = b'{"id": "x", "from": "+48600700816", "to": "+48500100200", "text": "q"}'
        r = await c.post(
            "/webhooks/generic/inbound",
            content=body,
            headers={
                "X-Hub-Timestamp": "1",
                "X-Hub-Signature": "sha256=żółw".encode(),
                "Content-Type": "application/json",
            },
        )
        assert r.status_code == 403


@pytest.mark.parametrize("media_changes", [{"allow_private": True}], indirect=True)
async def test_failed_mms_leaves_no_files(running: RunningHub, tenant_a: Tenant) -> None:
    from tests.e2e.test_webhooks import tiny_png

    def files(req: Recorded) -> tuple[int, dict[str, str], bytes]:
        if req.path == "/ok.png":
            return 200, {"Content-Type": "image/png"}, tiny_png()
        return 503, {}, b""

    async with HTTPServer(files) as server, httpx.AsyncClient(base_url=running.base) as c:
        for _ in range(3):
            r = await post_generic(
                c,
                {
                    "id": "mms-fail",
                    "from": "+48600700817",
                    "to": tenant_a.number,
                    "text": "",
                    "media": [{"url": f"{server.base}/ok.png"}, {"url": f"{server.base}/down.png"}],
                },
            )
            assert r.status_code == 503
    assert await running.hub.db["media.files"].count_documents({}) == 0
    assert await Message.find({"provider_message_id": "mms-fail"}).count() == 0
