"""Usage and limits: what each account sends that costs money, and what it may still send.

Receiving is free; every SMS the hub sends for an account (a reply, an automatic reply, a 2WAY
send), every MMS, and every SMS forwarded to a phone is billable. The rule in units: one unit per
SMS segment (replies and forwards alike), `HUB_USAGE_MMS_UNITS` units per MMS (default 1). The
monthly limit and the prepaid balance are both counted in units.

A send first reserves its units (`reserve`: an atomic conditional update of the balance and of the
month's counter, so concurrent sends never take the balance below zero or the month over its
limit), is billed when the gateway takes it (`bill`, also when the gateway may have sent it before
failing), and is released — units given back — when it fails before reaching the gateway
(`release`). Months are calendar months in Europe/Warsaw time.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.domain import routing as core
from hub.domain.segments import count_segments
from hub.services.errors import Conflict, Invalid
from hub.store.accounts import Account, utcnow
from hub.store.messages import Message
from hub.store.usage import UsageEntry, UsageLimits, UsageMonth, UsageState

BILLING_ZONE = ZoneInfo("Europe/Warsaw")
AUTO_KINDS = {"Autoresponder": "autoreply", "Survey": "survey", "Help": "help", "Opt-in": "opt_in"}
MAX_UNITS = 1_000_000_000


class UsageRefused(Conflict):
    """A send the account's limits do not allow; `limit` names the limit (for a withheld reply)."""

    def __init__(self, message: str, limit: str, field: str | None = None) -> None:
        super().__init__(message, field=field, code="usage_limit", limit=limit)
        self.limit = limit


def month_of(at: datetime) -> str:
    return at.astimezone(BILLING_ZONE).strftime("%Y-%m")


def parse_month(value: str | None) -> str:
    """A "YYYY-MM" month; None: the current one (Europe/Warsaw)."""
    if value is None or value == "":
        return month_of(utcnow())
    try:
        parsed = datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise Invalid(f"month must be YYYY-MM, got {value!r}", field="month") from None
    return parsed.strftime("%Y-%m")


def message_kind(message: Message) -> str:
    """What a message was sent as: agent, bot, email (replies), autoreply, survey, help, opt_in,
    campaign (2WAY)."""
    if message.author.kind == "auto":
        return AUTO_KINDS.get(message.author.name or "", "autoreply")
    if message.author.kind == "system":
        return "campaign"
    return message.author.kind


def message_key(message_id: Any) -> str:
    return f"msg:{message_id}"


def forward_key(delivery_id: Any, replay: int) -> str:
    return f"fwd:{delivery_id}:{replay}"


def message_charge(message: Message, mms_units: int) -> tuple[str, int]:
    """A message's channel and units."""
    if any(m.file_id is not None for m in message.media):
        return "mms", mms_units
    return "sms", message.segments


# ---------------------------------------------------------------- reserve, bill, release


async def _count_units(account_id: PydanticObjectId, month: str, units: int) -> str:
    """Add `units` to the month's counter, creating it; returns its id."""
    month_id = f"{account_id}:{month}"
    query = {"_id": month_id}
    update = {"$setOnInsert": {"account_id": account_id, "month": month}, "$inc": {"units": units}}
    try:
        await UsageMonth.get_pymongo_collection().update_one(query, update, upsert=True)
    except DuplicateKeyError:
        # Two first sends of the month at once: the other one created it.
        await UsageMonth.get_pymongo_collection().update_one(query, update)
    return month_id


async def _take(account_id: PydanticObjectId, month: str, units: int) -> None:
    """Take `units` from the balance and the month's counter, or raise UsageRefused."""
    limits = await UsageLimits.get(account_id)
    limits_coll = UsageLimits.get_pymongo_collection()
    took_balance = False
    if limits is not None and limits.balance_units is not None:
        result = await limits_coll.update_one(
            {"_id": account_id, "balance_units": {"$gte": units}}, {"$inc": {"balance_units": -units}}
        )
        took_balance = result.modified_count == 1
        if not took_balance:
            now = await UsageLimits.get(account_id)
            if now is not None and now.balance_units is not None:
                raise _low_balance(units, now.balance_units)
    months = UsageMonth.get_pymongo_collection()
    cap = limits.monthly_segments if limits is not None else None
    if cap is None:
        await _count_units(account_id, month, units)
        return
    month_id = await _count_units(account_id, month, 0)
    result = await months.update_one(
        {"_id": month_id, "units": {"$lte": cap - units}}, {"$inc": {"units": units}}
    )
    if result.modified_count == 1:
        return
    if took_balance:
        await limits_coll.update_one({"_id": account_id}, {"$inc": {"balance_units": units}})
    raise _over_month(cap, units)


