"""Saved inbox views (each agent's own) and bulk actions on conversations."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from hub.api.deps import provide_hub, provide_principal
from hub.context import HubContext
from hub.domain import events as ev
from hub.services import bulk, views
from hub.services.auth import Principal
from hub.store.labels import SavedView


class ViewBody(msgspec.Struct):
    name: Any = None
    """1 to 40 characters, unique among the agent's views (case ignored)."""
    filters: Any = None
    """Any of `number_id`, `label`, `status`, `assignee`, `unread`: the query parameters of
    `GET /api/conversations`; another field is a 422."""


class ViewOut(msgspec.Struct):
    id: str
    name: str
    filters: dict[str, str | bool]


class BulkBody(msgspec.Struct):
    ids: Annotated[list[Annotated[str, msgspec.Meta(max_length=40)]], msgspec.Meta(max_length=1000)]
    """Conversation ids, at most 100 (hub.services.bulk.MAX_IDS)."""
    action: str
    """assign, close, reopen, label or unlabel."""
    agent_id: str | None = None
    """For assign: the agent, or null to unassign."""
    label_id: str | None = None
    """For label and unlabel."""


class BulkItem(msgspec.Struct, omit_defaults=True):
    id: str
    ok: bool
    status: int
    """200, or the status the single-conversation call would have answered (404, 409, 422)."""
    error: str | None = None
    conversation: ev.ConversationPayload | None = None


class BulkOut(msgspec.Struct):
    done: int
    failed: int
    results: list[BulkItem]


def view_out(view: SavedView) -> ViewOut:
    return ViewOut(id=str(view.id), name=view.name, filters=dict(view.filters))


class ViewController(Controller):
    path = "/api/views"
    dependencies = {"principal": Provide(provide_principal)}
    tags = ["inbox"]

    @get("/")
    async def list_views(self, principal: NamedDependency[Principal]) -> list[ViewOut]:
        """The calling agent's saved views by name."""
        return [view_out(v) for v in await views.list_views(principal)]

    @post("/", status_code=201)
    async def create(self, principal: NamedDependency[Principal], data: JSONBody[ViewBody]) -> ViewOut:
        """Save a filter combination under a name (422: empty or duplicate name, an unknown filter
        field or value, an id that is not the account's)."""
        return view_out(
            await views.create(principal, data.name, data.filters if data.filters is not None else {})
        )

    @delete("/{view_id:str}", status_code=204)
    async def remove(self, principal: NamedDependency[Principal], view_id: FromPath[str]) -> None:
        await views.delete(principal, view_id)


class BulkController(Controller):
    path = "/api/conversations/bulk"
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_principal),
    }
    tags = ["inbox"]

    @post("/", status_code=200)
    async def run(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        data: JSONBody[BulkBody],
    ) -> BulkOut:
        """Assign, close, reopen, label or unlabel several conversations; each is changed and
        published as its own endpoint would, and the answer reports each id (a failed one does not
        stop the rest)."""
        outcomes = await bulk.run(
            hub, principal, data.ids, data.action, agent_id=data.agent_id, label_id=data.label_id
        )
        items = [
            BulkItem(id=o.id, ok=o.ok, status=o.status, error=o.error, conversation=o.conversation)
            for o in outcomes
        ]
        done = sum(1 for o in outcomes if o.ok)
        return BulkOut(done=done, failed=len(outcomes) - done, results=items)
