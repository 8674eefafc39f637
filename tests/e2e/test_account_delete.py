"""An account's data exported (JSON, zip of CSV), then the account deleted with all of its data and
nothing of another account's."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
from beanie import Document, PydanticObjectId

from hub.services.account_data import owned_models
from hub.store import ALL_DOCUMENTS
from hub.store.accounts import Account
from hub.store.audience import RoutingState
from hub.store.audit import AuditEntry
from hub.store.numbers import Number
from tests.conftest import RunningHub, login
from tests.e2e.keywords_helpers import admin_client, phone
from tests.e2e.test_apply import apply
from tests.e2e.test_operator_api import hub_command, operator_client

SETUP = """
accounts:
  - {slug: alfa, name: Alfa, admin: {email: szef@alfa.test, name: Szef Alfy, password: alfa-password}}
  - {slug: beta, name: Beta, admin: {email: szef@beta.test, name: Szef Bety, password: beta-password}}
numbers:
  - {number: 503340503, type: ND}
  - {number: 500100200, type: NDI, account: alfa}
  - {number: 500100300, type: NDI, account: beta}
keywords:
  - {number: 503340503, keyword: ALFA, account: alfa, reply: Witaj w Alfie, group: Klienci}
  - {number: 503340503, keyword: BETA, account: beta, reply: Witaj w Becie, group: Klienci}
