"""The demo account: what `hub demo` creates so a newcomer can try the hub at once."""

from __future__ import annotations

from dataclasses import dataclass

from hub.domain.numbers import NumberType
from hub.services import auth
from hub.store.accounts import Account, Agent, Role
from hub.store.numbers import Number


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    name: str
    role: Role


DEMO_NUMBER = "+48500100200"
DEMO_SHORT_CODE = "4301"
DEMO_LOGINS = (
    DemoLogin("admin@demo.example", "demo-admin-pass", "Ada Admin", Role.ADMIN),
    DemoLogin("agent@demo.example", "demo-agent-pass", "Olek Agent", Role.AGENT),
)


async def seed_demo() -> Account:
    """Create the demo account, its agents and numbers; leave them as they are if present."""
    account = await Account.find_one({"slug": "demo"})
    if account is None:
        account = await auth.create_account("Demo Shop", "demo")
    assert account.id is not None
    if not account.operator:
        # A self-hosted hub's one company is its own platform operator: the demo admin sees the
        # messages that reached no account (Services → Unmatched).
        await account.set({"operator": True})
    for login in DEMO_LOGINS:
        if await Agent.find_one({"email": login.email}) is None:
            await auth.create_agent(account.id, login.email, login.name, login.password, login.role)
    for e164, kind, label in (
        (DEMO_NUMBER, NumberType.NDI, "Demo NDI line"),
        (DEMO_SHORT_CODE, NumberType.SCI, "Demo short code"),
    ):
        if await Number.find_one({"e164": e164}) is None:
            await Number(
                account_id=account.id, e164=e164, type=kind, provider="simulator", label=label
            ).insert()
    return account
