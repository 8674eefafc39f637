"""Campaigns: checking what is asked, previewing it, building and storing the audience, and the
state changes (start, pause, resume, cancel). Sending is hub.services.campaign_sending; counts
and the live event are hub.services.campaign_progress."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from beanie import PydanticObjectId
from bson import ObjectId

from hub.context import HubContext
from hub.domain import campaign_text as tpl
from hub.domain.campaign_audience import InvalidRow
from hub.domain.campaign_senders import check_sender_name
from hub.domain.numbers import NumberType
from hub.domain.segments import count_segments
from hub.domain.sending_window import SendingWindow, WindowError
from hub.services import campaign_media, campaign_progress
from hub.services.campaign_audience import (
    AudienceSource,
    AudienceStats,
    check_source,
    object_ids,
    recipients,
)
from hub.services.campaign_media import SenderMms
from hub.services.errors import Conflict, Invalid, NotFound
from hub.store.accounts import utcnow
from hub.store.campaigns import (
    COUNTS,
    Campaign,
    CampaignTarget,
    ScheduleModel,
    SenderModel,
    WindowModel,
    campaigns,
    targets,
)
from hub.store.messages import StoredMedia
from hub.store.numbers import Number
from hub.store.usage import UsageLimits

MAX_SEGMENTS = 10
SAMPLES = 5
INSERT_CHUNK = 500
POOL_WARNING = 3


class SenderNumber(msgspec.Struct, tag_field="kind", tag="number"):
    number_id: str


class SenderTwoWay(msgspec.Struct, tag_field="kind", tag="2way"):
    pass


class SenderEco(msgspec.Struct, tag_field="kind", tag="eco"):
    pass


class SenderName(msgspec.Struct, tag_field="kind", tag="name"):
    name: str


SenderIn = SenderNumber | SenderTwoWay | SenderEco | SenderName


class AudienceIn(msgspec.Struct):
    group_ids: list[str] = []
    contact_ids: list[str] = []
    csv: str | None = None


class WindowIn(msgspec.Struct):
    start: str = msgspec.field(name="from")
    end: str = msgspec.field(name="to")
    tz: str = "Europe/Warsaw"


class ScheduleIn(msgspec.Struct):
    start_at: datetime | None = None
    window: WindowIn | None = None
    rate_per_minute: int | None = None


class CampaignIn(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=100)]
    text: str
    sender: SenderIn
    audience: AudienceIn = msgspec.field(default_factory=AudienceIn)
    schedule: ScheduleIn = msgspec.field(default_factory=ScheduleIn)
    media: list[str] = []
    """Files uploaded with `POST /api/campaigns/media`: the campaign goes out as MMS."""


Replies = Literal["guaranteed", "best_effort", "none", "number"]


@dataclass(frozen=True)
class Plan:
    """A checked CampaignIn."""

    name: str
    text: str
    parts: list[tpl.Part]
    sender: SenderModel
    replies: Replies
    suppression_sender: str
    """The number opt-outs and blocks are checked against at build time ("" for a pool)."""
    source: AudienceSource
    schedule: ScheduleModel
    warnings: list[str] = field(default_factory=list)
    media: list[StoredMedia] = field(default_factory=list)
    carrier: SenderMms | None = None
    """The sender's gateway(s) and MMS limits, when the campaign carries files."""


async def pool(eco: bool) -> list[Number]:
    """The operator's 2WAY virtual numbers (ECO+ ones, or the others), by number."""
    return (
        await Number.find({"type": NumberType.TWO_WAY.value, "account_id": None, "eco_plus": eco})
        .sort("e164")
        .to_list()
    )


async def _sender(
    account_id: PydanticObjectId, sender: SenderIn
) -> tuple[SenderModel, Replies, str, list[str]]:
    if isinstance(sender, SenderNumber):
        if not PydanticObjectId.is_valid(sender.number_id):
            raise Invalid("sender.number_id is not an id", field="sender.number_id")
        number = await Number.get(PydanticObjectId(sender.number_id))
        if number is None or number.account_id != account_id:
            raise Invalid("sender.number_id names no number of this account", field="sender.number_id")
        if number.type not in (NumberType.NDI, NumberType.SCI, NumberType.OWN):
            raise Invalid(
                f"a campaign is sent from the account's NDI, SCI or OWN number, not {number.type.value}",
                field="sender.number_id",
            )
        model = SenderModel(
            kind="number",
            number_id=str(number.id),
            number=number.e164,
            label=f"{number.type.value} {number.e164}",
            provider=number.provider,
        )
        return model, "number", number.e164, []
    if isinstance(sender, SenderName):
        try:
            name = check_sender_name(sender.name)
        except ValueError as exc:
            raise Invalid(str(exc), field="sender.name") from None
        own = await Number.find({"account_id": account_id}).sort("e164").first_or_none()
        provider = own.provider if own is not None else "simulator"
        model = SenderModel(kind="name", name=name, label=f"name {name}", provider=provider)
        return model, "none", name, ["Recipients cannot reply to a sender name."]
    eco = isinstance(sender, SenderEco)
    numbers = await pool(eco)
    if not numbers:
        what = "ECO+" if eco else "2WAY"
        raise Invalid(f"the operator has no {what} virtual numbers to send from", field="sender.kind")
    if eco:
        model = SenderModel(kind="eco", label="ECO+", provider=numbers[0].provider)
        return model, "best_effort", "", ["ECO+: replies are matched to the campaign on a best-effort basis."]
    model = SenderModel(kind="2way", label="2WAY pool", provider=numbers[0].provider)
    warnings = []
    if len(numbers) < POOL_WARNING:
        warnings.append(small_pool_warning(len(numbers)))
    return model, "guaranteed", "", warnings


