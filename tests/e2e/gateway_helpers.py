"""What the gateway tests share: an agent's API client and the texts of its first conversation."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.conftest import RunningHub, Tenant, login


@contextlib.asynccontextmanager
async def agent_client(running: RunningHub, tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    """The tenant's agent, logged in."""
    token = await login(running.base, tenant.agent_email, tenant.agent_password)
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


async def first_conversation(agent: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]]]:
    """The agent's first conversation's id and messages; ("", []) while there is none."""
    convs = (await agent.get("/api/conversations")).json()
    if not convs:
        return "", []
    r = await agent.get(f"/api/conversations/{convs[0]['id']}/messages")
    assert r.status_code == 200, r.text
    body = r.json()
    return str(convs[0]["id"]), body["items"] if isinstance(body, dict) else body
