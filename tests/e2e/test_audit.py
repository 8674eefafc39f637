"""The audit log: one entry per change by an operator, an account admin or a command, with the
changed fields before and after; secrets never written; refused changes leave nothing."""

from __future__ import annotations

import asyncio
import csv
import getpass
import io
import json
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from beanie import PydanticObjectId

from hub.context import HubContext
from hub.store.accounts import Account
from hub.store.audit import AuditEntry
from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import admin_client, number_id
from tests.e2e.test_operator_api import hub_command

SECRETS = ("gamma-admin-haslo", "agent-haslo-123", "tajny-sekret-webhooka", "nowy-sekret-webhooka")


async def _count() -> int:
    return await AuditEntry.find().count()


async def one(call: Awaitable[httpx.Response], status: int, action: str) -> tuple[dict[str, Any], AuditEntry]:
    """The call succeeds and adds exactly one entry, of `action`."""
    before = await _count()
    r = await call
    assert r.status_code == status, r.text
    assert await _count() == before + 1, action
    entry = await AuditEntry.find().sort("-at").first_or_none()
    assert entry is not None and entry.action == action, (entry, action)
    return (dict(r.json()) if r.content else {}), entry


async def none(call: Awaitable[httpx.Response], status: int) -> None:
    """A refused call records nothing."""
    before = await _count()
    r = await call
    assert r.status_code == status, r.text
    assert await _count() == before


async def _make_operator(tenant: Tenant) -> None:
    account = await Account.get(PydanticObjectId(tenant.account_id))
    assert account is not None
    await account.set({"operator": True})


