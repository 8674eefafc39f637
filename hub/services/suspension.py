"""The one check every send makes: an account the operator suspended sends nothing.

Inbound messages to a suspended account are still stored and shown; replies, automatic replies
and forwards are refused with the operator's reason.
"""

from __future__ import annotations

from beanie import PydanticObjectId

from hub.services.errors import Conflict
from hub.store.accounts import Account


async def refusal(account_id: PydanticObjectId | None) -> str | None:
    """Why nothing may be sent for the account, or None when it may send."""
    if account_id is None:
        return None
    account = await Account.find_one({"_id": account_id, "suspended_reason": {"$ne": None}})
    if account is None or account.suspended_reason is None:
        return None
    return f"the account is suspended: {account.suspended_reason}"


async def check_may_send(account_id: PydanticObjectId | None, field: str | None = None) -> None:
    """Raise 409 (`code: account_suspended`) when the account is suspended."""
    reason = await refusal(account_id)
    if reason is not None:
        raise Conflict(reason, field=field, code="account_suspended")
