"""The inbox's contact panel: one contact's profile, and its name and fields edited by agents."""

from __future__ import annotations

import re
from typing import Annotated, Final

import msgspec
from litestar import Controller, get, patch
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from hub.api.audited import audited
from hub.api.deps import provide_hub, provide_principal
from hub.context import HubContext
from hub.realtime.payloads import iso
from hub.services import config, conversations
from hub.services.auth import Principal
from hub.services.contact_profile import Profile, profile
from hub.services.errors import Invalid
from hub.store.conversations import Contact

MAX_FIELDS: Final = 30
MAX_FIELD_VALUE: Final = 500
_FIELD_NAME: Final = re.compile(r"[^\W\d][\w-]{0,39}")
"""A field's name: used as {name} in autoresponder and campaign texts."""


class GroupRef(msgspec.Struct):
    id: str
    name: str


class StopOut(msgspec.Struct):
    """An opt-out or a block: what it covers, when, by whom or by which text."""

    kind: str
    """"opt_out" or "block"."""
    number: str | None
    """The number it covers; null: every number of the account."""
    at: str
    by: str | None
    word: str | None
    """The text the contact sent to opt out ("STOP")."""
    text: str
    """The same in words, as the panel shows it."""


class ReasonOut(msgspec.Struct):
    code: str
    """opted_out, blocked, suspended, no_number, moved or no_gateway."""
    text: str


class ThreadOut(msgspec.Struct):
    """One conversation of the contact (one per number of the account it wrote to)."""

    id: str
    number_id: str
    number: str
    status: str
    last_message_at: str | None
    last_text: str | None
    can_text: bool
    """Whether a reply can go out here now; `reasons` say why not."""
    reasons: list[ReasonOut]


class CampaignOut(msgspec.Struct):
    id: str
    name: str
    status: str
    """The recipient's status: queued, sent, delivered, failed, replied, skipped…"""
    at: str | None


class ProfileOut(msgspec.Struct):
    id: str
    phone: str
    name: str | None
    fields: dict[str, str]
    groups: list[GroupRef]
    blocked: bool
    opted_out: bool
    stops: list[StopOut]
    conversations: list[ThreadOut]
    campaigns: list[CampaignOut]


class DetailsPatch(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    fields: dict[str, str] | None = None
    """The whole set of fields: a field left out is removed."""


def profile_out(p: Profile) -> ProfileOut:
    c = p.contact
    return ProfileOut(
        id=str(c.id),
        phone=c.phone,
        name=c.name,
        fields=dict(c.fields),
        groups=[GroupRef(str(g.id), g.name) for g in p.groups],
        blocked=any(s.kind.value == "block" for s in p.stops),
        opted_out=any(s.kind.value == "opt_out" for s in p.stops),
        stops=[StopOut(s.kind.value, s.number, iso(s.at), s.by, s.word, s.reason()) for s in p.stops],
        conversations=[
            ThreadOut(
                id=str(t.conversation.id),
                number_id=str(t.conversation.number_id),
                number=t.conversation.number,
                status=t.conversation.status.value,
                last_message_at=iso(t.conversation.last_message_at)
                if t.conversation.last_message_at
                else None,
                last_text=t.conversation.last_message.text if t.conversation.last_message else None,
                can_text=t.sending.can_text,
                reasons=[ReasonOut(code, text) for code, text in t.sending.reasons],
            )
            for t in p.conversations
        ],
        campaigns=[CampaignOut(x.id, x.name, x.status, iso(x.at) if x.at else None) for x in p.campaigns],
    )


def checked_fields(fields: dict[str, str]) -> dict[str, str]:
    """The fields trimmed, once each name and value is acceptable.

    Raises:
        Invalid: too many, a name that is not a word, or a value too long.
    """
    if len(fields) > MAX_FIELDS:
        raise Invalid(f"a contact has at most {MAX_FIELDS} fields", field="fields")
    out: dict[str, str] = {}
    for name, value in fields.items():
        key = name.strip()
        if not _FIELD_NAME.fullmatch(key):
            raise Invalid(
                f"field name {name[:50]!r} must start with a letter and hold only letters, digits, _ "
                "or - (at most 40)",
                field="fields",
            )
        if len(value) > MAX_FIELD_VALUE:
            raise Invalid(f"field {key!r} is longer than {MAX_FIELD_VALUE} characters", field="fields")
        if key in out:
            raise Invalid(f"field {key!r} is named twice", field="fields")
        out[key] = value.strip()
    return out


class ContactProfileController(Controller):
    path = "/api/contacts"
    tags = ["contacts"]
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_principal),
    }

    @get("/{contact_id:str}/profile")
    async def get_profile(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        contact_id: FromPath[str],
    ) -> ProfileOut:
        """Everything the inbox's contact panel shows: name, fields, groups, opt-outs and blocks
        (where and when), the conversations with each number (and whether a reply can go out
        there, or why not) and the campaigns the contact received."""
        return profile_out(await profile(hub, principal.account_id, contact_id))

    @patch("/{contact_id:str}/details")
    @audited("contact.update", "contact", "contact_id")
    async def update_details(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        contact_id: FromPath[str],
        data: JSONBody[DetailsPatch],
    ) -> ProfileOut:
        """Change the contact's name and fields (any agent); answers the updated profile."""
        contact: Contact = await config.owned(Contact, principal.account_id, contact_id, "contact_id")
        fields = checked_fields(data.fields) if data.fields is not None else None
        name = (data.name.strip() or None) if data.name is not None else contact.name
        renamed = name != contact.name
        contact.name = name
        if fields is not None:
            contact.fields = fields
        await contact.save()
        if renamed:
            await conversations.rename_contact(hub, principal.account_id, contact.phone, contact.name)
        return profile_out(await profile(hub, principal.account_id, contact_id))
