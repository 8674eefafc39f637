"""Survey results are counted one run at a time per survey, however many texts ask at once."""

from __future__ import annotations

import asyncio

import pytest

from hub.services.live import _OneAtATime


async def test_a_burst_shares_runs_and_each_caller_waits_for_one_that_started_after_it() -> None:
    coalesced = _OneAtATime()
    runs: list[int] = []
    asked: dict[int, int] = {}
    answered: dict[int, int] = {}

    async def run() -> None:
        runs.append(len(runs))
        await asyncio.sleep(0.01)

    async def caller(i: int) -> None:
        asked[i] = len(runs)  # runs started before this caller asked
        await coalesced("survey", run)
        answered[i] = len(runs)

    await asyncio.gather(*(caller(i) for i in range(50)))
    assert len(runs) == 2, "the first caller's run, then one for everyone who came during it"
    assert all(answered[i] > asked[i] for i in range(50)), "each caller saw a run start after it asked"
    await caller(50)
    assert len(runs) == 3
    other: list[str] = []

    async def count_other() -> None:
        other.append("x")

    await asyncio.gather(coalesced("other", count_other), coalesced("survey", run))
    assert other == ["x"] and len(runs) == 4, "keys are independent"


async def test_a_failed_run_fails_its_callers_and_the_next_one_starts_fresh() -> None:
    coalesced = _OneAtATime()
    calls = 0

    async def run() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise ConnectionError("database away")

    results = await asyncio.gather(*(coalesced("s", run) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results), results
    await coalesced("s", run)
    assert calls == 2
    with pytest.raises(ConnectionError):
        calls = 0
        await coalesced("s", run)
