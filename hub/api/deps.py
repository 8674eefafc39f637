"""Request dependencies: the hub context and the calling principal."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from hub.context import HubContext
from hub.services import auth, operator_accounts, scope
from hub.store.accounts import Role

SESSION_COOKIE = "hub_session"


def provide_hub(state: State) -> HubContext:
    hub: HubContext = state.hub
    return hub


def credential(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token a caller presents: Authorization bearer, the session cookie, or `?token=` (WebSockets)."""
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    cookie = connection.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        return connection.query_params.get("token") or None
    return None


async def provide_principal(request: Request[Any, Any, Any]) -> auth.Principal:
    token = credential(request)
    if not token:
        raise NotAuthorizedException("log in, or send an API token as 'Authorization: Bearer <token>'")
    principal = await auth.resolve(token)
    if principal is None:
        raise NotAuthorizedException("the session or token is not valid (expired, revoked or unknown)")
    if principal.numbers:
        # A token scoped to numbers: only its numbers' conversations (hub.services.scope).
        await scope.check_request(principal, request.method, request.url.path)
    return principal


async def provide_admin(request: Request[Any, Any, Any]) -> auth.Principal:
    principal = await provide_principal(request)
    if principal.kind != "agent" or principal.role != Role.ADMIN:
        raise PermissionDeniedException("only an account admin may do this")
    return principal


async def provide_operator(request: Request[Any, Any, Any]) -> auth.Principal:
    """An admin of the platform operator's account (session), or an API token of that account not
    limited to some numbers (only its admins make tokens: `POST /api/tokens`, `hub create-token`)."""
    principal = await provide_principal(request)
    if not await operator_accounts.is_operator_admin(principal):
        raise PermissionDeniedException("only the platform operator's admins may do this")
    return principal
