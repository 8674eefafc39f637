"""Look-ups shared by callers that ask at the same time, never answered from a query that began
before a caller asked."""

from __future__ import annotations

import asyncio

import pytest

from hub.realtime.coalesce import Coalesced


async def test_callers_of_one_turn_share_a_query_later_ones_share_the_next() -> None:
    started: list[str] = []
    releases: list[asyncio.Event] = []

    async def fetch(key: str) -> str:
        started.append(key)
        query = len(started)
        release = asyncio.Event()
        releases.append(release)
        await release.wait()
        return f"{key}:{query}"

    look = Coalesced(fetch)
    first = [asyncio.create_task(look("a")) for _ in range(5)]
    other = asyncio.create_task(look("b"))
    await asyncio.sleep(0.01)
    assert sorted(started) == ["a", "b"]
    # The query for "a" has begun: callers now must not share it. They wait for it to end and
    # then share one new query, however many turns apart they asked.
    late = [asyncio.create_task(look("a"))]
    await asyncio.sleep(0.01)
    late.append(asyncio.create_task(look("a")))
    await asyncio.sleep(0.01)
    assert started.count("a") == 1
    releases[0].set()
    answers = await asyncio.gather(*first)
    assert len(set(answers)) == 1
    await asyncio.sleep(0.01)
    assert started.count("a") == 2
    # Asked while the second query runs: a third one, after it.
    last = asyncio.create_task(look("a"))
    for release in releases:
        release.set()
    await asyncio.sleep(0.01)
    assert started.count("a") == 3
    releases[-1].set()
    late_answers = await asyncio.gather(*late)
    assert len(set(late_answers)) == 1
    assert late_answers[0] != answers[0]
    assert await last not in (answers[0], late_answers[0])
    assert (await other).startswith("b:")


async def test_a_failed_or_cancelled_query_does_not_stop_the_next_batch() -> None:
    gate = asyncio.Event()
    calls = 0

    async def fetch(key: str) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()
            raise RuntimeError("database unavailable")
        return calls

    look = Coalesced(fetch)
    failing = asyncio.create_task(look("a"))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(look("a"))
    await asyncio.sleep(0.01)
    gate.set()
    with pytest.raises(RuntimeError, match="unavailable"):
        await failing
    assert await waiting == 2


async def test_an_error_reaches_every_caller_and_one_caller_giving_up_does_not_cancel_the_rest() -> None:
    calls = 0

    async def fetch(key: int) -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        if key < 0:
            raise ValueError("negative")
        return key * 2

    look = Coalesced(fetch)
    bad = [asyncio.create_task(look(-1)) for _ in range(3)]
    for task in bad:
        with pytest.raises(ValueError, match="negative"):
            await task
    quitter = asyncio.create_task(look(4))
    stayer = asyncio.create_task(look(4))
    await asyncio.sleep(0.01)
    quitter.cancel()
    assert await stayer == 8
    assert calls == 2


async def test_a_query_cancelled_at_shutdown_cancels_the_waiting_batch_and_starts_none() -> None:
    started = 0
    never = asyncio.Event()

    async def fetch(key: str) -> int:
        nonlocal started
        started += 1
        await never.wait()
        return started

    look = Coalesced(fetch)
    first = asyncio.create_task(look("a"))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(look("a"))
    await asyncio.sleep(0.01)
    running = [t for t in asyncio.all_tasks() if t not in (first, waiting, asyncio.current_task())]
    assert len(running) == 1
    running[0].cancel()  # what the loop does to its tasks when it shuts down
    for task in (first, waiting):
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.sleep(0.01)
    assert started == 1
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
