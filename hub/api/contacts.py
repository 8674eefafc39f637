"""Contacts and contact groups: lists, CSV import and export, blocking."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pymongo.errors import DuplicateKeyError

from hub.api.audited import audited
from hub.api.deps import provide_admin, provide_principal
from hub.services import config
from hub.services.auth import Principal
from hub.services.errors import Conflict, Invalid
from hub.store.audience import Suppression, SuppressionKind
from hub.store.conversations import Contact, rename_contact
from hub.store.keywords import ContactGroup, KeywordDoc

MAX_CSV_BYTES = 5 * 1024 * 1024


class GroupBody(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class GroupOut(msgspec.Struct):
    id: str
    name: str
    members: int


class ContactBody(msgspec.Struct):
    phone: str
    name: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    group_ids: list[str] = []
    fields: dict[str, str] = {}
    blocked: bool = False


class ContactPatch(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    group_ids: list[str] | None = None
    fields: dict[str, str] | None = None
    blocked: bool | None = None


class ContactOut(msgspec.Struct):
    id: str
    phone: str
    name: str | None
    group_ids: list[str]
    fields: dict[str, str]
    blocked: bool
    opted_out_of: list[str]
    """Numbers the contact opted out of ("*": the whole account, by STOP to one of its campaigns)."""


class Imported(msgspec.Struct):
    contacts: int


async def contact_out(c: Contact) -> ContactOut:
    blocked = False
    opted: list[str] = []
    async for s in Suppression.find(
        {"phone": c.phone, "$or": [{"account_id": c.account_id}, {"account_id": None}]}
    ):
        if s.kind is SuppressionKind.BLOCK and s.account_id == c.account_id:
            blocked = True
        elif s.kind is SuppressionKind.OPT_OUT:
            opted.append(s.number or "*")
    return ContactOut(
        id=str(c.id),
        phone=c.phone,
        name=c.name,
        group_ids=[str(g) for g in c.group_ids],
        fields=dict(c.fields),
        blocked=blocked,
        opted_out_of=sorted(opted),
    )


async def _groups(principal: Principal, ids: list[str]) -> list[Any]:
    groups = [config.object_id(g, "group_ids") for g in ids]
    if await ContactGroup.find({"_id": {"$in": groups}, "account_id": principal.account_id}).count() != len(
        set(groups)
    ):
        raise Invalid("group_ids names a group this account does not have", field="group_ids")
    return groups


def _phone_prefix(text: str) -> str:
    """A regex for phone numbers starting with the digits of `text` (its + optional: 48600 finds +48600…)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return ("^\\+" if text.strip().startswith("+") else "^\\+?") + digits