async def _room(account_id: PydanticObjectId) -> tuple[UsageLimits | None, int]:
    """The account's limits and the units its current month has taken (read only when capped)."""
    limits = await UsageLimits.get(account_id)
    if limits is None or limits.monthly_segments is None:
        return limits, 0
    used = await UsageMonth.get(f"{account_id}:{month_of(utcnow())}")
    return limits, used.units if used else 0


def _refuse_if_over(limits: UsageLimits | None, used: int, units: int) -> None:
    if limits is None:
        return
    if limits.balance_units is not None and limits.balance_units < units:
        raise _low_balance(units, limits.balance_units)
    if limits.monthly_segments is not None and used + units > limits.monthly_segments:
        raise _over_month(limits.monthly_segments, units)


async def check_affordable(account_id: PydanticObjectId, units: int) -> None:
    """Raise UsageRefused when the account's limits leave less than `units` now: a check before
    storing anything that comes with a send (a 2WAY binding). Not a reservation: `reserve` is."""
    limits, used = await _room(account_id)
    _refuse_if_over(limits, used, units)


def _low_balance(units: int, left: int) -> UsageRefused:
    return UsageRefused(
        f"not sent: the account's prepaid balance is too low ({units} units needed, {left} left)",
        limit="prepaid balance",
    )


def _over_month(cap: int, units: int) -> UsageRefused:
    return UsageRefused(
        f"not sent: the account's monthly limit of {cap} segments would be exceeded ({units} needed)",
        limit=f"monthly limit {cap}",
    )


async def _give_back(account_id: PydanticObjectId, month: str, units: int) -> None:
    await UsageMonth.get_pymongo_collection().update_one(
        {"_id": f"{account_id}:{month}"}, {"$inc": {"units": -units}}
    )
    await UsageLimits.get_pymongo_collection().update_one(
        {"_id": account_id, "balance_units": {"$type": "number"}}, {"$inc": {"balance_units": units}}
    )


@dataclass(frozen=True)
class Charge:
    """A billable send: its ledger key and what it costs."""

    key: str
    account_id: PydanticObjectId
    kind: str
    channel: str
    segments: int
    units: int
    message_id: PydanticObjectId | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def reserve(charge: Charge) -> None:
    """Take the charge's units from the account's limits, once per key; UsageRefused when they do
    not allow it. A key already reserved or billed is not charged again (a retried job)."""
    coll = UsageEntry.get_pymongo_collection()
    existing = await coll.find_one({"_id": charge.key})
    if existing is not None and existing.get("state") != UsageState.RELEASED.value:
        return
    month = month_of(utcnow())
    await _take(charge.account_id, month, charge.units)
    if existing is None:
        entry = UsageEntry(
            id=charge.key,
            account_id=charge.account_id,
            month=month,
            kind=charge.kind,
            channel=charge.channel,
            segments=charge.segments,
            units=charge.units,
            message_id=charge.message_id,
        )
        try:
            await entry.insert()
        except DuplicateKeyError:
            await _give_back(charge.account_id, month, charge.units)
        return
    result = await coll.update_one(
        {"_id": charge.key, "state": UsageState.RELEASED.value},
        # `created_at` moves too: the stale-reservation sweep reads it as when units were taken.
        {
            "$set": {
                "state": UsageState.RESERVED.value,
                "month": month,
                "units": charge.units,
                "created_at": utcnow(),
            }
        },
    )
    if result.modified_count == 0:
        await _give_back(charge.account_id, month, charge.units)


async def bill(charge: Charge) -> None:
    """The gateway took the send: its reservation becomes a billed entry (once)."""
    coll = UsageEntry.get_pymongo_collection()
    result = await coll.update_one(
        {"_id": charge.key, "state": UsageState.RESERVED.value},
        {"$set": {"state": UsageState.BILLED.value, "billed_at": utcnow()}},
    )
    if result.matched_count == 1 or await coll.find_one({"_id": charge.key}) is not None:
        return
    # Queued before its account had a ledger (an upgrade): billed without a limit check.
    month = month_of(utcnow())
    month_id = await _count_units(charge.account_id, month, charge.units)
    try:
        await UsageEntry(
            id=charge.key,
            account_id=charge.account_id,
            month=month,
            kind=charge.kind,
            channel=charge.channel,
            segments=charge.segments,
            units=charge.units,
            message_id=charge.message_id,
            state=UsageState.BILLED,
            billed_at=utcnow(),
        ).insert()
    except DuplicateKeyError:
        await UsageMonth.get_pymongo_collection().update_one(
            {"_id": month_id}, {"$inc": {"units": -charge.units}}
        )


