"""Group commit: which callers share a batch, and what each of them gets back."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.store.grouped import Grouped


class Recorder:
    """A batch runner that doubles each item, fails the items it is told to, and remembers batches."""

    def __init__(self, fail: set[int] | None = None, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail or set()
        self.delay = delay

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        if self.delay:
            await asyncio.sleep(self.delay)
        return [ValueError(i) if i in self.fail else i * 2 for i in items]


async def test_callers_of_one_turn_share_one_batch() -> None:
    run = Recorder()
    grouped: Grouped[int, int] = Grouped(run)
    assert await asyncio.gather(*(grouped(i) for i in range(10))) == [i * 2 for i in range(10)]
    assert run.batches == [list(range(10))]


async def test_callers_arriving_during_a_batch_go_together_in_the_next() -> None:
    run = Recorder(delay=0.05)
    grouped: Grouped[int, int] = Grouped(run)
    first = asyncio.gather(*(grouped(i) for i in range(3)))
    await asyncio.sleep(0.01)  # the first batch is in flight now
    second = asyncio.gather(*(grouped(i) for i in range(3, 8)))
    assert await first == [0, 2, 4]
    assert await second == [6, 8, 10, 12, 14]
    assert run.batches == [[0, 1, 2], [3, 4, 5, 6, 7]]


async def test_a_lone_caller_waits_for_no_one() -> None:
    run = Recorder()
    grouped: Grouped[int, int] = Grouped(run)
    assert await grouped(1) == 2
    assert await grouped(2) == 4
    assert run.batches == [[1], [2]]


async def test_each_caller_gets_its_own_error() -> None:
    run = Recorder(fail={3})
    grouped: Grouped[int, int] = Grouped(run)
    results = await asyncio.gather(*(grouped(i) for i in range(5)), return_exceptions=True)
    assert results[:3] == [0, 2, 4] and results[4] == 8
    assert isinstance(results[3], ValueError)


async def test_a_failing_batch_fails_every_caller_of_it_and_the_next_batch_runs() -> None:
    calls = 0

    async def run(items: list[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return items

    grouped: Grouped[int, int] = Grouped(run)
    results = await asyncio.gather(*(grouped(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await grouped(7) == 7


async def test_a_caller_giving_up_does_not_cancel_the_others() -> None:
    run = Recorder(delay=0.05)
    grouped: Grouped[int, int] = Grouped(run)
    quitter = asyncio.create_task(grouped(1))
    stayer = asyncio.create_task(grouped(2))
    await asyncio.sleep(0.01)
    quitter.cancel()
    assert await stayer == 4
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert run.batches == [[1, 2]]


async def test_an_operation_whose_caller_gave_up_before_its_batch_is_not_sent() -> None:
    run = Recorder(delay=0.05)
    grouped: Grouped[int, int] = Grouped(run)
    first = asyncio.create_task(grouped(1))
    await asyncio.sleep(0.01)  # [1] is in flight; the next two wait for it
    quitter = asyncio.create_task(grouped(2))
    stayer = asyncio.create_task(grouped(3))
    await asyncio.sleep(0)
    quitter.cancel()
    assert await first == 2 and await stayer == 6
    assert run.batches == [[1], [3]]


async def test_an_item_the_driver_cannot_encode_fails_alone() -> None:
    calls: list[list[int]] = []

    async def run(items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        if 13 in items:
            raise ValueError("cannot encode 13")
        return items

    grouped: Grouped[int, int] = Grouped(run)
    results = await asyncio.gather(*(grouped(i) for i in (12, 13, 14)), return_exceptions=True)
    assert results[0] == 12 and results[2] == 14 and isinstance(results[1], ValueError)
    assert calls == [[12, 13, 14], [12], [13], [14]]


async def test_batches_hold_at_most_the_limit() -> None:
    run = Recorder()
    grouped: Grouped[int, int] = Grouped(run, limit=4)
    assert await asyncio.gather(*(grouped(i) for i in range(10))) == [i * 2 for i in range(10)]
    assert [len(b) for b in run.batches] == [4, 4, 2]


@settings(max_examples=40, deadline=None)
@given(waves=st.lists(st.lists(st.integers(0, 1000), min_size=1, max_size=20), min_size=1, max_size=6))
def test_every_caller_gets_exactly_its_own_answer(waves: list[list[int]]) -> None:
    async def scenario() -> None:
        run = Recorder(delay=0.001)
        grouped: Grouped[int, int] = Grouped(run, limit=7)
        tasks = []
        for wave in waves:
            tasks += [asyncio.create_task(grouped(i)) for i in wave]
            await asyncio.sleep(0)
        assert await asyncio.gather(*tasks) == [i * 2 for wave in waves for i in wave]
        # Every item went out once, in the order asked.
        assert [i for batch in run.batches for i in batch] == [i for wave in waves for i in wave]
        assert all(len(b) <= 7 for b in run.batches)

    asyncio.run(scenario())
