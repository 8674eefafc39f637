"""The keyword-services API as the services page uses it."""

from __future__ import annotations

import pytest

from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import admin_client, created, phone

pytestmark = pytest.mark.asyncio


async def test_contacts_search_by_name_or_phone(running: RunningHub, tenant_a: Tenant) -> None:
    """`q` finds contacts by a part of the name (any case, taken literally) or a phone prefix."""
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        await created(a, "/api/contacts", {"phone": "+48600111222", "name": "Zofia Żak"})
        await created(a, "/api/contacts", {"phone": "+48600333444", "name": "Jan (Kos)"})
        await created(a, "/api/contacts", {"phone": "+48700555666"})

        async def search(q: str) -> list[str]:
            r = await a.get("/api/contacts", params={"q": q})
            assert r.status_code == 200, r.text
            return [c["phone"] for c in r.json()]

        assert await search("żak") == ["+48600111222"]
        assert await search("ŻAK") == ["+48600111222"]
        assert await search("(kos)") == ["+48600333444"]
        assert await search(".*") == []
        assert await search("+48600") == ["+48600111222", "+48600333444"]
        assert await search("48700") == ["+48700555666"]
        assert await search("+48 700") == ["+48700555666"]
        assert len(await search("  ")) == 3


async def test_deleting_an_autoresponder_leaves_its_keywords_editable(
    running: RunningHub, tenant_a: Tenant
) -> None:
    """A keyword that listed a deleted autoresponder no longer names it, so it can still be saved."""
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        number = next(n for n in (await a.get("/api/numbers")).json() if n["e164"] == tenant_a.number)
        reply = await created(
            a, "/api/autoresponders", {"number_id": number["id"], "template": "Dzięki!", "on_keyword": True}
        )
        keyword = await created(
            a,
            "/api/keywords",
            {"number_id": number["id"], "text": "KWIATY", "autoresponder_ids": [reply["id"]]},
        )
        assert (await a.delete(f"/api/autoresponders/{reply['id']}")).status_code == 204
        [listed] = (await a.get("/api/keywords")).json()
        assert listed["autoresponder_ids"] == []
        edited = await a.patch(
            f"/api/keywords/{keyword['id']}",
            json={k: listed[k] for k in ("number_id", "text", "kind", "group_ids", "autoresponder_ids")},
        )
        assert edited.status_code == 200, edited.text
        async with phone(running, "+48601234567") as p:
            await p.text(tenant_a.number, "kwiaty")
            await p.no_sms(a)
