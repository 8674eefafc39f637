"""The SDK's bookkeeping: positions for resume and acknowledgement, and the reconnect backoff."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
import typing
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve

from hub.domain import events as ev
from hubclient.bookkeeping import MAX_MISSING, Backoff, SeqTracker
from hubclient.client import BotClient, HubError, NotAuthenticated
from tests.conftest import free_port

seq_sets = st.sets(st.integers(min_value=1, max_value=300), max_size=120)


@given(since=st.integers(0, 50), seqs=seq_sets, data=st.data())
def test_any_arrival_order_gives_the_same_position(since: int, seqs: set[int], data: st.DataObject) -> None:
    """Whatever order (and however often) events arrive, each counts once, and the holes are
    exactly the numbers above `since` not received."""
    seqs = {s + since for s in seqs}
    order = data.draw(st.permutations(sorted(seqs) * 2))
    tracker = SeqTracker(since)
    new = [s for s in order if tracker.add(s, 0.0)]
    assert sorted(new) == sorted(seqs)
    last, holes = tracker.position()
    assert last == max(seqs, default=since)
    expected = sorted(set(range(since + 1, last)) - seqs)
    assert holes == expected[-MAX_MISSING:]
    assert all(tracker.has(s) for s in seqs)


@given(since=st.integers(0, 50), missing=st.sets(st.integers(1, 50)), seqs=seq_sets, data=st.data())
def test_events_before_the_start_is_known_are_kept(
    since: int, missing: set[int], seqs: set[int], data: st.DataObject
) -> None:
    """A bot connecting without `since` learns where it was resumed from only with `ready`,
    after the replay: numbers collected before then are applied to that start."""
    missing = {m for m in missing if m <= since}
    arrived = {s + since for s in seqs} | set(
        data.draw(st.sets(st.sampled_from(sorted(missing) or [1]))) & missing
    )
    tracker = SeqTracker()
    for s in data.draw(st.permutations(sorted(arrived))):
        assert tracker.add(s, 0.0)
    tracker.start(since, missing, 0.0)
    for s in arrived:
        assert not tracker.add(s, 0.0), "a duplicate after the start is still one"
    last, holes = tracker.position()
    assert last == max(arrived | {since})
    assert set(holes) == (set(range(since + 1, last)) | missing) - arrived


def test_old_holes_are_forgotten_unless_pinned() -> None:
    tracker = SeqTracker(10, hole_ttl=60)
    tracker.add(14, now=0.0)
    assert tracker.position() == (14, [11, 12, 13])
    tracker.expire(now=30.0)
    assert tracker.position()[1] == [11, 12, 13]
    tracker.expire(now=61.0, keep={12})
    assert tracker.position() == (14, [12])


def test_a_huge_jump_does_not_enumerate_every_number() -> None:
    tracker = SeqTracker(0)
    tracker.add(10**12, 0.0)
    last, holes = tracker.position()
    assert last == 10**12 and len(holes) == MAX_MISSING


@given(
    initial=st.floats(0.01, 5),
    factor=st.floats(1, 4),
    extra=st.floats(0, 30),
    jitter=st.floats(0, 1),
    seed=st.integers(),
)
def test_backoff_grows_to_its_cap_within_the_jitter(
    initial: float, factor: float, extra: float, jitter: float, seed: int
) -> None:
    backoff = Backoff(initial, initial + extra, factor, jitter, random.Random(seed))
    bases = []
    for n in range(100):
        base = backoff.base(n)
        wait = backoff.next()
        assert base * (1 - jitter) - 1e-9 <= wait <= base + 1e-9
        assert base <= backoff.maximum
        bases.append(base)
    # Each base is the one before times the factor until that passes the cap, then the cap: a backoff
    # that stays flat (or jumps straight to the cap) fails here, not only one that overshoots.
    assert bases[0] == pytest.approx(initial)
    for before, after in itertools.pairwise(bases):
        assert after == pytest.approx(min(before * factor, backoff.maximum), rel=1e-9)
    # Days of a hub being down: the power overflows, the wait stays at the cap (or flat with factor 1).
    if factor >= 1.001 or factor == 1:
        assert backoff.base(10**6) == (backoff.maximum if factor > 1 else initial)
    backoff.reset()
    assert backoff.base(backoff.attempt) == initial


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(initial=2, maximum=1)


def frame(obj: msgspec.Struct) -> bytes:
    return msgspec.json.encode(obj)


def ready(seq: int, since: int | None, missing: list[int] | None = None) -> bytes:
    return frame(
        ev.BotReady(
            seq=seq,
            replayed=0,
            principal=ev.BotPrincipal(kind="token", id="t", name="bot"),
            resume=ev.BotResume(since=since, missing=missing or []),
        )
    )


def created(seq: int) -> bytes:
    conv = ev.ConversationPayload(
        id="k1",
        number_id="n1",
        number="+48500100200",
        contact=ev.ContactPayload(id="c1", phone="+48600700800"),
        status="open",
        assignee_id=None,
        unread=1,
        last_message=None,
        last_message_at=None,
        updated_at="2026-11-30T10:00:00Z",
    )
    message = ev.MessagePayload(
        id=f"m{seq}",
        conversation_id="k1",
        direction="in",
        sender="+48600700800",
        recipient="+48500100200",
        text="hej",
        media=[],
        status="received",
        status_history=[],
        author=ev.Author(kind="contact"),
        segments=1,
        encoding="GSM-7",
        seq=seq,
        created_at="2026-11-30T10:00:00Z",
    )
    return frame(ev.MessageCreated(seq=seq, account_id="a", at="x", data=message, conversation=conv))


async def test_client_resumes_after_what_it_received_and_acks_what_it_handled() -> None:
    """Frames fed to the client as the hub would send them: duplicates are dropped, skips count as
    handled, the next URL asks for the holes, and the ack covers only what the loop finished."""
    bot = BotClient("ws://hub.test", "hub_x")
    assert bot.resume_url() == "ws://hub.test/ws/bot"
    for raw in (created(11), frame(ev.Skip(seq=12)), created(14), ready(14, since=10), created(11)):
        bot._on_frame(raw)
    assert bot.resume_url() == "ws://hub.test/ws/bot?since=14&missing=13"
    first = await bot.__anext__()
    assert first.seq == 11
    assert bot.handled.position() == (12, [11]), "11 is being handled; skip 12 is done"
    second = await bot.__anext__()
    assert second.seq == 14
    assert bot.handled.position() == (12, [])
    bot._on_frame(created(13))
    third = await bot.__anext__()
    assert third.seq == 13
    assert bot.handled.position() == (14, [13]), "14 is being handled, 13 done"
    assert not bot._queue


async def test_reset_restarts_the_position_and_is_yielded() -> None:
    bot = BotClient("ws://hub.test/", "hub_x", since=5)
    bot._on_frame(frame(ev.Reset(reason="more than 5000 events missed", seq=9000)))
    event = await bot.__anext__()
    assert isinstance(event, ev.Reset)
    assert bot.resume_url().endswith("/ws/bot?since=9000")


def test_docs_describe_every_bot_frame() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "websocket-api.md").read_text()
    tags = {str(t.__struct_config__.tag) for t in typing.get_args(ev.BotFrame)}
    tags |= {str(t.__struct_config__.tag) for t in typing.get_args(ev.BotClientMessage)}
    for tag in tags:
        assert re.search(rf'"type":\s*"{re.escape(tag)}"|`{re.escape(tag)}`', doc), f"docs miss {tag}"


def test_bot_frames_round_trip() -> None:
    for obj in (
        ev.Skip(seq=3),
        ev.Acked(seq=3, request_id="r"),
        ev.HandedOver(conversation_id="k"),
        ev.HandedBack(conversation_id="k"),
        ev.ReplyAck(client_id="c", message_id="m", seq=4),
        ev.ErrorFrame(error="no such conversation", request_id="r"),
        ev.Pong(),
        ev.Resumed(replayed=2),
    ):
        assert ev.decode_bot_frame(frame(obj)) == obj
    client = msgspec.json.Decoder(ev.BotClientMessage)
    for obj2 in (
        ev.BotAck(seq=5, missing=[3]),
        ev.BotReply(conversation_id="k", text="t"),
        ev.BotHandover(conversation_id="k", note="n"),
        ev.BotHandback(conversation_id="k"),
    ):
        assert client.decode(frame(obj2)) == obj2
    assert set(ev.bot_json_schema()) == {"server", "client"}


async def test_a_full_backlog_drops_unrecorded_and_refetches_after_it_is_handled() -> None:
    """The client's buffer is bounded: what comes beyond it is not recorded as received, so the
    reconnect after the backlog asks for it again from the last event kept."""
    bot = BotClient("ws://hub.test", "hub_x", since=10, max_pending=2)
    for seq in (11, 12, 13):
        bot._on_frame(created(seq))
    bot._on_frame(frame(ev.Skip(seq=14)))
    bot._on_frame(created(15))
    assert [e.seq for e in bot._queue] == [11, 12]
    assert bot.resume_url().endswith("?since=12"), "13-15 will be sent again"
    assert (await bot.__anext__()).seq == 11
    assert (await bot.__anext__()).seq == 12
    assert bot._overflowed
    bot._disconnected()  # what the reconnect does
    for seq in (13, 15):
        bot._on_frame(created(seq))
    bot._on_frame(frame(ev.Skip(seq=14)))
    assert [e.seq for e in bot._queue] == [13, 15]


# --- requests through outages, against a stand-in hub on a real socket -------------------------


Answer = Callable[[int, dict[str, Any]], str]


@contextlib.asynccontextmanager
async def stand_in_hub(answer: Answer) -> AsyncIterator[list[dict[str, Any]]]:
    """A WebSocket server that greets like the hub and answers each request with `answer(connection
    number, request)`; after "the database is unavailable" it closes the socket with 1013, as the
    hub does. Yields the server's URL, then the requests as they come."""
    received: list[dict[str, Any]] = []
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        number = connections
        await ws.send(ready(0, since=0).decode())
        async for raw in ws:
            request = json.loads(raw)
            if request["type"] == "ack":
                continue
            received.append(request)
            text = answer(number, request)
            await ws.send(text)
            if "the database is unavailable" in text:
                await ws.close(1013, "database unavailable")
                return

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        received.append({"url": f"ws://127.0.0.1:{port}"})
        yield received


