"""Screens: messages reaching billboards and chat screens, moderation, host answers, results.

Every change follows one order: write the item to MongoDB, then store the screen event in the
screen's log, then publish it on the screen's channel (`record`). A screen that missed a publish
replays it from the log by sequence number. Moderators' queues get ephemeral notices on a
channel of their own: a screen's channel never carries anything a screen may not see.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Sequence
from typing import Any

import msgspec
from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError, PyMongoError

from hub.context import HubContext
from hub.domain import display_events as dev
from hub.domain import displays as core
from hub.domain.events import SurveyResultsPayload
from hub.domain.keywords import normalise
from hub.domain.messages import Direction
from hub.metrics import EVENTS_PUBLISHED
from hub.realtime.bus import now_iso
from hub.services.auth import digest
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.outbound import Author, send_reply
from hub.store import event_log, update_then_read
from hub.store.accounts import utcnow
from hub.store.displays import (
    LOG_TRIM_EVERY,
    DisplayDoc,
    DisplayEventRecord,
    DisplayItem,
    DisplayNick,
    ItemMedia,
)
from hub.store.event_log import read_since
from hub.store.grouped import Counters
from hub.store.messages import Message

log = logging.getLogger(__name__)

PENDING = core.Outcome.QUEUE.value
SHOWN = core.Outcome.SHOW.value
REMOVED = "removed"
REJECTED = "rejected"


def new_token() -> tuple[str, str]:
    """A screen link's token and the hash stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


async def by_token(token: str) -> DisplayDoc | None:
    if not token or len(token) > 200:
        return None
    return await DisplayDoc.find_one({"token_hash": digest(token)})


async def owned(account_id: PydanticObjectId, display_id: str) -> DisplayDoc:
    """The caller's screen; another account's id is as unknown as a made-up one."""
    if not PydanticObjectId.is_valid(display_id):
        raise NotFound("no such display", field="display_id")
    doc = await DisplayDoc.find_one({"_id": PydanticObjectId(display_id), "account_id": account_id})
    if doc is None:
        raise NotFound("no such display", field="display_id")
    return doc


def channel(hub: HubContext, display_id: PydanticObjectId | str) -> str:
    return f"{hub.settings.redis.channel_prefix}:display:{display_id}"


def moderation_channel(hub: HubContext, display_id: PydanticObjectId | str) -> str:
    return f"{hub.settings.redis.channel_prefix}:display-mod:{display_id}"


def rules(display: DisplayDoc) -> core.Rules:
    return core.Rules(
        moderation=core.Moderation(display.moderation),
        filter_action=core.FilterAction(display.filter_action),
        words=core.word_set(display.words),
        blocked=frozenset(display.blocked),
    )


# ------------------------------------------------------------------------------ the event log


# A burst of messages shown on one screen takes its numbers in one update (hub.store.grouped).
_seqs = Counters(DisplayDoc.get_pymongo_collection, "seq")


async def next_seq(display_id: PydanticObjectId) -> int:
    try:
        return await _seqs.next(display_id)
    except LookupError:
        raise NotFound("no such display", field="display_id") from None


async def head(display_id: PydanticObjectId) -> int:
    doc = await DisplayDoc.get_pymongo_collection().find_one({"_id": display_id}, projection={"seq": 1})
    return int(doc["seq"]) if doc else 0


def log_kept(hub: HubContext) -> int:
    """How many of its latest events a screen's log keeps: all a resuming screen can be replayed
    (a screen further behind starts over from a snapshot), with `holds_after`'s window below them."""
    return hub.settings.realtime.resume_limit + event_log.EXPIRY_WINDOW + LOG_TRIM_EVERY


