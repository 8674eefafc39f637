"""The operator's console API (`/api/operator/…`): accounts, numbers and shared-number settings.

Only the platform operator's admins pass (`provide_operator`); everyone else gets 403 with the
reason. The rules live in the services (`hub.services.operator_accounts`, `operator_numbers`), which
the `hub create-account` / `create-number` … commands use too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from hub.api.account_data import AccountDataRoutes
from hub.api.audited import audited
from hub.api.deps import provide_hub, provide_operator
from hub.api.gateway_health import GatewayHealthOut, gateway_health
from hub.api.numbers import AutoReplyLimitIn, AutoReplyLimitOut, number_settings
from hub.context import HubContext
from hub.domain.numbers import NumberType
from hub.services import keyword_requests, setup_sync
from hub.services import operator_accounts as accounts
from hub.services import operator_numbers as numbers
from hub.services.auth import Principal
from hub.store.accounts import Account, Agent, Role
from hub.store.numbers import AutoReplyLimit, Number

Text = Annotated[str, msgspec.Meta(max_length=1600)]
Words = Annotated[list[Annotated[str, msgspec.Meta(max_length=50)]], msgspec.Meta(max_length=50)]


class AgentIn(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    name: Annotated[str, msgspec.Meta(max_length=100)]
    password: Annotated[str, msgspec.Meta(max_length=200)]
    """At least 8 characters."""
    role: Literal["admin", "agent"] = "admin"


class AgentOut(msgspec.Struct):
    id: str
    email: str
    name: str
    role: str


class AccountIn(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=100)]
    slug: Annotated[str, msgspec.Meta(max_length=40)]
    """Lowercase letters, digits and hyphens (`acme`, `pizza-krakow`)."""
    admin: AgentIn | None = None
    """The account's first admin, created in the same call."""


class AccountOut(msgspec.Struct):
    id: str
    name: str
    slug: str
    operator: bool
    suspended: bool
    suspended_reason: str | None
    suspended_at: datetime | None
    created_at: datetime
    admin: AgentOut | None = None
    """The admin created with the account (only in the answer to its creation)."""


class AccountPatch(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=100)]


class Suspension(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=500)]
    """Shown to the account in every refused send."""


class NumberIn(msgspec.Struct):
    number: Annotated[str, msgspec.Meta(max_length=40)]
    """In any common form: `+48 500 100 200`, `0048500100200`, `500100200`; a short code as digits."""
    type: Literal["ND", "SC", "NDI", "SCI", "2WAY", "OWN"]
    provider: Annotated[str, msgspec.Meta(max_length=40)] = "simulator"
    """The gateway that receives and sends on this number (`simulator`, `twilio`)."""
    account: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    """The owning account's id or slug: required for NDI, SCI and OWN, refused for ND, SC and 2WAY."""
    label: Annotated[str, msgspec.Meta(max_length=100)] = ""
    eco_plus: bool = False
    """A 2WAY number of the provider's ECO+ pool."""


class NumberPatch(msgspec.Struct, omit_defaults=True):
    """Only the fields sent change. The texts and words are a shared (ND, SC) or 2WAY number's; an
    individual number's are set by its account's admin. `null` clears a text or a word list."""

    label: Annotated[str, msgspec.Meta(max_length=100)] | msgspec.UnsetType = msgspec.UNSET
    provider: Annotated[str, msgspec.Meta(max_length=40)] | msgspec.UnsetType = msgspec.UNSET
    eco_plus: bool | msgspec.UnsetType = msgspec.UNSET
    default_reply: Text | msgspec.UnsetType | None = msgspec.UNSET
    """Sent to a text that reaches no account (no reserved keyword; an unbound 2WAY reply)."""
    help_text: Text | msgspec.UnsetType | None = msgspec.UNSET
    opt_in_reply: Text | msgspec.UnsetType | None = msgspec.UNSET
    opt_out_words: Words | msgspec.UnsetType | None = msgspec.UNSET
    opt_in_words: Words | msgspec.UnsetType | None = msgspec.UNSET
    help_words: Words | msgspec.UnsetType | None = msgspec.UNSET
    auto_reply_limit: AutoReplyLimitIn | Literal["default"] | msgspec.UnsetType = msgspec.UNSET
    """A new limit, or "default" to go back to the hub's default (5 per hour)."""
    max_keywords_per_account: Annotated[int, msgspec.Meta(ge=0)] | msgspec.UnsetType | None = msgspec.UNSET
    """A shared number's cap on the keywords one account may reserve on it; `null`: no cap."""
    keyword_approval: bool | msgspec.UnsetType = msgspec.UNSET
    """A shared number's reservations wait (`pending`) for the operator's approval before they route."""


