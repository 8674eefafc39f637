"""The operator's accounts: create, rename, suspend and reactivate them, and add their agents.

Used by the operator API (`/api/operator/accounts`) and the `hub create-account` command alike, so
both validate the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from hub.services import auth
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.routing import setup_changed
from hub.store.accounts import Account, Agent, Role, utcnow

SLUG: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
MAX_NAME: Final = 100
MAX_REASON: Final = 500
EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class NewAgent:
    email: str
    name: str
    password: str
    role: Role = Role.ADMIN


def _name(value: str, field: str = "name") -> str:
    name = value.strip()
    if not name:
        raise Invalid(f"{field} must not be empty", field=field)
    if len(name) > MAX_NAME:
        raise Invalid(f"{field} must have at most {MAX_NAME} characters", field=field)
    return name


def check_name(value: str) -> str:
    return _name(value)


def check_slug(slug: str) -> str:
    if SLUG.fullmatch(slug) is None:
        raise Invalid(
            "slug must be 1 to 40 lowercase letters, digits and hyphens, "
            "not starting or ending with a hyphen",
            field="slug",
        )
    return slug


async def get_account(account_id: str) -> Account:
    if not PydanticObjectId.is_valid(account_id):
        raise NotFound("no such account", field="account_id")
    account = await Account.get(PydanticObjectId(account_id))
    if account is None:
        raise NotFound("no such account", field="account_id")
    return account


async def account_by_slug(slug: str, field: str = "account") -> Account:
    account = await Account.find_one({"slug": slug})
    if account is None:
        raise NotFound(f"no account {slug!r}", field=field)
    return account


async def account_by_ref(ref: str, field: str = "account") -> Account:
    """An account named by its id or its slug."""
    if PydanticObjectId.is_valid(ref):
        account = await Account.get(PydanticObjectId(ref))
        if account is not None:
            return account
    return await account_by_slug(ref, field)


def check_agent(agent: NewAgent) -> None:
    """Refuse an agent's e-mail, name or password before anything is stored."""
    if EMAIL.fullmatch(agent.email.strip()) is None:
        raise Invalid("email is not an e-mail address", field="email")
    _name(agent.name)
    auth.hash_password(agent.password)  # raises for a too-short password, before anything is stored


async def create_account(name: str, slug: str, admin: NewAgent | None = None) -> tuple[Account, Agent | None]:
    """A new account, and its first admin when given; nothing is stored if either is refused."""
    name = _name(name)
    check_slug(slug)
    if admin is not None:
        check_agent(admin)
        if await Agent.find_one({"email": admin.email.strip().lower()}) is not None:
            raise Conflict(f"an agent {admin.email!r} already exists", field="email", code="duplicate")
    try:
        account = await auth.create_account(name, slug)
    except DuplicateKeyError:
        raise Conflict(f"an account {slug!r} already exists", field="slug", code="duplicate") from None
    assert account.id is not None
    agent = await add_agent(account.id, admin) if admin is not None else None
    return account, agent


async def add_agent(account_id: PydanticObjectId, new: NewAgent) -> Agent:
    check_agent(new)
    try:
        return await auth.create_agent(account_id, new.email, new.name.strip(), new.password, new.role)
    except DuplicateKeyError:
        raise Conflict(f"an agent {new.email!r} already exists", field="email", code="duplicate") from None


async def list_accounts() -> list[Account]:
    return await Account.find().sort("slug").to_list()


async def rename(account: Account, name: str) -> Account:
    # Fields only: `seq` is taken by other requests meanwhile (HoldsACounter).
    await account.set({"name": _name(name)})
    return account


async def suspend(account: Account, reason: str) -> Account:
    reason = reason.strip()
    if not reason:
        raise Invalid("a suspension needs a reason", field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"reason must have at most {MAX_REASON} characters", field="reason")
    if account.operator:
        raise Conflict("the operator's own account cannot be suspended", field="account_id")
    await account.set({"suspended_reason": reason, "suspended_at": utcnow()})
    setup_changed()
    return account


async def reactivate(account: Account) -> Account:
    await account.set({"suspended_reason": None, "suspended_at": None})
    setup_changed()
    return account


async def is_operator_admin(principal: auth.Principal) -> bool:
    """Whether the caller may use the operator's console: an admin agent of the operator's account,
    or an API token of that account that is not limited to some numbers."""
    if principal.kind == "agent" and principal.role != Role.ADMIN:
        return False
    if principal.kind == "token" and principal.numbers:
        return False
    account = await Account.find_one({"_id": principal.account_id, "operator": True})
    return account is not None
