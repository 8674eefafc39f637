"""Usage and limits: monthly totals of billable sends per account, and each account's limits.

The operator (`provide_operator`) sees every account's usage and sets limits and prepaid balances
under `/api/operator/…`; an account's admins read their own account's row at `/api/usage`.
Months are "YYYY-MM" in Europe/Warsaw time; without `month`, the current one.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from hub.api.audited import audited
from hub.api.deps import provide_admin, provide_operator
from hub.services import operator_accounts as accounts
from hub.services import usage
from hub.services.auth import Principal
from hub.services.errors import NotFound
from hub.store.accounts import Account
from hub.store.usage import UsageLimits

Units = Annotated[int, msgspec.Meta(ge=0, le=usage.MAX_UNITS)]


class UsageOut(msgspec.Struct):
    account_id: str
    name: str
    slug: str
    month: str
    """"YYYY-MM", Europe/Warsaw."""
    sms_messages: int
    """Billed SMS (replies, automatic replies, 2WAY sends); forwards to phones are not in it."""
    sms_segments: int
    mms: int
    forward_segments: int
    """Segments of texts forwarded to phones."""
    total_segments: int
    """sms_segments + forward_segments."""
    units: int
    """What the month cost: 1 per SMS or forward segment, HUB_USAGE_MMS_UNITS per MMS."""
    limit_monthly_segments: int | None
    """Units the account may use in a month; null: no limit."""
    balance_units: int | None
    """The prepaid balance left; null: not prepaid."""
    by_kind: dict[str, int]
    """Segments by what was sent: agent, bot, email, autoreply, survey, help, opt_in, campaign, forward."""


class LimitsPatch(msgspec.Struct, omit_defaults=True):
    """Only the fields sent change; null removes that limit."""

    monthly_segments: Units | msgspec.UnsetType | None = msgspec.UNSET
    balance_units: Units | msgspec.UnsetType | None = msgspec.UNSET


class LimitsOut(msgspec.Struct):
    account_id: str
    monthly_segments: int | None
    balance_units: int | None


class TopUp(msgspec.Struct):
    units: Annotated[int, msgspec.Meta(gt=0, le=usage.MAX_UNITS)]


def usage_out(row: usage.UsageRow) -> UsageOut:
    return UsageOut(**row.__dict__)


def limits_out(limits: UsageLimits) -> LimitsOut:
    return LimitsOut(str(limits.id), limits.monthly_segments, limits.balance_units)


class OperatorUsageController(Controller):
    path = "/api/operator"
    dependencies = {"principal": Provide(provide_operator)}
    tags = ["operator"]

    @get("/usage")
    async def all_usage(
        self, principal: NamedDependency[Principal], month: FromQuery[str | None] = None
    ) -> list[UsageOut]:
        """One row per account: the month's billed sends and the account's limits."""
        return [usage_out(r) for r in await usage.all_usage(usage.parse_month(month))]

    @get("/usage.csv", media_type="text/csv")
    async def usage_csv(
        self, principal: NamedDependency[Principal], month: FromQuery[str | None] = None
    ) -> Response[str]:
        """The same rows as CSV (UTF-8 with a BOM, for spreadsheets)."""
        parsed = usage.parse_month(month)
        return Response(
            usage.usage_csv(await usage.all_usage(parsed)),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="usage-{parsed}.csv"'},
        )

    @get("/accounts/{account_id:str}/usage")
    async def account_usage(
        self,
        principal: NamedDependency[Principal],
        account_id: FromPath[str],
        month: FromQuery[str | None] = None,
    ) -> UsageOut:
        account = await accounts.get_account(account_id)
        return usage_out(await usage.account_usage(account, usage.parse_month(month)))

    @patch("/accounts/{account_id:str}/limits")
    @audited("usage.limits", "usage_limits", "account_id")
    async def set_limits(
        self, principal: NamedDependency[Principal], account_id: FromPath[str], data: JSONBody[LimitsPatch]
    ) -> LimitsOut:
        """Set the monthly limit and the prepaid balance (in units); null removes a limit. A send
        over a limit is refused (409, `code: usage_limit`)."""
        account = await accounts.get_account(account_id)
        assert account.id is not None
        changes = {
            f.name: getattr(data, f.name)
            for f in msgspec.structs.fields(data)
            if getattr(data, f.name) is not msgspec.UNSET
        }
        return limits_out(await usage.set_limits(account.id, changes))

    @post("/accounts/{account_id:str}/top-up", status_code=200)
    @audited("usage.top_up", "usage_limits", "account_id")
    async def top_up(
        self, principal: NamedDependency[Principal], account_id: FromPath[str], data: JSONBody[TopUp]
    ) -> LimitsOut:
        """Add units to the prepaid balance (an account with no balance starts one)."""
        account = await accounts.get_account(account_id)
        assert account.id is not None
        return limits_out(await usage.top_up(account.id, data.units))


class UsageController(Controller):
    path = "/api/usage"
    dependencies = {"principal": Provide(provide_admin)}
    tags = ["usage"]

    @get("/")
    async def own_usage(
        self, principal: NamedDependency[Principal], month: FromQuery[str | None] = None
    ) -> UsageOut:
        """The caller's own account's usage and limits (its admins only)."""
        account = await Account.get(principal.account_id)
        if account is None:
            raise NotFound("no such account", field="account_id")
        return usage_out(await usage.account_usage(account, usage.parse_month(month)))
