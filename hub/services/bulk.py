"""Bulk actions on conversations: one request assigns, closes, reopens or labels many.

Each conversation goes through the same service call as its single-conversation endpoint, so it is
stored and published (and capacity routing settled) exactly as if it had been changed alone; one
that fails does not stop the others, and the answer says per id what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.realtime.payloads import conversation_payload
from hub.services import conversations, labels, scope
from hub.services.auth import Principal
from hub.services.errors import Invalid, ServiceError
from hub.store.accounts import Agent
from hub.store.conversations import Conversation

MAX_IDS: Final = 100
"""Conversations per request: a screenful or a few, each a write and an event."""
ACTIONS: Final = ("assign", "close", "reopen", "label", "unlabel")


@dataclass(frozen=True)
class Outcome:
    id: str
    ok: bool
    status: int = 200
    error: str | None = None
    conversation: Any = None


def _ids(raw: list[str]) -> list[str]:
    if not raw:
        raise Invalid("ids must name at least one conversation", field="ids")
    if len(raw) > MAX_IDS:
        raise Invalid(f"at most {MAX_IDS} ids per request", field="ids")
    return list(dict.fromkeys(raw))  # each once, in the order given


async def _check(principal: Principal, action: str, agent_id: str | None, label_id: str | None) -> None:
    """Refuse the whole request when its action or target is wrong: that would fail for every id."""
    if action not in ACTIONS:
        raise Invalid(f"action must be one of {', '.join(ACTIONS)}", field="action")
    if action == "assign" and agent_id is not None:
        agent = (
            await Agent.find_one(
                {"_id": PydanticObjectId(agent_id), "account_id": principal.account_id, "active": True}
            )
            if PydanticObjectId.is_valid(agent_id)
            else None
        )
        if agent is None:
            raise Invalid("agent_id is not an agent of this account", field="agent_id")
    if action in {"label", "unlabel"}:
        if not label_id:
            raise Invalid("label_id is required to label or unlabel", field="label_id")
        try:
            await labels.get_label(principal.account_id, label_id)
        except ServiceError:
            raise Invalid("label_id is not a label of this account", field="label_id") from None


async def _one(
    hub: HubContext, principal: Principal, conv_id: str, action: str, agent_id: str | None, label_id: str
) -> Conversation:
    # Checked against the account (and a scoped token's numbers) like every id path.
    await scope.conversation(principal, conv_id)
    account = principal.account_id
    if action == "assign":
        return await conversations.assign(hub, account, conv_id, agent_id)
    if action == "close":
        return await conversations.set_status(hub, account, conv_id, "closed")
    if action == "reopen":
        return await conversations.set_status(hub, account, conv_id, "open")
    if action == "label":
        return await labels.put_on(hub, account, conv_id, label_id)
    return await labels.take_off(hub, account, conv_id, label_id)


async def run(
    hub: HubContext,
    principal: Principal,
    ids: list[str],
    action: str,
    *,
    agent_id: str | None = None,
    label_id: str | None = None,
) -> list[Outcome]:
    """Apply `action` to each conversation in turn; a failing one is reported, the rest go on."""
    wanted = _ids(ids)
    await _check(principal, action, agent_id, label_id)
    outcomes: list[Outcome] = []
    for conv_id in wanted:
        try:
            conv = await _one(hub, principal, conv_id, action, agent_id, label_id or "")
        except ServiceError as exc:
            outcomes.append(Outcome(id=conv_id, ok=False, status=exc.status_code, error=exc.message))
        else:
            outcomes.append(Outcome(id=conv_id, ok=True, conversation=conversation_payload(conv)))
    return outcomes
