"""Schemathesis against the hub's own OpenAPI document: no input makes the server fail (5xx), and
every answer (status, content type, body) is one the document describes."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

import httpx
import pytest
from beanie import PydanticObjectId

from hub.store.accounts import Account
from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.e2e.test_webhooks import tiny_png

CLI = Path(sys.executable).with_name("schemathesis")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


async def fuzz(running: RunningHub, config: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "--config-file",
        str(config),
        "run",
        f"{running.base}/schema/openapi.json",
        "--checks",
        CHECKS,
        "--exclude-path",
        "/api/auth/logout",
        # Bounded: both runs together take a minute or two. The coverage phase (thousands of
        # boundary cases) is left to manual runs: `schemathesis run … --phases coverage`.
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        "10",
        "--seed",
        "1",
        "--no-color",
        cwd=str(config.parent),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **env},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 240)
    return proc.returncode or 0, out.decode(errors="replace")


@pytest.mark.timeout(300)
# The contract is the same whichever fan-out backend runs: one run (in memory) covers it and keeps
# the suite's time down.
@pytest.mark.memory_only
async def test_every_answer_is_documented_with_and_without_credentials(
    running: RunningHub, tenant_a: Tenant, tmp_path: Path
) -> None:
    # The admin is the platform operator's, so the operator's console is fuzzed with real credentials too.
    operator = await Account.get(PydanticObjectId(tenant_a.account_id))
    assert operator is not None
    await operator.set({"operator": True})
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {token}"}) as c:
        # A screen holding the message below, so that the displays' paths reach real records too.
        numbers = (await c.get("/api/numbers")).json()
        display = await c.post(
            "/api/displays", json={"title": "Fuzz", "number_id": numbers[0]["id"], "moderation": "pre"}
        )
        assert display.status_code == 201, display.text
        r = await post_generic(
            c,
            {
                "id": "fuzz-1",
                "from": "+48600700830",
                "to": tenant_a.number,
                "text": "fuzz",
                "media": [{"data": base64.b64encode(tiny_png()).decode(), "content_type": "image/png"}],
            },
        )
        assert r.status_code == 200
        api_token = (await c.post("/api/tokens", json={"name": "fuzz"})).json()["info"]["id"]
        items = (
            await c.get(f"/api/displays/{display.json()['id']}/items", params={"status": "pending"})
        ).json()
    message = await Message.get(r.json()["message_id"])
    assert message is not None
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        'headers = { Authorization = "${FUZZ_AUTH}", X-Screen-Token = "${FUZZ_SCREEN}" }\n'
        "[parameters]\n"
        '"path.conversation_id" = "${FUZZ_CONVERSATION}"\n'
        '"path.message_id" = "${FUZZ_MESSAGE}"\n'
        '"path.token_id" = "${FUZZ_TOKEN}"\n'
        '"path.display_id" = "${FUZZ_DISPLAY}"\n'
        '"path.item_id" = "${FUZZ_ITEM}"\n'
    )
    ids = {
        "FUZZ_CONVERSATION": str(message.conversation_id),
        "FUZZ_MESSAGE": str(message.id),
        "FUZZ_TOKEN": api_token,
        "FUZZ_DISPLAY": display.json()["id"],
        "FUZZ_ITEM": items[0]["id"],
    }
    for auth, screen in (
        (f"Bearer {token}", display.json()["token"]),
        ("Bearer hs_not-a-session", "no-screen"),
    ):
        code, out = await fuzz(running, config, {**ids, "FUZZ_AUTH": auth, "FUZZ_SCREEN": screen})
        assert code == 0, out[-8000:]
        assert "passed" in out
