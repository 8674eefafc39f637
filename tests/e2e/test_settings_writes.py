"""Settings changes write only what they change.

An account's and a screen's event counters (`seq`) are taken with `$inc` while the hub runs. A
handler that read the document and wrote all of it back would roll a counter back to what it read,
and the numbers taken in between would be handed out twice. The database's profiler records every
write these requests send.
"""

from __future__ import annotations

from typing import Any

import pytest
from beanie import PydanticObjectId

from hub.store.accounts import Account
from hub.store.displays import DisplayDoc
from tests.conftest import RunningHub, Tenant
from tests.e2e.browser import tiny_png
from tests.e2e.keywords_helpers import admin_client


def _overwritten_fields(update: Any) -> set[str]:
    """The top-level fields an update document overwrites (a replacement, all of its fields).

    `$inc` is how counters are taken, so it is not counted."""
    if not isinstance(update, dict):
        return {"<pipeline>"}
    if not any(key.startswith("$") for key in update):
        return set(update)
    fields: set[str] = set()
    for name, operator in update.items():
        if name != "$inc" and isinstance(operator, dict):
            fields |= {key.split(".")[0] for key in operator}
    return fields


async def test_settings_changes_never_write_an_event_counter(running: RunningHub, tenant_a: Tenant) -> None:
    hub = running.hub
    db = hub.client[hub.settings.mongo.database]
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as admin:
        numbers = (await admin.get("/api/numbers")).json()
        own = next(n for n in numbers if n["owned"])
        r = await admin.post("/api/displays", json={"title": "Ściana", "number_id": own["id"]})
        assert r.status_code == 201, r.text
        display = r.json()

        await db.command("profile", 2)
        start = await db["system.profile"].count_documents({})
        try:
            r = await admin.post("/api/settings/messaging", json={"help_text": "Pomoc: 22 100 200 300"})
            assert r.status_code in (200, 201), r.text
            r = await admin.patch(
                f"/api/displays/{display['id']}",
                json={"title": "Nowy tytuł", "number_id": own["id"], "lifetime_s": 600},
            )
            assert r.status_code == 200, r.text
            r = await admin.post(f"/api/displays/{display['id']}/link")
            assert r.status_code == 201, r.text
            r = await admin.put(
                f"/api/displays/{display['id']}/logo",
                content=tiny_png(),
                headers={"Content-Type": "image/png"},
            )
            assert r.status_code == 200, r.text
        finally:
            await db.command("profile", 0)

    writes: list[tuple[str, set[str]]] = []
    async for entry in db["system.profile"].find().skip(start):
        command = entry.get("command") or {}
        # findAndModify's update document is under "update" too, so it is told apart first.
        if "findAndModify" in command:
            writes.append((command["findAndModify"], _overwritten_fields(command.get("update"))))
        elif "update" in command:
            writes += [
                (command["update"], _overwritten_fields(u.get("u"))) for u in command.get("updates", [])
            ]
    by_collection: dict[str, list[set[str]]] = {}
    for collection, fields in writes:
        by_collection.setdefault(collection, []).append(fields)
    # Each change was written, and none of the writes touched a counter.
    assert any("help_text" in f for f in by_collection.get("accounts", [])), by_collection
    assert any("title" in f for f in by_collection.get("displays", [])), by_collection
    assert any("token_hash" in f for f in by_collection.get("displays", [])), by_collection
    assert any("logo_file_id" in f for f in by_collection.get("displays", [])), by_collection
    for collection in ("accounts", "displays"):
        for fields in by_collection.get(collection, []):
            assert "seq" not in fields, (collection, fields)


async def test_a_document_holding_a_counter_refuses_a_whole_save(
    running: RunningHub, tenant_a: Tenant
) -> None:
    account = await Account.get(PydanticObjectId(tenant_a.account_id))
    assert account is not None
    with pytest.raises(TypeError, match="write back seq"):
        await account.save()
    display = DisplayDoc.model_construct(account_id=account.id)
    with pytest.raises(TypeError, match="write back seq"):
        await display.save()
    # The field-only way works.
    await account.set({"help_text": "Pomoc"})
    again = await Account.get(account.id)
    assert again is not None and again.help_text == "Pomoc"
