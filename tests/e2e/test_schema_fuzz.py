"""Schemathesis against the hub's own OpenAPI document: no input makes the server fail (5xx)."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from pathlib import Path

import httpx
import pytest

from hub.store.messages import Message
from tests.conftest import RunningHub, Tenant, login, post_generic
from tests.e2e.test_webhooks import tiny_png

CLI = Path(sys.executable).with_name("schemathesis")


async def fuzz(running: RunningHub, config: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(CLI),
        "--config-file",
        str(config),
        "run",
        f"{running.base}/schema/openapi.json",
        "--checks",
        "not_a_server_error",
        "--exclude-path",
        "/api/auth/logout",
        "--max-examples",
        "25",
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
@pytest.mark.memory_only  # not yet on Redis: there the run did not finish within its time limit
async def test_no_server_errors_with_and_without_credentials(
    running: RunningHub, tenant_a: Tenant, tmp_path: Path
) -> None:
    token = await login(running.base, tenant_a.admin_email, tenant_a.admin_password)
    async with httpx.AsyncClient(base_url=running.base, headers={"Authorization": f"Bearer {token}"}) as c:
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
    message = await Message.get(r.json()["message_id"])
    assert message is not None
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        'headers = { Authorization = "${FUZZ_AUTH}" }\n'
        "[parameters]\n"
        '"path.conversation_id" = "${FUZZ_CONVERSATION}"\n'
        '"path.message_id" = "${FUZZ_MESSAGE}"\n'
        '"path.token_id" = "${FUZZ_TOKEN}"\n'
    )
    ids = {
        "FUZZ_CONVERSATION": str(message.conversation_id),
        "FUZZ_MESSAGE": str(message.id),
        "FUZZ_TOKEN": api_token,
    }
    for auth in (f"Bearer {token}", "Bearer hs_not-a-session"):
        code, out = await fuzz(running, config, {**ids, "FUZZ_AUTH": auth})
        assert code == 0, out[-4000:]
        assert "passed" in out
