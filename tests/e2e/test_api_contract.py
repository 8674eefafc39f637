"""The API's contract as a client sees it: content types, error bodies, socket refusals."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
import pytest
import websockets

from hub.embedded_mongo import EmbeddedMongo
from hub.settings import MongoSettings, Settings
from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant, free_port, login, make_tenant, post_generic, serve
from tests.panel import Panel
from workers.run import open_hub


async def conversation_of(running: RunningHub, tenant: Tenant, phone: str) -> str:
    """The conversation a text from `phone` to the tenant's number opens."""
    async with httpx.AsyncClient(base_url=running.base) as c:
        r = await post_generic(c, {"id": f"c-{phone}", "from": phone, "to": tenant.number, "text": "hi"})
    assert r.status_code == 200, r.text
    message = await Message.get(r.json()["message_id"])
    assert message is not None
    return str(message.conversation_id)


async def test_csv_downloads_name_their_charset_once(running: RunningHub, tenant_a: Tenant) -> None:
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {token}"}) as c:
        numbers = (await c.get("/api/numbers")).json()
        survey = await c.post(
            "/api/surveys",
            json={
                "number_id": numbers[0]["id"],
                "name": "Pora roku",
                "questions": [{"id": "q1", "text": "A) wiosna B) lato", "choices": ["A", "B"]}],
            },
        )
        assert survey.status_code == 201, survey.text
        for path in ("/api/contacts/export.csv", f"/api/surveys/{survey.json()['id']}/answers.csv"):
            r = await c.get(path)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "text/csv; charset=utf-8"


async def test_typing_in_a_conversation_of_another_account_is_refused(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    their_conv = await conversation_of(running, tenant_b, "+48600700840")
    our_conv = await conversation_of(running, tenant_a, "+48600700841")
    writer = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    watcher = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with Panel(running.ws_base, writer) as typist, Panel(running.ws_base, watcher) as colleague:
        for i, conversation_id in enumerate([str(their_conv), "0" * 24, "not-an-id"]):
            await typist.send({"type": "typing", "conversation_id": conversation_id, "request_id": f"r{i}"})
            error = await typist.next("error")
            assert error["request_id"] == f"r{i}" and error["error"] == "no such conversation"
        # A marker: the colleague's next typing event is this one, so none of the above went out.
        await typist.send({"type": "typing", "conversation_id": str(our_conv)})
        seen = await colleague.next("typing")
    assert seen["data"]["conversation_id"] == str(our_conv)
    typed = [e["data"]["conversation_id"] for e in colleague.events if e["type"] == "typing"]
    assert typed == [str(our_conv)]


async def test_socket_opened_while_the_database_is_down_is_told_to_retry(
    settings: Settings, tmp_path: Path
) -> None:
    mongo = EmbeddedMongo(tmp_path / "db", port=free_port())
    await mongo.start()
    try:
        local = dataclasses.replace(
            settings, mongo=MongoSettings(uri=mongo.uri, database="hub", server_selection_timeout_ms=1500)
        )
        async with open_hub(local) as hub_ctx, serve(hub_ctx) as running:
            tenant = await make_tenant("down", "+48500100900")
            session = await login(running.base, tenant.admin_email, tenant.admin_password)
            async with httpx.AsyncClient(base_url=running.base) as c:
                r = await c.post(
                    "/api/tokens", json={"name": "bot"}, headers={"Authorization": f"Bearer {session}"}
                )
                assert r.status_code == 201, r.text
                api_token = r.json()["token"]
                auth_header = {"Authorization": f"Bearer {session}"}
                number = next(
                    n for n in (await c.get("/api/numbers", headers=auth_header)).json() if n["owned"]
                )
                r = await c.post(
                    "/api/displays", json={"title": "Ściana", "number_id": number["id"]}, headers=auth_header
                )
                assert r.status_code == 201, r.text
                screen = r.json()
            await mongo.stop()
            for path, token in (
                ("/ws", session),
                ("/ws/bot", api_token),
                (f"/ws/display?token={screen['token']}", ""),
                (f"/ws/display/moderate?display_id={screen['id']}", session),
            ):
                # The handshake succeeds (no HTTP 403): the socket is closed with 1013, "try again later".
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with websockets.connect(f"{running.ws_base}{path}", additional_headers=headers) as ws:
                    frame = json.loads(await ws.recv())
                    assert frame["type"] == "error" and "database" in frame["error"]
                    with pytest.raises(websockets.ConnectionClosed):
                        await ws.recv()
                assert ws.close_code == 1013, path
    finally:
        await mongo.stop()


async def test_schema_names_the_credentials_and_the_error_body(running: RunningHub) -> None:
    async with httpx.AsyncClient(base_url=running.base) as c:
        schema = (await c.get("/schema/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["session"] == {
        **schemes["session"],
        "type": "apiKey",
        "in": "cookie",
        "name": "hub_session",
    }
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    assert {schemes["screenToken"]["in"], schemes["screenTokenQuery"]["in"]} == {"header", "query"}
    error = schema["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"error", "status_code"} and "field" in error["properties"]
    paths = schema["paths"]
    reply = paths["/api/conversations/{conversation_id}/messages"]["post"]
    assert {"session": []} in reply["security"] and {"bearer": []} in reply["security"]
    assert {"400", "401", "403", "404", "409", "422", "503"} <= set(reply["responses"])
    assert reply["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert paths["/api/screen/logo"]["get"]["security"] == [{"screenToken": []}, {"screenTokenQuery": []}]
    assert "security" not in paths["/api/auth/login"]["post"]
    generic = paths["/webhooks/generic/inbound"]["post"]
    body = generic["requestBody"]["content"]["application/json"]["schema"]
    assert {"id", "from", "to", "text", "media"} <= set(body["properties"])
    assert {"403", "415", "422"} <= set(generic["responses"])
    twilio = paths["/webhooks/twilio/inbound"]["post"]["requestBody"]["content"]
    assert "MessageSid" in twilio["application/x-www-form-urlencoded"]["schema"]["properties"]


async def test_request_validation_errors_have_the_documented_shape(
    running: RunningHub, tenant_a: Tenant
) -> None:
    token = await login(running.base, tenant_a.agent_email, tenant_a.agent_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {token}"}) as c:
        r = await c.get("/api/conversations", params={"limit": "many"})
        bad_body = await c.post("/api/auth/login", json={"email": "a@b.c"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["status_code"] == 400 and body["field"] == "limit"
    assert body["details"][0]["key"] == "limit" and body["details"][0]["source"] == "query"
    assert "extra" not in body and "detail" not in body
    assert bad_body.status_code == 400 and bad_body.json()["field"] == "password", bad_body.text
