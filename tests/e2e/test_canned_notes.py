"""Canned replies and private notes over REST and the sockets: roles, validation, rendering, and
that a note reaches agents only (never a bot, a screen, a gateway, usage or the thread's counters)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from beanie import PydanticObjectId

from hub.services import auth
from hub.store.accounts import Role
from hub.store.audit import AuditEntry
from hub.store.canned import CannedReply
from hub.store.conversations import Contact
from hub.store.displays import DisplayEventRecord, DisplayItem
from hub.store.forwarding import ForwardDelivery
from hub.store.messages import Message
from hub.store.notes import Note
from hub.store.usage import UsageEntry
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.e2e.bot_helpers import bot_token
from tests.panel import Panel


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def first_conversation(
    c: httpx.AsyncClient, panel: Panel, tenant: Tenant, phone: str, text: str
) -> str:
    r = await post_generic(c, {"id": f"n-{phone}-{text}", "from": phone, "to": tenant.number, "text": text})
    assert r.status_code == 200, r.text
    return str((await panel.next("message.created", text=text))["data"]["conversation_id"])


async def test_canned_replies_roles_validation_and_rendering(running: RunningHub, tenant_a: Tenant) -> None:
    admin_token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    agent_token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with (
        httpx.AsyncClient(base_url=running.base, headers=bearer(admin_token)) as admin,
        httpx.AsyncClient(base_url=running.base, headers=bearer(agent_token)) as agent,
        Panel(running.ws_base, agent_token) as panel,
    ):
        # Account-wide: admins only.
        r = await agent.post("/api/canned-replies", json={"shortcut": "hej", "text": "x", "scope": "account"})
        assert r.status_code == 403, r.text
        r = await admin.post(
            "/api/canned-replies",
            json={
                "shortcut": "/Powitanie",
                "text": "Dzień dobry {name|Kliencie}, tu {agent}.",
                "scope": "account",
            },
        )
        assert r.status_code == 201, r.text
        shared = r.json()
        assert shared["shortcut"] == "powitanie" and shared["scope"] == "account"
        r = await agent.post(
            "/api/canned-replies", json={"shortcut": "dzięki", "text": "Dziękujemy, {miasto|}!"}
        )
        assert r.status_code == 201, r.text
        own = r.json()
        assert own["scope"] == "personal"

        # Validation: each refusal says what is wrong, and stores nothing.
        before = await CannedReply.find({}).count()
        for body, field, words in [
            ({"shortcut": "powitanie", "text": "x"}, "shortcut", "account-wide"),
            ({"shortcut": "dzięki", "text": "x"}, "shortcut", "another of your"),
            ({"shortcut": "a b", "text": "x"}, "shortcut", "letters, digits"),
            ({"shortcut": "", "text": "x"}, "shortcut", "empty"),
            ({"shortcut": "x" * 33, "text": "x"}, "shortcut", "longer than 32"),
            ({"shortcut": "ok", "text": "Witaj {name"}, "text", "character 7"),
            ({"shortcut": "ok", "text": "Witaj {1x}"}, "text", "not a variable"),
            ({"shortcut": "ok", "text": "   "}, "text", "empty"),
            ({"shortcut": "ok", "text": "x", "scope": "team"}, "scope", "scope"),
        ]:
            r = await agent.post("/api/canned-replies", json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.json()["field"] == field and words in r.json()["error"], (body, r.json())
        r = await admin.post(
            "/api/canned-replies", json={"shortcut": "powitanie", "text": "y", "scope": "account"}
        )
        assert r.status_code == 422 and r.json()["code"] == "duplicate"
        assert await CannedReply.find({}).count() == before

        # Lists: the account's, then one's own; another agent's personal ones are not seen.
        mine = (await agent.get("/api/canned-replies")).json()
        assert [(x["shortcut"], x["scope"]) for x in mine] == [
            ("powitanie", "account"),
            ("dzięki", "personal"),
        ]
        theirs = (await admin.get("/api/canned-replies")).json()
        assert [x["shortcut"] for x in theirs] == ["powitanie"]

        # Changing and deleting: agents their own, admins the account's; another's personal is 404.
        assert (
            await agent.patch(f"/api/canned-replies/{shared['id']}", json={"text": "z"})
        ).status_code == 403
        assert (await agent.delete(f"/api/canned-replies/{shared['id']}")).status_code == 403
        assert (await admin.patch(f"/api/canned-replies/{own['id']}", json={"text": "z"})).status_code == 404
        assert (await admin.delete(f"/api/canned-replies/{own['id']}")).status_code == 404
        r = await agent.patch(f"/api/canned-replies/{own['id']}", json={"text": "Dziękujemy {"})
        assert r.status_code == 422 and r.json()["field"] == "text"
        r = await agent.patch(f"/api/canned-replies/{own['id']}", json={"shortcut": "powitanie"})
        assert r.status_code == 422 and r.json()["code"] == "duplicate"
        r = await agent.patch(f"/api/canned-replies/{own['id']}", json={"shortcut": "dzieki2"})
        assert r.status_code == 200 and r.json()["shortcut"] == "dzieki2"
        assert (await agent.get("/api/canned-replies/nope")).status_code in (404, 405)
        assert (await agent.delete("/api/canned-replies/nope")).status_code == 404

        # Rendered for a conversation: the contact's name or the fallback, fields, and the agent.
        conv = await first_conversation(agent, panel, tenant_a, "+48600700851", "Halo")
        rendered = {
            x["shortcut"]: x["rendered"]
            for x in (await agent.get("/api/canned-replies", params={"conversation_id": conv})).json()
        }
        assert rendered == {"powitanie": "Dzień dobry Kliencie, tu alpha agent.", "dzieki2": "Dziękujemy, !"}
        contact = await Contact.find_one({"phone": "+48600700851"})
        assert contact is not None
        await contact.set({"name": "Anna", "fields": {"Miasto": "Łódź"}})
        rendered = {
            x["shortcut"]: x["rendered"]
            for x in (await agent.get("/api/canned-replies", params={"conversation_id": conv})).json()
        }
        assert rendered == {"powitanie": "Dzień dobry Anna, tu alpha agent.", "dzieki2": "Dziękujemy, Łódź!"}
        r = await agent.get("/api/canned-replies", params={"conversation_id": "0" * 24})
        assert r.status_code == 404

        assert (await agent.delete(f"/api/canned-replies/{own['id']}")).status_code == 204
        assert (await admin.delete(f"/api/canned-replies/{shared['id']}")).status_code == 204
        assert (await agent.get("/api/canned-replies")).json() == []
        logged = [
            e.action for e in await AuditEntry.find({"target_type": "canned_reply"}).sort("at").to_list()
        ]
        assert logged == [
            "canned_reply.create",
            "canned_reply.create",
            "canned_reply.update",
            "canned_reply.delete",
            "canned_reply.delete",
        ], logged


async def bot_frames(ws: Any, until_type: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        frames.append(frame)
        if frame["type"] == until_type:
            return frames


async def test_a_note_reaches_agents_only_and_notifies_the_mentioned(
    running: RunningHub, tenant_a: Tenant
) -> None:
    other = await auth.create_agent(
        PydanticObjectId(tenant_a.account_id), "ola@alpha.test", "Ola Nowak", "ola-password", Role.AGENT
    )
    admin_token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    agent_token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    ola_token = await login(running.base, "ola@alpha.test", "ola-password")
    bot = await bot_token(tenant_a.account_id)
    async with (
        httpx.AsyncClient(base_url=running.base, headers=bearer(admin_token)) as admin,
        Panel(running.ws_base, admin_token) as admin_panel,
        Panel(running.ws_base, agent_token) as agent_panel,
        Panel(running.ws_base, ola_token) as ola_panel,
        websockets.connect(f"{running.ws_base}/ws/bot", additional_headers=bearer(bot)) as bot_ws,
    ):
        assert json.loads(await bot_ws.recv())["type"] == "ready"
        numbers = (await admin.get("/api/numbers")).json()
        own = next(n for n in numbers if n["owned"])
        r = await admin.post("/api/displays", json={"title": "Ściana", "number_id": own["id"]})
        assert r.status_code == 201, r.text
        display_id = r.json()["id"]
        r = await admin.post("/api/forwarding/rules", json={"kind": "email", "target": "ops@example.test"})
        assert r.status_code == 201, r.text

        conv = await first_conversation(admin, admin_panel, tenant_a, "+48600700861", "Pytanie")
        assert (await bot_frames(bot_ws, "message.created"))[-1]["data"]["text"] == "Pytanie"
        before = (await admin.get(f"/api/conversations/{conv}")).json()
        usage_before = await UsageEntry.find({}).count()
        shown_before = await DisplayItem.find({}).count()

        # Validation first: nothing stored.
        for body, field in [
            ({"text": "  "}, "text"),
            ({"text": "x" * 4001}, "text"),
            ({"text": "hej @Ola", "mentions": ["0" * 24]}, "mentions"),
            ({"text": "hej", "mentions": "ola"}, "mentions"),
        ]:
            r = await admin.post(f"/api/conversations/{conv}/notes", json=body)
            assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
        r = await admin.post(f"/api/conversations/{'0' * 24}/notes", json={"text": "x"})
        assert r.status_code == 404
        r = await admin.post(f"/api/conversations/{conv}/notes", json={"text": "x"}, headers=bearer(bot))
        assert r.status_code == 403
        assert await Note.find({}).count() == 0

        text = "@Ola Nowak sprawdź proszę fakturę klienta"
        r = await admin.post(
            f"/api/conversations/{conv}/notes",
            json={"text": text, "mentions": [str(other.id), tenant_a.agent_id], "client_id": "n1"},
        )
        assert r.status_code == 201, r.text
        note = r.json()
        # Only those whose @name is in the text are notified (the agent was picked, then deleted).
        assert note["mentions"] == [str(other.id)] and note["author"]["name"] == "alpha admin"
        again = await admin.post(
            f"/api/conversations/{conv}/notes",
            json={"text": text, "mentions": [str(other.id)], "client_id": "n1"},
        )
        assert again.json()["id"] == note["id"] and await Note.find({}).count() == 1

        for panel in (admin_panel, agent_panel, ola_panel):
            event = await panel.next("note.created")
            assert event["data"]["id"] == note["id"] and event["seq"] == note["seq"]
        mention = await ola_panel.next("mention")
        assert mention["for_agent"] == str(other.id)
        assert mention["data"]["conversation_id"] == conv and mention["data"]["contact"] == "+48600700861"
        assert mention["data"]["by"]["name"] == "alpha admin"
        # Nobody else gets the mention: a ping's pong comes after anything already sent to them.
        for panel in (admin_panel, agent_panel):
            await panel.send({"type": "ping", "request_id": "p"})
            await panel.next("pong")
            assert not [e for e in panel.events if e["type"] == "mention"]

        # The bot is given a skip for the note's seq, then the next text as usual.
        await post_generic(
            admin, {"id": "n-after", "from": "+48600700861", "to": tenant_a.number, "text": "Dalej"}
        )
        frames = await bot_frames(bot_ws, "message.created")
        assert {"type": "skip", "seq": note["seq"]} in frames
        assert not any(f["type"] == "note.created" or text in json.dumps(f) for f in frames)
        assert frames[-1]["data"]["text"] == "Dalej"

        # Not a message: the thread's messages, counters and preview are the contact's, nothing is
        # sent or billed, and the screen shows only the texts.
        messages = (await admin.get(f"/api/conversations/{conv}/messages")).json()
        assert [m["text"] for m in messages] == ["Pytanie", "Dalej"]
        assert await Message.find({"text": text}).count() == 0
        after = (await admin.get(f"/api/conversations/{conv}")).json()
        assert after["last_message"]["text"] == "Dalej" and after["unread"] == before["unread"] + 1
        assert await UsageEntry.find({}).count() == usage_before
        items = (await admin.get(f"/api/displays/{display_id}/items")).json()
        assert text not in json.dumps(items)
        # Forwarded: the two texts, never the note.
        forwarded = await ForwardDelivery.find({}).to_list()
        bodies = json.dumps([d.payload for d in forwarded], ensure_ascii=False)
        assert len(forwarded) == 2 and "Pytanie" in bodies and "Dalej" in bodies, bodies
        assert "fakturę" not in bodies
        assert await DisplayItem.find({}).count() == shown_before + 1
        assert text not in json.dumps(
            [d.model_dump(mode="json") for d in await DisplayEventRecord.find({}).to_list()]
        )

        # The thread's notes, and Ola's mentions (for a page opened later).
        notes = (await admin.get(f"/api/conversations/{conv}/notes")).json()
        assert [n["id"] for n in notes] == [note["id"]]
        assert (
            await admin.get(f"/api/conversations/{conv}/notes", params={"after_seq": note["seq"]})
        ).json() == []
        async with httpx.AsyncClient(base_url=running.base, headers=bearer(ola_token)) as ola:
            listed = (await ola.get("/api/mentions")).json()
            assert [m["note_id"] for m in listed] == [note["id"]]
        assert (await admin.get("/api/mentions")).json() == []
