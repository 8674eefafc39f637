"""Saved inbox views: an agent's named combinations of the list's filters."""

from __future__ import annotations

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.domain import labels as core
from hub.services.auth import Principal
from hub.services.errors import Conflict, Forbidden, Invalid, NotFound
from hub.services.labels import get_label
from hub.store.accounts import Agent
from hub.store.conversations import Conversation
from hub.store.labels import SavedView
from hub.store.numbers import Number

MAX_VIEWS = 50
"""Views per agent: a sidebar list, not a store."""


def _agent(principal: Principal) -> PydanticObjectId:
    if principal.agent_id is None:
        raise Forbidden("saved views belong to an agent's login, not to an API token")
    return principal.agent_id


async def _check_ids(account_id: PydanticObjectId, filters: dict[str, str | bool]) -> None:
    """The ids a view names must be the account's: a view never points at another account's data."""
    label = filters.get("label")
    if isinstance(label, str):
        await get_label(account_id, label, field="filters.label")
        # get_label answers 404; a view naming an unknown label is a bad body instead.
    number = filters.get("number_id")
    if isinstance(number, str):
        known = PydanticObjectId.is_valid(number) and (
            await Number.find_one({"_id": PydanticObjectId(number), "account_id": account_id}) is not None
            or await Conversation.find_one({"account_id": account_id, "number_id": PydanticObjectId(number)})
            is not None
        )
        if not known:
            raise Invalid("number_id is not a number of this account", field="filters.number_id")
    assignee = filters.get("assignee")
    if isinstance(assignee, str) and assignee not in {"me", "unassigned"}:
        agent = (
            await Agent.find_one({"_id": PydanticObjectId(assignee), "account_id": account_id})
            if PydanticObjectId.is_valid(assignee)
            else None
        )
        if agent is None:
            raise Invalid(
                "assignee must be me, unassigned or an agent of this account", field="filters.assignee"
            )


async def list_views(principal: Principal) -> list[SavedView]:
    agent_id = _agent(principal)
    return (
        await SavedView.find({"agent_id": agent_id, "account_id": principal.account_id})
        .sort("name_key")
        .to_list()
    )


async def create(principal: Principal, name: object, filters: object) -> SavedView:
    agent_id = _agent(principal)
    try:
        clean = core.clean_name(name)
    except core.InvalidName as exc:
        raise Invalid(str(exc), field="name") from None
    try:
        checked = core.check_filters(filters)
    except core.InvalidFilters as exc:
        raise Invalid(str(exc), field=exc.field) from None
    try:
        await _check_ids(principal.account_id, checked)
    except NotFound as exc:
        raise Invalid("label is not a label of this account", field="filters.label") from exc
    if await SavedView.find({"agent_id": agent_id, "account_id": principal.account_id}).count() >= MAX_VIEWS:
        raise Conflict(f"an agent has at most {MAX_VIEWS} saved views")
    view = SavedView(
        account_id=principal.account_id,
        agent_id=agent_id,
        name=clean,
        name_key=core.name_key(clean),
        filters=checked,
    )
    try:
        await view.insert()
    except DuplicateKeyError:
        raise Invalid(f"a view named {clean!r} already exists", field="name", code="duplicate") from None
    return view


async def delete(principal: Principal, view_id: str) -> None:
    """Delete one of the agent's own views; another agent's (or account's) answers 404."""
    agent_id = _agent(principal)
    result = (
        await SavedView.get_pymongo_collection().delete_one(
            {"_id": PydanticObjectId(view_id), "agent_id": agent_id, "account_id": principal.account_id}
        )
        if PydanticObjectId.is_valid(view_id)
        else None
    )
    if result is None or result.deleted_count == 0:
        raise NotFound("no such view", field="view_id")