async def test_operator_changes_are_recorded_once_with_before_and_after(
    running: RunningHub, tenant_a: Tenant
) -> None:
    await _make_operator(tenant_a)
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op:
        admin = {"email": "szef@gamma.test", "name": "Szef", "password": "gamma-admin-haslo"}
        body = {"name": "Gamma", "slug": "gamma", "admin": admin}
        account, e = await one(op.post("/api/operator/accounts", json=body), 201, "account.create")
        gamma = account["id"]
        assert e.before is None and e.after is not None
        assert e.after["name"] == "Gamma" and e.after["slug"] == "gamma"
        assert e.target_type == "account" and e.target_id == gamma and str(e.account_id) == gamma
        assert e.actor_kind == "agent" and e.actor_email == tenant_a.admin_email
        assert e.actor_id == tenant_a.admin_id and str(e.actor_account_id) == tenant_a.account_id
        await none(op.post("/api/operator/accounts", json=body), 409)

        _, e = await one(
            op.patch(f"/api/operator/accounts/{gamma}", json={"name": "Gamma Kraków"}), 200, "account.rename"
        )
        assert (e.before, e.after) == ({"name": "Gamma"}, {"name": "Gamma Kraków"})
        await none(op.post(f"/api/operator/accounts/{gamma}/suspend", json={"reason": "  "}), 422)
        _, e = await one(
            op.post(f"/api/operator/accounts/{gamma}/suspend", json={"reason": "nie zapłacił"}),
            200,
            "account.suspend",
        )
        assert e.before == {"suspended_reason": None, "suspended_at": None}
        assert e.after is not None and e.after["suspended_reason"] == "nie zapłacił"
        _, e = await one(op.post(f"/api/operator/accounts/{gamma}/reactivate"), 200, "account.reactivate")
        assert e.after == {"suspended_reason": None, "suspended_at": None}

        agent = {"email": "jan@gamma.test", "name": "Jan", "password": "agent-haslo-123", "role": "agent"}
        created, e = await one(
            op.post(f"/api/operator/accounts/{gamma}/agents", json=agent), 201, "agent.create"
        )
        assert e.target_id == created["id"] and str(e.account_id) == gamma
        assert (
            e.after is not None
            and e.after["password_hash"] == "changed"
            and e.after["email"] == "jan@gamma.test"
        )

        nd = {"number": "503 340 503", "type": "ND"}
        number, e = await one(op.post("/api/operator/numbers", json=nd), 201, "number.create")
        assert e.after is not None and e.after["e164"] == "+48503340503" and e.account_id is None
        await none(op.post("/api/operator/numbers", json=nd), 409)
        _, e = await one(
            op.patch(f"/api/operator/numbers/{number['id']}", json={"default_reply": "Dzień dobry!"}),
            200,
            "number.edit",
        )
        assert (e.before, e.after) == ({"default_reply": None}, {"default_reply": "Dzień dobry!"})
        await none(op.patch(f"/api/operator/numbers/{number['id']}", json={"provider": "nie-ma"}), 422)
        ndi, _ = await one(
            op.post(
                "/api/operator/numbers", json={"number": "+48 500 900 900", "type": "NDI", "account": "gamma"}
            ),
            201,
            "number.create",
        )
        _, e = await one(
            op.post(f"/api/operator/numbers/{ndi['id']}/assign", json={"account": tenant_a.account_id}),
            200,
            "number.assign",
        )
        assert (e.before, e.after) == ({"account_id": gamma}, {"account_id": tenant_a.account_id})
        assert str(e.account_id) == tenant_a.account_id
        _, e = await one(op.delete(f"/api/operator/numbers/{number['id']}"), 204, "number.delete")
        assert e.after is None and e.before is not None and e.before["e164"] == "+48503340503"

        # Filters: by account, actor, action (exact or a kind), time; newest first and paged.
        def actions(r: httpx.Response) -> list[str]:
            assert r.status_code == 200, r.text
            return [x["action"] for x in r.json()]

        everything = actions(await op.get("/api/operator/audit"))
        assert everything == [
            "number.delete", "number.assign", "number.create", "number.edit", "number.create",
            "agent.create", "account.reactivate", "account.suspend", "account.rename", "account.create",
        ]  # fmt: skip
        assert actions(await op.get("/api/operator/audit", params={"account_id": gamma})) == [
            "number.create", "agent.create", "account.reactivate", "account.suspend",
            "account.rename", "account.create",
        ]  # fmt: skip
        assert actions(await op.get("/api/operator/audit", params={"action": "number.*"})) == everything[:5]
        assert actions(await op.get("/api/operator/audit", params={"action": "account.suspend"})) == [
            "account.suspend"
        ]
        assert (
            actions(await op.get("/api/operator/audit", params={"actor": tenant_a.admin_email})) == everything
        )
        assert actions(await op.get("/api/operator/audit", params={"actor": "nikt@x.test"})) == []
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert actions(await op.get("/api/operator/audit", params={"since": future})) == []
        assert actions(await op.get("/api/operator/audit", params={"until": future})) == everything
        page = (await op.get("/api/operator/audit", params={"limit": 4})).json()
        rest = await op.get("/api/operator/audit", params={"limit": 4, "before": page[-1]["id"]})
        assert [x["action"] for x in page] + actions(rest) == everything[:8]
        export = await op.get("/api/operator/audit.csv", params={"account_id": gamma})
        assert export.status_code == 200 and export.text.count("\n") == 7 and "Gamma Kraków" in export.text
        assert (await op.get("/api/operator/audit", params={"limit": 0})).status_code == 400

        text = json.dumps([x for x in (await op.get("/api/operator/audit")).json()])
        assert not any(s in text for s in SECRETS) and "$argon2" not in text


