"""The operator's decisions on keyword reservations of shared numbers that need approval.

An account's reservation on such a number is stored `pending` (`hub.services.config.save_keyword`):
it holds its word, so no other account can take it, but routes nothing. The operator approves it
(it routes from then on) or refuses it with a reason (its word is free again; the account sees the
reason in its keyword list). Either decision is stored, then told to the account's panels as a
`keyword.status` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain import events as ev
from hub.realtime.bus import now_iso
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.routing import setup_changed
from hub.store.accounts import Account, utcnow
from hub.store.keywords import KeywordDoc, KeywordStatus
from hub.store.numbers import Number
from hub.store.sequences import next_seq

MAX_REASON = 500


@dataclass(frozen=True)
class KeywordRequest:
    keyword: KeywordDoc
    account: Account | None
    number: Number | None


def parse_status(raw: str | None) -> KeywordStatus | None:
    if raw is None:
        return None
    try:
        return KeywordStatus(raw)
    except ValueError:
        names = ", ".join(s.value for s in KeywordStatus)
        raise Invalid(f"status must be one of {names}, not {raw!r}", field="status") from None


async def list_requests(status: KeywordStatus | None) -> list[KeywordRequest]:
    """Reservations on the shared numbers that need approval (or, by status, already decided),
    oldest first: first come, first served."""
    shared = await Number.find({"keyword_approval": True}).to_list()
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status.value
    else:
        # Without a status: everything that ever needed a decision, approved ones of numbers with approval.
        query["$or"] = [
            {"status": {"$in": [KeywordStatus.PENDING.value, KeywordStatus.REFUSED.value]}},
            {"number_id": {"$in": [n.id for n in shared]}},
        ]
    docs = await KeywordDoc.find(query).sort("created_at", "_id").to_list()
    numbers = {
        n.id: n for n in await Number.find({"_id": {"$in": list({d.number_id for d in docs})}}).to_list()
    }
    accounts = {
        a.id: a for a in await Account.find({"_id": {"$in": list({d.account_id for d in docs})}}).to_list()
    }
    return [KeywordRequest(d, accounts.get(d.account_id), numbers.get(d.number_id)) for d in docs]


async def _request(request_id: str) -> KeywordDoc:
    doc = (
        await KeywordDoc.get(PydanticObjectId(request_id)) if PydanticObjectId.is_valid(request_id) else None
    )
    if doc is None:
        raise NotFound("no such keyword request", field="request_id")
    return doc


async def request(request_id: str) -> KeywordRequest:
    doc = await _request(request_id)
    return KeywordRequest(doc, await Account.get(doc.account_id), await Number.get(doc.number_id))


def _only_pending(doc: KeywordDoc, doing: str) -> None:
    if doc.status is not KeywordStatus.PENDING:
        raise Conflict(
            f"cannot {doing} {doc.text!r}: the reservation is {doc.status.value}, not pending",
            field="request_id",
            code="not_pending",
        )


async def _tell_account(hub: HubContext, doc: KeywordDoc) -> None:
    data = ev.KeywordStatusPayload(
        keyword_id=str(doc.id),
        number_id=str(doc.number_id),
        text=doc.text,
        status=doc.status.value,
        reason=doc.status_reason,
    )
    seq = await next_seq(doc.account_id)
    await hub.bus.record(
        ev.KeywordStatusChanged(seq=seq, account_id=str(doc.account_id), at=now_iso(), data=data)
    )


async def approve(hub: HubContext, request_id: str) -> KeywordRequest:
    """The reservation routes from now on."""
    doc = await _request(request_id)
    _only_pending(doc, "approve")
    await doc.set({"status": KeywordStatus.APPROVED.value, "status_reason": None, "status_at": utcnow()})
    setup_changed()
    decided = await request(request_id)
    await _tell_account(hub, decided.keyword)
    return decided


async def refuse(hub: HubContext, request_id: str, reason: str) -> KeywordRequest:
    """The reservation gives its word back; the account sees `reason`."""
    reason = reason.strip()
    if not reason:
        raise Invalid("say why the reservation is refused: the account is shown the reason", field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"reason must have at most {MAX_REASON} characters", field="reason")
    doc = await _request(request_id)
    _only_pending(doc, "refuse")
    await doc.set(
        {
            "status": KeywordStatus.REFUSED.value,
            "status_reason": reason,
            "status_at": utcnow(),
            "slot": doc.refused_slot(),
        }
    )
    setup_changed()
    decided = await request(request_id)
    await _tell_account(hub, decided.keyword)
    return decided
