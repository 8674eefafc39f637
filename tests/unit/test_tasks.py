"""cancel_and_wait: the stopped task's cancellation ends there; the stopper's own goes on."""

import asyncio

import pytest

from hub.tasks import cancel_and_wait


async def _slow_to_stop() -> None:
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await asyncio.sleep(0.2)  # a close handshake, say, on the way out
        raise


async def test_it_returns_once_the_task_has_ended() -> None:
    task = asyncio.create_task(_slow_to_stop())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()


async def test_a_finished_task_is_left_as_it_is() -> None:
    task = asyncio.create_task(asyncio.sleep(0, result=7))
    await task
    await cancel_and_wait(task)
    assert task.result() == 7


async def test_the_exception_the_task_ended_with_is_raised() -> None:
    async def failing() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            raise ValueError("broke while stopping")

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="broke while stopping"):
        await cancel_and_wait(task)


async def test_a_loop_cancelled_while_it_stops_a_helper_is_cancelled() -> None:
    """The loop below stops a helper at the end of every round. Cancelled during that wait, it must
    end; were the cancellation taken for the helper's, the loop would run all its rounds."""
    rounds = 0
    stopping = asyncio.Event()

    async def loop() -> None:
        nonlocal rounds
        while rounds < 50:
            helper = asyncio.create_task(_slow_to_stop())
            await asyncio.sleep(0)
            stopping.set()
            await cancel_and_wait(helper)
            stopping.clear()
            rounds += 1

    task = asyncio.create_task(loop())
    await stopping.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rounds == 0
