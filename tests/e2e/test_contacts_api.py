"""The contacts API as the services page uses it."""

from __future__ import annotations

import pytest

from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import admin_client, created

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
