"""The operator's commands (`hub create-account`, `create-number`, `list-numbers`, `assign-number`,
`remove-number`, `set-number`, `suspend-account`, `reactivate-account`, `apply`, `export-account`,
`delete-account`, `usage`, `set-limits`, `top-up`, `keyword-requests`, `approve-keyword`,
`refuse-keyword`): the same services as `/api/operator/…`, for scripts. A refused input exits with
status 1 and says why on stderr; a wrong call (a missing file) with status 2."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hub import bootstrap
from hub.context import HubContext
from hub.settings import Settings

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, None]]


class UsageError(Exception):
    """The command was called wrongly (exit status 2, as for a wrong option)."""


class SetupFileError(Exception):
    """A set-up file `hub apply` refused, every problem with its path in the file (exit status 1)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _open(settings: Settings) -> contextlib.AbstractAsyncContextManager[HubContext]:
    """The hub's database and fan-out for one command. No jobs: none of these commands queues any."""
    return bootstrap.open_hub(settings, {}, start_local_worker=False, join_running_database=True)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    """Declare the commands on `sub`; the answer maps each name to what runs it."""
    p = sub.add_parser("create-account", help="create an account, optionally with its first admin")
    p.add_argument("--slug", required=True, help="lowercase letters, digits and hyphens")
    p.add_argument("--name", required=True)
    p.add_argument("--admin-email")
    p.add_argument("--admin-name")
    p.add_argument("--admin-password")

    p = sub.add_parser("create-number", help="add a number (ND, SC, NDI, SCI, 2WAY, OWN)")
    p.add_argument("--number", required=True, help="in any common form; a short code as digits")
    p.add_argument("--type", required=True, help="ND, SC, NDI, SCI, 2WAY or OWN")
    p.add_argument("--account", help="the owning account's slug (NDI, SCI, OWN only)")
    p.add_argument(
        "--provider", default="simulator", help="the gateway: simulator, twilio, kannel, serwersms or smpp"
    )
    p.add_argument("--label", default="")
    p.add_argument("--eco-plus", action="store_true", help="a 2WAY number of the ECO+ pool")

    p = sub.add_parser("list-numbers", help="list the hub's numbers (tab-separated)")
    p.add_argument("--account", help="only this account's numbers (slug)")

    p = sub.add_parser("assign-number", help="give an individual number to an account, or move it")
    p.add_argument("--number", required=True)
    p.add_argument("--account", required=True, help="slug")

    p = sub.add_parser("remove-number", help="release a number: texts to it are no longer received")
    p.add_argument("--number", required=True)

    p = sub.add_parser("set-number", help="change a number's gateway, label or shared-number texts")
    p.add_argument("--number", required=True)
    p.add_argument("--provider")
    p.add_argument("--label")
    p.add_argument("--default-reply", help="a shared number's answer to a text no keyword matches")
    p.add_argument("--help-text")
    p.add_argument("--opt-in-reply")
    p.add_argument(
        "--max-keywords-per-account",
        metavar="N|none",
        help="how many keywords one account may reserve on a shared number; none: no cap",
    )
    p.add_argument(
        "--keyword-approval",
        action=argparse.BooleanOptionalAction,
        help="whether a shared number's keyword reservations wait for the operator's approval",
    )

    p = sub.add_parser("suspend-account", help="stop an account's sending, with a reason")
    p.add_argument("--account", required=True, help="slug")
    p.add_argument("--reason", required=True)

    p = sub.add_parser("reactivate-account", help="lift an account's suspension")
    p.add_argument("--account", required=True, help="slug")

    p = sub.add_parser("apply", help="set up accounts, numbers and keywords as a YAML or TOML file says")
    p.add_argument("file", help="the set-up file (.yaml, .yml or .toml); see docs/examples/setup.yaml")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    p.add_argument(
        "--prune",
        action="store_true",
        help="remove numbers and shared-number keyword reservations the file does not list",
    )

    p = sub.add_parser(
        "export-account", help="write all of an account's data to FILE (.json, or .zip of CSV)"
    )
    p.add_argument("slug")
    p.add_argument("file")

    p = sub.add_parser("delete-account", help="delete an account and all of its data, after an export")
    p.add_argument("slug")
    p.add_argument("--confirm", required=True, help="the account's slug again")

    p = sub.add_parser("usage", help="each account's billed sends and limits in a month (tab-separated)")
    p.add_argument("--month", help="YYYY-MM (Europe/Warsaw); the current month when left out")
    p.add_argument("--account", help="only this account (slug)")
    p.add_argument("--csv", action="store_true", help="CSV, as /api/operator/usage.csv")

    p = sub.add_parser("set-limits", help="set an account's monthly limit and prepaid balance (units)")
    p.add_argument("slug")
    p.add_argument("--monthly-segments", metavar="N|none", help="units a month; none: no limit")
    p.add_argument("--balance-units", metavar="N|none", help="the prepaid balance; none: no balance")

    p = sub.add_parser("top-up", help="add units to an account's prepaid balance")
    p.add_argument("slug")
    p.add_argument("units", type=int)

    p = sub.add_parser("keyword-requests", help="list keyword reservations on shared numbers with approval")
    p.add_argument("--status", choices=["pending", "approved", "refused"], help="only these (default: all)")
    p = sub.add_parser("approve-keyword", help="approve a pending keyword reservation: it routes from now on")
    p.add_argument("id", help="the reservation's id (hub keyword-requests)")
    p = sub.add_parser("refuse-keyword", help="refuse a pending keyword reservation; its word is free again")
    p.add_argument("id", help="the reservation's id (hub keyword-requests)")
    p.add_argument("--reason", required=True, help="shown to the account")
    return {
        "create-account": _create_account,
        "create-number": _create_number,
        "list-numbers": _list_numbers,
        "assign-number": _assign_number,
        "remove-number": _remove_number,
        "set-number": _set_number,
        "suspend-account": _suspend,
        "reactivate-account": _reactivate,
        "apply": _apply,
        "export-account": _export_account,
        "delete-account": _delete_account,
        "usage": _usage,
        "set-limits": _set_limits,
        "top-up": _top_up,
        "keyword-requests": _keyword_requests,
        "approve-keyword": _decide_keyword,
        "refuse-keyword": _decide_keyword,
    }


