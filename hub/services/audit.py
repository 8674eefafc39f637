"""Recording set-up changes in the audit log, the one way for the API and the CLI alike.

A change is wrapped in `change(actor, action, target_type, target_id)`: the target is read before
and after, and only when the block ends without an error is one entry stored with the fields that
differ. A refused change (4xx) raises inside the block and so records nothing. Secrets (passwords,
token and display-link hashes, webhook secrets) are compared but written as "changed".
"""

from __future__ import annotations

import contextlib
import getpass
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from beanie import Document, PydanticObjectId, SortDirection

from hub.services.auth import Principal
from hub.services.errors import Invalid
from hub.store.accounts import Account, Agent, ApiToken
from hub.store.audience import Suppression, SuppressionKind
from hub.store.audit import AuditEntry
from hub.store.campaigns import Campaign
from hub.store.canned import CannedReply
from hub.store.conversations import Contact
from hub.store.displays import DisplayDoc
from hub.store.forwarding import ForwardRule
from hub.store.keywords import AutoresponderDoc, ContactGroup, KeywordDoc, SurveyDoc
from hub.store.labels import Label
from hub.store.numbers import Number
from hub.store.surveys import ContestDraw
from hub.store.usage import UsageLimits

HIDDEN: Final = "changed"
"""What the log writes for a secret that changed."""
NOISE: Final = frozenset(
    {"id", "revision_id", "seq", "created_at", "updated_at", "last_used_at", "bot_acked_seq", "bot_missing"}
)
"""Fields that move on their own (counters, timestamps of use): never a change someone made."""


@dataclass(frozen=True)
class Actor:
    kind: str
    """"agent", "token" or "cli"."""
    id: str | None
    name: str
    email: str | None = None
    account_id: PydanticObjectId | None = None


async def actor_of(principal: Principal) -> Actor:
    email = None
    if principal.kind == "agent":
        agent = await Agent.get(principal.id)
        email = agent.email if agent is not None else None
    return Actor(principal.kind, str(principal.id), principal.name, email, principal.account_id)


def cli_actor() -> Actor:
    """A command run on the server: the OS user who ran it, when the system knows."""
    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return Actor("cli", user, f"cli ({user})" if user else "cli")


Snapshot = tuple[PydanticObjectId | None, dict[str, Any]]
"""The account a target belongs to, and its fields as recorded."""


@dataclass(frozen=True)
class Target:
    model: type[Document]
    secrets: frozenset[str] = frozenset()
    skip: frozenset[str] = frozenset()
    """Fields too bulky to copy (a draw's entrants: its CSV has them)."""
    outside: Callable[[Any], Awaitable[dict[str, Any]]] | None = None
    """Fields kept outside the document (a contact's block)."""


async def _contact_block(contact: Contact) -> dict[str, Any]:
    query = {
        "phone": contact.phone,
        "number": None,
        "account_id": contact.account_id,
        "kind": SuppressionKind.BLOCK.value,
    }
    return {"blocked": await Suppression.find(query).count() > 0}


TARGETS: Final[dict[str, Target]] = {
    "account": Target(Account),
    "agent": Target(Agent, secrets=frozenset({"password_hash"})),
    "number": Target(Number),
    "keyword": Target(KeywordDoc),
    "autoresponder": Target(AutoresponderDoc),
    "survey": Target(SurveyDoc),
    "draw": Target(ContestDraw, skip=frozenset({"entrants"})),
    "token": Target(ApiToken, secrets=frozenset({"token_hash"})),
    "display": Target(DisplayDoc, secrets=frozenset({"token_hash"})),
    "forward_rule": Target(ForwardRule, secrets=frozenset({"secret"})),
    "contact": Target(Contact, outside=_contact_block),
    "group": Target(ContactGroup),
    "label": Target(Label),
    "canned_reply": Target(CannedReply),
    "usage_limits": Target(UsageLimits),
    # Its counts and batch number move with every send: the log keeps what a person changed.
    "campaign": Target(Campaign, skip=frozenset({"counts", "batch", "next_send_at"})),
}