def small_pool_warning(numbers: int) -> str:
    """The preview's warning for a 2WAY pool of fewer than `POOL_WARNING` numbers (the campaigns page
    recognises this sentence: web/static/campaigns-reasons.js)."""
    return (
        f"The 2WAY pool has {numbers} number(s): a recipient that many other live campaigns "
        "texted in the last 7 days is skipped."
    )


def _schedule(schedule: ScheduleIn) -> ScheduleModel:
    window = None
    if schedule.window is not None:
        try:
            SendingWindow.parse(schedule.window.start, schedule.window.end, schedule.window.tz)
        except WindowError as exc:
            raise Invalid(str(exc), field="schedule.window") from None
        window = WindowModel(start=schedule.window.start, end=schedule.window.end, tz=schedule.window.tz)
    if schedule.rate_per_minute is not None and schedule.rate_per_minute <= 0:
        raise Invalid(
            "rate_per_minute must be a positive number (or null: the gateway's limit)",
            field="schedule.rate_per_minute",
        )
    start_at = schedule.start_at
    if start_at is not None and start_at.tzinfo is None:
        raise Invalid(
            "start_at needs a time zone (e.g. 2026-12-24T09:00:00+01:00)", field="schedule.start_at"
        )
    return ScheduleModel(
        start_at=start_at.astimezone(UTC) if start_at else None,
        window=window,
        rate_per_minute=schedule.rate_per_minute,
    )


async def plan(hub: HubContext, account_id: PydanticObjectId, data: CampaignIn, *, need_name: bool) -> Plan:
    """Check a campaign as asked; Invalid (422) says what is wrong, Conflict (409) that its
    sender cannot carry its files."""
    name = data.name.strip()
    if need_name and not name:
        raise Invalid("name must not be empty", field="name")
    if not data.text.strip() and not data.media:
        raise Invalid("text must not be empty", field="text")
    try:
        parts = tpl.parse(data.text)
    except tpl.TemplateError as exc:
        raise Invalid(str(exc), field="text") from None
    sender, replies, suppression_sender, warnings = await _sender(account_id, data.sender)
    media, carrier = await campaign_media.attachments(
        hub, account_id, sender.kind, sender.number_id, list(data.media)
    )
    schedule = _schedule(data.schedule)
    source = AudienceSource(
        object_ids(data.audience.group_ids, "audience.group_ids"),
        object_ids(data.audience.contact_ids, "audience.contact_ids"),
        data.audience.csv,
    )
    await check_source(account_id, source)
    return Plan(
        name,
        data.text,
        parts,
        sender,
        replies,
        suppression_sender,
        source,
        schedule,
        warnings,
        media,
        carrier,
    )


@dataclass
class Preview:
    recipients: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    invalid_rows: list[InvalidRow] = field(default_factory=list)
    segments_total: int = 0
    units_total: int | None = None
    encodings: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    too_long: int = 0
    units_per_message: int | None = None
    """Units one MMS costs (None: an SMS, priced by its segments)."""
    carrier: SenderMms | None = None
    media: list[StoredMedia] = field(default_factory=list)


async def _priced(account_id: PydanticObjectId) -> bool:
    """Whether the operator console set the account's units (a limit or a prepaid balance)."""
    limits = await UsageLimits.get(account_id)
    return limits is not None and (limits.monthly_segments is not None or limits.balance_units is not None)


