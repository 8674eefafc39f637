"""The API's contract as a client sees it: content types, error bodies, socket refusals."""

from __future__ import annotations

import httpx

from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.panel import Panel


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