async def snapshot(target_type: str, target_id: str | None) -> Snapshot | None:
    """The target as the log compares it, or None when there is none (not yet, or no longer)."""
    target = TARGETS[target_type]
    if target_id is None or not PydanticObjectId.is_valid(target_id):
        return None
    doc = await target.model.get(PydanticObjectId(target_id))
    if doc is None:
        return None
    fields = {k: v for k, v in doc.model_dump(mode="json").items() if k not in NOISE and k not in target.skip}
    if target.outside is not None:
        fields.update(await target.outside(doc))
    # An account's limits are kept under the account's own id.
    account = doc.id if isinstance(doc, Account | UsageLimits) else getattr(doc, "account_id", None)
    return account, fields


def diff(
    before: dict[str, Any] | None, after: dict[str, Any] | None, secrets: frozenset[str] = frozenset()
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The changed fields only, each side; a secret's value is never written."""
    old, new = before or {}, after or {}
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    out_before = {k: HIDDEN if k in secrets else old.get(k) for k in changed if k in old}
    out_after = {k: HIDDEN if k in secrets else new.get(k) for k in changed if k in new}
    return (out_before if before is not None else None), (out_after if after is not None else None)


@dataclass
class Change:
    """What the block sets: the id of a target it creates."""

    target_id: str | None = None
    recorded: AuditEntry | None = field(default=None, repr=False)


async def record(
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | None,
    before: Snapshot | None,
    after: Snapshot | None,
) -> AuditEntry | None:
    """Store one entry, unless nothing changed."""
    old, new = diff(before[1] if before else None, after[1] if after else None, TARGETS[target_type].secrets)
    if before is not None and after is not None and not old and not new:
        return None
    if before is None and after is None:
        return None
    entry = AuditEntry(
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_email=actor.email,
        actor_name=actor.name,
        actor_account_id=actor.account_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        account_id=(after or before or (None, {}))[0],
        before=old,
        after=new,
    )
    await entry.insert()
    return entry


@contextlib.asynccontextmanager
async def change(
    actor: Actor, action: str, target_type: str, target_id: str | None = None
) -> AsyncIterator[Change]:
    """Record the block's change to the target (`target_id`, or the one it sets on the Change)."""
    done = Change(target_id)
    before = await snapshot(target_type, target_id)
    yield done
    after = await snapshot(target_type, done.target_id)
    done.recorded = await record(actor, action, target_type, done.target_id, before, after)


def _query(
    account_id: PydanticObjectId | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if account_id is not None:
        query["account_id"] = account_id
    if actor:
        # No `$or`: the embedded database scans the whole collection for one.
        if "@" in actor:
            query["actor_email"] = actor.strip().lower()
        else:
            query["actor_id"] = actor
    if action:
        # `keyword.*` (or `keyword.`) names every change of one kind of target.
        if action.endswith("*") or action.endswith("."):
            query["action"] = {"$regex": "^" + re.escape(action.rstrip("*"))}
        else:
            query["action"] = action
    span: dict[str, datetime] = {}
    if since is not None:
        span["$gte"] = since
    if until is not None:
        span["$lt"] = until
    if span:
        query["at"] = span
    return query


async def entries(
    *,
    account_id: PydanticObjectId | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first; `before` (an entry's id) pages on to the entries older than it."""
    query = _query(account_id, actor, action, since, until)
    last = (
        await AuditEntry.get(PydanticObjectId(before))
        if before and PydanticObjectId.is_valid(before)
        else None
    )
    if before is None:
        return await _newest(query, limit)
    if last is None:
        raise Invalid("before is not the id of an entry of the log", field="before")
    # Entries as old as the last one shown are read again and dropped here, rather than asking for
    # (older, or as old with a lower id) with an `$or`, which the embedded database answers by a scan.
    same = await AuditEntry.find({**query, "at": last.at}).count()
    at: dict[str, datetime] = {**query.get("at", {}), "$lte": last.at}
    rows = await _newest({**query, "at": at}, limit + same)
    assert last.id is not None
    return [e for e in rows if e.at < last.at or (e.id is not None and e.id < last.id)][:limit]


async def _newest(query: dict[str, Any], limit: int) -> list[AuditEntry]:
    order = [("at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]
    return await AuditEntry.find(query).sort(order).limit(limit).to_list()