async def record(hub: HubContext, event: dev.DurableDisplayEvent) -> None:
    """Store a screen event in the screen's log, then publish it; a repeat publishes again."""
    payload = dev.encode_display_event(event)
    kind = str(type(event).__struct_config__.tag)
    display_id = PydanticObjectId(event.display_id)
    # A duplicate: an earlier attempt stored it and may have died before publishing; screens
    # skip repeats.
    with contextlib.suppress(DuplicateKeyError):
        await DisplayEventRecord(
            display_id=display_id,
            seq=event.seq,
            type=kind,
            payload=payload,
        ).insert()
    await hub.fanout.publish(channel(hub, event.display_id), payload)
    EVENTS_PUBLISHED.labels(kind).inc()
    if event.seq % LOG_TRIM_EVERY == 0:
        await trim(display_id, event.seq - log_kept(hub))


async def trim(display_id: PydanticObjectId, upto: int) -> None:
    """Delete the screen's events up to `upto`, from the last few trims' ranges on: a bounded
    range read (a trim skipped because its seq was never used is made up by the next ones)."""
    if upto <= 0:
        return
    oldest = max(0, upto - 4 * LOG_TRIM_EVERY)
    await DisplayEventRecord.get_pymongo_collection().delete_many(
        {"display_id": display_id, "seq": {"$gt": oldest, "$lte": upto}}
    )


async def since(
    display_id: PydanticObjectId, seq: int, limit: int, missing: Sequence[int] = ()
) -> list[bytes]:
    """The screen's stored events after `seq` and of `missing` (see `event_log.read_since`)."""
    return await read_since(
        DisplayEventRecord.get_pymongo_collection(), ("display_id", display_id), seq, limit, missing
    )


async def holds_after(display_id: PydanticObjectId, since: int) -> bool:
    """Whether the screen's log still holds the events after `since` (see `event_log.holds_after`)."""
    events = DisplayEventRecord.get_pymongo_collection()
    return await event_log.holds_after(events, ("display_id", display_id), since)


async def notify_moderators(hub: HubContext, item: DisplayItem) -> None:
    """Tell open panels that an item's moderation state changed (they reload the queue)."""
    notice = {"type": "display.queue", "item_id": str(item.id), "status": item.status}
    await hub.fanout.publish(moderation_channel(hub, item.display_id), msgspec.json.encode(notice))
    EVENTS_PUBLISHED.labels("display.queue").inc()


async def closed(hub: HubContext, display_id: PydanticObjectId) -> None:
    """Close every open screen of a revoked link (sent once, not stored)."""
    event = dev.DisplayClosed(seq=0, display_id=str(display_id), at=now_iso())
    await hub.fanout.publish(channel(hub, display_id), dev.encode_display_event(event))
    EVENTS_PUBLISHED.labels("display.closed").inc()


# ------------------------------------------------------------------------------ payloads


def config_payload(display: DisplayDoc) -> dev.DisplayConfigPayload:
    return dev.DisplayConfigPayload(
        title=display.title,
        mode="chat" if display.mode == "chat" else "billboard",
        background=display.background,
        foreground=display.foreground,
        accent=display.accent,
        logo_url="/api/screen/logo" if display.logo_file_id else None,
        lifetime_s=display.lifetime_s,
        max_shown=display.max_shown,
        cycle_when_quiet=display.cycle_when_quiet,
        number=display.number,
        keyword=display.keyword,
        language="en" if display.language == "en" else "pl",
    )


async def _nicks(display: DisplayDoc, phones: Sequence[str]) -> dict[str, str]:
    if display.mode != "chat" or not phones:
        return {}
    found = DisplayNick.find({"display_id": display.id, "phone": {"$in": list(set(phones))}})
    return {n.phone: n.nick async for n in found}


def message_payload(display: DisplayDoc, item: DisplayItem, nick: str | None) -> dev.DisplayMessagePayload:
    host = item.author == "host"
    return dev.DisplayMessagePayload(
        id=str(item.id),
        text=item.text,
        # The mask is applied here: the real number never leaves the server for a screen.
        sender="" if host else core.sender_label(item.sender, display.masked),
        nick=nick,
        author="host" if host else "texter",
        media=[
            dev.DisplayMedia(url=f"/api/screen/media/{item.id}/{i}", mime=m.mime, kind=m.kind)
            for i, m in enumerate(item.media)
        ],
        at=item.created_at.isoformat().replace("+00:00", "Z"),
        reply_to=str(item.reply_to) if item.reply_to else None,
    )