class Assignment(msgspec.Struct):
    account: Annotated[str, msgspec.Meta(max_length=40)]
    """The account's id or slug."""


class OperatorNumberOut(msgspec.Struct):
    id: str
    e164: str
    """E.164, or the digits of a short code."""
    type: str
    provider: str
    label: str
    account_id: str | None
    account_slug: str | None
    eco_plus: bool
    default_reply: str | None
    help_text: str | None
    opt_in_reply: str | None
    opt_out_words: list[str]
    opt_in_words: list[str]
    help_words: list[str]
    auto_reply_limit: AutoReplyLimitOut
    max_keywords_per_account: int | None
    keyword_approval: bool
    created_at: datetime


class KeywordRequestOut(msgspec.Struct):
    id: str
    """The keyword's id."""
    account_id: str
    account_slug: str | None
    number_id: str
    number: str | None
    text: str
    normalised: str
    status: str
    """pending, approved or refused."""
    status_reason: str | None
    status_at: datetime | None
    created_at: datetime


class Refusal(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=500)]
    """Shown to the account in its keyword list."""


def agent_out(agent: Agent) -> AgentOut:
    return AgentOut(str(agent.id), agent.email, agent.name, agent.role.value)


def account_out(account: Account, admin: Agent | None = None) -> AccountOut:
    return AccountOut(
        id=str(account.id),
        name=account.name,
        slug=account.slug,
        operator=account.operator,
        suspended=account.suspended_reason is not None,
        suspended_reason=account.suspended_reason,
        suspended_at=account.suspended_at,
        created_at=account.created_at,
        admin=agent_out(admin) if admin is not None else None,
    )


class GatewayOut(GatewayHealthOut):
    name: str
    """What a number's `provider` may be."""


def number_out(n: Number, owner: Account | None) -> OperatorNumberOut:
    return OperatorNumberOut(
        id=str(n.id),
        e164=n.e164,
        type=n.type.value,
        provider=n.provider,
        label=n.label,
        account_id=str(n.account_id) if n.account_id else None,
        account_slug=owner.slug if owner is not None else None,
        eco_plus=n.eco_plus,
        created_at=n.created_at,
        **number_settings(n, owner),
    )


def keyword_request_out(r: keyword_requests.KeywordRequest) -> KeywordRequestOut:
    k = r.keyword
    return KeywordRequestOut(
        id=str(k.id),
        account_id=str(k.account_id),
        account_slug=r.account.slug if r.account is not None else None,
        number_id=str(k.number_id),
        number=r.number.e164 if r.number is not None else None,
        text=k.text,
        normalised=k.normalised,
        status=k.status.value,
        status_reason=k.status_reason,
        status_at=k.status_at,
        created_at=k.created_at,
    )


async def _number_out(n: Number) -> OperatorNumberOut:
    return number_out(n, await Account.get(n.account_id) if n.account_id else None)


def _changes(data: NumberPatch) -> numbers.NumberChanges:
    changes = numbers.NumberChanges()
    for field in msgspec.structs.fields(data):
        value = getattr(data, field.name)
        if value is msgspec.UNSET:
            continue
        if field.name == "auto_reply_limit":
            value = (
                None
                if value == "default"
                else AutoReplyLimit(max_count=value.max_count, window_s=value.window_s)
            )
        setattr(changes, field.name, value)
    return changes


