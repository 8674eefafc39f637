"""Screens over REST: admins set up billboards and chat screens, agents moderate and answer,
and a screen's token fetches that screen's images and logo (nothing else)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from beanie import PydanticObjectId
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from hub.api.audited import audited
from hub.api.deps import provide_admin, provide_hub, provide_principal
from hub.api.media import ANY_MEDIA, SAFE_HEADERS
from hub.api.openapi import SCREEN_SECURITY
from hub.context import HubContext
from hub.domain import displays as core
from hub.domain.keywords import normalise
from hub.domain.messages import IncomingMedia
from hub.services import config
from hub.services import displays as svc
from hub.services.auth import Principal
from hub.services.errors import Invalid, NotFound
from hub.services.outbound import Author
from hub.services.routing import setup_changed
from hub.store.accounts import Account, utcnow
from hub.store.displays import DisplayDoc, DisplayEventRecord, DisplayItem, DisplayNick
from hub.store.keywords import KeywordDoc, SurveyDoc
from hub.store.messages import Message

Colour = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")]
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=30)]
_MEDIA_REF = re.compile(r"^/api/messages/(?P<id>[0-9a-f]{24})/media/(?P<index>\d{1,2})$")
MAX_LOGO = 2 * 1024 * 1024
# Moderating and answering is for every agent of the account; setting screens up is for admins.
ANY_AGENT = {"principal": Provide(provide_principal)}


class DisplayBody(msgspec.Struct):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    number_id: Annotated[str, msgspec.Meta(max_length=40)]
    mode: Literal["billboard", "chat"] = "billboard"
    keyword: Annotated[str, msgspec.Meta(max_length=60)] | None = None
    background: Colour = "#101820"
    foreground: Colour = "#ffffff"
    accent: Colour = "#ffb000"
    logo_media: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    """An attachment of the account's messages as the panel links it: /api/messages/<id>/media/<n>."""
    lifetime_s: Annotated[int, msgspec.Meta(ge=10, le=7 * 86400)] = 300
    max_shown: Annotated[int, msgspec.Meta(ge=1, le=50)] = 8
    moderation: Literal["pre", "post"] = "post"
    filter_action: Literal["hide", "queue"] = "queue"
    words: Annotated[list[Word], msgspec.Meta(max_length=1000)] | None = None
    """None takes the Polish and English starting lists."""
    blocked: Annotated[list[Phone], msgspec.Meta(max_length=10_000)] = []
    masked: bool = True
    survey_id: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    cycle_when_quiet: bool = True
    language: Literal["pl", "en"] | None = None
    """The screen's own words ("Messages", "Results"…); None keeps the current one (a new screen: "pl")."""
    host_name: Annotated[str, msgspec.Meta(max_length=core.MAX_HOST_NAME)] | None = None
    """Who hosts' answers are from on a chat screen; None keeps the current one (a new screen takes
    the account's name)."""


class DisplayOut(msgspec.Struct):
    id: str
    title: str
    mode: str
    number_id: str
    number: str
    keyword: str | None
    background: str
    foreground: str
    accent: str
    has_logo: bool
    lifetime_s: int
    max_shown: int
    moderation: str
    filter_action: str
    words: list[str]
    blocked: list[str]
    masked: bool
    survey_id: str | None
    cycle_when_quiet: bool
    host_name: str
    language: str = "pl"
    pending: int = 0
    token: str | None = None
    """Only in the answer that made the link (creation, new link): it is not stored."""
    screen_url: str | None = None


class Validation(msgspec.Struct):
    ok: bool


class DefaultWords(msgspec.Struct):
    pl: list[str]
    en: list[str]


class ItemOut(msgspec.Struct):
    id: str
    status: str
    reason: str | None
    author: str
    sender: str
    nick: str | None
    text: str
    media: list[str]
    media_kinds: list[str]
    """Each attachment's kind, in the order of `media`: "image" or "video"."""
    reply_to: str | None
    created_at: str


class BlockBody(msgspec.Struct):
    item_id: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    phone: Phone | None = None