class ContactController(Controller):
    path = "/api"
    tags = ["contacts"]

    @get("/groups", dependencies={"principal": Provide(provide_principal)})
    async def list_groups(self, principal: NamedDependency[Principal]) -> list[GroupOut]:
        groups = await ContactGroup.find({"account_id": principal.account_id}).sort("name").to_list()
        return [
            GroupOut(
                str(g.id),
                g.name,
                await Contact.find({"account_id": principal.account_id, "group_ids": g.id}).count(),
            )
            for g in groups
        ]

    @post("/groups", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("group.create", "group")
    async def create_group(
        self, principal: NamedDependency[Principal], data: JSONBody[GroupBody]
    ) -> GroupOut:
        group = ContactGroup(account_id=principal.account_id, name=data.name.strip())
        if not group.name:
            raise Invalid("a group needs a name", field="name")
        try:
            await group.insert()
        except DuplicateKeyError:
            raise Conflict(f"a group named {group.name!r} exists", field="name") from None
        return GroupOut(str(group.id), group.name, 0)

    @delete("/groups/{group_id:str}", status_code=204, dependencies={"principal": Provide(provide_admin)})
    @audited("group.delete", "group", "group_id")
    async def delete_group(self, principal: NamedDependency[Principal], group_id: FromPath[str]) -> None:
        group = await config.owned(ContactGroup, principal.account_id, group_id, "group_id")
        if await KeywordDoc.find({"group_ids": group.id}).count():
            raise Invalid("a keyword still uses this group: change or delete it first", field="group_id")
        await Contact.get_pymongo_collection().update_many(
            {"account_id": principal.account_id}, {"$pull": {"group_ids": group.id}}
        )
        await group.delete()

    @get("/contacts", dependencies={"principal": Provide(provide_principal)})
    async def list_contacts(
        self,
        principal: NamedDependency[Principal],
        group: FromQuery[str | None] = None,
        phone: FromQuery[str | None] = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[ContactOut]:
        """Contacts by phone; `phone` is a prefix, `q` a phone prefix or a part of the name."""
        query: dict[str, Any] = {"account_id": principal.account_id}
        if group:
            query["group_ids"] = config.object_id(group, "group")
        if phone:
            query["phone"] = {
                "$regex": "^" + "".join(ch for ch in phone if ch.isdigit() or ch == "+").replace("+", r"\+")
            }
        if q and q.strip():
            either: list[dict[str, Any]] = [{"name": {"$regex": re.escape(q.strip()), "$options": "i"}}]
            if any(ch.isdigit() for ch in q):
                either.append({"phone": {"$regex": _phone_prefix(q)}})
            query["$or"] = either
        return [await contact_out(c) for c in await Contact.find(query).sort("phone").limit(limit).to_list()]

    @post("/contacts", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("contact.create", "contact")
    async def create_contact(
        self, principal: NamedDependency[Principal], data: JSONBody[ContactBody]
    ) -> ContactOut:
        phone = config.parse_phone(data.phone)
        groups = await _groups(principal, data.group_ids)
        contact = Contact(
            account_id=principal.account_id, phone=phone, name=data.name, group_ids=groups, fields=data.fields
        )
        try:
            await contact.insert()
        except DuplicateKeyError:
            raise Conflict(f"{phone} is already a contact", field="phone") from None
        if data.blocked:
            await config.set_block(principal.account_id, phone, True, principal.name)
        return await contact_out(contact)

    @patch("/contacts/{contact_id:str}", dependencies={"principal": Provide(provide_admin)})
    @audited("contact.update", "contact", "contact_id")
    async def update_contact(
        self, principal: NamedDependency[Principal], contact_id: FromPath[str], data: JSONBody[ContactPatch]
    ) -> ContactOut:
        contact = await config.owned(Contact, principal.account_id, contact_id, "contact_id")
        if data.group_ids is not None:
            contact.group_ids = await _groups(principal, data.group_ids)
        renamed = data.name is not None and (data.name.strip() or None) != contact.name
        if data.name is not None:
            contact.name = data.name.strip() or None
        if data.fields is not None:
            contact.fields = data.fields
        await contact.save()
        if renamed:
            await rename_contact(principal.account_id, contact.phone, contact.name)
        if data.blocked is not None:
            await config.set_block(principal.account_id, contact.phone, data.blocked, principal.name)
        return await contact_out(contact)

    @post("/contacts/import", status_code=200, dependencies={"principal": Provide(provide_admin)})
    async def import_csv(
        self, principal: NamedDependency[Principal], request: Request[Any, Any, Any]
    ) -> Imported:
        """CSV with a header: phone,name,groups (groups separated by ';'); other columns become fields.

        All rows are checked first: one bad row stores nothing."""
        body = await request.body()
        if len(body) > MAX_CSV_BYTES:
            raise Invalid(f"the CSV is larger than {MAX_CSV_BYTES} bytes", field="csv")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid("the CSV is not UTF-8", field="csv") from None
        return Imported(await config.import_contacts(principal.account_id, text))

    @get(
        "/contacts/export.csv", media_type="text/csv", dependencies={"principal": Provide(provide_principal)}
    )
    async def export_csv(
        self, principal: NamedDependency[Principal], group: FromQuery[str | None] = None
    ) -> Response[str]:
        return Response(
            await config.export_contacts(principal.account_id, group),
            media_type="text/csv",
            headers={"content-disposition": 'attachment; filename="contacts.csv"'},
        )
