"""Usage and limits: the ledger's monthly figures equal the sends counted in the message store (and
the forward deliveries), limits refuse sends with 409 and a reason, a prepaid balance runs down
and refuses at zero, and the CSV says what the JSON says."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from beanie import PydanticObjectId

from hub.store.accounts import Account
from tests.conftest import RunningHub, Tenant
from tests.e2e.keywords_helpers import admin_client


async def make_operator(tenant: Tenant) -> None:
    operator = await Account.get(PydanticObjectId(tenant.account_id))
    assert operator is not None
    await operator.set({"operator": True})


async def row_of(op: httpx.AsyncClient, account_id: str, month: str | None = None) -> dict[str, Any]:
    query = f"?month={month}" if month else ""
    r = await op.get(f"/api/operator/accounts/{account_id}/usage{query}")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_usage_api_shapes_limits_and_csv(
    running: RunningHub, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    await make_operator(tenant_a)
    await Account.find_one({"_id": PydanticObjectId(tenant_b.account_id)}).set({"name": "Kwiaciarnia Łódź"})  # type: ignore[union-attr]
    async with (
        admin_client(running, tenant_a.admin_email, tenant_a.admin_password) as op,
        admin_client(running, tenant_b.admin_email, tenant_b.admin_password) as b,
        admin_client(running, tenant_b.agent_email, tenant_b.agent_password) as b_agent,
    ):
        rows = (await op.get("/api/operator/usage?month=2026-01")).json()
        by_id = {r["account_id"]: r for r in rows}
        assert set(by_id) == {tenant_a.account_id, tenant_b.account_id}
        empty = by_id[tenant_b.account_id]
        assert empty == {
            "account_id": tenant_b.account_id,
            "name": "Kwiaciarnia Łódź",
            "slug": "beta",
            "month": "2026-01",
            "sms_messages": 0,
            "sms_segments": 0,
            "mms": 0,
            "forward_segments": 0,
            "total_segments": 0,
            "units": 0,
            "limit_monthly_segments": None,
            "balance_units": None,
            "by_kind": {},
        }
        r = await op.get("/api/operator/usage?month=2026-13")
        assert r.status_code == 422 and r.json()["field"] == "month", r.text

        r = await op.patch(
            f"/api/operator/accounts/{tenant_b.account_id}/limits", json={"monthly_segments": 100}
        )
        assert (
            r.status_code == 200 and r.json()["monthly_segments"] == 100 and r.json()["balance_units"] is None
        )
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/top-up", json={"units": 0})
        assert r.status_code == 400, r.text
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/top-up", json={"units": 5})
        assert r.status_code == 200 and r.json()["balance_units"] == 5, r.text
        r = await op.post(f"/api/operator/accounts/{tenant_b.account_id}/top-up", json={"units": 7})
        assert r.json() == {"account_id": tenant_b.account_id, "monthly_segments": 100, "balance_units": 12}
        row = await row_of(op, tenant_b.account_id)
        assert row["limit_monthly_segments"] == 100 and row["balance_units"] == 12

        # The account's own admin reads its row; its agents and other accounts' admins do not.
        own = (await b.get("/api/usage")).json()
        assert own == row
        assert (await b_agent.get("/api/usage")).status_code == 403
        assert (await b.get("/api/operator/usage")).status_code == 403

        r = await op.get("/api/operator/usage.csv?month=2026-01")
        assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
        assert r.content.startswith(b"\xef\xbb\xbf")
        parsed = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert [p["account_id"] for p in parsed] == [x["account_id"] for x in rows]
        assert parsed[1]["name"] == "Kwiaciarnia Łódź"