async def release(key: str) -> bool:
    """The send failed before the gateway took it: give its units back (once). True when this call
    released it; a billed entry is never released."""
    coll = UsageEntry.get_pymongo_collection()
    entry = await coll.find_one({"_id": key})
    if entry is None:
        return False
    result = await coll.update_one(
        {"_id": key, "state": UsageState.RESERVED.value}, {"$set": {"state": UsageState.RELEASED.value}}
    )
    if result.modified_count == 1:
        await _give_back(entry["account_id"], entry["month"], int(entry["units"]))
    return result.modified_count == 1


async def bill_reserved(key: str) -> bool:
    """Bill a reservation as it was taken (its units are already counted); True when this call
    billed it. A conditional update on the state: of two callers, one bills; a released entry stays
    released."""
    result = await UsageEntry.get_pymongo_collection().update_one(
        {"_id": key, "state": UsageState.RESERVED.value},
        {"$set": {"state": UsageState.BILLED.value, "billed_at": utcnow()}},
    )
    return result.modified_count == 1


async def stale_reservations(older_than: datetime) -> list[UsageEntry]:
    """Entries still `reserved` since before `older_than`: sends whose process may have died."""
    query = {"state": UsageState.RESERVED.value, "created_at": {"$lt": older_than}}
    return await UsageEntry.find(query).sort("created_at").to_list()


def charge_for_message(message: Message, mms_units: int) -> Charge:
    channel, units = message_charge(message, mms_units)
    return Charge(
        key=message_key(message.id),
        account_id=message.account_id,
        kind=message_kind(message),
        channel=channel,
        segments=message.segments,
        units=units,
        message_id=message.id,
    )


async def withhold_over_limit(account_id: PydanticObjectId, decision: core.Decision) -> core.Decision:
    """The decision with the automatic replies the account's limits leave no room for moved to its
    `withheld` (`usage_limit`), so the inbound text is stored, and shown at once, saying why.

    A read, not a reservation: each reply still reserves its units when it is queued, and one that
    a concurrent send left no room for is recorded as withheld then (hub.services.routing).
    """
    if not any(isinstance(a, core.SEND_ACTIONS) for a in decision.actions):
        return decision
    # Read once for the whole decision: this runs on the inbound path, for every text that
    # answers automatically.
    limits, used = await _room(account_id)
    kept: list[core.Action] = []
    withheld = list(decision.withheld)
    needed = 0
    for action in decision.actions:
        if isinstance(action, core.SEND_ACTIONS):
            units = count_segments(action.text).segments
            try:
                _refuse_if_over(limits, used, needed + units)
            except UsageRefused as exc:
                withheld.append(core.Withheld(type(action).__name__, action.text, "usage_limit", exc.limit))
                continue
            needed += units
        kept.append(action)
    return dataclasses.replace(decision, actions=tuple(kept), withheld=tuple(withheld))


# ---------------------------------------------------------------- limits


async def get_limits(account_id: PydanticObjectId) -> UsageLimits:
    return await UsageLimits.get(account_id) or UsageLimits(id=account_id)


def _check_units(value: int | None, name: str, minimum: int) -> None:
    if value is not None and not (minimum <= value <= MAX_UNITS):
        raise Invalid(f"{name} must be between {minimum} and {MAX_UNITS}, or null", field=name)


async def set_limits(account_id: PydanticObjectId, changes: dict[str, int | None]) -> UsageLimits:
    """Set the fields given (`monthly_segments`, `balance_units`); null removes that limit."""
    for name, value in changes.items():
        _check_units(value, name, 0)
    if changes:
        await UsageLimits.get_pymongo_collection().update_one(
            {"_id": account_id}, {"$set": changes}, upsert=True
        )
    return await get_limits(account_id)


