"""Logging in and out, and who am I."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from hub.api.deps import SESSION_COOKIE, credential, provide_hub, provide_principal
from hub.api.openapi import error_responses
from hub.api.ratelimit import LoginLimiter
from hub.context import HubContext
from hub.services import auth
from hub.services.errors import ServiceError
from hub.store.accounts import Account, Agent
from hub.store.numbers import Number


class LoginBody(msgspec.Struct):
    email: str
    password: str


class AgentOut(msgspec.Struct):
    id: str
    name: str
    email: str
    role: str


class NumberOut(msgspec.Struct):
    id: str
    e164: str
    type: str
    provider: str
    label: str


class MeOut(msgspec.Struct):
    kind: str
    id: str
    name: str
    role: str
    account_id: str
    account_name: str
    numbers: list[NumberOut]
    agents: list[AgentOut]
    operator: bool = False
    """The account is the platform operator's: its admins see messages that reached no account."""


class LoginOut(msgspec.Struct):
    token: str
    agent: AgentOut


class TooManyAttempts(ServiceError):
    status_code = 429


def agent_out(agent: Agent) -> AgentOut:
    return AgentOut(id=str(agent.id), name=agent.name, email=agent.email, role=agent.role.value)


def login_limiter(request: Request[Any, Any, Any]) -> LoginLimiter:
    """The application's limiter (one per app, so separate apps in one process do not share it)."""
    state = request.app.state
    if "login_limiter" not in state:
        state.login_limiter = LoginLimiter()
    limiter: LoginLimiter = state.login_limiter
    return limiter


class SessionController(Controller):
    path = "/api"
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}
    tags = ["session"]

    @post("/auth/login", status_code=200, responses=error_responses([429]))
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginBody], hub: NamedDependency[HubContext]
    ) -> Response[LoginOut]:
        """Log an agent in; sets the session cookie and returns the same token for API use."""
        client = request.client.host if request.client else "?"
        keys = (f"ip:{client}", f"email:{data.email.strip().lower()}")
        limiter = login_limiter(request)
        wait = limiter.blocked_for(keys)
        if wait > 0:
            raise TooManyAttempts(
                f"too many failed logins; try again in {int(wait) + 1} s", retry_after=int(wait) + 1
            )
        # Counted as failed before checking, so parallel guesses cannot all slip past the limit.
        limiter.failed(keys)
        agent = await auth.authenticate(data.email, data.password)
        if agent is None:
            raise ServiceError("wrong e-mail or password") from None
        limiter.succeeded(keys)
        token = await auth.open_session(agent, hub.settings.security.session_ttl_s)
        return Response(
            LoginOut(token=token, agent=agent_out(agent)),
            cookies=[
                Cookie(
                    key=SESSION_COOKIE,
                    value=token,
                    httponly=True,
                    samesite="strict",
                    secure=hub.settings.security.cookie_secure,
                    max_age=hub.settings.security.session_ttl_s,
                    path="/",
                )
            ],
        )

    @post("/auth/logout", status_code=200)
    async def logout(self, request: Request[Any, Any, Any]) -> Response[dict[str, bool]]:
        token = credential(request)
        if token:
            await auth.close_session(token)
        return Response({"ok": True}, cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/")])

    @get("/me", dependencies={"principal": Provide(provide_principal)})
    async def me(self, principal: NamedDependency[auth.Principal]) -> MeOut:
        """The caller, its account, the account's numbers and agents."""
        account = await Account.get(principal.account_id)
        numbers = await Number.find({"account_id": principal.account_id}).sort("e164").to_list()
        agents = await Agent.find({"account_id": principal.account_id, "active": True}).sort("name").to_list()
        return MeOut(
            kind=principal.kind,
            id=str(principal.id),
            name=principal.name,
            role=principal.role.value,
            account_id=str(principal.account_id),
            account_name=account.name if account else "",
            numbers=[
                NumberOut(id=str(n.id), e164=n.e164, type=n.type.value, provider=n.provider, label=n.label)
                for n in numbers
            ],
            agents=[agent_out(a) for a in agents],
            operator=bool(account and account.operator),
        )
