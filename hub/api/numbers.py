"""Numbers and their services: settings, 2WAY campaign sends, unmatched messages, statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from litestar import Controller, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from hub.api.audited import audited, own_account
from hub.api.deps import provide_admin, provide_hub, provide_principal
from hub.context import HubContext
from hub.domain.numbers import NumberType
from hub.domain.optout import OptWords
from hub.domain.phones import InvalidPhoneNumber, to_e164
from hub.services import config, own_numbers, stats
from hub.services.auth import Principal
from hub.services.errors import Invalid
from hub.services.outbound import send_campaign_message
from hub.services.routing import auto_reply_limit, setup_changed, words_for
from hub.store.accounts import Account
from hub.store.audience import UnmatchedMessage
from hub.store.numbers import AutoReplyLimit, Number

Text = Annotated[str, msgspec.Meta(max_length=1600)]


class AutoReplyLimitIn(msgspec.Struct):
    """At most `max_count` automatic replies nobody asked for, per contact, within `window_s` seconds."""

    max_count: Annotated[int, msgspec.Meta(ge=0, le=100)]
    """0 turns them off."""
    window_s: Annotated[int, msgspec.Meta(ge=60, le=7 * 86400)]


class AutoReplyLimitOut(msgspec.Struct):
    max_count: int
    window_s: int
    default: bool
    """True while the number uses the hub's default (5 per hour)."""


class NumberOut(msgspec.Struct):
    id: str
    e164: str
    type: str
    label: str
    owned: bool
    """False for a shared number (ND/SC) the account can reserve keywords on."""
    default_reply: str | None
    help_text: str | None
    opt_in_reply: str | None
    opt_out_words: list[str]
    opt_in_words: list[str]
    help_words: list[str]
    auto_reply_limit: AutoReplyLimitOut
    """Limits the default reply and survey hints/refusals to messages that were not the survey's
    keyword; help texts, opt-in confirmations and answers to a keyword are not limited."""
    max_keywords_per_account: int | None = None
    """A shared number's cap on one account's keywords (pending ones count); null: no cap."""
    keyword_approval: bool = False
    """A shared number's reservations wait for the operator's approval before they route."""


class NumberPatch(msgspec.Struct):
    label: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    help_text: Text | None = None
    opt_in_reply: Text | None = None
    auto_reply_limit: AutoReplyLimitIn | Literal["default"] | None = None
    """A new limit, or "default" to go back to the hub's default."""


class MessagingSettings(msgspec.Struct):
    """The account's texts and words, used on its individual numbers (numbers may override the texts)."""

    help_text: Text | None = None
    opt_in_reply: Text | None = None
    opt_out_words: list[str] | None = None
    opt_in_words: list[str] | None = None
    help_words: list[str] | None = None


class CampaignSend(msgspec.Struct):
    number_id: str
    to: str
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1600)]
    campaign_id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class CampaignSent(msgspec.Struct):
    message_id: str
    conversation_id: str


class OwnNumberStart(msgspec.Struct):
    phone: str
    provider: str = "simulator"
    """The outbound provider that will send from this phone."""


class OwnNumberStarted(msgspec.Struct):
    verification_id: str
    phone: str
    expires_at: datetime


class OwnNumberConfirm(msgspec.Struct):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=12)]


class UnmatchedOut(msgspec.Struct):
    id: str
    number: str
    sender: str
    text: str
    reason: str
    received_at: datetime


def number_settings(n: Number, owner: Account | None) -> dict[str, Any]:
    """The texts, words and limits a number answers with, as both the account's and the operator's
    views of a number show them (the owner's words where the number has none of its own)."""
    words = words_for(n, owner)
    limit = auto_reply_limit(n)
    return {
        "default_reply": n.default_reply,
        "help_text": n.help_text,
        "opt_in_reply": n.opt_in_reply,
        "opt_out_words": list(words.opt_out),
        "opt_in_words": list(words.opt_in),
        "help_words": list(words.help),
        "auto_reply_limit": AutoReplyLimitOut(
            limit.max_count, int(limit.window.total_seconds()), default=n.auto_reply_limit is None
        ),
        "max_keywords_per_account": n.max_keywords_per_account,
        "keyword_approval": n.keyword_approval,
    }