class ReplyBody(msgspec.Struct):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1600)]
    client_id: Annotated[str, msgspec.Meta(max_length=100)] | None = None


def display_out(d: DisplayDoc, pending: int = 0, token: str | None = None) -> DisplayOut:
    return DisplayOut(
        id=str(d.id),
        title=d.title,
        mode=d.mode,
        number_id=str(d.number_id),
        number=d.number,
        keyword=d.keyword,
        background=d.background,
        foreground=d.foreground,
        accent=d.accent,
        has_logo=d.logo_file_id is not None,
        lifetime_s=d.lifetime_s,
        max_shown=d.max_shown,
        moderation=d.moderation,
        filter_action=d.filter_action,
        words=d.words,
        blocked=d.blocked,
        masked=d.masked,
        survey_id=str(d.survey_id) if d.survey_id else None,
        cycle_when_quiet=d.cycle_when_quiet,
        host_name=d.host_name,
        language=d.language,
        pending=pending,
        token=token,
        screen_url=f"/screen#{token}" if token else None,
    )


async def _fields(principal: Principal, data: DisplayBody, current: DisplayDoc | None) -> dict[str, Any]:
    """The stored form of a screen's settings, or Invalid/NotFound naming the field at fault."""
    account = principal.account_id
    number = await config.usable_number(account, data.number_id)
    keyword = None
    if data.keyword is not None and data.keyword.strip():
        keyword = normalise(data.keyword)
        if not keyword:
            raise Invalid("the keyword has no letters or digits", field="keyword")
        found = await KeywordDoc.find_one(
            {"account_id": account, "number_id": number.id, "normalised": keyword}
        )
        if found is None:
            raise Invalid(
                f"no keyword {data.keyword.strip()!r} on {number.e164}: add it under Services first",
                field="keyword",
            )
    elif number.account_id is None:
        raise Invalid("a shared number needs the keyword the screen shows", field="keyword")
    survey_id = None
    if data.survey_id:
        survey = await config.owned(SurveyDoc, account, data.survey_id, "survey_id")
        survey_id = survey.id
    blocked = sorted({config.parse_phone(p, "blocked") for p in data.blocked})
    words = list(core.word_set(data.words)) if data.words is not None else None
    if words is None:
        words = (
            current.words
            if current is not None
            else list(core.word_set(core.DEFAULT_WORDS_PL + core.DEFAULT_WORDS_EN))
        )
    fields: dict[str, Any] = {
        "host_name": await _host_name(account, data.host_name, current),
        "title": data.title.strip(),
        "mode": data.mode,
        "number_id": number.id,
        "number": number.e164,
        "keyword": keyword,
        "background": data.background,
        "foreground": data.foreground,
        "accent": data.accent,
        "lifetime_s": data.lifetime_s,
        "max_shown": data.max_shown,
        "moderation": data.moderation,
        "filter_action": data.filter_action,
        "words": words,
        "blocked": blocked,
        "masked": data.masked,
        "survey_id": survey_id,
        "cycle_when_quiet": data.cycle_when_quiet,
        "language": data.language or (current.language if current is not None else "pl"),
    }
    if not fields["title"]:
        raise Invalid("the title is empty", field="title")
    if data.logo_media is not None:
        fields["logo_file_id"] = await _logo_from_media(account, data.logo_media) if data.logo_media else None
    return fields


async def _host_name(account: PydanticObjectId, given: str | None, current: DisplayDoc | None) -> str:
    if given is not None:
        name = core.host_name(given)
        if not name:
            raise Invalid("the host's name is empty", field="host_name")
        return name
    if current is not None:
        return current.host_name
    owner = await Account.get(account)
    return (core.host_name(owner.name) if owner is not None else "") or core.DEFAULT_HOST_NAME