def quick(url: str) -> BotClient:
    return BotClient(url, "hub_x", request_timeout=0.2, backoff=Backoff(initial=0.01, maximum=0.05))


async def test_a_request_waits_for_a_hub_that_is_away_until_the_client_is_closed() -> None:
    async with quick(f"ws://127.0.0.1:{free_port()}") as bot:  # nothing listens: the hub is away
        pending = asyncio.create_task(bot.reply("k1", "hej", client_id="c1"))
        async with asyncio.timeout(20):
            while bot.backoff.attempt < 20:  # many reconnects, far beyond request_timeout
                await asyncio.sleep(0.01)
        assert not pending.done(), pending
    with pytest.raises(ConnectionError):
        await pending


async def test_a_request_the_hub_could_not_store_is_asked_again_on_the_next_connection() -> None:
    def answer(connection: int, request: dict[str, Any]) -> str:
        if connection == 1:
            return frame(
                ev.ErrorFrame(error="the database is unavailable", request_id=request["request_id"])
            ).decode()
        ack = ev.ReplyAck(
            client_id=request["client_id"], message_id="m9", seq=9, request_id=request["request_id"]
        )
        return frame(ack).decode()

    async with stand_in_hub(answer) as received, quick(received[0]["url"]) as bot:
        async with asyncio.timeout(20):
            ack = await bot.reply("k1", "hej", client_id="c1")
        assert ack.message_id == "m9"
        assert [r["client_id"] for r in received[1:]] == ["c1", "c1"]
        assert bot.connections == 2


async def test_a_refusal_is_raised_at_once() -> None:
    def answer(connection: int, request: dict[str, Any]) -> str:
        return frame(ev.ErrorFrame(error="no conversation k1", request_id=request["request_id"])).decode()

    async with stand_in_hub(answer) as received, quick(received[0]["url"]) as bot:
        with pytest.raises(HubError, match="no conversation k1"):
            async with asyncio.timeout(20):
                await bot.reply("k1", "hej", client_id="c1")
        assert len(received) == 2


async def test_a_revoked_token_ends_a_waiting_request() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close(4401, "not authenticated")

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with quick(f"ws://127.0.0.1:{port}") as bot:
            with pytest.raises(NotAuthenticated):
                async with asyncio.timeout(20):
                    await bot.reply("k1", "hej")