async def _walk(hub: HubContext, account_id: PydanticObjectId, p: Plan, on_target: Any = None) -> Preview:
    stats = AudienceStats()
    out = Preview(warnings=list(p.warnings), carrier=p.carrier, media=p.media)
    async for r in recipients(account_id, p.source, p.suppression_sender, stats):
        text = tpl.render_parts(p.parts, r.fields)
        seg = count_segments(text)
        if seg.segments > MAX_SEGMENTS:
            out.too_long += 1
        if len(out.samples) < SAMPLES:
            out.samples.append(
                {"phone": r.phone, "text": text, "segments": seg.segments, "encoding": seg.encoding}
            )
        out.recipients += 1
        out.segments_total += seg.segments
        out.encodings[seg.encoding] += 1
        if on_target is not None:
            await on_target(r, seg.segments)
    out.excluded = stats.excluded()
    out.invalid_rows = stats.invalid_rows
    if p.media:
        # An MMS is metered as one message of `HUB_USAGE_MMS_UNITS`, whatever its text's length
        # (hub.services.usage.message_charge).
        out.units_per_message = hub.settings.usage.mms_units
        units = out.recipients * out.units_per_message
    else:
        units = out.segments_total
    out.units_total = units if await _priced(account_id) else None
    if out.too_long:
        out.warnings.append(
            f"{out.too_long} recipients' texts need more than {MAX_SEGMENTS} segments and would not be sent"
        )
    return out


async def preview(hub: HubContext, account_id: PydanticObjectId, data: CampaignIn) -> Preview:
    return await _walk(hub, account_id, await plan(hub, account_id, data, need_name=False))


async def create(hub: HubContext, account_id: PydanticObjectId, data: CampaignIn) -> Campaign:
    """Check, build the audience and store the campaign as a draft; nothing is stored on an error.

    The campaign is stored first as `building` (hidden from the account) and its targets after
    it, so a process that dies part-way leaves a campaign the start-up sweep finds and deletes
    with its targets (`drop_abandoned_builds`), never targets nothing points to.
    """
    p = await plan(hub, account_id, data, need_name=True)
    campaign_id = PydanticObjectId(ObjectId())
    pending: list[dict[str, Any]] = []
    n = 0
    campaign = Campaign(
        id=campaign_id,
        account_id=account_id,
        name=p.name,
        text=p.text,
        media=p.media,
        sender=p.sender,
        replies=p.replies,
        schedule=p.schedule,
        status="building",
        building_seen_at=utcnow(),
        created_at=utcnow(),
    )
    await campaign.insert()

    async def add(r: Any, segments: int) -> None:
        nonlocal n, pending
        pending.append(
            {
                "campaign_id": campaign_id,
                "account_id": account_id,
                "n": n,
                "phone": r.phone,
                "name": r.name,
                "fields": r.fields,
                "stage": "pending",
                "status": "queued",
                "segments": segments,
                "opted_out": False,
            }
        )
        n += 1
        if len(pending) >= INSERT_CHUNK:
            await targets().insert_many(pending)
            pending = []
            await campaigns().update_one({"_id": campaign_id}, {"$set": {"building_seen_at": utcnow()}})

    try:
        out = await _walk(hub, account_id, p, add)
        if out.too_long:
            raise Invalid(
                f"{out.too_long} recipients' texts would need more than {MAX_SEGMENTS} SMS segments",
                field="text",
            )
        if out.recipients == 0:
            raise Invalid(
                "the audience is empty: nobody left to send to",
                field="audience",
                **{"excluded": out.excluded},
            )
        if pending:
            await targets().insert_many(pending)
        counts = dict.fromkeys(COUNTS, 0)
        counts["recipients"] = counts["queued"] = out.recipients
        built = {
            "status": "draft",
            "building_seen_at": None,
            "counts": counts,
            "excluded": out.excluded,
            "segments_total": out.segments_total,
            "units_total": out.units_total,
        }
        await campaigns().update_one({"_id": campaign_id, "status": "building"}, {"$set": built})
    except BaseException:
        await targets().delete_many({"campaign_id": campaign_id})
        await campaigns().delete_one({"_id": campaign_id})
        raise
    stored = await Campaign.get(campaign_id)
    assert stored is not None
    return stored


BUILD_STALE = timedelta(minutes=10)
"""A build that wrote no chunk for this long died with its process (a chunk takes well under a
second)."""


async def drop_abandoned_builds(now: datetime) -> int:
    """Delete the campaigns whose build died part-way, and their targets; how many."""
    dropped = 0
    async for doc in campaigns().find(
        {"status": "building", "building_seen_at": {"$lt": now - BUILD_STALE}}, {"_id": 1}
    ):
        await targets().delete_many({"campaign_id": doc["_id"]})
        await campaigns().delete_one({"_id": doc["_id"], "status": "building"})
        dropped += 1
    return dropped


async def get(account_id: PydanticObjectId, campaign_id: str) -> Campaign:
    if not PydanticObjectId.is_valid(campaign_id):
        raise NotFound("no such campaign", field="id")
    campaign = await Campaign.find_one({"_id": PydanticObjectId(campaign_id), "account_id": account_id})
    if campaign is None or campaign.status == "building":
        raise NotFound("no such campaign", field="id")
    return campaign


