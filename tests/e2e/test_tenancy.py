"""An agent of account A reaches nothing of account B, through any endpoint or the WebSocket."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from beanie import PydanticObjectId

from hub.store.conversations import Conversation
from hub.store.labels import Label
from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.panel import Panel


async def test_agent_of_a_reaches_nothing_of_b(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    token_a = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    token_b = await login(running.base, tenant_b.agent_email, tenant_b.agent_password)
    a = {"Authorization": f"Bearer {token_a}"}
    async with (
        Panel(running.ws_base, token_a) as panel_a,
        Panel(running.ws_base, token_b) as panel_b,
        httpx.AsyncClient(base_url=running.base) as client,
    ):
        r = await post_generic(
            client,
            {
                "id": "b-1",
                "from": "+48600700800",
                "to": tenant_b.number,
                "text": "secret of B",
                "media": [{"data": "iVBORw0KGgo=", "content_type": "image/png"}],
            },
        )
        assert r.status_code == 200
        await panel_b.next("message.created")
        b_message = await Message.get(r.json()["message_id"])
        assert b_message is not None
        b_conv = str(b_message.conversation_id)
        # B's canned replies (account-wide and personal) and a note mentioning B's agent.
        b = {"Authorization": f"Bearer {token_b}"}
        b_admin_token = await login(running.base, tenant_b.admin_email, tenant_b.admin_password)
        b_admin = {"Authorization": f"Bearer {b_admin_token}"}
        r = await client.post(
            "/api/canned-replies",
            json={"shortcut": "b", "text": "secret", "scope": "account"},
            headers=b_admin,
        )
        assert r.status_code == 201, r.text
        b_canned = [r.json()["id"]]
        r = await client.post("/api/canned-replies", json={"shortcut": "bb", "text": "secret"}, headers=b)
        b_canned.append(r.json()["id"])
        r = await client.post(
            f"/api/conversations/{b_conv}/notes",
            json={"text": "secret note @beta agent", "mentions": [tenant_b.agent_id]},
            headers=b_admin,
        )
        assert r.status_code == 201, r.text
        await panel_b.next("mention")
        a_admin_token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
        a_admin = {"Authorization": f"Bearer {a_admin_token}"}

        # Labels and a saved view of each account (admins make labels; agents save views).
        admin_a = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
        admin_b = await login(running.base, tenant_b.admin_email, tenant_b.admin_password)
        label = {"name": "label of A", "colour": "red"}
        r = await client.post("/api/labels", json=label, headers={"Authorization": f"Bearer {admin_a}"})
        a_label = r.json()["id"]
        label = {"name": "secret label", "colour": "red"}
        r = await client.post("/api/labels", json=label, headers={"Authorization": f"Bearer {admin_b}"})
        b_label = r.json()["id"]
        b = {"Authorization": f"Bearer {token_b}"}
        r = await client.post("/api/views", json={"name": "secret view", "filters": {}}, headers=b)
        b_view = r.json()["id"]
        r = await client.post(f"/api/conversations/{b_conv}/labels", json={"label_id": b_label}, headers=b)
        assert r.status_code == 200, r.text
        b_conversation = await Conversation.get(b_message.conversation_id)
        assert b_conversation is not None
        b_contact = str(b_conversation.contact_id)

        # REST: every read and write by id answers 404, lists show nothing of B.
        assert (await client.get("/api/conversations", headers=a)).json() == []
        assert (await client.get("/api/conversations", params={"label": b_label}, headers=a)).json() == []
        assert "secret" not in (await client.get("/api/labels", headers=a)).text
        assert (await client.get("/api/views", headers=a)).json() == []
        r = await client.post("/api/conversations/bulk", json={"ids": [b_conv], "action": "close"}, headers=a)
        assert r.status_code == 200 and r.json()["results"][0]["status"] == 404 and "secret" not in r.text
        r = await client.post(
            "/api/conversations/bulk",
            json={"ids": [b_conv], "action": "label", "label_id": b_label},
            headers=a,
        )
        assert r.status_code == 422, r.text
        r = await client.post("/api/views", json={"name": "x", "filters": {"label": b_label}}, headers=a)
        assert r.status_code == 422, r.text
        # A's admin cannot rename, recolour or delete B's label.
        for method, body in (("PATCH", {"name": "hijack", "colour": "blue"}), ("DELETE", None)):
            r = await client.request(
                method, f"/api/labels/{b_label}", json=body, headers={"Authorization": f"Bearer {admin_a}"}
            )
            assert r.status_code == 404, (method, r.text)
        for method, path, body in [
            ("GET", f"/api/conversations/{b_conv}", None),
            ("GET", f"/api/conversations/{b_conv}/messages", None),
            ("POST", f"/api/conversations/{b_conv}/messages", {"text": "hijack"}),
            ("POST", f"/api/conversations/{b_conv}/assign", {"agent_id": tenant_a.agent_id}),
            ("POST", f"/api/conversations/{b_conv}/status", {"status": "closed"}),
            ("POST", f"/api/conversations/{b_conv}/read", None),
            ("GET", f"/api/conversations/{b_conv}/mms", None),
            ("POST", f"/api/conversations/{b_conv}/labels", {"label_id": a_label}),
            ("DELETE", f"/api/conversations/{b_conv}/labels/{a_label}", None),
            ("DELETE", f"/api/views/{b_view}", None),
            ("GET", f"/api/messages/{b_message.id}/media/0", None),
            ("GET", f"/api/conversations/{b_conv}/notes", None),
            ("POST", f"/api/conversations/{b_conv}/notes", {"text": "hijack"}),
            ("GET", f"/api/canned-replies?conversation_id={b_conv}", None),
            *[("PATCH", f"/api/canned-replies/{i}", {"text": "hijack"}) for i in b_canned],
            *[("DELETE", f"/api/canned-replies/{i}", None) for i in b_canned],
            # The contact panel of B's contact.
            ("GET", f"/api/contacts/{b_contact}/profile", None),
            ("PATCH", f"/api/contacts/{b_contact}/details", {"name": "hijack"}),
        ]:
            for who in (a, a_admin):
                r = await client.request(method, path, json=body, headers=who)
                assert r.status_code == 404, (method, path, r.status_code, r.text)
                assert "secret" not in r.text
        for who in (a, a_admin):
            assert (await client.get("/api/canned-replies", headers=who)).json() == []
            assert (await client.get("/api/mentions", headers=who)).json() == []
        png = ("a.png", base64.b64decode("iVBORw0KGgo="), "image/png")
        r = await client.post(f"/api/conversations/{b_conv}/attachments", files={"file": png}, headers=a)
        assert r.status_code == 404, r.text
        me = (await client.get("/api/me", headers=a)).json()
        assert tenant_b.number not in str(me) and me["account_id"] == tenant_a.account_id
        # Assigning A's conversation to B's agent is refused.
        r = await post_generic(
            client, {"id": "a-1", "from": "+48600700800", "to": tenant_a.number, "text": "A"}
        )
        a_conv = (await panel_a.next("message.created"))["data"]["conversation_id"]
        r = await client.post(
            f"/api/conversations/{a_conv}/assign", json={"agent_id": tenant_b.agent_id}, headers=a
        )
        assert r.status_code == 422

        # WebSocket: A's socket carries nothing of B, and a reply to B's conversation is refused.
        await panel_a.send({"type": "reply", "conversation_id": b_conv, "text": "x", "request_id": "r1"})
        error = await panel_a.next("error")
        assert error["request_id"] == "r1"
        await panel_a.send({"type": "typing", "conversation_id": b_conv})
        # Markers: the socket handles its frames in order, so the pong comes after the typing was
        # handled; a message to each account afterwards arrives after anything that typing published.
        await panel_a.send({"type": "ping", "request_id": "after-typing"})
        await panel_a.next("pong")
        for number, panel, marker in (
            (tenant_a.number, panel_a, "mark-a"),
            (tenant_b.number, panel_b, "mark-b"),
        ):
            await post_generic(client, {"id": marker, "from": "+48600700801", "to": number, "text": marker})
            await panel.next("message.created", text=marker)
    assert all(e["account_id"] == tenant_a.account_id for e in panel_a.events)
    assert all(e["account_id"] == tenant_b.account_id for e in panel_b.events)
    assert not [e for e in panel_b.events if e["type"] == "typing"]
    assert not any("secret" in str(e) for e in panel_a.events)
    conv = await Conversation.get(b_message.conversation_id)
    assert conv is not None and conv.status.value == "open" and conv.assignee_id is None
    assert [str(x) for x in conv.label_ids] == [b_label]
    b_labels = await Label.find({"account_id": b_message.account_id}).to_list()
    assert [(x.name, x.colour) for x in b_labels] == [("secret label", "red")]
    assert await Message.find({"conversation_id": b_message.conversation_id}).count() == 1


async def test_requests_without_or_with_bad_credentials_are_401(
    running: RunningHub, tenant_a: Tenant
) -> None:
    async with httpx.AsyncClient(base_url=running.base) as client:
        for headers in ({}, {"Authorization": "Bearer hs_nope"}, {"Authorization": "Bearer hub_nope"}):
            r = await client.get("/api/conversations", headers=headers)
            assert r.status_code == 401 and r.json()["error"]
        r = await client.post(
            "/api/auth/login", json={"email": tenant_a.agent_email, "password": "wrong-password"}
        )
        assert r.status_code == 400 and r.json()["error"] == "wrong e-mail or password"


async def test_websocket_without_credentials_is_closed_4401(running: RunningHub) -> None:
    import websockets

    async with websockets.connect(f"{running.ws_base}/ws") as ws:
        first = await asyncio.wait_for(ws.recv(), 5)
        assert "not authenticated" in str(first)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_api_token_works_and_is_stored_hashed(running: RunningHub, tenant_a: Tenant) -> None:
    from hub.store.accounts import ApiToken

    admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    agent = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with httpx.AsyncClient(base_url=running.base) as client:
        assert (
            await client.post(
                "/api/tokens", json={"name": "crm"}, headers={"Authorization": f"Bearer {agent}"}
            )
        ).status_code == 403
        r = await client.post(
            "/api/tokens", json={"name": "crm"}, headers={"Authorization": f"Bearer {admin}"}
        )
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        stored = await ApiToken.find_one({"name": "crm"})
        assert stored is not None and token not in stored.model_dump_json() and stored.token_hash != token
        assert (
            await client.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 200
        async with Panel(running.ws_base, token) as bot:
            assert bot.ready is not None and bot.ready["principal"]["kind"] == "token"
        r = await client.delete(
            f"/api/tokens/{r.json()['info']['id']}", headers={"Authorization": f"Bearer {admin}"}
        )
        assert r.status_code == 204
        assert (
            await client.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 401


async def test_an_admin_cannot_delete_another_accounts_token(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    admin_a = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    admin_b = await login(running.base, tenant_b.admin_email, tenant_b.admin_password)
    async with httpx.AsyncClient(base_url=running.base) as client:
        r = await client.post(
            "/api/tokens", json={"name": "b-crm"}, headers={"Authorization": f"Bearer {admin_b}"}
        )
        assert r.status_code == 201, r.text
        b_token, b_token_id = r.json()["token"], r.json()["info"]["id"]
        r = await client.delete(f"/api/tokens/{b_token_id}", headers={"Authorization": f"Bearer {admin_a}"})
        assert r.status_code == 404, r.text
        assert "b-crm" not in r.text
        still = await client.get("/api/conversations", headers={"Authorization": f"Bearer {b_token}"})
        assert still.status_code == 200


async def test_operator_endpoints_admit_only_the_operators_admins(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Every `/api/operator/…` operation: 401 without credentials, 403 with a reason to an agent of the
    operator's account, to another account's admin and to a token limited to numbers; the operator's
    admin (session or unlimited API token) passes."""
    from hub.services import auth
    from hub.store.accounts import Account
    from hub.store.numbers import Number
    from hub.store.usage import UsageLimits

    operator = await Account.get(PydanticObjectId(tenant_a.account_id))
    assert operator is not None
    await operator.set({"operator": True})
    number = await Number.find_one({"e164": tenant_b.number})
    assert number is not None and operator.id is not None
    own = await Number.find({"account_id": operator.id}).to_list()
    _, scoped = await auth.create_api_token(operator.id, "bot", None, [str(n.id) for n in own])
    _, unlimited = await auth.create_api_token(operator.id, "provisioning", None)
    ids = {
        "account_id": tenant_b.account_id,
        "number_id": str(number.id),
        "request_id": str(PydanticObjectId()),
    }
    async with httpx.AsyncClient(base_url=running.base) as client:
        schema = (await client.get("/schema/openapi.json")).json()
        operations = [
            (method.upper(), path)
            for path, item in schema["paths"].items()
            if path.startswith("/api/operator/") and path != "/api/operator/unmatched"
            for method in item
        ]
        assert len(operations) == 26, operations
        refused = {
            "an agent": await login(running.base, tenant_a.agent_email, tenant_a.agent_password),
            "another account's admin": await login(
                running.base, tenant_b.admin_email, tenant_b.admin_password
            ),
            "a token limited to numbers": scoped,
        }
        for method, template in operations:
            path = template.format(**ids)
            r = await client.request(method, path, json={})
            assert r.status_code == 401 and r.json()["error"], (method, path, r.text)
            for who, token in refused.items():
                r = await client.request(method, path, json={}, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 403, (who, method, path, r.status_code, r.text)
                reason = r.json()["error"]
                assert reason == "only the platform operator's admins may do this" or (
                    who == "a token limited to numbers" and "limited to some numbers" in reason
                ), (who, r.text)
        # Nothing was changed by the refused calls.
        b = await Account.get(PydanticObjectId(tenant_b.account_id))
        assert b is not None and b.suspended_reason is None and b.name == "Beta" and b.exported_at is None
        assert await UsageLimits.get(b.id) is None
        assert await Number.get(number.id) is not None
        admin = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
        for token in (admin, unlimited):
            r = await client.get("/api/operator/accounts", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and {a["slug"] for a in r.json()} == {"alpha", "beta"}
