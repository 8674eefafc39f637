"""A socket's outbox: writes through while the transport takes data, buffers (bounded) while it
is paused, and fails as slow on overflow or on a stall longer than the send timeout."""

from __future__ import annotations

import asyncio

from hub.realtime.outbox import Item, Outbox
from hub.realtime.wire import OutgoingEvent


class FakeSink:
    def __init__(self) -> None:
        self.open = True
        self.written: list[bytes] = []

    def ready(self) -> bool:
        return self.open

    def write(self, item: Item) -> None:
        self.written.append(item.payload if isinstance(item, OutgoingEvent) else item)


def make(maxsize: int = 3) -> tuple[Outbox, FakeSink, list[str]]:
    failures: list[str] = []
    outbox = Outbox(maxsize, failures.append)
    sink = FakeSink()
    outbox.use(sink)
    return outbox, sink, failures


async def test_writes_through_then_buffers_in_order_while_paused() -> None:
    outbox, sink, failures = make()
    outbox.push(b"a")
    outbox.push(OutgoingEvent(b"b"))
    sink.open = False
    outbox.push(b"c")
    outbox.push(OutgoingEvent(b"d"))
    assert sink.written == [b"a", b"b"] and len(outbox) == 2
    assert outbox.stalled_since is not None
    sink.open = True
    outbox.push(b"e")  # behind what waits, even though the sink is ready again
    assert sink.written == [b"a", b"b"]
    outbox.flush()
    assert sink.written == [b"a", b"b", b"c", b"d", b"e"]
    assert len(outbox) == 0 and outbox.stalled_since is None and failures == []


async def test_overflow_fails_as_slow_and_drops_the_rest() -> None:
    outbox, sink, failures = make(maxsize=3)
    sink.open = False
    for i in range(4):
        outbox.push(str(i).encode())
    assert outbox.failed and len(outbox) == 0
    assert failures == ["slow consumer: too many undelivered events"]
    sink.open = True
    outbox.push(b"late")
    outbox.flush()
    assert sink.written == []


async def test_a_stall_longer_than_the_timeout_fails_and_progress_restarts_the_clock() -> None:
    outbox, sink, failures = make()
    sink.open = False
    outbox.push(b"a")
    outbox.push(b"b")
    started = outbox.stalled_since
    assert started is not None
    outbox.check_stalled(started + 5, timeout=10)
    assert failures == []
    await asyncio.sleep(0.05)  # so that the progress below comes measurably later than the stall
    sink.open = True
    sink.ready = lambda: len(sink.written) < 1  # type: ignore[method-assign]  # takes one, pauses again
    outbox.flush()
    assert sink.written == [b"a"]
    restarted = outbox.stalled_since
    assert restarted is not None and restarted > started
    # Past the timeout counted from the first stall, within it counted from the progress: no failure.
    outbox.check_stalled(started + 10 + (restarted - started) / 2, timeout=10)
    assert failures == []
    outbox.check_stalled(restarted + 10.5, timeout=10)
    assert failures == ["slow consumer: send timed out"]


async def test_drained_waits_for_the_buffer_to_empty() -> None:
    outbox, sink, _ = make(maxsize=10)
    sink.open = False
    outbox.push(b"a")
    waiter = asyncio.create_task(outbox.drained())
    await asyncio.sleep(0)
    assert not waiter.done()
    sink.open = True
    outbox.flush()
    await asyncio.wait_for(waiter, 1)
    assert sink.written == [b"a"]
