"""`hub create-token`: the command the README's bot section runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from hub.services import auth
from hub.settings import Settings
from hub.store.numbers import Number
from tests.conftest import Tenant


def create_token(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MONGODB_URI": settings.mongo.uri, "MONGODB_DATABASE": settings.mongo.database}
    return subprocess.run(
        [sys.executable, "-m", "hub", "create-token", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_create_token_limited_to_a_number(hub: object, settings: Settings, tenant_a: Tenant) -> None:
    done = await asyncio.to_thread(
        create_token, settings, "--account", "alpha", "--name", "FAQ bot", "--number", tenant_a.number
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    principal = await auth.resolve(token)
    number = await Number.find_one({"e164": tenant_a.number})
    assert principal is not None and number is not None
    assert principal.kind == "token" and principal.name == "FAQ bot"
    assert principal.numbers == (number.id,)

    bad = await asyncio.to_thread(
        create_token, settings, "--account", "alpha", "--name", "x", "--number", "+48999999999"
    )
    assert bad.returncode != 0 and "create-token: numbers:" in bad.stderr, bad.stderr
    unknown = await asyncio.to_thread(create_token, settings, "--account", "nope", "--name", "x")
    assert unknown.returncode != 0 and "no account" in unknown.stderr
