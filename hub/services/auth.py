"""Agents' logins, sessions and API tokens."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from beanie import PydanticObjectId

from hub.services.errors import Invalid
from hub.services.token_numbers import account_numbers
from hub.store.accounts import Account, Agent, ApiToken, LoginSession, Role, utcnow

_hasher = PasswordHasher()
# Verifying against this when the e-mail is unknown keeps the answer time the same either way.
_DUMMY_HASH = _hasher.hash("not a password")

SESSION_PREFIX = "hs_"
TOKEN_PREFIX = "hub_"  # noqa: S105 - a prefix that tells tokens apart, not a secret
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Principal:
    """Who is calling: an agent (through a session or as the owner of nothing else) or an API token."""

    account_id: PydanticObjectId
    kind: str
    """"agent" or "token"."""
    id: PydanticObjectId
    name: str
    role: Role
    numbers: tuple[PydanticObjectId, ...] = ()
    """A token's number scope: the only numbers whose conversations it sees; empty: all."""

    @property
    def agent_id(self) -> PydanticObjectId | None:
        return self.id if self.kind == "agent" else None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password must have at least {MIN_PASSWORD} characters", field="password")
    return _hasher.hash(password)


async def create_account(name: str, slug: str) -> Account:
    account = Account(name=name, slug=slug)
    await account.insert()
    return account


async def create_agent(
    account_id: PydanticObjectId, email: str, name: str, password: str, role: Role = Role.AGENT
) -> Agent:
    agent = Agent(
        account_id=account_id,
        email=email.strip().lower(),
        name=name,
        password_hash=hash_password(password),
        role=role,
    )
    await agent.insert()
    return agent


# Argon2 is deliberately slow (~0.1 s) and would stall every socket if run on the event loop.
# At most four run at once, so a burst of logins cannot take every thread.
_verify_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="argon2")


def _verify(hashed: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(hashed, password))
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(email: str, password: str) -> Agent | None:
    agent = await Agent.find_one({"email": email.strip().lower(), "active": True})
    hashed = agent.password_hash if agent else _DUMMY_HASH
    ok = await asyncio.get_running_loop().run_in_executor(_verify_pool, _verify, hashed, password[:1024])
    return agent if ok else None


async def open_session(agent: Agent, ttl_s: int) -> str:
    assert agent.id is not None
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    await LoginSession(
        account_id=agent.account_id,
        agent_id=agent.id,
        token_hash=digest(token),
        expires_at=utcnow() + timedelta(seconds=ttl_s),
    ).insert()
    return token


async def close_session(token: str) -> None:
    await LoginSession.get_pymongo_collection().delete_one({"token_hash": digest(token)})


async def create_api_token(
    account_id: PydanticObjectId,
    name: str,
    created_by: PydanticObjectId | None,
    numbers: Iterable[str] = (),
) -> tuple[ApiToken, str]:
    """Create a token, scoped to `numbers` (ids of the account's numbers) when given; the plain
    token is returned once and never stored.

    Raises:
        Invalid: an empty name, or a number that is not the account's.
    """
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    scope = await account_numbers(account_id, numbers)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    doc = ApiToken(
        account_id=account_id,
        name=name.strip(),
        token_hash=digest(token),
        prefix=token[:10],
        created_by=created_by,
        numbers=scope,
    )
    await doc.insert()
    return doc, token


async def resolve(token: str) -> Principal | None:
    """The principal a session or API token stands for, or None."""
    if token.startswith(SESSION_PREFIX):
        session = await LoginSession.find_one({"token_hash": digest(token)})
        if session is None or session.expires_at <= utcnow():
            return None
        agent = await Agent.get(session.agent_id)
        if agent is None or not agent.active or agent.id is None:
            return None
        return Principal(
            account_id=agent.account_id, kind="agent", id=agent.id, name=agent.name, role=agent.role
        )
    if token.startswith(TOKEN_PREFIX):
        api = await ApiToken.find_one({"token_hash": digest(token), "revoked": False})
        if api is None or api.id is None:
            return None
        return Principal(
            account_id=api.account_id,
            kind="token",
            id=api.id,
            name=api.name,
            role=Role.AGENT,
            numbers=tuple(api.numbers),
        )
    return None


# A bound on the size of one `$in` list, so thousands of distinct open sessions make a few
# queries of reasonable size rather than one huge one.
_IN_CHUNK = 1000


async def still_valid(tokens: Iterable[str]) -> set[str]:
    """Those of `tokens` that still `resolve` to a principal, checked with one query per kind
    (and one for the sessions' agents) per 1,000 distinct tokens, not a query per token."""
    by_hash = {digest(t): t for t in set(tokens)}
    sessions = [h for h, t in by_hash.items() if t.startswith(SESSION_PREFIX)]
    api_tokens = [h for h, t in by_hash.items() if t.startswith(TOKEN_PREFIX)]
    valid: set[str] = set()
    now = utcnow()
    for i in range(0, len(sessions), _IN_CHUNK):
        agent_of: dict[str, PydanticObjectId] = {}
        async for doc in LoginSession.get_pymongo_collection().find(
            {"token_hash": {"$in": sessions[i : i + _IN_CHUNK]}, "expires_at": {"$gt": now}},
            projection={"token_hash": 1, "agent_id": 1, "_id": 0},
        ):
            agent_of[doc["token_hash"]] = doc["agent_id"]
        active = {
            doc["_id"]
            async for doc in Agent.get_pymongo_collection().find(
                {"_id": {"$in": list(set(agent_of.values()))}, "active": True}, projection={"_id": 1}
            )
        }
        valid.update(by_hash[h] for h, agent in agent_of.items() if agent in active)
    for i in range(0, len(api_tokens), _IN_CHUNK):
        async for doc in ApiToken.get_pymongo_collection().find(
            {"token_hash": {"$in": api_tokens[i : i + _IN_CHUNK]}, "revoked": False},
            projection={"token_hash": 1, "_id": 0},
        ):
            valid.add(by_hash[doc["token_hash"]])
    return valid
