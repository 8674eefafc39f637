"""The reliability harness's own guarantees: stopping clients never waits without end."""

import asyncio
from pathlib import Path

import pytest

from tests.reliability.harness import ClientsDidNotStop, WsClient, stop_clients


async def test_a_client_that_will_not_stop_is_named_instead_of_waited_for(tmp_path: Path) -> None:
    release = asyncio.Event()

    async def deaf() -> None:
        """A client loop that takes no notice of being cancelled until released."""
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    quiet = WsClient("quiet", ["ws://127.0.0.1:1/ws"], "token")
    stuck = WsClient("stuck", ["ws://127.0.0.1:1/ws"], "token")
    quiet._task = asyncio.create_task(asyncio.sleep(60))
    stuck._task = asyncio.create_task(deaf())
    await asyncio.sleep(0)
    try:
        with pytest.raises(ClientsDidNotStop, match=r"1 client\(s\) still running") as raised:
            await stop_clients([quiet, stuck], tmp_path / "clients.jsonl", timeout=0.5)
        assert "stuck" in str(raised.value) and "quiet" not in str(raised.value)
        assert quiet._task.cancelled()
    finally:
        release.set()
        await stuck._task