async def publish_shown(hub: HubContext, display: DisplayDoc, item: DisplayItem) -> None:
    assert item.shown_seq is not None and display.id is not None
    nick = None
    if item.author == "host":
        nick = display.host_name
    else:
        nick = (await _nicks(display, [item.sender])).get(item.sender)
    await record(
        hub,
        dev.DisplayMessage(
            seq=item.shown_seq,
            display_id=str(display.id),
            at=now_iso(),
            data=message_payload(display, item, nick),
        ),
    )


SHOWN_SLACK = 16
"""Sequence numbers the first read of `latest_shown` covers beyond the items asked for (numbers
taken by other events, or by items since removed); each further read covers four times more."""


async def latest_shown(display_id: PydanticObjectId, top: int, limit: int) -> list[DisplayItem]:
    """The screen's `limit` latest shown items, newest first, up to sequence number `top`.

    Read by windows of sequence numbers below `top`, widening until enough are found: a filter
    on status alone would read every item the screen ever showed (SecantusDB reads what a
    filter selects before it sorts and limits), a cost that grows with every text of a vote.
    """
    found: list[DisplayItem] = []
    high, width = top, limit + SHOWN_SLACK
    while len(found) < limit and high > 0:
        low = max(0, high - width)
        window = {"display_id": display_id, "status": SHOWN, "shown_seq": {"$gt": low, "$lte": high}}
        found += sorted(
            await DisplayItem.find(window).to_list(), key=lambda i: i.shown_seq or 0, reverse=True
        )
        high, width = low, width * 4
    return found[:limit]


async def snapshot(display: DisplayDoc, top: int | None = None) -> list[dev.DisplayMessagePayload]:
    """The messages a screen shows when it opens: the latest shown up to `top` (the screen's
    head), oldest first."""
    assert display.id is not None
    head_seq = await head(display.id) if top is None else top
    items = await latest_shown(display.id, head_seq, max(display.max_shown, 1) * 3)
    items.reverse()
    nicks = await _nicks(display, [i.sender for i in items if i.author == "texter"])
    return [
        message_payload(display, i, display.host_name if i.author == "host" else nicks.get(i.sender))
        for i in items
    ]


# ------------------------------------------------------------------------------ inbound


def _reaches(display: DisplayDoc, message: Message) -> bool:
    if display.keyword is None:
        return True
    return message.keyword is not None and normalise(message.keyword.text) == display.keyword


async def on_inbound(hub: HubContext, message: Message) -> None:
    """Hand a stored inbound message to the account's screens on its number; safe to repeat."""
    if message.direction != Direction.INBOUND:
        return
    displays = await DisplayDoc.find(
        {"account_id": message.account_id, "number": message.recipient}
    ).to_list()
    for display in displays:
        if not _reaches(display, message):
            continue
        try:
            await _reach(hub, display, message)
        except PyMongoError:
            # The database is in trouble: fail the webhook so the gateway retries it (every step
            # before this one is idempotent, and so is this).
            raise
        except Exception:
            # One screen's bug must not fail the webhook for the inbox and the other screens.
            log.exception("screen %s could not take message %s", display.id, message.id)