"""
POLISH = "Zażółć gęślą jaźń — ŻÓŁTA ŁÓDŹ"


async def per_collection(account_id: PydanticObjectId | None = None) -> dict[str, int]:
    """Documents per collection: all of them, or those of one account."""
    out = {}
    for model in ALL_DOCUMENTS if account_id is None else owned_models():
        query: dict[str, Any] = {} if account_id is None else {"account_id": account_id}
        out[model.get_collection_name()] = await model.get_pymongo_collection().count_documents(query)
    return out


async def populate(running: RunningHub, tmp_path: Path) -> None:
    setup = tmp_path / "setup.yaml"
    setup.write_text(SETUP, encoding="utf-8")
    await apply(running, setup)
    async with phone(running, "+48601222333") as customer:
        for to, text, reply in (
            ("503340503", "alfa", "Witaj w Alfie"),
            ("503340503", "beta", "Witaj w Becie"),
        ):
            await customer.text(to, text)
            assert (await customer.next_sms())["text"] == reply
        await customer.text("500100200", POLISH)
        await customer.text("500100300", "Dzień dobry, Beta")
    for slug in ("alfa", "beta"):
        async with admin_client(running, f"szef@{slug}.test", f"{slug}-password") as admin:
            convs = (await admin.get("/api/conversations")).json()
            assert len(convs) == 2
            r = await admin.post(
                f"/api/conversations/{convs[0]['id']}/messages", json={"text": f"Odpowiedź {slug}: ąę"}
            )
            assert r.status_code in (200, 201, 202), r.text
            label = (
                await admin.post("/api/labels", json={"name": f"Etykieta {slug}", "colour": "teal"})
            ).json()
            r = await admin.post(
                f"/api/conversations/{convs[0]['id']}/labels", json={"label_id": label["id"]}
            )
            assert r.status_code == 200, r.text
            r = await admin.post("/api/views", json={"name": "Oznaczone", "filters": {"label": label["id"]}})
            assert r.status_code == 201, r.text


async def test_export_then_delete_takes_all_of_one_account_and_nothing_of_another(
    running: RunningHub, tmp_path: Path
) -> None:
    await populate(running, tmp_path)
    alfa = await Account.find_one({"slug": "alfa"})
    beta = await Account.find_one({"slug": "beta"})
    assert alfa is not None and beta is not None and alfa.id is not None
    token = await login(running.base, "szef@alfa.test", "alfa-password")

    async with await operator_client(running) as op:
        operator = await Account.find_one({"operator": True})
        assert operator is not None
        # Never the operator's own account; no account before an export, nor without its slug.
        r = await op.delete(f"/api/operator/accounts/{operator.id}", params={"confirm": operator.slug})
        assert r.status_code == 409 and "operator" in r.json()["error"], r.text
        r = await op.delete(f"/api/operator/accounts/{alfa.id}", params={"confirm": "alfa"})
        assert r.status_code == 409 and "export" in r.json()["error"], r.text

        r = await op.get(f"/api/operator/accounts/{alfa.id}/export", params={"format": "json"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        data = json.loads(r.content.decode("utf-8"))
        assert data["account"]["slug"] == "alfa"
        assert [a["email"] for a in data["agents"]] == ["szef@alfa.test"]
        assert all("password_hash" not in a for a in data["agents"])
        texts = [m["text"] for c in data["conversations"] for m in c["messages"]]
        assert POLISH in texts and "Odpowiedź alfa: ąę" in texts and "Dzień dobry, Beta" not in texts
        assert [k["text"] for k in data["keywords"]] == ["ALFA"]
        assert [g["name"] for g in data["contact_groups"]] == ["Klienci"]
        assert [x["name"] for x in data["labels"]] == ["Etykieta alfa"]
        assert [v["name"] for v in data["saved_views"]] == ["Oznaczone"]
        assert [n["e164"] for n in data["numbers"]] == ["+48500100200"]
        assert data["autoresponders"][0]["template"] == "Witaj w Alfie"

        r = await op.get(f"/api/operator/accounts/{alfa.id}/export", params={"format": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/zip")
        files = zipfile.ZipFile(io.BytesIO(r.content))
        assert {"account.csv", "agents.csv", "messages.csv", "contacts.csv", "forward_rules.csv"} <= set(
            files.namelist()
        )
        rows = list(csv.DictReader(io.StringIO(files.read("messages.csv").decode("utf-8"))))
        assert POLISH in [row["text"] for row in rows]
        assert "password_hash" not in files.read("agents.csv").decode("utf-8")

        before_all = await per_collection()
        before_alfa = await per_collection(alfa.id)
        before_beta = await per_collection(beta.id)
        routing_alfa = await count_in(RoutingState, {"number": "+48500100200"})
        assert routing_alfa == 1
        assert before_alfa["messages"] >= 3 and before_alfa["keywords"] == 1 and before_alfa["sessions"] == 2

        r = await op.delete(f"/api/operator/accounts/{alfa.id}", params={"confirm": "beta"})
        assert r.status_code == 409 and "confirm=alfa" in r.json()["error"], r.text
        r = await op.delete(f"/api/operator/accounts/{alfa.id}", params={"confirm": "alfa"})
        assert r.status_code == 200, r.text
        assert r.json()["deleted"]["messages"] == before_alfa["messages"]

    assert await Account.find_one({"slug": "alfa"}) is None
    assert all(n == 0 for n in (await per_collection(alfa.id)).values())
    assert await per_collection(beta.id) == before_beta
    after_all = await per_collection()
    for name, count in after_all.items():
        # The released number's contacts' routing state (surveys in progress, reply counts) goes too.
        gone = before_alfa.get(name, 0) + (name == "accounts") + (name == "routing_state") * routing_alfa
        # The audit log keeps the account's history and gains the deletion.
        assert count == before_all[name] - gone + (name == "audit"), (name, count, before_all[name], gone)
    history = await AuditEntry.find({"account_id": alfa.id}).sort("-at").to_list()
    assert [e.action for e in history[:2]] == ["account.delete", "account.export"]
    assert history[0].before is not None and history[0].before["slug"] == "alfa" and history[0].after is None
    assert history[0].actor_kind == "agent"
    # The individual number is released; the shared one, and Beta's keyword on it, stay.
    assert await Number.find_one({"e164": "+48500100200"}) is None
    assert await Number.find_one({"e164": "+48503340503"}) is not None

    # The deleted account's admin is out: its session and its login.
    async with httpx.AsyncClient(base_url=running.base, timeout=20) as client:
        r = await client.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, r.text
        r = await client.post(
            "/api/auth/login", json={"email": "szef@alfa.test", "password": "alfa-password"}
        )
        assert r.status_code == 400 and r.json()["error"] == "wrong e-mail or password", r.text
    async with admin_client(running, "szef@beta.test", "beta-password") as admin:
        assert len((await admin.get("/api/conversations")).json()) == 2


async def count_in(model: type[Document], query: dict[str, Any]) -> int:
    return int(await model.get_pymongo_collection().count_documents(query))


async def test_the_commands_export_and_delete_an_account(running: RunningHub, tmp_path: Path) -> None:
    await populate(running, tmp_path)

    async def hub(*args: str, status: int = 0) -> str:
        done = await asyncio.to_thread(hub_command, running, *args)
        assert done.returncode == status, (args, done.stdout, done.stderr)
        return done.stdout + done.stderr

    assert "export the account's data first" in await hub(
        "delete-account", "beta", "--confirm", "beta", status=1
    )
    out = await hub("export-account", "beta", str(tmp_path / "beta.json"))
    assert "account beta exported" in out
    exported = json.loads((tmp_path / "beta.json").read_text(encoding="utf-8"))
    assert "Dzień dobry, Beta" in [m["text"] for c in exported["conversations"] for m in c["messages"]]
    await hub("export-account", "beta", str(tmp_path / "beta.zip"))
    assert "messages.csv" in zipfile.ZipFile(tmp_path / "beta.zip").namelist()
    await hub("export-account", "beta", str(tmp_path / "beta.txt"), status=2)
    assert "confirm" in await hub("delete-account", "beta", "--confirm", "alfa", status=1)
    out = await hub("delete-account", "beta", "--confirm", "beta")
    assert out.startswith("account beta deleted (") and "messages " in out
    assert await Account.find_one({"slug": "beta"}) is None
    assert await Account.find_one({"slug": "alfa"}) is not None
