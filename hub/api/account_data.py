"""The operator's export and deletion of an account (`/api/operator/accounts/{id}/export`, `DELETE
/api/operator/accounts/{id}`); the rules live in `hub.services.account_data`.

Routes of `hub.api.operator.OperatorController` (which mixes them in, and with them its operator-only
dependencies): one path may have one controller.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from hub.api.audited import audited
from hub.api.media import ANY_MEDIA
from hub.context import HubContext
from hub.services import account_data, setup_sync
from hub.services import operator_accounts as accounts
from hub.services.auth import Principal


class Deleted(msgspec.Struct):
    slug: str
    deleted: dict[str, int]
    """How many documents went, per collection."""


class AccountDataRoutes:
    @get("/accounts/{account_id:str}/export", media_type=ANY_MEDIA)
    @audited("account.export", "account", "account_id")
    async def export_account(
        self,
        principal: NamedDependency[Principal],
        account_id: FromPath[str],
        format: FromQuery[Literal["json", "csv"]] = "json",
    ) -> Response[Any]:
        """All of the account's data: one JSON document (`format=json`: the account, its agents
        without password hashes, numbers, keywords, autoresponders, surveys and answers, contacts,
        groups, conversations with their messages, forwarding rules …), or a zip of UTF-8 CSV files,
        one per collection (`format=csv`). Recorded on the account: it may be deleted afterwards.
        The body is `application/json` or `application/zip`, as a file to save."""
        account = await accounts.get_account(account_id)
        if format == "csv":
            body, media, ext = await account_data.export_csv(account), "application/zip", "zip"
        else:
            body, media, ext = await account_data.export_json(account), "application/json", "json"
        disposition = f'attachment; filename="{account.slug}-export.{ext}"'
        return Response(body, media_type=media, headers={"Content-Disposition": disposition})

    @delete("/accounts/{account_id:str}", status_code=200)
    @audited("account.delete", "account", "account_id")
    async def delete_account(
        self,
        principal: NamedDependency[Principal],
        hub: NamedDependency[HubContext],
        account_id: FromPath[str],
        confirm: FromQuery[str | None] = None,
    ) -> Deleted:
        """Delete an account and all of its data: its individual numbers are released and its
        keyword reservations dropped. 409 unless its data was exported and `confirm` is its slug;
        the operator's own account never."""
        account = await accounts.get_account(account_id)
        deleted = await account_data.delete_account(account, confirm, hub.media)
        await setup_sync.announce(hub)
        return Deleted(account.slug, deleted)