async def _reach(hub: HubContext, display: DisplayDoc, message: Message) -> None:
    assert display.id is not None and message.id is not None
    param = message.keyword.param if message.keyword is not None else None
    text = core.shown_text(message.text, param, display.keyword)
    if display.mode == "chat":
        nick = core.parse_nick(text)
        if nick is not None:
            await _set_nick(display, message.sender, nick)
            return
    # Opt-out, opt-in and help words as routing took them, and other screens' nickname commands.
    word = message.routing.word if message.routing is not None else None
    if core.is_command(message.text, param, word):
        return
    existing = await DisplayItem.find_one({"display_id": display.id, "message_id": message.id})
    if existing is None:
        decision = core.decide(rules(display), message.sender, text)
        media = [
            ItemMedia(file_id=m.file_id, mime=m.mime, kind=m.kind)
            for m in message.media
            if m.file_id is not None and m.kind in ("image", "video")
        ]
        if not text and not media:
            return
        item = DisplayItem(
            display_id=display.id,
            account_id=display.account_id,
            message_id=message.id,
            conversation_id=message.conversation_id,
            sender=message.sender,
            text=text,
            media=media,
            status=decision.outcome.value,
            reason=decision.reason,
            # Taken before the insert, so a retry finds the item with its number and re-sends it.
            shown_seq=await next_seq(display.id) if decision.outcome is core.Outcome.SHOW else None,
        )
        try:
            await item.insert()
        except DuplicateKeyError:
            # A concurrent delivery of the same webhook got here first; its seq stays unused.
            found = await DisplayItem.find_one({"display_id": display.id, "message_id": message.id})
            assert found is not None
            item = found
    else:
        item = existing
    if item.status == SHOWN and item.shown_seq is not None:
        await publish_shown(hub, display, item)
    # Panels list what waits and what shows: both change here.
    if item.status in (SHOWN, PENDING):
        await notify_moderators(hub, item)


async def _set_nick(display: DisplayDoc, phone: str, nick: str) -> None:
    if not core.nick_allowed(nick, core.word_set(display.words)):
        return
    if not nick:
        await DisplayNick.find_one({"display_id": display.id, "phone": phone}).delete()
        return
    await DisplayNick.get_pymongo_collection().update_one(
        {"display_id": display.id, "phone": phone},
        {"$set": {"nick": nick, "updated_at": utcnow()}},
        upsert=True,
    )


# ------------------------------------------------------------------------------ moderation


async def item_of(display: DisplayDoc, item_id: str) -> DisplayItem:
    if not PydanticObjectId.is_valid(item_id):
        raise NotFound("no such item", field="item_id")
    item = await DisplayItem.find_one({"_id": PydanticObjectId(item_id), "display_id": display.id})
    if item is None:
        raise NotFound("no such item", field="item_id")
    return item


async def _move(item: DisplayItem, src: str, dst: str, **extra: Any) -> DisplayItem | None:
    doc = await update_then_read(
        DisplayItem.get_pymongo_collection(),
        {"_id": item.id, "status": src},
        {"$set": {"status": dst, **extra}},
    )
    return DisplayItem.model_validate(doc) if doc else None


async def approve(hub: HubContext, display: DisplayDoc, item_id: str) -> DisplayItem:
    assert display.id is not None
    item = await item_of(display, item_id)
    if item.status == SHOWN:
        return item
    if item.status != PENDING:
        raise Conflict(f"the message is {item.status}, not waiting for approval", field="item_id")
    if not core.can_approve(rules(display), item.sender, item.text):
        raise Conflict("the sender is blocked or the text has a hidden word", field="item_id")
    seq = await next_seq(display.id)
    moved = await _move(item, PENDING, SHOWN, shown_seq=seq)
    if moved is None:
        # Another moderator decided first; this seq stays a hole.
        return await item_of(display, item_id)
    await publish_shown(hub, display, moved)
    await notify_moderators(hub, moved)
    return moved


async def reject(hub: HubContext, display: DisplayDoc, item_id: str) -> DisplayItem:
    item = await item_of(display, item_id)
    if item.status == REJECTED:
        return item
    if item.status != PENDING:
        raise Conflict(f"the message is {item.status}, not waiting for approval", field="item_id")
    moved = await _move(item, PENDING, REJECTED) or await item_of(display, item_id)
    await notify_moderators(hub, moved)
    return moved


async def remove(hub: HubContext, display: DisplayDoc, item_id: str) -> DisplayItem:
    item = await item_of(display, item_id)
    if item.status == PENDING:
        return await reject(hub, display, item_id)
    if item.status != SHOWN:
        return item
    return await _take_down(hub, display, item)