async def list_campaigns(account_id: PydanticObjectId) -> list[Campaign]:
    found = await Campaign.find({"account_id": account_id}).sort("-created_at").limit(500).to_list()
    return [c for c in found if c.status != "building"]


async def _move(
    hub: HubContext, campaign: Campaign, allowed: tuple[str, ...], changes: dict[str, Any], what: str
) -> Campaign:
    """Compare-and-set the campaign's status; 409 when its state does not allow `what`."""
    result = await Campaign.get_pymongo_collection().update_one(
        {"_id": campaign.id, "status": {"$in": list(allowed)}}, {"$set": changes}
    )
    if result.modified_count != 1:
        current = await Campaign.get(campaign.id)
        status = current.status if current is not None else "gone"
        raise Conflict(f"a {status} campaign cannot be {what}", field="status", status=status)
    updated = await Campaign.get(campaign.id)
    assert updated is not None
    await campaign_progress.publish(hub, updated.account_id, str(updated.id))
    return updated


async def start(hub: HubContext, campaign: Campaign, now: datetime) -> Campaign:
    start_at = campaign.schedule.start_at
    later = start_at is not None and start_at.astimezone(UTC) > now
    status = "scheduled" if later else "running"
    updated = await _move(hub, campaign, ("draft",), {"status": status, "started_at": now}, "started")
    await campaign_sending_enqueue(
        hub, updated, delay_s=(start_at - now).total_seconds() if later and start_at else 0
    )
    return updated


async def pause(hub: HubContext, campaign: Campaign) -> Campaign:
    return await _move(
        hub,
        campaign,
        ("scheduled", "running", "waiting"),
        {"status": "paused", "paused_reason": None},
        "paused",
    )


async def resume(hub: HubContext, campaign: Campaign, now: datetime) -> Campaign:
    start_at = campaign.schedule.start_at
    status = "scheduled" if start_at is not None and start_at.astimezone(UTC) > now else "running"
    updated = await _move(hub, campaign, ("paused",), {"status": status, "paused_reason": None}, "resumed")
    await campaign_sending_enqueue(hub, updated)
    return updated


async def cancel(hub: HubContext, campaign: Campaign, now: datetime) -> Campaign:
    """Stop for good: targets not handed to the gateway yet stay queued (never sent)."""
    return await _move(
        hub,
        campaign,
        ("draft", "scheduled", "running", "waiting", "paused"),
        {"status": "cancelled", "finished_at": now, "next_send_at": None},
        "cancelled",
    )


async def campaign_sending_enqueue(hub: HubContext, campaign: Campaign, delay_s: float = 0.0) -> None:
    """Queue the campaign's current batch job (a no-op while that batch is queued)."""
    await enqueue_batch(hub, campaign.id, campaign.batch, delay_s)


async def enqueue_batch(hub: HubContext, campaign_id: Any, batch: int, delay_s: float = 0.0) -> None:
    await hub.jobs.enqueue(
        "campaign_batch",
        key=f"campaign:{campaign_id}:batch:{batch}",
        delay_s=max(0.0, delay_s),
        campaign_id=str(campaign_id),
        batch=batch,
    )


SPAN = 1000
"""Recipients read per query (a range of `n`): the database reads all a filter selects."""


async def recipients_page(
    campaign: Campaign, status: str | None, limit: int, after: str | None
) -> tuple[list[CampaignTarget], str | None]:
    """Recipients in build order after `after` (the `n` of the last one seen), `status` only if
    given; the cursor of the next page, or None at the end."""
    start = 0
    if after:
        if not after.isdigit():
            raise Invalid("after must be the `next` of the previous page", field="after")
        start = int(after) + 1
    total = campaign.counts.get("recipients", 0)
    rows: list[CampaignTarget] = []
    while start < total and len(rows) <= limit:
        query: dict[str, Any] = {"campaign_id": campaign.id, "n": {"$gte": start, "$lt": start + SPAN}}
        if status:
            query["status"] = status
        rows += await CampaignTarget.find(query).sort("n").limit(limit + 1 - len(rows)).to_list()
        start += SPAN
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].n) if more and rows else None)


async def all_recipients(campaign: Campaign) -> AsyncIterator[CampaignTarget]:
    """Every recipient in build order, a range at a time."""
    total = campaign.counts.get("recipients", 0)
    for start in range(0, total, SPAN):
        query = {"campaign_id": campaign.id, "n": {"$gte": start, "$lt": start + SPAN}}
        for target in await CampaignTarget.find(query).sort("n").to_list():
            yield target
