"""Who a campaign goes to: groups, single contacts and a CSV file, de-duplicated, with opted-out
and blocked numbers left out and counted.

The recipients come out as a stream, checked against suppressions a chunk at a time, so a build
holds one chunk of documents and the set of numbers seen (for de-duplication) at most.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from beanie import PydanticObjectId

from hub.domain.campaign_audience import MAX_LISTED, CsvRecipient, InvalidRow, parse_csv
from hub.services.errors import Invalid
from hub.store.audience import Suppression, SuppressionKind
from hub.store.conversations import Contact
from hub.store.keywords import ContactGroup

CHUNK = 500
NAME_COLUMNS = ("name", "imię", "imie", "nazwa")
"""CSV columns that give a row's `{name}` as well as their own variable."""
MAX_CSV_CHARS = 5 * 1024 * 1024


@dataclass(frozen=True)
class Recipient:
    phone: str
    name: str | None
    fields: dict[str, str]
    """Variables by lower-case name: the contact's fields, its name as `name`, the CSV row's columns."""


@dataclass
class AudienceStats:
    opted_out: int = 0
    blocked: int = 0
    duplicates: int = 0
    invalid: int = 0
    invalid_rows: list[InvalidRow] = field(default_factory=list)

    def excluded(self) -> dict[str, int]:
        return {
            "opted_out": self.opted_out,
            "blocked": self.blocked,
            "duplicates": self.duplicates,
            "invalid": self.invalid,
        }


@dataclass(frozen=True)
class AudienceSource:
    group_ids: list[PydanticObjectId]
    contact_ids: list[PydanticObjectId]
    csv: str | None


def object_ids(values: Iterable[str], field_name: str) -> list[PydanticObjectId]:
    out = []
    for value in values:
        if not PydanticObjectId.is_valid(value):
            raise Invalid(f"{field_name} holds {value!r}, which is not an id", field=field_name)
        out.append(PydanticObjectId(value))
    return list(dict.fromkeys(out))


async def check_source(account_id: PydanticObjectId, source: AudienceSource) -> None:
    """Raise Invalid for a group or contact the account does not have, or an oversized CSV."""
    if source.group_ids:
        found = await ContactGroup.find({"_id": {"$in": source.group_ids}, "account_id": account_id}).count()
        if found != len(source.group_ids):
            raise Invalid("group_ids names a group this account does not have", field="audience.group_ids")
    if source.contact_ids:
        found = await Contact.find({"_id": {"$in": source.contact_ids}, "account_id": account_id}).count()
        if found != len(source.contact_ids):
            raise Invalid(
                "contact_ids names a contact this account does not have", field="audience.contact_ids"
            )
    if source.csv is not None and len(source.csv) > MAX_CSV_CHARS:
        raise Invalid(f"the CSV file is larger than {MAX_CSV_CHARS} characters", field="audience.csv")


def _contact_fields(doc: dict[str, Any]) -> dict[str, str]:
    fields = {str(k).lower(): str(v) for k, v in (doc.get("fields") or {}).items()}
    if doc.get("name"):
        fields["name"] = str(doc["name"])
    return fields


async def _contacts(account_id: PydanticObjectId, source: AudienceSource) -> AsyncIterator[Recipient]:
    coll = Contact.get_pymongo_collection()
    queries = []
    if source.contact_ids:
        queries.append({"_id": {"$in": source.contact_ids}, "account_id": account_id})
    if source.group_ids:
        queries.append({"account_id": account_id, "group_ids": {"$in": source.group_ids}})
    for query in queries:
        async for doc in coll.find(query, {"phone": 1, "name": 1, "fields": 1}).sort("_id", 1):
            yield Recipient(doc["phone"], doc.get("name"), _contact_fields(doc))


async def _csv_rows(account_id: PydanticObjectId, rows: list[CsvRecipient]) -> AsyncIterator[Recipient]:
    """The CSV's rows, each with its contact's name and fields under the row's own columns."""
    coll = Contact.get_pymongo_collection()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        known = {
            doc["phone"]: doc
            async for doc in coll.find(
                {"account_id": account_id, "phone": {"$in": [r.phone for r in chunk]}},
                {"phone": 1, "name": 1, "fields": 1},
            )
        }
        for row in chunk:
            contact = known.get(row.phone, {})
            fields = {**_contact_fields(contact), **{k.lower(): v for k, v in row.fields.items() if v}}
            named = next((fields[c] for c in NAME_COLUMNS[1:] if fields.get(c)), None)
            if named is not None and "name" not in {k.lower() for k, v in row.fields.items() if v}:
                fields["name"] = named
            yield Recipient(row.phone, fields.get("name") or contact.get("name"), fields)


async def recipients(
    account_id: PydanticObjectId, source: AudienceSource, sender: str, stats: AudienceStats
) -> AsyncIterator[Recipient]:
    """Every recipient once, in order (contacts, groups, CSV), opted-out and blocked ones left out
    for a send from `sender` (a number, or "" for a virtual number: then the account-wide ones)."""
    seen: set[str] = set()
    chunk: list[Recipient] = []

    async def sources() -> AsyncIterator[Recipient]:
        async for r in _contacts(account_id, source):
            yield r
        if source.csv:
            parsed = parse_csv(source.csv)
            stats.invalid += parsed.invalid_count
            stats.invalid_rows.extend(parsed.invalid[: MAX_LISTED - len(stats.invalid_rows)])
            stats.duplicates += parsed.duplicates
            async for r in _csv_rows(account_id, parsed.recipients):
                yield r

    async for r in sources():
        if r.phone in seen:
            stats.duplicates += 1
            continue
        if not r.phone.startswith("+"):
            stats.invalid += 1
            if len(stats.invalid_rows) < MAX_LISTED:
                stats.invalid_rows.append(InvalidRow(0, r.phone, "a short code, not a phone number"))
            continue
        seen.add(r.phone)
        chunk.append(r)
        if len(chunk) >= CHUNK:
            for kept in await _unsuppressed(chunk, sender, account_id, stats):
                yield kept
            chunk = []
    for kept in await _unsuppressed(chunk, sender, account_id, stats):
        yield kept


async def _unsuppressed(
    chunk: list[Recipient], sender: str, account_id: PydanticObjectId, stats: AudienceStats
) -> list[Recipient]:
    if not chunk:
        return []
    stops: dict[str, set[SuppressionKind]] = {}
    async for s in Suppression.find({"phone": {"$in": [r.phone for r in chunk]}}):
        if s.stops_send(sender, account_id):
            stops.setdefault(s.phone, set()).add(s.kind)
    kept = []
    for r in chunk:
        kinds = stops.get(r.phone)
        if not kinds:
            kept.append(r)
        elif SuppressionKind.BLOCK in kinds:
            stats.blocked += 1
        else:
            stats.opted_out += 1
    return kept