class OperatorController(AccountDataRoutes, Controller):
    path = "/api/operator"
    dependencies = {
        "hub": Provide(provide_hub, sync_to_thread=False),
        "principal": Provide(provide_operator),
    }
    tags = ["operator"]

    @get("/accounts")
    async def list_accounts(self, principal: NamedDependency[Principal]) -> list[AccountOut]:
        """Every account on the hub, by slug."""
        return [account_out(a) for a in await accounts.list_accounts()]

    @post("/accounts", status_code=201)
    @audited("account.create", "account")
    async def create_account(
        self, principal: NamedDependency[Principal], data: JSONBody[AccountIn]
    ) -> AccountOut:
        """A new account, and (with `admin`) its first admin agent; 409 for a taken slug or e-mail."""
        admin = (
            accounts.NewAgent(data.admin.email, data.admin.name, data.admin.password, Role(data.admin.role))
            if data.admin is not None
            else None
        )
        account, agent = await accounts.create_account(data.name, data.slug, admin)
        return account_out(account, agent)

    @get("/accounts/{account_id:str}")
    async def get_account(
        self, principal: NamedDependency[Principal], account_id: FromPath[str]
    ) -> AccountOut:
        return account_out(await accounts.get_account(account_id))

    @patch("/accounts/{account_id:str}")
    @audited("account.rename", "account", "account_id")
    async def rename_account(
        self, principal: NamedDependency[Principal], account_id: FromPath[str], data: JSONBody[AccountPatch]
    ) -> AccountOut:
        account = await accounts.get_account(account_id)
        return account_out(await accounts.rename(account, data.name))

    @post("/accounts/{account_id:str}/suspend", status_code=200)
    @audited("account.suspend", "account", "account_id")
    async def suspend_account(
        self, principal: NamedDependency[Principal], account_id: FromPath[str], data: JSONBody[Suspension]
    ) -> AccountOut:
        """Inbound texts are still stored and shown; replies, automatic replies and forwards are
        refused (409, `code: account_suspended`) with the reason."""
        account = await accounts.get_account(account_id)
        return account_out(await accounts.suspend(account, data.reason))

    @post("/accounts/{account_id:str}/reactivate", status_code=200)
    @audited("account.reactivate", "account", "account_id")
    async def reactivate_account(
        self, principal: NamedDependency[Principal], account_id: FromPath[str]
    ) -> AccountOut:
        account = await accounts.get_account(account_id)
        return account_out(await accounts.reactivate(account))

    @post("/accounts/{account_id:str}/agents", status_code=201)
    @audited("agent.create", "agent")
    async def add_agent(
        self, principal: NamedDependency[Principal], account_id: FromPath[str], data: JSONBody[AgentIn]
    ) -> AgentOut:
        """An agent (by default an admin) of the account; 409 for a taken e-mail."""
        account = await accounts.get_account(account_id)
        assert account.id is not None
        agent = await accounts.add_agent(
            account.id, accounts.NewAgent(data.email, data.name, data.password, Role(data.role))
        )
        return agent_out(agent)

    @get("/gateways")
    async def list_gateways(
        self, hub: NamedDependency[HubContext], principal: NamedDependency[Principal]
    ) -> list[GatewayOut]:
        """The gateways a number may use (the names `provider` is checked against), with the
        traffic and last error this process saw on each (see /health)."""
        return [
            GatewayOut(name=name, **msgspec.structs.asdict(gateway_health(hub, name)))
            for name in sorted(hub.providers)
        ]

    @get("/numbers")
    async def list_numbers(
        self, principal: NamedDependency[Principal], account: FromQuery[str | None] = None
    ) -> list[OperatorNumberOut]:
        """Every number on the hub, or (`account`: id or slug) one account's."""
        owner = await accounts.account_by_ref(account) if account else None
        owners = {a.id: a for a in await accounts.list_accounts()}
        return [number_out(n, owners.get(n.account_id)) for n in await numbers.list_numbers(owner)]

    @post("/numbers", status_code=201)
    @audited("number.create", "number")
    async def create_number(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        data: JSONBody[NumberIn],
    ) -> OperatorNumberOut:
        """Add a number; 409 when it is already configured."""
        owner = await accounts.account_by_ref(data.account) if data.account else None
        number = await numbers.create_number(
            data.number,
            NumberType(data.type),
            owner,
            data.provider,
            hub.providers,
            label=data.label,
            eco_plus=data.eco_plus,
        )
        await setup_sync.announce(hub)
        return number_out(number, owner)

    @get("/numbers/{number_id:str}")
    async def get_number(
        self, principal: NamedDependency[Principal], number_id: FromPath[str]
    ) -> OperatorNumberOut:
        return await _number_out(await numbers.get_number(number_id))

    @patch("/numbers/{number_id:str}")
    @audited("number.edit", "number", "number_id")
    async def edit_number(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        number_id: FromPath[str],
        data: JSONBody[NumberPatch],
    ) -> OperatorNumberOut:
        """Change the gateway, label, ECO+ flag, and a shared or 2WAY number's texts, words and
        automatic-reply limit. Seen by every hub process at once."""
        number = await numbers.get_number(number_id)
        edited = await numbers.edit(number, _changes(data), hub.providers)
        await setup_sync.announce(hub)
        return await _number_out(edited)

    @post("/numbers/{number_id:str}/assign", status_code=200)
    @audited("number.assign", "number", "number_id")
    async def assign_number(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        number_id: FromPath[str],
        data: JSONBody[Assignment],
    ) -> OperatorNumberOut:
        """Give an individual number (NDI, SCI, OWN) to an account, or move it to another. Past
        conversations stay with the account that had them; 409 while keywords, autoresponders or
        surveys are set up on the number."""
        number = await numbers.get_number(number_id)
        owner = await accounts.account_by_ref(data.account)
        assigned = await numbers.assign(number, owner)
        await setup_sync.announce(hub)
        return number_out(assigned, owner)

    @delete("/numbers/{number_id:str}")
    @audited("number.delete", "number", "number_id")
    async def remove_number(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        number_id: FromPath[str],
    ) -> None:
        """Release a number from the hub: texts to it are no longer received. Past conversations stay
        with their account; 409 while keywords, autoresponders or surveys are set up on it."""
        await numbers.remove(await numbers.get_number(number_id))
        await setup_sync.announce(hub)

    @get("/keyword-requests")
    async def list_keyword_requests(
        self, principal: NamedDependency[Principal], status: FromQuery[str | None] = None
    ) -> list[KeywordRequestOut]:
        """Keyword reservations of every account, oldest first: by `status` (`pending` to decide
        on), or all that needed a decision."""
        found = await keyword_requests.list_requests(keyword_requests.parse_status(status))
        return [keyword_request_out(r) for r in found]

    @post("/keyword-requests/{request_id:str}/approve", status_code=200)
    @audited("keyword.approve", "keyword", "request_id")
    async def approve_keyword_request(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        request_id: FromPath[str],
    ) -> KeywordRequestOut:
        """The pending reservation routes from now on, in every hub process; 409 if not pending."""
        approved = await keyword_requests.approve(hub, request_id)
        await setup_sync.announce(hub)
        return keyword_request_out(approved)

    @post("/keyword-requests/{request_id:str}/refuse", status_code=200)
    @audited("keyword.refuse", "keyword", "request_id")
    async def refuse_keyword_request(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        request_id: FromPath[str],
        data: JSONBody[Refusal],
    ) -> KeywordRequestOut:
        """The pending reservation gives its word back; the account sees the reason; 409 if not pending."""
        refused = await keyword_requests.refuse(hub, request_id, data.reason)
        await setup_sync.announce(hub)
        return keyword_request_out(refused)