async def _create_account(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit
    from hub.services import operator_accounts as accounts
    from hub.services.errors import Invalid

    admin_args = (args.admin_email, args.admin_name, args.admin_password)
    if any(admin_args) and not all(admin_args):
        raise Invalid("an admin needs --admin-email, --admin-name and --admin-password", field="admin")
    admin = accounts.NewAgent(*admin_args) if all(admin_args) else None
    async with _open(settings), audit.change(audit.cli_actor(), "account.create", "account") as done:
        account, agent = await accounts.create_account(args.name, args.slug, admin)
        done.target_id = str(account.id)
    print(f"account {account.slug} ({account.name}), id {account.id}")
    if agent is not None:
        print(f"admin {agent.email}")


async def _create_number(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, setup_sync
    from hub.services import operator_accounts as accounts
    from hub.services import operator_numbers as numbers

    kind = numbers.number_type(args.type)
    async with _open(settings) as hub:
        owner = await accounts.account_by_slug(args.account) if args.account else None
        async with audit.change(audit.cli_actor(), "number.create", "number") as done:
            number = await numbers.create_number(
                args.number,
                kind,
                owner,
                args.provider,
                hub.providers,
                label=args.label,
                eco_plus=args.eco_plus,
            )
            done.target_id = str(number.id)
        await setup_sync.announce(hub)
    owner_text = f"account {owner.slug}" if owner is not None else "shared"
    print(f"number {number.e164} ({number.type.value}, {number.provider}, {owner_text}), id {number.id}")


async def _list_numbers(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import operator_accounts as accounts
    from hub.services import operator_numbers as numbers

    async with _open(settings):
        owner = await accounts.account_by_slug(args.account) if args.account else None
        slugs = {a.id: a.slug for a in await accounts.list_accounts()}
        rows = await numbers.list_numbers(owner)
    for n in rows:
        flags = " eco+" if n.eco_plus else ""
        print(f"{n.e164}\t{n.type.value}\t{n.provider}\t{slugs.get(n.account_id, '-')}\t{n.label}{flags}")


async def _assign_number(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, setup_sync
    from hub.services import operator_accounts as accounts
    from hub.services import operator_numbers as numbers

    async with _open(settings) as hub:
        number = await numbers.number_by_ref(args.number)
        owner = await accounts.account_by_slug(args.account)
        async with audit.change(audit.cli_actor(), "number.assign", "number", str(number.id)):
            await numbers.assign(number, owner)
        await setup_sync.announce(hub)
    print(f"number {number.e164} now belongs to account {owner.slug}")


async def _remove_number(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, setup_sync
    from hub.services import operator_numbers as numbers

    async with _open(settings) as hub:
        number = await numbers.number_by_ref(args.number)
        async with audit.change(audit.cli_actor(), "number.delete", "number", str(number.id)):
            await numbers.remove(number)
        await setup_sync.announce(hub)
    print(f"number {number.e164} removed")


def _cap(raw: str) -> int | None:
    from hub.services.errors import Invalid

    if raw.strip().lower() in ("none", "null", "unlimited"):
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid(
            f"--max-keywords-per-account takes a whole number or none, not {raw!r}",
            field="max_keywords_per_account",
        ) from None


async def _set_number(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, setup_sync
    from hub.services import operator_numbers as numbers

    changes = numbers.NumberChanges()
    for field in ("provider", "label", "default_reply", "help_text", "opt_in_reply"):
        value = getattr(args, field)
        if value is not None:
            setattr(changes, field, value)
    if args.max_keywords_per_account is not None:
        changes.max_keywords_per_account = _cap(args.max_keywords_per_account)
    if args.keyword_approval is not None:
        changes.keyword_approval = args.keyword_approval
    async with _open(settings) as hub:
        number = await numbers.number_by_ref(args.number)
        async with audit.change(audit.cli_actor(), "number.edit", "number", str(number.id)):
            await numbers.edit(number, changes, hub.providers)
        await setup_sync.announce(hub)
    print(f"number {number.e164} changed")


async def _suspend(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit
    from hub.services import operator_accounts as accounts

    async with _open(settings):
        account = await accounts.account_by_slug(args.account)
        async with audit.change(audit.cli_actor(), "account.suspend", "account", str(account.id)):
            await accounts.suspend(account, args.reason)
    print(f"account {account.slug} suspended: {account.suspended_reason}")


async def _reactivate(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit
    from hub.services import operator_accounts as accounts

    async with _open(settings):
        account = await accounts.account_by_slug(args.account)
        async with audit.change(audit.cli_actor(), "account.reactivate", "account", str(account.id)):
            await accounts.reactivate(account)
    print(f"account {account.slug} is active again")


def _read_setup_file(path: Path) -> Any:
    """The file's content as plain data; the format follows the extension."""
    import tomllib

    import yaml

    if path.suffix.lower() not in {".yaml", ".yml", ".toml"}:
        raise UsageError(f"{path}: a set-up file ends in .yaml, .yml or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SetupFileError([f"(file): not valid {path.suffix.lstrip('.').upper()}: {exc}"]) from None


async def _apply(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, setup_apply, setup_spec, setup_sync
    from hub.services.setup_plan import Applying

    raw = _read_setup_file(Path(args.file))
    async with _open(settings) as hub:
        spec, errors = setup_spec.parse(raw, set(hub.providers))
        plan, more = await setup_apply.plan(spec, hub.providers, prune=args.prune)
        errors.lines += more.lines
        if errors:
            raise SetupFileError(errors.lines)
        for line in plan.render(args.prune, args.dry_run):
            print(line)
        changes = f"{plan.changes} change{'' if plan.changes == 1 else 's'}"
        if not plan.changes:
            print("no changes")
        elif args.dry_run:
            print(f"dry run: {changes} planned, nothing changed")
        else:
            await plan.run(Applying(hub, audit.cli_actor()))
            await setup_sync.announce(hub)
            print(f"applied {changes}")


async def _export_account(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import account_data
    from hub.services import operator_accounts as accounts

    path = Path(args.file)
    if path.suffix.lower() not in {".json", ".zip"}:
        raise UsageError(f"{path}: an export is written as .json, or as .zip of CSV files")
    async with _open(settings):
        account = await accounts.account_by_slug(args.slug)
        if path.suffix.lower() == ".zip":
            body = await account_data.export_csv(account)
        else:
            body = await account_data.export_json(account)
    await asyncio.to_thread(path.write_bytes, body)
    print(f"account {account.slug} exported to {path} ({len(body)} bytes)")


async def _delete_account(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import account_data, setup_sync
    from hub.services import operator_accounts as accounts

    async with _open(settings) as hub:
        account = await accounts.account_by_slug(args.slug)
        deleted = await account_data.delete_account(account, args.confirm, hub.media)
        await setup_sync.announce(hub)
    counts = ", ".join(f"{name} {n}" for name, n in sorted(deleted.items()))
    print(f"account {account.slug} deleted ({counts})")


async def _usage(args: argparse.Namespace, settings: Settings) -> None:
    import sys

    from hub.services import operator_accounts as accounts
    from hub.services import usage

    month = usage.parse_month(args.month)
    async with _open(settings):
        if args.account:
            rows = [await usage.account_usage(await accounts.account_by_slug(args.account), month)]
        else:
            rows = await usage.all_usage(month)
    if args.csv:
        sys.stdout.write(usage.usage_csv(rows, bom=False))
    else:
        print("\n".join("\t".join(cells) for cells in usage.usage_table(rows)))


def _units_or_none(raw: str | None, option: str) -> int | None:
    from hub.services.errors import Invalid

    if raw is None or raw.strip().lower() in ("none", "null"):
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid(f"--{option} takes a whole number or none, not {raw!r}", field=option) from None


async def _set_limits(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, usage
    from hub.services import operator_accounts as accounts

    changes = {
        name: _units_or_none(raw, name.replace("_", "-"))
        for name, raw in (("monthly_segments", args.monthly_segments), ("balance_units", args.balance_units))
        if raw is not None
    }
    if not changes:
        raise UsageError("give --monthly-segments, --balance-units or both")
    async with _open(settings):
        account = await accounts.account_by_slug(args.slug)
        assert account.id is not None
        async with audit.change(audit.cli_actor(), "usage.limits", "usage_limits", str(account.id)):
            limits = await usage.set_limits(account.id, changes)
    print(f"account {account.slug}: {_limits_text(limits.monthly_segments, limits.balance_units)}")


async def _top_up(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, usage
    from hub.services import operator_accounts as accounts

    async with _open(settings):
        account = await accounts.account_by_slug(args.slug)
        assert account.id is not None
        async with audit.change(audit.cli_actor(), "usage.top_up", "usage_limits", str(account.id)):
            limits = await usage.top_up(account.id, args.units)
    print(f"account {account.slug}: {_limits_text(limits.monthly_segments, limits.balance_units)}")


def _limits_text(monthly: int | None, balance: int | None) -> str:
    monthly_text = "no monthly limit" if monthly is None else f"monthly limit {monthly} units"
    return f"{monthly_text}, " + ("no prepaid balance" if balance is None else f"balance {balance} units")


async def _keyword_requests(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import keyword_requests as requests

    async with _open(settings):
        found = await requests.list_requests(requests.parse_status(args.status))
    rows = [("ID", "STATUS", "ACCOUNT", "NUMBER", "KEYWORD", "ASKED", "REASON")]
    for r in found:
        k = r.keyword
        account = r.account.slug if r.account else "?"
        number = r.number.e164 if r.number else "?"
        asked = k.created_at.strftime("%Y-%m-%d %H:%M")
        rows.append((str(k.id), k.status.value, account, number, k.text, asked, k.status_reason or ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]).rstrip())


async def _decide_keyword(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, setup_sync
    from hub.services import keyword_requests as requests

    refuse = args.command == "refuse-keyword"
    action = "keyword.refuse" if refuse else "keyword.approve"
    async with _open(settings) as hub:
        async with audit.change(audit.cli_actor(), action, "keyword", args.id):
            if refuse:
                decided = await requests.refuse(hub, args.id, args.reason)
            else:
                decided = await requests.approve(hub, args.id)
        await setup_sync.announce(hub)
    k = decided.keyword
    account = decided.account.slug if decided.account else "?"
    number = decided.number.e164 if decided.number else "?"
    print(f"keyword {k.text} on {number} (account {account}) {k.status.value}")