async def _logo_from_media(account: PydanticObjectId, ref: str) -> PydanticObjectId:
    found = _MEDIA_REF.match(ref.strip())
    if found is None:
        raise Invalid("logo_media is an attachment link: /api/messages/<id>/media/<n>", field="logo_media")
    message = await Message.find_one({"_id": PydanticObjectId(found["id"]), "account_id": account})
    index = int(found["index"])
    if message is None or index >= len(message.media):
        raise NotFound("no such attachment in this account", field="logo_media")
    item = message.media[index]
    if item.file_id is None or item.kind != "image":
        raise Invalid("the logo must be an image", field="logo_media")
    return item.file_id


async def _items_out(display: DisplayDoc, items: list[DisplayItem]) -> list[ItemOut]:
    phones = list({i.sender for i in items})
    nicks = {
        n.phone: n.nick async for n in DisplayNick.find({"display_id": display.id, "phone": {"$in": phones}})
    }
    return [
        ItemOut(
            id=str(i.id),
            status=i.status,
            reason=i.reason if i.author == "texter" else None,
            author=i.author,
            sender=i.sender,
            nick=(i.reason or "Host") if i.author == "host" else nicks.get(i.sender),
            text=i.text,
            media=[f"/api/displays/{display.id}/items/{i.id}/media/{n}" for n in range(len(i.media))],
            media_kinds=[m.kind for m in i.media],
            reply_to=str(i.reply_to) if i.reply_to else None,
            created_at=i.created_at.isoformat().replace("+00:00", "Z"),
        )
        for i in items
    ]


async def _media_response(hub: HubContext, file_id: PydanticObjectId, mime: str) -> Response[bytes]:
    stored = await hub.media.open(file_id)
    return Response(stored.data, media_type=mime, headers={**SAFE_HEADERS, "Content-Disposition": "inline"})