async def _take_down(hub: HubContext, display: DisplayDoc, item: DisplayItem) -> DisplayItem:
    assert display.id is not None
    seq = await next_seq(display.id)
    moved = await _move(item, SHOWN, REMOVED, removed_seq=seq)
    if moved is None:
        return await item_of(display, str(item.id))
    await record(
        hub,
        dev.DisplayRemoved(
            seq=seq, display_id=str(display.id), at=now_iso(), data=dev.RemovedPayload(id=str(item.id))
        ),
    )
    await notify_moderators(hub, moved)
    return moved


async def block(hub: HubContext, display: DisplayDoc, item_id: str | None, phone: str | None) -> str:
    """Block a sender on this screen: their messages leave the screen and the queue, and never show."""
    if item_id:
        phone = (await item_of(display, item_id)).sender
    if not phone:
        raise Invalid("give item_id or phone", field="phone")
    await DisplayDoc.get_pymongo_collection().update_one(
        {"_id": display.id}, {"$addToSet": {"blocked": phone}, "$set": {"updated_at": utcnow()}}
    )
    async for item in DisplayItem.find({"display_id": display.id, "sender": phone, "status": SHOWN}):
        await _take_down(hub, display, item)
    async for item in DisplayItem.find({"display_id": display.id, "sender": phone, "status": PENDING}):
        moved = await _move(item, PENDING, REJECTED, reason="blocked")
        if moved is not None:
            await notify_moderators(hub, moved)
    return phone


async def unblock(display: DisplayDoc, phone: str) -> None:
    await DisplayDoc.get_pymongo_collection().update_one(
        {"_id": display.id}, {"$pull": {"blocked": phone}, "$set": {"updated_at": utcnow()}}
    )


# ------------------------------------------------------------------------------ chat hosts


async def host_reply(
    hub: HubContext, display: DisplayDoc, item_id: str, text: str, author: Author, client_id: str | None
) -> DisplayItem:
    """A host answers a texter: by SMS in the texter's conversation, and on the chat screen."""
    assert display.id is not None
    if display.mode != "chat":
        raise Conflict("hosts answer on chat screens only", field="display_id")
    asked = await item_of(display, item_id)
    if asked.author != "texter" or asked.status != SHOWN:
        raise Conflict("answer a texter's message that is on the screen", field="item_id")
    message = await send_reply(
        hub, display.account_id, str(asked.conversation_id), text, author, client_id or None
    )
    assert message.id is not None
    item = await DisplayItem.find_one({"display_id": display.id, "message_id": message.id})
    if item is None:
        item = DisplayItem(
            display_id=display.id,
            account_id=display.account_id,
            message_id=message.id,
            conversation_id=asked.conversation_id,
            author="host",
            sender=display.number,
            text=text.strip(),
            status=SHOWN,
            # The answering agent, for moderators; the screen names the host by `host_name`.
            reason=author.name or "Host",
            reply_to=asked.id,
            shown_seq=await next_seq(display.id),
        )
        try:
            await item.insert()
        except DuplicateKeyError:
            found = await DisplayItem.find_one({"display_id": display.id, "message_id": message.id})
            assert found is not None
            item = found
    await publish_shown(hub, display, item)
    await notify_moderators(hub, item)
    return item


# ------------------------------------------------------------------------------ config, results


async def publish_config(hub: HubContext, display: DisplayDoc) -> None:
    assert display.id is not None
    seq = await next_seq(display.id)
    await record(
        hub,
        dev.DisplayConfig(seq=seq, display_id=str(display.id), at=now_iso(), data=config_payload(display)),
    )


async def on_survey_results(
    hub: HubContext, account_id: PydanticObjectId, data: SurveyResultsPayload
) -> None:
    """Put a survey's new tallies on every screen of the account that charts it."""
    if not PydanticObjectId.is_valid(data.survey_id):
        return
    query = {"account_id": account_id, "survey_id": PydanticObjectId(data.survey_id)}
    async for display in DisplayDoc.find(query):
        assert display.id is not None
        seq = await next_seq(display.id)
        await record(hub, dev.DisplayResults(seq=seq, display_id=str(display.id), at=now_iso(), data=data))
