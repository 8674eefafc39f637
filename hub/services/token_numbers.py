"""The numbers an API token may be limited to: checked when the token is made."""

from __future__ import annotations

from collections.abc import Iterable

from beanie import PydanticObjectId

from hub.services.errors import Invalid
from hub.store.numbers import Number

MAX_NUMBERS = 100


async def account_numbers(account_id: PydanticObjectId, ids: Iterable[str]) -> list[PydanticObjectId]:
    """Validate a token's number scope: ids of numbers the account receives on.

    Shared numbers (no account) are accepted too: the account has conversations on them, and
    every query stays filtered by account anyway.

    Raises:
        Invalid: a malformed id, too many, or a number that is another account's or does not exist.
    """
    wanted: list[PydanticObjectId] = []
    for raw in ids:
        if not isinstance(raw, str) or not PydanticObjectId.is_valid(raw):
            raise Invalid(f"numbers: {raw!r} is not a number id", field="numbers")
        oid = PydanticObjectId(raw)
        if oid not in wanted:
            wanted.append(oid)
    if len(wanted) > MAX_NUMBERS:
        raise Invalid(f"numbers: at most {MAX_NUMBERS}", field="numbers")
    if not wanted:
        return []
    found = {
        doc["_id"]
        async for doc in Number.get_pymongo_collection().find(
            {"_id": {"$in": wanted}, "account_id": {"$in": [account_id, None]}}, projection={"_id": 1}
        )
    }
    unknown = [str(n) for n in wanted if n not in found]
    if unknown:
        raise Invalid(f"numbers: not numbers of this account: {', '.join(unknown)}", field="numbers")
    return wanted
