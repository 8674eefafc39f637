"""Reading the audit log: the operator's (`/api/operator/audit`, every account) and an account
admin's (`/api/audit`, its own account's entries only)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Annotated, Any

import msgspec
from beanie import PydanticObjectId
from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery, QueryParameter

from hub.api.deps import provide_admin, provide_operator
from hub.services import audit
from hub.services.auth import Principal
from hub.services.errors import Invalid
from hub.store.audit import AuditEntry

Limit = Annotated[int, QueryParameter(ge=1, le=500)]


class ActorOut(msgspec.Struct):
    kind: str
    """"agent", "token" or "cli"."""
    id: str | None
    name: str
    email: str | None
    account_id: str | None


class AuditEntryOut(msgspec.Struct):
    id: str
    at: datetime
    actor: ActorOut
    action: str
    """`<target>.<verb>`, such as `account.suspend`, `number.edit`, `keyword.create`."""
    target_type: str
    target_id: str | None
    account_id: str | None
    before: dict[str, Any] | None
    """The changed fields as they were (None for a creation); a secret reads "changed"."""
    after: dict[str, Any] | None
    """The changed fields as they are now (None for a deletion)."""


def entry_out(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=str(e.id),
        at=e.at,
        actor=ActorOut(
            e.actor_kind,
            e.actor_id,
            e.actor_name,
            e.actor_email,
            str(e.actor_account_id) if e.actor_account_id else None,
        ),
        action=e.action,
        target_type=e.target_type,
        target_id=e.target_id,
        account_id=str(e.account_id) if e.account_id else None,
        before=e.before,
        after=e.after,
    )


def _account(ref: str | None) -> PydanticObjectId | None:
    if not ref:
        return None
    if not PydanticObjectId.is_valid(ref):
        raise Invalid("account_id is not an account id", field="account_id")
    return PydanticObjectId(ref)


def _csv(rows: list[AuditEntry]) -> Response[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["at", "actor_kind", "actor_id", "actor_email", "action", "target_type", "target_id",
                     "account_id", "before", "after"])  # fmt: skip
    for e in rows:
        writer.writerow(
            [
                e.at.isoformat(),
                e.actor_kind,
                e.actor_id or "",
                e.actor_email or "",
                e.action,
                e.target_type,
                e.target_id or "",
                str(e.account_id or ""),
                json.dumps(e.before, ensure_ascii=False) if e.before is not None else "",
                json.dumps(e.after, ensure_ascii=False) if e.after is not None else "",
            ]
        )
    return Response(out.getvalue(), media_type="text/csv")


class OperatorAuditController(Controller):
    path = "/api/operator"
    dependencies = {"principal": Provide(provide_operator)}
    tags = ["operator"]

    @get("/audit")
    async def operator_audit(
        self,
        principal: NamedDependency[Principal],
        account_id: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        before: FromQuery[str | None] = None,
        limit: Limit = 100,
    ) -> list[AuditEntryOut]:
        """Every account's changes, newest first. `actor`: an agent's or token's id or an e-mail;
        `action`: exact, or `keyword.*`; `before`: the last entry's id of the previous page."""
        rows = await audit.entries(
            account_id=_account(account_id), actor=actor, action=action, since=since, until=until,
            before=before, limit=limit,
        )  # fmt: skip
        return [entry_out(e) for e in rows]

    @get("/audit.csv", media_type="text/csv")
    async def operator_audit_csv(
        self,
        principal: NamedDependency[Principal],
        account_id: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100_000)] = 10_000,
    ) -> Response[str]:
        rows = await audit.entries(
            account_id=_account(account_id), actor=actor, action=action, since=since, until=until, limit=limit
        )
        return _csv(rows)


class AccountAuditController(Controller):
    path = "/api"
    dependencies = {"principal": Provide(provide_admin)}
    tags = ["admin"]

    @get("/audit")
    async def account_audit(
        self,
        principal: NamedDependency[Principal],
        actor: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        before: FromQuery[str | None] = None,
        limit: Limit = 100,
    ) -> list[AuditEntryOut]:
        """The changes to this account's set-up (by its admins, or by the operator), newest first."""
        rows = await audit.entries(
            account_id=principal.account_id, actor=actor, action=action, since=since, until=until,
            before=before, limit=limit,
        )  # fmt: skip
        return [entry_out(e) for e in rows]

    @get("/audit.csv", media_type="text/csv")
    async def account_audit_csv(
        self,
        principal: NamedDependency[Principal],
        actor: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100_000)] = 10_000,
    ) -> Response[str]:
        """This account's changes as CSV, newest first (the same columns as the operator's)."""
        rows = await audit.entries(
            account_id=principal.account_id, actor=actor, action=action, since=since, until=until, limit=limit
        )
        return _csv(rows)