async def test_admin_changes_are_recorded_and_secrets_never_written(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async with admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as b:
        nid = await number_id(b, tenant_b.number)
        ar, e = await one(
            b.post("/api/autoresponders", json={"number_id": nid, "template": "Dzięki!", "on_keyword": True}),
            201,
            "autoresponder.create",
        )
        assert e.actor_email == tenant_b.admin_email and str(e.account_id) == tenant_b.account_id
        kw_body = {"number_id": nid, "text": "PIZZA", "autoresponder_ids": [ar["id"]]}
        kw, e = await one(b.post("/api/keywords", json=kw_body), 201, "keyword.create")
        assert e.after is not None and e.after["text"] == "PIZZA"
        await none(b.post("/api/keywords", json=kw_body), 422)
        _, e = await one(
            b.patch(f"/api/keywords/{kw['id']}", json={**kw_body, "text": "ŻUREK"}), 200, "keyword.update"
        )
        assert e.before is not None and e.after is not None and e.before.keys() == e.after.keys()
        assert (e.before["text"], e.after["text"]) == ("PIZZA", "ŻUREK") and "number_id" not in e.after
        _, e = await one(
            b.patch(
                f"/api/autoresponders/{ar['id']}",
                json={"number_id": nid, "template": "Dziękujemy!", "on_keyword": True},
            ),
            200,
            "autoresponder.update",
        )
        assert (e.before, e.after) == ({"template": "Dzięki!"}, {"template": "Dziękujemy!"})
        _, e = await one(b.delete(f"/api/keywords/{kw['id']}"), 204, "keyword.delete")
        assert e.after is None and e.before is not None and e.before["text"] == "ŻUREK"
        await none(b.delete(f"/api/keywords/{kw['id']}"), 404)

        _, e = await one(
            b.patch(f"/api/numbers/{nid}", json={"auto_reply_limit": {"max_count": 2, "window_s": 60}}),
            200,
            "number.update",
        )
        assert e.before == {"auto_reply_limit": None}
        assert e.after == {"auto_reply_limit": {"max_count": 2, "window_s": 60}}
        _, e = await one(
            b.post("/api/settings/messaging", json={"help_text": "Pomoc: 22 100 100"}),
            200,
            "account.messaging",
        )
        assert (e.before, e.after) == ({"help_text": None}, {"help_text": "Pomoc: 22 100 100"})

        token, e = await one(b.post("/api/tokens", json={"name": "integracja"}), 201, "token.create")
        assert e.after is not None and e.after["token_hash"] == "changed" and e.after["name"] == "integracja"
        _, e = await one(b.delete(f"/api/tokens/{token['info']['id']}"), 204, "token.delete")
        assert (e.before, e.after) == ({"revoked": False}, {"revoked": True})

        rule_body = {"kind": "url", "target": "https://example.test/hook", "secret": "tajny-sekret-webhooka"}
        rule, e = await one(b.post("/api/forwarding/rules", json=rule_body), 201, "forward_rule.create")
        assert e.after is not None and e.after["secret"] == "changed"
        _, e = await one(
            b.put(
                f"/api/forwarding/rules/{rule['id']}", json={**rule_body, "secret": "nowy-sekret-webhooka"}
            ),
            200,
            "forward_rule.update",
        )
        assert (e.before, e.after) == ({"secret": "changed"}, {"secret": "changed"})

        contact, _ = await one(
            b.post("/api/contacts", json={"phone": "601 222 333", "name": "Zofia"}), 201, "contact.create"
        )
        _, e = await one(
            b.patch(f"/api/contacts/{contact['id']}", json={"blocked": True}), 200, "contact.update"
        )
        assert (e.before, e.after) == ({"blocked": False}, {"blocked": True})

        display, e = await one(
            b.post("/api/displays", json={"title": "Ekran", "number_id": nid}), 201, "display.create"
        )
        assert e.after is not None and e.after["token_hash"] == "changed"
        _, e = await one(b.post(f"/api/displays/{display['id']}/link"), 201, "display.link")
        assert (e.before, e.after) == ({"token_hash": "changed"}, {"token_hash": "changed"})

        mine = (await b.get("/api/audit")).json()
        assert len(mine) == 15 and {x["account_id"] for x in mine} == {tenant_b.account_id}
        text = json.dumps(mine) + json.dumps(
            [e.model_dump(mode="json") for e in await AuditEntry.find().to_list()]
        )
        assert not any(s in text for s in SECRETS) and token["token"] not in text
        assert (await b.get("/api/audit", params={"action": "keyword.*"})).json()[0][
            "action"
        ] == "keyword.delete"
        # The same entries as CSV, the account's own only, Polish letters as they were typed.
        got = await b.get("/api/audit.csv")
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(got.text)))
        assert [r["action"] for r in rows] == [x["action"] for x in mine]
        assert {r["account_id"] for r in rows} == {tenant_b.account_id}
        assert "ŻUREK" in got.text and "Dziękujemy!" in got.text
        kw_rows = list(
            csv.DictReader(io.StringIO((await b.get("/api/audit.csv", params={"action": "keyword.*"})).text))
        )
        assert [r["action"] for r in kw_rows] == ["keyword.delete", "keyword.update", "keyword.create"]

    # An agent may not read the log; another account's admin sees none of these entries.
    async with admin_client(running, tenant_b.agent_email, tenant_b.agent_password) as agent:
        assert (await agent.get("/api/audit")).status_code == 403
        assert (await agent.get("/api/audit.csv")).status_code == 403
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as a:
        assert (await a.get("/api/audit")).json() == []
        assert (await a.get("/api/operator/audit")).status_code == 403
        assert (await a.get("/api/audit.csv")).text.count("\n") == 1  # the header only


