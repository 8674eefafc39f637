"""`hub keyword-requests`, `hub approve-keyword`, `hub refuse-keyword`: the operator decides on
accounts' keyword reservations from a shell, through the same services as the API."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from hub.store.audit import AuditEntry
from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import created, operator_and_admin
from tests.e2e.test_operator_api import hub_command
from tests.panel import Panel


async def hub(running: RunningHub, *args: str, status: int = 0) -> subprocess.CompletedProcess[str]:
    done = await asyncio.to_thread(hub_command, running, *args)
    assert done.returncode == status, (done.returncode, done.stdout, done.stderr)
    return done


@pytest.mark.parametrize("redis_mode", [True], indirect=True)
async def test_the_operator_lists_approves_and_refuses_requests_from_the_shell(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    async with operator_and_admin(running, tenant_a, tenant_b) as (op, b):
        nd = await created(op, "/api/operator/numbers", {"number": "503 340 503", "type": "ND"})
        await hub(running, "set-number", "--number", "503340503", "--keyword-approval")
        ogrod = await created(b, "/api/keywords", {"number_id": nd["id"], "text": "OGRÓD"})
        kwiaty = await created(b, "/api/keywords", {"number_id": nd["id"], "text": "KWIATY"})
        assert (ogrod["status"], kwiaty["status"]) == ("pending", "pending")

        table = (await hub(running, "keyword-requests", "--status", "pending")).stdout.splitlines()
        assert table[0].split() == ["ID", "STATUS", "ACCOUNT", "NUMBER", "KEYWORD", "ASKED", "REASON"]
        rows = [line.split()[:5] for line in table[1:]]
        assert rows == [
            [ogrod["id"], "pending", "beta", "+48503340503", "OGRÓD"],
            [kwiaty["id"], "pending", "beta", "+48503340503", "KWIATY"],
        ]
        await hub(running, "keyword-requests", "--status", "maybe", status=2)

        async with Panel(running.ws_base, b.headers["X-Token"]) as panel:
            done = await hub(running, "approve-keyword", ogrod["id"])
            assert done.stdout.strip() == "keyword OGRÓD on +48503340503 (account beta) approved"
            # The account's panels are told, from the command's process.
            event = await panel.next("keyword.status", keyword_id=ogrod["id"])
            assert (event["data"]["status"], event["data"]["reason"]) == ("approved", None)

            reason = "Słowo zarezerwowane dla kwiaciarni."
            await hub(running, "refuse-keyword", kwiaty["id"], "--reason", "  ", status=1)
            done = await hub(running, "refuse-keyword", kwiaty["id"], "--reason", reason)
            assert done.stdout.strip() == "keyword KWIATY on +48503340503 (account beta) refused"
            event = await panel.next("keyword.status", keyword_id=kwiaty["id"])
            assert (event["data"]["status"], event["data"]["reason"]) == ("refused", reason)

        listed = {k["text"]: (k["status"], k["status_reason"]) for k in (await b.get("/api/keywords")).json()}
        assert listed == {"OGRÓD": ("approved", None), "KWIATY": ("refused", reason)}
        again = await hub(running, "approve-keyword", ogrod["id"], status=1)
        assert (
            "approve-keyword: cannot approve 'OGRÓD': the reservation is approved, not pending"
            in again.stderr
        )
        assert "no such keyword request" in (await hub(running, "approve-keyword", "nope", status=1)).stderr
        await hub(running, "refuse-keyword", ogrod["id"], status=2)  # --reason is required

        table = (await hub(running, "keyword-requests")).stdout.splitlines()
        assert [line.split()[1] for line in table[1:]] == ["approved", "refused"]
        assert table[2].endswith(reason)
        assert (await hub(running, "keyword-requests", "--status", "pending")).stdout.splitlines()[1:] == []

    # Each decision is in the audit log as the command's, and a refused call records nothing.
    entries = await AuditEntry.find({"actor_kind": "cli", "target_type": "keyword"}).sort("_id").to_list()
    assert [(e.action, e.target_id) for e in entries] == [
        ("keyword.approve", ogrod["id"]),
        ("keyword.refuse", kwiaty["id"]),
    ]
    assert entries[1].before is not None and entries[1].before["status"] == "pending"
    assert entries[1].after is not None
    assert (entries[1].after["status"], entries[1].after["status_reason"]) == ("refused", reason)