def number_out(n: Number, account: Account | None, account_id: Any) -> NumberOut:
    return NumberOut(
        id=str(n.id),
        e164=n.e164,
        type=n.type.value,
        label=n.label,
        owned=n.account_id == account_id,
        **number_settings(n, account),
    )


def _stored_form(number: str) -> str:
    """A number as the hub stores it (E.164, or a short code's digits), so that `503 340 503`
    finds the texts to +48503340503; what is not a phone number is looked up as it is."""
    try:
        return to_e164(number)
    except InvalidPhoneNumber:
        return number.strip()


def _period(days: int, timezone: str) -> tuple[datetime, datetime]:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {timezone!r}", field="tz") from None
    until = datetime.now(UTC)
    return until - timedelta(days=days), until


class NumberController(Controller):
    path = "/api"
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}
    tags = ["numbers"]

    @get("/numbers", dependencies={"principal": Provide(provide_principal)})
    async def list_numbers(self, principal: NamedDependency[Principal]) -> list[NumberOut]:
        """The account's numbers, then the operator's: shared ones (ND, SC) to reserve keywords on and
        2WAY virtual numbers to send campaigns from."""
        account = await Account.get(principal.account_id)
        rows = (
            await Number.find(
                {
                    "$or": [
                        {"account_id": principal.account_id},
                        {"account_id": None},
                    ]
                }
            )
            .sort("e164")
            .to_list()
        )
        rows.sort(key=lambda n: (n.account_id != principal.account_id, n.e164))
        return [number_out(n, account, principal.account_id) for n in rows]

    @patch("/numbers/{number_id:str}", dependencies={"principal": Provide(provide_admin)})
    @audited("number.update", "number", "number_id", announce=True)
    async def update_number(
        self, principal: NamedDependency[Principal], number_id: FromPath[str], data: JSONBody[NumberPatch]
    ) -> NumberOut:
        number = await config.usable_number(principal.account_id, number_id)
        if number.account_id != principal.account_id:
            raise PermissionDeniedException("a shared or virtual number's settings belong to the operator")
        for field in ("label", "help_text", "opt_in_reply"):
            value = getattr(data, field)
            if value is not None:
                setattr(number, field, value.strip() or (None if field != "label" else ""))
        if data.auto_reply_limit == "default":
            number.auto_reply_limit = None
        elif data.auto_reply_limit is not None:
            number.auto_reply_limit = AutoReplyLimit(
                max_count=data.auto_reply_limit.max_count, window_s=data.auto_reply_limit.window_s
            )
        await number.save()
        setup_changed()
        return number_out(number, await Account.get(principal.account_id), principal.account_id)

    @get("/settings/messaging", dependencies={"principal": Provide(provide_principal)})
    async def get_messaging(self, principal: NamedDependency[Principal]) -> MessagingSettings:
        account = await Account.get(principal.account_id)
        assert account is not None
        return MessagingSettings(
            account.help_text,
            account.opt_in_reply,
            account.opt_out_words,
            account.opt_in_words,
            account.help_words,
        )

    @post("/settings/messaging", status_code=200, dependencies={"principal": Provide(provide_admin)})
    @audited("account.messaging", "account", own_account, announce=True)
    async def set_messaging(
        self, principal: NamedDependency[Principal], data: JSONBody[MessagingSettings]
    ) -> MessagingSettings:
        """Help text, opt-in confirmation and the opt-out / opt-in / help words (None: the defaults)."""
        defaults = OptWords()
        try:
            OptWords(
                opt_out=tuple(data.opt_out_words or defaults.opt_out),
                opt_in=tuple(data.opt_in_words or defaults.opt_in),
                help=tuple(data.help_words or defaults.help),
            )
        except ValueError as exc:
            raise Invalid(str(exc), field="words") from None
        account = await Account.get(principal.account_id)
        assert account is not None
        # Only these fields: a whole-document save would also write back `seq`, the event counter
        # other requests take numbers from meanwhile, and hand out those numbers twice.
        await account.set(
            {
                "help_text": data.help_text,
                "opt_in_reply": data.opt_in_reply,
                "opt_out_words": data.opt_out_words or None,
                "opt_in_words": data.opt_in_words or None,
                "help_words": data.help_words or None,
            }
        )
        setup_changed()
        return data

    @post("/campaigns/messages", status_code=201, dependencies={"principal": Provide(provide_admin)})
    async def send_campaign(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        data: JSONBody[CampaignSend],
    ) -> CampaignSent:
        """Send a campaign message from a 2WAY virtual number; the recipient's reply comes back to it."""
        number = await Number.get(config.object_id(data.number_id, "number_id"))
        if number is None or number.type is not NumberType.TWO_WAY:
            raise Invalid("number_id must name a 2WAY virtual number", field="number_id")
        recipient = config.parse_phone(data.to, "to")
        message = await send_campaign_message(
            hub, principal.account_id, number, recipient, data.text, data.campaign_id
        )
        return CampaignSent(message_id=str(message.id), conversation_id=str(message.conversation_id))

    @post("/own-numbers", status_code=201, dependencies={"principal": Provide(provide_admin)})
    async def start_own_number(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        data: JSONBody[OwnNumberStart],
    ) -> OwnNumberStarted:
        """Claim the account's own phone as a sender: a six-digit code is texted to it."""
        phone = config.parse_phone(data.phone)
        v = await own_numbers.start(hub, principal.account_id, phone, data.provider)
        return OwnNumberStarted(verification_id=str(v.id), phone=v.phone, expires_at=v.expires_at)

    @post(
        "/own-numbers/{verification_id:str}/confirm",
        status_code=201,
        dependencies={"principal": Provide(provide_admin)},
    )
    @audited("number.create", "number", announce=True)
    async def confirm_own_number(
        self,
        principal: NamedDependency[Principal],
        verification_id: FromPath[str],
        data: JSONBody[OwnNumberConfirm],
    ) -> NumberOut:
        """The code from the SMS: the phone becomes an OWN number of the account (routes like an NDI)."""
        number = await own_numbers.confirm(principal.account_id, verification_id, data.code)
        return number_out(number, await Account.get(principal.account_id), principal.account_id)

    @get("/operator/unmatched", dependencies={"principal": Provide(provide_admin)})
    async def unmatched(
        self,
        principal: NamedDependency[Principal],
        number: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[UnmatchedOut]:
        """Messages that reached no account, newest first (the platform operator's admins only)."""
        account = await Account.get(principal.account_id)
        if account is None or not account.operator:
            raise PermissionDeniedException("only the platform operator sees unmatched messages")
        query: dict[str, Any] = {"number": _stored_form(number)} if number else {}
        rows = await UnmatchedMessage.find(query).sort("-received_at").limit(limit).to_list()
        return [UnmatchedOut(str(u.id), u.number, u.sender, u.text, u.reason, u.received_at) for u in rows]

    @get("/stats/keywords", dependencies={"principal": Provide(provide_principal)})
    async def keyword_stats(
        self,
        principal: NamedDependency[Principal],
        days: Annotated[int, QueryParameter(ge=1, le=366)] = 30,
        tz: FromQuery[str] = "Europe/Warsaw",
    ) -> list[dict[str, Any]]:
        """Inbound messages per keyword per day."""
        since, until = _period(days, tz)
        return await stats.keyword_popularity(principal.account_id, since, until, tz)

    @get("/stats/numbers", dependencies={"principal": Provide(provide_principal)})
    async def number_stats(
        self,
        principal: NamedDependency[Principal],
        days: Annotated[int, QueryParameter(ge=1, le=366)] = 30,
        tz: FromQuery[str] = "Europe/Warsaw",
    ) -> list[dict[str, Any]]:
        """Messages in and out per number per day, with billed outbound segments."""
        since, until = _period(days, tz)
        return await stats.messages_per_number(principal.account_id, since, until, tz)

    @get("/stats/first-response", dependencies={"principal": Provide(provide_principal)})
    async def first_response(
        self, principal: NamedDependency[Principal], days: Annotated[int, QueryParameter(ge=1, le=366)] = 30
    ) -> dict[str, Any]:
        """Agents' first-response time over conversations started in the period."""
        since, until = _period(days, "UTC")
        return await stats.first_response(principal.account_id, since, until)