class DisplayController(Controller):
    path = "/api/displays"
    tags = ["displays"]
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}

    @get("/", dependencies={"principal": Provide(provide_principal)})
    async def list_displays(self, principal: NamedDependency[Principal]) -> list[DisplayOut]:
        docs = await DisplayDoc.find({"account_id": principal.account_id}).sort("title").to_list()
        out = []
        for d in docs:
            pending = await DisplayItem.find({"display_id": d.id, "status": svc.PENDING}).count()
            out.append(display_out(d, pending))
        return out

    @get("/words", dependencies={"principal": Provide(provide_principal)})
    async def default_words(self, principal: NamedDependency[Principal]) -> DefaultWords:
        """The starting word lists a new screen gets."""
        return DefaultWords(pl=list(core.DEFAULT_WORDS_PL), en=list(core.DEFAULT_WORDS_EN))

    @post("/", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("display.create", "display", announce=True)
    async def create_display(
        self, principal: NamedDependency[Principal], data: JSONBody[DisplayBody]
    ) -> DisplayOut:
        """Create a screen; the answer carries its link's token, which is shown this once."""
        fields = await _fields(principal, data, None)
        token, token_hash = svc.new_token()
        doc = DisplayDoc(account_id=principal.account_id, token_hash=token_hash, **fields)
        await doc.insert()
        setup_changed()
        return display_out(doc, 0, token)

    @post("/validate", status_code=200, dependencies={"principal": Provide(provide_admin)})
    async def validate_display(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[DisplayBody],
        display_id: FromQuery[str | None] = None,
    ) -> Validation:
        """Check settings without storing them (the panel checks as the admin types): 422 says why not."""
        current = await svc.owned(principal.account_id, display_id) if display_id else None
        await _fields(principal, data, current)
        return Validation(ok=True)

    @get("/{display_id:str}", dependencies={"principal": Provide(provide_principal)})
    async def get_display(
        self, principal: NamedDependency[Principal], display_id: FromPath[str]
    ) -> DisplayOut:
        d = await svc.owned(principal.account_id, display_id)
        return display_out(d, await DisplayItem.find({"display_id": d.id, "status": svc.PENDING}).count())

    @patch("/{display_id:str}", dependencies={"principal": Provide(provide_admin)})
    @audited("display.update", "display", "display_id", announce=True)
    async def update_display(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        display_id: FromPath[str],
        data: JSONBody[DisplayBody],
    ) -> DisplayOut:
        d = await svc.owned(principal.account_id, display_id)
        fields = await _fields(principal, data, d)
        # Only the settings: a whole-document save would also write back the screen's event
        # counter (`seq`), which its events take numbers from meanwhile.
        await d.set({**fields, "updated_at": utcnow()})
        setup_changed()
        await svc.publish_config(hub, d)
        return display_out(d)

    @delete("/{display_id:str}", status_code=204, dependencies={"principal": Provide(provide_admin)})
    @audited("display.delete", "display", "display_id", announce=True)
    async def delete_display(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        display_id: FromPath[str],
    ) -> None:
        d = await svc.owned(principal.account_id, display_id)
        assert d.id is not None
        await DisplayItem.find({"display_id": d.id}).delete()
        await DisplayNick.find({"display_id": d.id}).delete()
        await DisplayEventRecord.find({"display_id": d.id}).delete()
        await d.delete()
        setup_changed()
        await svc.closed(hub, d.id)

    @post("/{display_id:str}/link", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("display.link", "display", "display_id")
    async def new_link(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        display_id: FromPath[str],
    ) -> DisplayOut:
        """Make a new screen link; the old one stops working and screens open with it close."""
        d = await svc.owned(principal.account_id, display_id)
        assert d.id is not None
        token, token_hash = svc.new_token()
        await d.set({"token_hash": token_hash})
        await svc.closed(hub, d.id)
        return display_out(d, 0, token)

    @put("/{display_id:str}/logo", dependencies={"principal": Provide(provide_admin)})
    @audited("display.logo", "display", "display_id")
    async def upload_logo(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        display_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> DisplayOut:
        """Upload the logo: the image's bytes as the body."""
        d = await svc.owned(principal.account_id, display_id)
        body = await request.body()
        if not body or len(body) > MAX_LOGO:
            raise Invalid(f"send the logo image as the body, at most {MAX_LOGO} bytes", field="logo")
        stored = await hub.media.ingest(
            (IncomingMedia(data=body, content_type=request.headers.get("content-type")),)
        )
        if stored[0].file_id is None or stored[0].kind != "image":
            await hub.media.delete(stored)
            raise Invalid(f"the logo must be an image ({stored[0].rejected or stored[0].mime})", field="logo")
        await d.set({"logo_file_id": stored[0].file_id})
        await svc.publish_config(hub, d)
        return display_out(d)

    @get("/{display_id:str}/items", dependencies={"principal": Provide(provide_principal)})
    async def list_items(
        self,
        principal: NamedDependency[Principal],
        display_id: FromPath[str],
        status: FromQuery[
            Literal["pending", "shown", "removed", "rejected", "hidden", "blocked"]
        ] = "pending",
        limit: FromQuery[Annotated[int, msgspec.Meta(ge=1, le=200)]] = 50,
    ) -> list[ItemOut]:
        """The moderation queue (oldest first) or what the screen shows (newest first)."""
        d = await svc.owned(principal.account_id, display_id)
        if status == svc.SHOWN:
            assert d.id is not None
            # Panels reload this on every notice: read by sequence windows, never the whole screen.
            return await _items_out(d, await svc.latest_shown(d.id, await svc.head(d.id), limit))
        order = "created_at" if status == svc.PENDING else "-created_at"
        items = (
            await DisplayItem.find({"display_id": d.id, "status": status}).sort(order).limit(limit).to_list()
        )
        return await _items_out(d, items)

    @get(
        "/{display_id:str}/items/{item_id:str}/media/{index:int}",
        media_type=ANY_MEDIA,
        dependencies=ANY_AGENT,
    )
    async def item_media(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        display_id: FromPath[str],
        item_id: FromPath[str],
        index: FromPath[int],
    ) -> Response[bytes]:
        """An image of a queued or shown message, for moderators."""
        d = await svc.owned(principal.account_id, display_id)
        item = await svc.item_of(d, item_id)
        if not 0 <= index < len(item.media):
            raise NotFound("no such attachment")
        return await _media_response(hub, item.media[index].file_id, item.media[index].mime)

    @post("/{display_id:str}/items/{item_id:str}/{action:str}", status_code=200, dependencies=ANY_AGENT)
    async def moderate(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        display_id: FromPath[str],
        item_id: FromPath[str],
        action: FromPath[str],
    ) -> ItemOut:
        """approve, reject (from the queue) or remove (from the screen)."""
        d = await svc.owned(principal.account_id, display_id)
        if action == "approve":
            item = await svc.approve(hub, d, item_id)
        elif action == "reject":
            item = await svc.reject(hub, d, item_id)
        elif action == "remove":
            item = await svc.remove(hub, d, item_id)
        else:
            raise NotFound(f"no action {action!r}: approve, reject or remove", field="action")
        return (await _items_out(d, [item]))[0]

    @post("/{display_id:str}/reply/{item_id:str}", status_code=201, dependencies=ANY_AGENT)
    async def host_reply(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        display_id: FromPath[str],
        item_id: FromPath[str],
        data: JSONBody[ReplyBody],
    ) -> ItemOut:
        """A host answers a texter on a chat screen: on the screen and by SMS to the texter."""
        d = await svc.owned(principal.account_id, display_id)
        author = Author(
            kind="agent" if principal.kind == "agent" else "bot", id=principal.id, name=principal.name
        )
        item = await svc.host_reply(hub, d, item_id, data.text, author, data.client_id)
        return (await _items_out(d, [item]))[0]

    @post("/{display_id:str}/block", status_code=200, dependencies=ANY_AGENT)
    @audited("display.block", "display", "display_id")
    async def block(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        display_id: FromPath[str],
        data: JSONBody[BlockBody],
    ) -> DisplayOut:
        """Block a sender on this screen (by a message of theirs or by number)."""
        d = await svc.owned(principal.account_id, display_id)
        phone = config.parse_phone(data.phone, "phone") if data.phone else None
        await svc.block(hub, d, data.item_id, phone)
        return display_out(await svc.owned(principal.account_id, display_id))

    @delete("/{display_id:str}/block/{phone:str}", status_code=204, dependencies=ANY_AGENT)
    @audited("display.unblock", "display", "display_id")
    async def unblock(
        self, principal: NamedDependency[Principal], display_id: FromPath[str], phone: FromPath[str]
    ) -> None:
        d = await svc.owned(principal.account_id, display_id)
        await svc.unblock(d, config.parse_phone(phone, "phone"))


def _screen_token(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("x-screen-token") or request.query_params.get("token") or ""


class ScreenController(Controller):
    """What a screen's token may fetch besides its socket: its shown images and its logo."""

    path = "/api/screen"
    tags = ["displays"]
    security = SCREEN_SECURITY
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}

    @get("/media/{item_id:str}/{index:int}", media_type=ANY_MEDIA)
    async def screen_media(
        self,
        hub: NamedDependency[HubContext],
        request: Request[Any, Any, Any],
        item_id: FromPath[str],
        index: FromPath[int],
    ) -> Response[bytes]:
        display = await svc.by_token(_screen_token(request))
        if display is None:
            raise NotFound("no such image")
        item = await svc.item_of(display, item_id) if PydanticObjectId.is_valid(item_id) else None
        # Only what the screen shows: a queued or removed message's image stays unreachable.
        if item is None or item.status != svc.SHOWN or not 0 <= index < len(item.media):
            raise NotFound("no such image")
        return await _media_response(hub, item.media[index].file_id, item.media[index].mime)

    @get("/logo", media_type=ANY_MEDIA)
    async def screen_logo(
        self, hub: NamedDependency[HubContext], request: Request[Any, Any, Any]
    ) -> Response[bytes]:
        display = await svc.by_token(_screen_token(request))
        if display is None or display.logo_file_id is None:
            raise NotFound("no logo")
        stored = await hub.media.open(display.logo_file_id)
        return await _media_response(hub, display.logo_file_id, stored.mime)
