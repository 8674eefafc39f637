"""Conversation labels: the account's labels (admins manage them) and labelling a conversation."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from hub.api.audited import audited
from hub.api.deps import provide_admin, provide_hub, provide_principal
from hub.context import HubContext
from hub.domain import events as ev
from hub.domain.labels import PALETTE
from hub.realtime.payloads import conversation_payload
from hub.services import labels
from hub.services.auth import Principal
from hub.store.labels import Label


class LabelBody(msgspec.Struct):
    name: Any = None
    """1 to 40 characters, unique in the account (case ignored)."""
    colour: Any = None
    """A colour of the palette (`GET /api/labels/palette`)."""


class LabelOut(msgspec.Struct):
    id: str
    name: str
    colour: str
    background: str
    text: str
    """The chip's colours for the label's palette colour (contrast at least 4.5:1)."""


class PaletteColour(msgspec.Struct):
    colour: str
    background: str
    text: str


class PutLabelBody(msgspec.Struct):
    label_id: str


def label_out(label: Label) -> LabelOut:
    colour = PALETTE.get(label.colour, PALETTE["grey"])
    return LabelOut(
        id=str(label.id), name=label.name, colour=label.colour, background=colour.background, text=colour.text
    )


class LabelController(Controller):
    path = "/api/labels"
    tags = ["inbox"]

    @get("/", dependencies={"principal": Provide(provide_principal)})
    async def list_labels(self, principal: NamedDependency[Principal]) -> list[LabelOut]:
        """The account's labels by name."""
        return [label_out(label) for label in await labels.list_labels(principal.account_id)]

    @get("/palette", dependencies={"principal": Provide(provide_principal)})
    async def palette(self) -> list[PaletteColour]:
        """The colours a label may have."""
        return [PaletteColour(colour=k, background=c.background, text=c.text) for k, c in PALETTE.items()]

    @post("/", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("label.create", "label")
    async def create(self, principal: NamedDependency[Principal], data: JSONBody[LabelBody]) -> LabelOut:
        """Create a label (admins): 422 for an empty or duplicate name or a colour not in the palette."""
        return label_out(await labels.create(principal.account_id, data.name, data.colour or "grey"))

    @patch("/{label_id:str}", dependencies={"principal": Provide(provide_admin)})
    @audited("label.update", "label", "label_id")
    async def change(
        self, principal: NamedDependency[Principal], label_id: FromPath[str], data: JSONBody[LabelBody]
    ) -> LabelOut:
        """Rename and/or recolour a label (admins)."""
        return label_out(await labels.change(principal.account_id, label_id, data.name, data.colour))

    @delete("/{label_id:str}", status_code=204, dependencies={"principal": Provide(provide_admin)})
    @audited("label.delete", "label", "label_id")
    async def remove(self, principal: NamedDependency[Principal], label_id: FromPath[str]) -> None:
        """Delete a label (admins); it is taken off every conversation."""
        await labels.delete(principal.account_id, label_id)


class ConversationLabelController(Controller):
    path = "/api/conversations/{conversation_id:str}/labels"
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_principal),
    }
    tags = ["inbox"]

    @post("/", status_code=200)
    async def put_on(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        data: JSONBody[PutLabelBody],
    ) -> ev.ConversationPayload:
        """Put one of the account's labels on the conversation (`conversation.updated`, change `labels`)."""
        conv = await labels.put_on(hub, principal.account_id, conversation_id, data.label_id)
        return conversation_payload(conv)

    @delete("/{label_id:str}", status_code=200)
    async def take_off(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        conversation_id: FromPath[str],
        label_id: FromPath[str],
    ) -> ev.ConversationPayload:
        """Take the label off the conversation."""
        conv = await labels.take_off(hub, principal.account_id, conversation_id, label_id)
        return conversation_payload(conv)
