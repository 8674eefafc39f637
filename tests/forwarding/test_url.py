"""URL forwarding against a real HTTP receiver, on both job queues: retries, dead letters, replay."""

from __future__ import annotations

import dataclasses
import json
from xml.etree import ElementTree as ET

import httpx
import pytest

from hub.settings import ForwardingSettings, Settings
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.forwarding.helpers import Receiver, delivery_with_status, verify_signature
from tests.httpserver import HTTPServer

pytestmark = pytest.mark.timeout(90)
BOTH_QUEUES = pytest.mark.parametrize("redis_mode", [False, True], indirect=True, ids=["local", "saq"])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Seconds instead of a day, so retries and dead letters happen within a test.
    return dataclasses.replace(
        settings,
        forwarding=ForwardingSettings(timeout_s=1.0, horizon_s=6.0, first_retry_s=0.2, max_retry_s=1.0),
    )


async def add_rule(client: httpx.AsyncClient, token: str, **body: object) -> dict[str, object]:
    r = await client.post("/api/forwarding/rules", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    rule: dict[str, object] = r.json()
    return rule


@BOTH_QUEUES
async def test_retried_after_500_and_timeout_then_delivered_once(
    running: RunningHub, tenant_a: Tenant
) -> None:
    receiver = Receiver(script=["500", "timeout", "ok"])
    async with HTTPServer(receiver) as server, httpx.AsyncClient(base_url=running.base, timeout=10) as client:
        token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
        rule = await add_rule(client, token, kind="url", target=f"{server.base}/hook", format="json")
        secret = str(rule["secret"])
        r = await post_generic(
            client, {"id": "fw-1", "from": "+48600700800", "to": tenant_a.number, "text": "Dzień dobry"}
        )
        assert r.status_code == 200, r.text
        [delivery] = await delivery_with_status(client, token, "delivered", timeout_s=30)

    assert [a["status_code"] for a in delivery["attempts"]] == [500, None, 200]
    assert "no answer" in delivery["attempts"][1]["error"]
    assert delivery["billable_segments"] == 0  # forwarding to a URL is free
    ids = {rec.headers["x-hub-delivery"] for rec in receiver.requests}
    assert ids == {delivery["id"]}
    assert receiver.accepted == {delivery["id"]: 1}  # nothing sent after the 200
    assert len({rec.body for rec in receiver.requests}) == 1  # the same body on every retry
    for n, rec in enumerate(receiver.requests, start=1):
        assert verify_signature(secret, rec.headers, rec.body)
        assert not verify_signature("another-secret-entirely", rec.headers, rec.body)
        assert rec.headers["x-hub-event"] == "message.received"
        assert rec.headers["x-hub-attempt"] == str(n)
    body = json.loads(receiver.requests[-1].body)
    assert body["delivery_id"] == delivery["id"]
    assert body["message"]["text"] == "Dzień dobry"
    assert body["message"]["from"] == "+48600700800"


@BOTH_QUEUES
async def test_dead_lettered_after_horizon_then_replayed(running: RunningHub, tenant_a: Tenant) -> None:
    receiver = Receiver(default="500")
    async with HTTPServer(receiver) as server, httpx.AsyncClient(base_url=running.base, timeout=10) as client:
        token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
        auth = {"Authorization": f"Bearer {token}"}
        await add_rule(client, token, kind="url", target=f"{server.base}/a", format="xml", name="a")
        await add_rule(client, token, kind="url", target=f"{server.base}/b", name="b")
        r = await post_generic(
            client, {"id": "fw-2", "from": "+48600700800", "to": tenant_a.number, "text": "<&>"}
        )
        assert r.status_code == 200
        dead = await delivery_with_status(client, token, "dead", count=2, timeout_s=40)
        assert all(len(d["attempts"]) >= 2 for d in dead)
        assert all(not a["ok"] for d in dead for a in d["attempts"])

        # Replaying a delivery that is not dead is refused; a dead one goes again with the same id.
        receiver.default = "ok"
        one = dead[0]
        r = await client.post(f"/api/forwarding/deliveries/{one['id']}/replay", headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending"
        [done] = await delivery_with_status(client, token, "delivered")
        assert done["id"] == one["id"] and done["replays"] == 1
        r = await client.post(f"/api/forwarding/deliveries/{one['id']}/replay", headers=auth)
        assert r.status_code == 409, r.text

        r = await client.post("/api/forwarding/deliveries/replay-dead", headers=auth)
        assert r.json() == {"replayed": 1}
        await delivery_with_status(client, token, "delivered", count=2)

    assert set(receiver.accepted) == {d["id"] for d in dead}
    xml_requests = [rec for rec in receiver.requests if rec.path == "/a"]
    root = ET.fromstring(xml_requests[-1].body)
    assert xml_requests[-1].headers["content-type"].startswith("application/xml")
    assert root.tag == "forward" and root.get("event") == "message.received"
    assert root.findtext("message/text") == "<&>"


async def test_delivery_reports_forwarded_when_asked(running: RunningHub, tenant_a: Tenant) -> None:
    receiver = Receiver()
    async with HTTPServer(receiver) as server, httpx.AsyncClient(base_url=running.base, timeout=10) as client:
        token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
        await add_rule(client, token, kind="url", target=f"{server.base}/r", include_delivery_reports=True)
        r = await post_generic(
            client, {"id": "fw-3", "from": "+48600700800", "to": tenant_a.number, "text": "hi"}
        )
        assert r.status_code == 200
        [delivered] = await delivery_with_status(client, token, "delivered")
        conversation_id = json.loads(receiver.requests[0].body)["message"]["conversation_id"]
        r = await client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"text": "odpowiedź"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201
        rows = await delivery_with_status(client, token, "delivered", count=3)
    events = sorted(row["event"] for row in rows)
    assert events == ["message.received", "message.status.delivered", "message.status.sent"]
    assert delivered["event"] == "message.received"
