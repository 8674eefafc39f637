"""`hub usage`, `hub set-limits` and `hub top-up` run as separate processes, as a script would: the
figures equal `GET /api/operator/usage`, the limits they set are what the API reads and refuses
sends by, each change is in the audit log, and bad input exits non-zero saying why."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess

from beanie import PydanticObjectId

from hub.services import usage
from hub.store.accounts import Account, utcnow
from hub.store.audit import AuditEntry
from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import admin_client
from tests.e2e.test_operator_api import hub_command
from tests.e2e.test_usage import make_operator


async def hub(running: RunningHub, *args: str, status: int = 0) -> subprocess.CompletedProcess[str]:
    done = await asyncio.to_thread(hub_command, running, *args)
    assert done.returncode == status, (args, done.returncode, done.stdout, done.stderr)
    return done


async def billed_sends(account_id: PydanticObjectId) -> None:
    """Two replies (one of two segments) and a forward, billed as the send paths bill them."""
    for key, kind, channel, segments in [
        ("msg:a", "agent", "sms", 2),
        ("msg:b", "autoreply", "sms", 1),
        ("fwd:c:0", "forward", "forward", 1),
    ]:
        charge = usage.Charge(f"{key}-{account_id}", account_id, kind, channel, segments, segments)
        await usage.reserve(charge)
        await usage.bill(charge)


async def test_usage_commands_match_the_api_and_are_audited(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    await make_operator(tenant_a)
    b_id = PydanticObjectId(tenant_b.account_id)
    await Account.find_one({"_id": b_id}).set({"name": "Kwiaciarnia Łódź"})  # type: ignore[union-attr]
    await billed_sends(b_id)
    month = usage.month_of(utcnow())

    out = await hub(running, "set-limits", "beta", "--monthly-segments", "100", "--balance-units", "none")
    assert out.stdout.strip() == "account beta: monthly limit 100 units, no prepaid balance"
    await hub(running, "top-up", "beta", "5")
    out = await hub(running, "top-up", "beta", "7")
    assert out.stdout.strip() == "account beta: monthly limit 100 units, balance 12 units"

    async with admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op:
        api_rows = (await op.get(f"/api/operator/usage?month={month}")).json()
        api_csv = (await op.get(f"/api/operator/usage.csv?month={month}")).content.decode("utf-8-sig")
    beta = next(r for r in api_rows if r["slug"] == "beta")
    assert beta["units"] == 4 and beta["forward_segments"] == 1 and beta["balance_units"] == 12
    assert beta["limit_monthly_segments"] == 100

    # CSV: what the API's CSV says, without the BOM meant for spreadsheets.
    out = await hub(running, "usage", "--csv")
    assert out.stdout.replace("\r\n", "\n") == api_csv.replace("\r\n", "\n")
    # Tab-separated for scripts: the same columns and figures.
    lines = (await hub(running, "usage", "--month", month)).stdout.splitlines()
    table = [line.split("\t") for line in lines]
    assert table == list(csv.reader(io.StringIO(api_csv)))
    assert table[0] == usage.CSV_COLUMNS and len(table) == 1 + len(api_rows)
    only = (await hub(running, "usage", "--account", "beta")).stdout.splitlines()
    assert only == [lines[0], next(line for line in lines if "\tbeta\t" in line)]
    assert "Kwiaciarnia Łódź" in only[1] and "agent=2;autoreply=1;forward=1" in only[1]
    # Another month: nothing billed, the limits as they are now.
    empty = (await hub(running, "usage", "--month", "2026-01", "--account", "beta")).stdout
    assert empty.splitlines()[1].split("\t")[3:13] == ["2026-01", *["0"] * 6, "100", "12", ""]

    entries = await AuditEntry.find({"account_id": b_id}).sort("at").to_list()
    assert [(e.action, e.actor_kind, e.target_type) for e in entries] == [
        ("usage.limits", "cli", "usage_limits"),
        ("usage.top_up", "cli", "usage_limits"),
        ("usage.top_up", "cli", "usage_limits"),
    ]
    assert entries[-1].before == {"balance_units": 5} and entries[-1].after == {"balance_units": 12}

    # Bad input: a reason on stderr and a non-zero exit; nothing changed, nothing audited.
    refused = await asyncio.gather(
        hub(running, "set-limits", "beta", "--monthly-segments", "dużo", status=1),
        hub(running, "set-limits", "beta", "--balance-units", "-3", status=1),
        hub(running, "set-limits", "nosuch", "--monthly-segments", "1", status=1),
        hub(running, "set-limits", "beta", status=2),
        hub(running, "top-up", "beta", "0", status=1),
        hub(running, "top-up", "beta", "sto", status=2),
        hub(running, "usage", "--month", "2026-13", status=1),
    )
    reasons = [done.stderr for done in refused]
    for reason, expected in zip(
        reasons,
        ["whole number", "between 0", "nosuch", "--monthly-segments", "between 1", "invalid int", "YYYY-MM"],
        strict=True,
    ):
        assert expected in reason, reasons
    limits = await usage.get_limits(b_id)
    assert (limits.monthly_segments, limits.balance_units) == (100, 12)
    assert await AuditEntry.find({"account_id": b_id}).count() == 3