async def test_commands_are_recorded_as_the_cli(running: RunningHub, tenant_a: Tenant) -> None:
    done = await asyncio.to_thread(
        hub_command, running, "create-number", "--number", "4301", "--type", "SC", "--label", "Promocja"
    )
    assert done.returncode == 0, done.stderr
    done = await asyncio.to_thread(
        hub_command, running, "suspend-account", "--account", "alpha", "--reason", ""
    )
    assert done.returncode == 1
    done = await asyncio.to_thread(
        hub_command, running, "suspend-account", "--account", "alpha", "--reason", "zaległości"
    )
    assert done.returncode == 0, done.stderr
    done = await asyncio.to_thread(
        hub_command, running, "create-token", "--account", "alpha", "--name", "skrypt"
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    entries = await AuditEntry.find().sort("at").to_list()
    assert [(e.action, e.actor_kind, e.actor_id) for e in entries] == [
        ("number.create", "cli", getpass.getuser()),
        ("account.suspend", "cli", getpass.getuser()),
        ("token.create", "cli", getpass.getuser()),
    ]
    assert entries[2].after is not None and entries[2].after["token_hash"] == "changed"
    assert token not in json.dumps([e.model_dump(mode="json") for e in entries])
    assert entries[0].after is not None and entries[0].after["e164"] == "4301"
    assert entries[1].after is not None and entries[1].after["suspended_reason"] == "zaległości"


async def test_pages_keep_entries_of_the_same_instant_apart(hub: HubContext) -> None:
    from hub.services import audit

    at = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    for n in range(5):
        await AuditEntry(at=at, actor_kind="cli", action=f"number.edit{n}", target_type="number").insert()
    await AuditEntry(
        at=at - timedelta(seconds=1), actor_kind="cli", action="older", target_type="number"
    ).insert()
    pages: list[list[str]] = []
    before: str | None = None
    while True:
        page = await audit.entries(limit=2, before=before)
        if not page:
            break
        pages.append([e.action for e in page])
        before = str(page[-1].id)
    assert sorted(a for p in pages for a in p) == sorted([f"number.edit{n}" for n in range(5)] + ["older"])
    assert [len(p) for p in pages] == [2, 2, 2] and pages[-1][-1] == "older"


async def test_usage_limits_and_top_ups_are_recorded_for_the_account(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    await _make_operator(tenant_a)
    b = tenant_b.account_id
    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op:
        _, e = await one(
            op.patch(f"/api/operator/accounts/{b}/limits", json={"monthly_segments": 500}),
            200,
            "usage.limits",
        )
        assert e.before is None and e.after is not None and e.after["monthly_segments"] == 500
        assert str(e.account_id) == b and e.target_type == "usage_limits"
        _, e = await one(
            op.patch(f"/api/operator/accounts/{b}/limits", json={"monthly_segments": None}),
            200,
            "usage.limits",
        )
        assert (e.before, e.after) == ({"monthly_segments": 500}, {"monthly_segments": None})
        _, e = await one(
            op.post(f"/api/operator/accounts/{b}/top-up", json={"units": 40}), 200, "usage.top_up"
        )
        assert e.after is not None and e.after["balance_units"] == 40
        await none(op.post(f"/api/operator/accounts/{b}/top-up", json={"units": 0}), 400)
    # The account's own admin sees what the operator changed about its limits.
    async with admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as admin:
        r = await admin.get("/api/audit", params={"action": "usage.*"})
        assert r.status_code == 200, r.text
        assert [x["action"] for x in r.json()] == ["usage.top_up", "usage.limits", "usage.limits"]
