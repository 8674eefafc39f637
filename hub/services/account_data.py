"""An account's data as one export (JSON, or a zip of CSV files), and the deletion of all of it.

Deleting an account is refused until its data has been exported (`Account.exported_at`) and the
caller names the account's slug; the operator's own account is never deleted. Deletion releases
the account's individual numbers, drops its keyword reservations on shared numbers, and removes
its documents from every collection that names an `account_id` (found from the document models,
so a new collection is not forgotten), then what hangs off them (survey tallies, screens' logs).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable
from typing import Any, Final

from beanie import Document, PydanticObjectId

from hub.services.errors import Conflict
from hub.services.media import MediaStore
from hub.services.routing import setup_changed
from hub.store import ALL_DOCUMENTS
from hub.store.accounts import Account, Agent, ApiToken, utcnow
from hub.store.audience import CampaignRecipient, RoutingState, Suppression
from hub.store.audit import AuditEntry
from hub.store.campaigns import Campaign, CampaignTarget
from hub.store.conversations import Contact, Conversation
from hub.store.displays import DisplayDoc, DisplayEventRecord, DisplayItem, DisplayNick
from hub.store.forwarding import ForwardDelivery, ForwardRule
from hub.store.keywords import AutoresponderDoc, ContactGroup, KeywordDoc, SurveyDoc
from hub.store.labels import Label, SavedView
from hub.store.mail import MailRecord
from hub.store.messages import Message
from hub.store.numbers import Number
from hub.store.surveys import ContestDraw, ContestEntry, ContestTally, SurveyAnswer, SurveyTally
from hub.store.usage import UsageEntry, UsageLimits

SECRETS: Final = frozenset({"password_hash", "token_hash", "code_hash"})
"""Never exported."""

EXPORTED: Final[tuple[tuple[str, type[Document]], ...]] = (
    ("agents", Agent),
    ("api_tokens", ApiToken),
    ("numbers", Number),
    ("keywords", KeywordDoc),
    ("autoresponders", AutoresponderDoc),
    ("surveys", SurveyDoc),
    ("survey_answers", SurveyAnswer),
    ("contest_entries", ContestEntry),
    ("contest_draws", ContestDraw),
    ("contacts", Contact),
    ("contact_groups", ContactGroup),
    ("conversations", Conversation),
    ("labels", Label),
    ("saved_views", SavedView),
    ("messages", Message),
    ("forward_rules", ForwardRule),
    ("forward_deliveries", ForwardDelivery),
    ("suppressions", Suppression),
    ("campaign_recipients", CampaignRecipient),
    ("campaigns", Campaign),
    ("campaign_targets", CampaignTarget),
    ("displays", DisplayDoc),
    ("display_items", DisplayItem),
    ("mail_records", MailRecord),
    ("usage", UsageEntry),
)
"""What an export holds besides the account itself: its own data, not the hub's bookkeeping
(sessions, presence, the event log, screens' event logs)."""


KEPT: Final[frozenset[type[Document]]] = frozenset({Account, AuditEntry})
"""Kept when an account goes: the audit log is the operator's record, and says who deleted it."""


def owned_models() -> list[type[Document]]:
    """Every document model with an `account_id`: each holds documents of one account."""
    return [m for m in ALL_DOCUMENTS if m not in KEPT and "account_id" in m.model_fields]


def _plain(doc: Document) -> dict[str, Any]:
    out: dict[str, Any] = doc.model_dump(mode="json", by_alias=True, exclude=set(SECRETS))
    out.pop("revision_id", None)
    return out


async def _collections(account_id: PydanticObjectId) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for name, model in EXPORTED:
        docs = await model.find({"account_id": account_id}).sort("_id").to_list()
        out[name] = [_plain(d) for d in docs]
    return out


def _account(account: Account) -> dict[str, Any]:
    return {k: v for k, v in _plain(account).items() if k != "seq"}


async def mark_exported(account: Account) -> None:
    # This field only: `seq` is taken by other requests meanwhile (HoldsACounter).
    await account.set({"exported_at": utcnow()})


async def export_json(account: Account) -> bytes:
    """One JSON document; each conversation carries its messages."""
    assert account.id is not None
    data = await _collections(account.id)
    messages: dict[str, list[dict[str, Any]]] = {}
    for m in data.pop("messages"):
        messages.setdefault(str(m.get("conversation_id")), []).append(m)
    for c in data["conversations"]:
        c["messages"] = messages.get(str(c["_id"]), [])
    await mark_exported(account)
    return json.dumps({"account": _account(account), **data}, ensure_ascii=False, indent=1).encode()


def _csv(rows: Iterable[dict[str, Any]]) -> str:
    rows = list(rows)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else "" if v is None else v
                for v in (row.get(c) for c in columns)
            ]
        )
    return out.getvalue()


async def export_csv(account: Account) -> bytes:
    """A zip of UTF-8 CSV files, one per collection (`account.csv` first); nested values as JSON."""
    assert account.id is not None
    data = await _collections(account.id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("account.csv", _csv([_account(account)]))
        for name, rows in data.items():
            zf.writestr(f"{name}.csv", _csv(rows))
    await mark_exported(account)
    return buffer.getvalue()


async def delete_account(account: Account, confirm: str | None, media: MediaStore) -> dict[str, int]:
    """Delete the account and everything of it (its messages' attachments too); the answer counts
    the documents that went, per collection."""
    if account.operator:
        raise Conflict("the operator's own account cannot be deleted", field="account_id", code="operator")
    if confirm != account.slug:
        raise Conflict(
            f"to delete the account, confirm it with its slug (confirm={account.slug})",
            field="confirm",
            code="unconfirmed",
        )
    if account.exported_at is None:
        raise Conflict(
            "export the account's data first (GET /api/operator/accounts/{id}/export)",
            field="account_id",
            code="not_exported",
        )
    account_id = account.id
    assert account_id is not None
    surveys = [s.id for s in await SurveyDoc.find({"account_id": account_id}).to_list()]
    displays = [d.id for d in await DisplayDoc.find({"account_id": account_id}).to_list()]
    numbers = [n.e164 for n in await Number.find({"account_id": account_id}).to_list()]
    deleted: dict[str, int] = {}

    async def drop(model: type[Document], query: dict[str, Any]) -> None:
        result = await model.get_pymongo_collection().delete_many(query)
        if result.deleted_count:
            name = model.get_collection_name()
            deleted[name] = deleted.get(name, 0) + result.deleted_count

    # What hangs off the account's documents, while they can still be found.
    await drop(SurveyTally, {"survey_id": {"$in": surveys}})
    await drop(ContestTally, {"_id": {"$in": surveys}})
    await drop(DisplayNick, {"display_id": {"$in": displays}})
    await drop(DisplayEventRecord, {"display_id": {"$in": displays}})
    # Contacts' routing state on the released numbers (surveys in progress, reply counts).
    await drop(RoutingState, {"number": {"$in": numbers}})
    attachments = [
        item
        async for m in Message.find({"account_id": account_id, "media.file_id": {"$ne": None}})
        for item in m.media
    ]
    for model in owned_models():
        await drop(model, {"account_id": account_id})
    await media.delete(attachments)
    await drop(UsageLimits, {"_id": account_id})
    await drop(Account, {"_id": account_id})
    setup_changed()
    return deleted
