"""`@audited(...)`: the one hook that puts an API change in the audit log (hub.services.audit).

Placed under a handler's route decorator, it reads the target before the handler runs and after
it returns, and records one entry when something changed; a handler that raises (a 4xx) records
nothing. With `announce=True` the change to what routing caches is also announced to every hub
process (hub.services.setup_sync).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from litestar import Request

from hub.context import HubContext
from hub.services import audit, setup_sync

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _created_id(result: Any) -> str | None:
    """The id of what a creating handler answered with (`id`, or `info.id` for a new token)."""
    for holder in (result, getattr(result, "info", None)):
        value = getattr(holder, "id", None)
        if value is not None:
            return str(value)
    return None


IdOf = str | Callable[[dict[str, Any]], str] | None
"""Where the target's id is: a path parameter's name, a function of the handler's arguments, or
None for a target the handler creates (the id it answers with)."""


def audited(action: str, target: str, id_of: IdOf = None, *, announce: bool = False) -> Callable[[F], F]:
    """Record the handler's change of `target` as `action`."""

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)
        wants_request = "request" in signature.parameters

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request: Request[Any, Any, Any] = kwargs["request"] if wants_request else kwargs.pop("request")
            actor = await audit.actor_of(kwargs["principal"])
            target_id = id_of(kwargs) if callable(id_of) else kwargs[id_of] if id_of else None
            async with audit.change(actor, action, target, target_id) as done:
                result = await fn(*args, **kwargs)
                if id_of is None:
                    done.target_id = _created_id(result)
            if announce:
                hub: HubContext = request.app.state.hub
                await setup_sync.announce(hub)
            return result

        if not wants_request:
            # Litestar injects what the signature asks for: the request, to reach the hub.
            extra = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
            wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
                parameters=[*signature.parameters.values(), extra]
            )
            wrapper.__annotations__ = {**fn.__annotations__, "request": Request}
        return cast(F, wrapper)

    return wrap


def own_account(kwargs: dict[str, Any]) -> str:
    """The caller's own account: the target of its account-wide settings."""
    return str(kwargs["principal"].account_id)
