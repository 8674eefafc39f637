"""The `hub` command: serve, worker, demo, create-agent, create-token, and the operator's commands
(hub.operator_cli).

The program's entry: the one module of `hub` that imports `workers`, to put the hub and its
jobs together (nothing imports it).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import secrets
import sys
from pathlib import Path

import uvicorn

from hub.operator_cli import SetupFileError, UsageError, add_commands
from hub.services.errors import ServiceError
from hub.settings import Settings, load_settings

log = logging.getLogger("hub")


def _serve(settings: Settings, on_ready: object = None) -> None:
    from hub.app import create_app
    from hub.realtime.wire import protocol_class
    from workers.run import embedded_worker, open_hub

    app = create_app(settings, on_ready=on_ready, open_hub=open_hub, worker=embedded_worker)  # type: ignore[arg-type]
    uvicorn.run(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_level="info",
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
        # uvicorn's websockets-sansio protocol, extended so the fan-out writes frames directly.
        ws=protocol_class(settings.realtime.ws_deflate),  # type: ignore[arg-type]
        ws_max_size=1024 * 1024,
    )


def _demo_secret(data_dir: Path) -> str:
    """A webhook secret kept under the data folder so it survives restarts of the demo."""
    path = data_dir / "webhook-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(24)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def cmd_demo(settings: Settings) -> None:
    from hub.context import HubContext
    from hub.demo import DEMO_LOGINS, number_guide, seed_demo

    secret = settings.security.webhook_secret or _demo_secret(settings.server.data_dir)
    settings = dataclasses.replace(
        settings, simulator=True, security=dataclasses.replace(settings.security, webhook_secret=secret)
    )
    base = f"http://{settings.server.host}:{settings.server.port}"

    async def on_ready(hub: HubContext) -> None:
        await seed_demo()
        lines = [
            "",
            "SMS hub demo is running.",
            f"  Agent inbox:     {base}/inbox",
            f"  Phone simulator: {base}/simulator  (text these numbers; on a shared one, a keyword):",
            *(f"                   {line}" for line in await number_guide()),
            f"  API schema:      {base}/schema",
            *(f"  Login:           {d.email} / {d.password}  ({d.role.value})" for d in DEMO_LOGINS),
            f"  Webhook secret:  {secret}  (generic JSON webhook, see docs/webhooks.md)",
            f"  Database:        {hub.mongo_uri}"
            + ("  (embedded SecantusDB)" if settings.embedded_mongo else ""),
            "",
        ]
        print("\n".join(lines), flush=True)

    _serve(settings, on_ready)


async def _create_agent(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, auth
    from hub.store.accounts import Account, Role
    from workers.run import open_hub

    async with open_hub(settings, start_local_worker=False, join_running_database=True):
        account = await Account.find_one({"slug": args.account})
        if account is None or account.id is None:
            account = await auth.create_account(args.account_name or args.account, args.account)
        assert account.id is not None
        async with audit.change(audit.cli_actor(), "agent.create", "agent") as done:
            agent = await auth.create_agent(account.id, args.email, args.name, args.password, Role(args.role))
            done.target_id = str(agent.id)
        if args.operator and not account.operator:
            # This field only: a running hub may be taking event numbers from the account meanwhile.
            await account.set({"operator": True})
        operator = " (the platform operator)" if account.operator else ""
        print(f"agent {agent.email} ({agent.role.value}) in account {account.slug}{operator}")


async def _create_token(args: argparse.Namespace, settings: Settings) -> None:
    from hub.services import audit, auth
    from hub.store.accounts import Account
    from hub.store.numbers import Number
    from workers.run import open_hub

    async with open_hub(settings, start_local_worker=False, join_running_database=True):
        account = await Account.find_one({"slug": args.account})
        if account is None or account.id is None:
            raise SystemExit(f"no account {args.account!r}")
        ids = []
        for wanted in args.number or []:
            # A number as texted (+48500100200) or its id.
            number = await Number.find_one(
                {"e164": wanted.replace(" ", ""), "account_id": {"$in": [account.id, None]}}
            )
            ids.append(str(number.id) if number is not None else wanted)
        async with audit.change(audit.cli_actor(), "token.create", "token") as done:
            doc, token = await auth.create_api_token(account.id, args.name, None, ids)
            done.target_id = str(doc.id)
        scope = ", ".join(str(n) for n in doc.numbers) or "all numbers"
        print(f"token {doc.name!r} for account {account.slug} ({scope}); shown once, keep it:")
        print(token)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hub", description="Self-hosted SMS/MMS conversation hub")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP/WebSocket server")
    serve.add_argument(
        "--no-worker", action="store_true", help="do not run jobs in this process (needs REDIS_URL)"
    )
    sub.add_parser("worker", help="run background jobs (needs REDIS_URL)")
    sub.add_parser("demo", help="run with a demo account, the phone simulator and embedded defaults")
    agent = sub.add_parser("create-agent", help="create an agent (and its account if new)")
    agent.add_argument("--account", required=True, help="account slug")
    agent.add_argument("--account-name")
    agent.add_argument("--email", required=True)
    agent.add_argument("--name", required=True)
    agent.add_argument("--password", required=True)
    agent.add_argument("--role", choices=["admin", "agent"], default="agent")
    agent.add_argument(
        "--operator",
        action="store_true",
        help="mark the account as the platform operator: its admins see messages that reached no account",
    )
    token = sub.add_parser("create-token", help="create an API token (for a bot or an integration)")
    token.add_argument("--account", required=True, help="account slug")
    token.add_argument("--name", required=True, help="shown as the author of the bot's replies")
    token.add_argument(
        "--number", action="append", help="limit the token to this number (+48..., or an id); repeatable"
    )
    operator_commands = add_commands(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except ValueError as exc:
        sys.exit(f"configuration error: {exc}")
    if args.command == "serve":
        if args.no_worker:
            if not settings.redis.url:
                sys.exit("--no-worker needs REDIS_URL: without Redis, jobs can only run in this process")
            settings = dataclasses.replace(settings, run_worker=False)
        _serve(settings)
    elif args.command == "worker":
        from workers.run import run_worker

        asyncio.run(run_worker(settings))
    elif args.command == "demo":
        cmd_demo(settings)
    elif args.command == "create-agent":
        asyncio.run(_create_agent(args, settings))
    elif args.command == "create-token":
        try:
            asyncio.run(_create_token(args, settings))
        except ServiceError as exc:
            sys.exit(f"create-token: {exc.message}")
    elif args.command in operator_commands:
        try:
            asyncio.run(operator_commands[args.command](args, settings))
        except ServiceError as exc:
            sys.exit(f"{args.command}: {exc.message}")
        except SetupFileError as exc:
            print("\n".join(exc.lines), file=sys.stderr)
            sys.exit(f"{args.command}: the file has {len(exc.lines)} errors; nothing was changed")
        except UsageError as exc:
            print(f"{args.command}: {exc}", file=sys.stderr)
            sys.exit(2)


if __name__ == "__main__":
    main()
