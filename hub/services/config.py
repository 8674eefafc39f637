"""What an account sets up on its numbers, validated by the pure rules before anything is stored."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.domain.keywords import Keyword, KeywordError, KeywordKind, normalise, validate_keyword
from hub.domain.numbers import NumberType, is_shared
from hub.domain.phones import InvalidPhoneNumber, to_e164
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.routing import setup_changed, words_for
from hub.store.accounts import Account, utcnow
from hub.store.audience import Suppression, SuppressionKind
from hub.store.conversations import Contact, rename_contact
from hub.store.keywords import AutoresponderDoc, ContactGroup, KeywordDoc, KeywordStatus, SurveyDoc
from hub.store.numbers import Number


def object_id(value: str | None, field: str) -> PydanticObjectId:
    if value is None or not PydanticObjectId.is_valid(value):
        raise Invalid(f"{field} is not a valid id", field=field)
    return PydanticObjectId(value)


async def usable_number(account_id: PydanticObjectId, number_id: str) -> Number:
    """A number the account may use: one of its own, a shared number (to reserve keywords on), or
    a 2WAY virtual number of the operator (to send campaigns from)."""
    number = await Number.get(object_id(number_id, "number_id"))
    if number is None or (number.account_id != account_id and number.account_id is not None):
        raise NotFound("no such number", field="number_id")
    return number


async def owned(model: Any, account_id: PydanticObjectId, doc_id: str, field: str) -> Any:
    if not PydanticObjectId.is_valid(doc_id):
        raise NotFound(f"no such {field}", field=field)
    doc = await model.find_one({"_id": PydanticObjectId(doc_id), "account_id": account_id})
    if doc is None:
        raise NotFound(f"no such {field}", field=field)
    return doc


async def _check_refs(
    account_id: PydanticObjectId,
    group_ids: Sequence[str],
    survey_id: str | None,
    contest_id: str | None,
    autoresponder_ids: Sequence[str],
) -> tuple[list[PydanticObjectId], PydanticObjectId | None, PydanticObjectId | None, list[PydanticObjectId]]:
    groups = [object_id(g, "group_ids") for g in group_ids]
    if groups and await ContactGroup.find({"_id": {"$in": groups}, "account_id": account_id}).count() != len(
        set(groups)
    ):
        raise Invalid("group_ids names a group this account does not have", field="group_ids")
    survey = object_id(survey_id, "survey_id") if survey_id else None
    contest = object_id(contest_id, "contest_id") if contest_id else None
    for ref, field, want_contest in ((survey, "survey_id", False), (contest, "contest_id", True)):
        if ref is None:
            continue
        doc = await SurveyDoc.find_one({"_id": ref, "account_id": account_id})
        if doc is None:
            raise Invalid(f"{field} names no survey of this account", field=field)
        if doc.to_domain().is_contest != want_contest:
            what = "a contest (its questions have correct answers)" if not want_contest else "not a contest"
            raise Invalid(f"{field} names {what}", field=field)
    responders = [object_id(a, "autoresponder_ids") for a in autoresponder_ids]
    if responders and await AutoresponderDoc.find(
        {"_id": {"$in": responders}, "account_id": account_id}
    ).count() != len(set(responders)):
        raise Invalid(
            "autoresponder_ids names an autoresponder this account does not have", field="autoresponder_ids"
        )
    return groups, survey, contest, responders


def _reservation_status(
    number: Number, existing: KeywordDoc | None, norm: str, approved: bool
) -> KeywordStatus:
    """A new reservation on a shared number with approval waits for the operator; so does a changed
    word. Other edits keep the status (a refused keyword stays refused until its word changes).
    The operator's own (`approved`: `hub apply`) needs no one's approval."""
    if not is_shared(number.type) or approved:
        return KeywordStatus.APPROVED
    if existing is None or existing.normalised != norm:
        return KeywordStatus.PENDING if number.keyword_approval else KeywordStatus.APPROVED
    return existing.status


async def save_keyword(
    account_id: PydanticObjectId,
    number_id: str,
    text: str,
    kind: KeywordKind,
    *,
    group_ids: Sequence[str] = (),
    survey_id: str | None = None,
    contest_id: str | None = None,
    autoresponder_ids: Sequence[str] = (),
    active: bool = True,
    keyword_id: str | None = None,
    dry_run: bool = False,
    approved: bool = False,
) -> KeywordDoc:
    """Create (or, with `keyword_id`, change) a keyword, after every rule of `validate_keyword`."""
    number = await usable_number(account_id, number_id)
    existing_doc = await owned(KeywordDoc, account_id, keyword_id, "keyword_id") if keyword_id else None
    groups, survey, contest, responders = await _check_refs(
        account_id, group_ids, survey_id, contest_id, autoresponder_ids
    )
    # A pending reservation holds its word (first come); a refused one has given it back.
    others = await KeywordDoc.find(KeywordDoc.holding_query(number.id)).to_list()
    account = await Account.get(number.account_id or account_id)
    words = words_for(number, account)
    candidate = Keyword(
        id=keyword_id or "new",
        account_id=str(account_id),
        text=text,
        kind=kind,
        group_ids=tuple(str(g) for g in groups),
        survey_id=str(survey) if survey else None,
        contest_id=str(contest) if contest else None,
        autoresponder_ids=tuple(str(a) for a in responders),
        active=active,
    )
    try:
        validate_keyword(
            candidate,
            number.type,
            [k.to_domain() for k in others],
            reserved_words=words.all_words(),
            stop_words=words.opt_out if is_shared(number.type) else (),
            shared_limit=number.max_keywords_per_account,
        )
    except KeywordError as exc:
        # Over the operator's cap is a conflict with what the account already holds, not bad input.
        error = Conflict if exc.code == "limit" else Invalid
        raise error(str(exc), field="text", code=exc.code) from None
    norm = normalise(text)
    doc = existing_doc or KeywordDoc(
        account_id=account_id,
        number_id=number.id,
        text=text,
        normalised=norm,
        slot="",
        kind=kind,
    )
    doc.status = _reservation_status(number, existing_doc, norm, approved)
    if doc.status is not KeywordStatus.REFUSED:
        doc.status_reason = None
    doc.text = text.strip()
    doc.normalised = norm
    doc.kind = kind
    doc.slot = (
        doc.refused_slot()
        if doc.status is KeywordStatus.REFUSED
        else KeywordDoc.slot_for(norm, kind, is_shared(number.type))
    )
    doc.group_ids = groups
    doc.survey_id = survey
    doc.contest_id = contest
    doc.autoresponder_ids = responders
    doc.active = active
    if dry_run:
        return doc
    try:
        await doc.save()
        setup_changed()
    except DuplicateKeyError:
        raise Conflict(f"{text!r} is already taken on this number", field="text", code="duplicate") from None
    return doc


async def delete_keyword(account_id: PydanticObjectId, keyword_id: str) -> None:
    doc = await owned(KeywordDoc, account_id, keyword_id, "keyword_id")
    await doc.delete()
    setup_changed()


def parse_phone(raw: str, field: str = "phone") -> str:
    try:
        return to_e164(raw)
    except InvalidPhoneNumber as exc:
        raise Invalid(f"{field} is not a valid phone number: {raw!r}", field=field) from exc


async def group_ids_by_name(account_id: PydanticObjectId, names: Sequence[str]) -> list[PydanticObjectId]:
    """The ids of the named groups, creating the missing ones (CSV import)."""
    ids: list[PydanticObjectId] = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        group = await ContactGroup.find_one({"account_id": account_id, "name": name})
        if group is None:
            group = ContactGroup(account_id=account_id, name=name)
            try:
                await group.insert()
            except DuplicateKeyError:
                group = await ContactGroup.find_one({"account_id": account_id, "name": name})
                assert group is not None
        assert group.id is not None
        ids.append(group.id)
    return ids


CSV_COLUMNS = ("phone", "name", "groups")


async def import_contacts(account_id: PydanticObjectId, text: str) -> int:
    """Add or update contacts from CSV (`phone,name,groups`; groups separated by `;`).

    Every row is checked before anything is stored, so a file with one bad row stores nothing.
    """
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "phone" not in reader.fieldnames:
        raise Invalid("the CSV needs a header row with at least a 'phone' column", field="csv")
    rows: list[tuple[str, str | None, list[str], dict[str, str]]] = []
    for line, row in enumerate(reader, start=2):
        try:
            phone = to_e164(row.get("phone") or "")
        except InvalidPhoneNumber:
            raise Invalid(
                f"line {line}: not a valid phone number: {row.get('phone')!r}", field="csv"
            ) from None
        extra = {k: v for k, v in row.items() if k and k not in CSV_COLUMNS and v}
        rows.append(
            (phone, (row.get("name") or "").strip() or None, (row.get("groups") or "").split(";"), extra)
        )
    for phone, name, groups, extra in rows:
        ids = await group_ids_by_name(account_id, groups)
        update: dict[str, Any] = {"$addToSet": {"group_ids": {"$each": ids}}}
        sets: dict[str, Any] = {f"fields.{k}": v for k, v in extra.items()}
        if name is not None:
            sets["name"] = name
        if sets:
            update["$set"] = sets
        await Contact.get_pymongo_collection().update_one(
            {"account_id": account_id, "phone": phone}, update, upsert=True
        )
        if name is not None:
            await rename_contact(account_id, phone, name)
    return len(rows)


async def export_contacts(account_id: PydanticObjectId, group_id: str | None = None) -> str:
    groups = {g.id: g.name for g in await ContactGroup.find({"account_id": account_id}).to_list()}
    query: dict[str, Any] = {"account_id": account_id}
    if group_id:
        query["group_ids"] = object_id(group_id, "group")
    contacts = await Contact.find(query).sort("phone").to_list()
    extra = sorted({k for c in contacts for k in c.fields})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *extra])
    for c in contacts:
        names = ";".join(groups[g] for g in c.group_ids if g in groups)
        writer.writerow([c.phone, c.name or "", names, *(c.fields.get(k, "") for k in extra)])
    return out.getvalue()


async def set_block(account_id: PydanticObjectId, phone: str, blocked: bool, by: str | None = None) -> None:
    """Block or unblock a phone for the account; a new block records who set it (`by`) and when."""
    key = {"phone": phone, "number": None, "account_id": account_id, "kind": SuppressionKind.BLOCK.value}
    coll = Suppression.get_pymongo_collection()
    if blocked:
        await coll.update_one(
            key, {"$setOnInsert": {**key, "set_by": by, "created_at": utcnow()}}, upsert=True
        )
    else:
        await coll.delete_many(key)


def check_number_type(number: Number, allowed: Sequence[NumberType], what: str) -> None:
    if number.type not in allowed:
        names = ", ".join(t.value for t in allowed)
        raise Invalid(
            f"{what} need an individual number ({names}), not {number.type.value}", field="number_id"
        )