async def top_up(account_id: PydanticObjectId, units: int) -> UsageLimits:
    """Add units to the prepaid balance (starting one at `units` when the account had none)."""
    _check_units(units, "units", 1)
    coll = UsageLimits.get_pymongo_collection()
    result = await coll.update_one(
        {"_id": account_id, "balance_units": {"$type": "number"}}, {"$inc": {"balance_units": units}}
    )
    if result.matched_count == 0:
        try:
            await coll.update_one(
                {"_id": account_id, "balance_units": None}, {"$set": {"balance_units": units}}, upsert=True
            )
        except DuplicateKeyError:
            # A balance appeared meanwhile (another top-up): add to it.
            await coll.update_one({"_id": account_id}, {"$inc": {"balance_units": units}})
    return await get_limits(account_id)


# ---------------------------------------------------------------- monthly totals


@dataclass
class UsageRow:
    account_id: str
    name: str
    slug: str
    month: str
    sms_messages: int = 0
    sms_segments: int = 0
    mms: int = 0
    forward_segments: int = 0
    total_segments: int = 0
    units: int = 0
    limit_monthly_segments: int | None = None
    balance_units: int | None = None
    by_kind: dict[str, int] = field(default_factory=dict)


async def _totals(match: dict[str, Any]) -> list[dict[str, Any]]:
    pipeline: list[dict[str, Any]] = [
        {"$match": {**match, "state": UsageState.BILLED.value}},
        {
            "$group": {
                "_id": {"account_id": "$account_id", "kind": "$kind", "channel": "$channel"},
                "count": {"$sum": 1},
                "segments": {"$sum": "$segments"},
                "units": {"$sum": "$units"},
            }
        },
    ]
    cursor = await UsageEntry.get_pymongo_collection().aggregate(pipeline)
    return [dict(doc) async for doc in cursor]


def _row(account: Account, month: str, limits: UsageLimits | None, groups: list[dict[str, Any]]) -> UsageRow:
    row = UsageRow(
        account_id=str(account.id),
        name=account.name,
        slug=account.slug,
        month=month,
        limit_monthly_segments=limits.monthly_segments if limits else None,
        balance_units=limits.balance_units if limits else None,
    )
    for group in groups:
        kind, channel = group["_id"]["kind"], group["_id"]["channel"]
        count, segments = int(group["count"]), int(group["segments"])
        if channel == "forward":
            row.forward_segments += segments
        elif channel == "mms":
            row.mms += count
        else:
            row.sms_messages += count
            row.sms_segments += segments
        row.units += int(group["units"])
        if channel != "mms":
            row.total_segments += segments
        row.by_kind[kind] = row.by_kind.get(kind, 0) + segments
    return row


async def account_usage(account: Account, month: str) -> UsageRow:
    assert account.id is not None
    groups = await _totals({"account_id": account.id, "month": month})
    return _row(account, month, await UsageLimits.get(account.id), groups)


async def all_usage(month: str) -> list[UsageRow]:
    """One row per account (accounts that sent nothing too), by slug."""
    groups = await _totals({"month": month})
    by_account: dict[Any, list[dict[str, Any]]] = {}
    for group in groups:
        by_account.setdefault(group["_id"]["account_id"], []).append(group)
    limits = {lim.id: lim async for lim in UsageLimits.find_all()}
    accounts = await Account.find_all().sort("slug").to_list()
    return [_row(a, month, limits.get(a.id), by_account.get(a.id, [])) for a in accounts]


CSV_COLUMNS = [
    "account_id",
    "name",
    "slug",
    "month",
    "sms_messages",
    "sms_segments",
    "mms",
    "forward_segments",
    "total_segments",
    "units",
    "limit_monthly_segments",
    "balance_units",
    "by_kind",
]


def usage_table(rows: list[UsageRow]) -> list[list[str]]:
    """The rows as text cells under a header of `CSV_COLUMNS`: no limit is empty; `by_kind` as
    `kind=segments` pairs joined by `;`."""
    table = [list(CSV_COLUMNS)]
    for row in rows:
        values = dict(row.__dict__)
        values["by_kind"] = ";".join(f"{k}={v}" for k, v in sorted(row.by_kind.items()))
        table.append(["" if values[c] is None else str(values[c]) for c in CSV_COLUMNS])
    return table


def usage_csv(rows: list[UsageRow], bom: bool = True) -> str:
    """The rows as CSV for a spreadsheet: a BOM so Excel reads the Polish names as UTF-8."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(usage_table(rows))
    return ("\ufeff" if bom else "") + out.getvalue()
