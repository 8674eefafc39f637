"""The commands a newcomer runs: `hub demo` with embedded defaults, stopped cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hub.domain.numbers import NumberType
from hub.services import routing, setup_sync
from tests.conftest import RunningHub, free_port, login
from tests.e2e.keywords_helpers import add_number, phone
from tests.e2e.test_operator_api import hub_command


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"hub demo exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"hub demo did not become healthy: {log.read_text()[-3000:]}")


def secantus_children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(line.split()[0]) for line in out.stdout.splitlines() if "secantusd" in line]


def test_demo_runs_with_embedded_defaults_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URI", "REDIS_URL", "HUB_WEBHOOK_SECRET"}}
    env.update({"HUB_PORT": str(port), "HUB_DATA_DIR": str(tmp_path / "var")})
    log = tmp_path / "demo.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "demo"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_healthy(base, proc, log)
        printed = log.read_text()
        assert f"{base}/inbox" in printed and "admin@demo.example / demo-admin-pass" in printed
        assert "admin@roza.example / roza-admin-pass" in printed
        # The seeds' examples to try from the simulator, next to its address.
        simulator = printed[printed.index(f"{base}/simulator") :]
        for line in (
            "Demo Shop's own numbers: NDI +48 500 100 200, SCI 7126",
            "Shared ND +48 503 340 503: OGRODNIK (Demo Shop), KWIATY (Kwiaciarnia Róża)",
            "Shared SC 4301: PROMOCJA (Demo Shop)",
        ):
            assert line in simulator.split("API schema")[0], printed
        assert "embedded SecantusDB" in printed
        assert (tmp_path / "var" / "mongo").is_dir()
        children = secantus_children(proc.pid)
        assert len(children) == 1

        numbers = httpx.get(f"{base}/simulator/api/numbers").json()
        assert {(n["e164"], n["type"], n["account"]) for n in numbers} == {
            ("+48500100200", "NDI", "Demo Shop"),
            ("7126", "SCI", "Demo Shop"),
            ("+48503340503", "ND", ""),
            ("4301", "SC", ""),
        }
        login = httpx.post(
            f"{base}/api/auth/login", json={"email": "admin@demo.example", "password": "demo-admin-pass"}
        )
        assert login.status_code == 200
        sent = httpx.post(
            f"{base}/simulator/api/messages",
            json={"from": "+48600700800", "to": "+48500100200", "text": "hej"},
        )
        assert sent.status_code == 201, sent.text
        convs = httpx.get(
            f"{base}/api/conversations", headers={"Authorization": f"Bearer {login.json()['token']}"}
        )
        assert [c["contact"]["phone"] for c in convs.json()] == ["+48600700800"]
        # The seeds' example from the simulator: OGRODNIK to the shared ND reaches the demo shop.
        sent = httpx.post(
            f"{base}/simulator/api/messages",
            json={"from": "+48600700801", "to": "503 340 503", "text": "Ogrodnik"},
        )
        assert sent.status_code == 201, sent.text
        convs = httpx.get(
            f"{base}/api/conversations", headers={"Authorization": f"Bearer {login.json()['token']}"}
        )
        assert [(c["contact"]["phone"], c["number"]) for c in convs.json()] == [
            ("+48600700801", "+48503340503"),
            ("+48600700800", "+48500100200"),
        ]
        schema = httpx.get(f"{base}/schema/openapi.json").json()
        assert "/webhooks/generic/inbound" in schema["paths"] and "/api/conversations" in schema["paths"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()[-3000:]
    for child in children:
        assert (
            not Path(f"/proc/{child}").exists()
            or "zombie" in Path(f"/proc/{child}/status").read_text().lower()
        )

    # Started again on the same data folder, the demo account and the conversation are still there.
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "demo"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_healthy(base, proc, log)
        login = httpx.post(
            f"{base}/api/auth/login", json={"email": "admin@demo.example", "password": "demo-admin-pass"}
        )
        convs = httpx.get(
            f"{base}/api/conversations", headers={"Authorization": f"Bearer {login.json()['token']}"}
        )
        assert [c["contact"]["phone"] for c in convs.json()] == ["+48600700801", "+48600700800"]
        # Seeded again on the same data: still two accounts' numbers, nothing doubled.
        assert len(httpx.get(f"{base}/simulator/api/numbers").json()) == 4
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def test_commands_work_beside_a_running_hub_serve_on_the_embedded_database(tmp_path: Path) -> None:
    """The production path with the defaults: `hub serve` holds the embedded database's files, and
    the operator's commands, run beside it, use that server instead of failing on its lock."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URI", "REDIS_URL", "HUB_WEBHOOK_SECRET"}}
    env.update({"HUB_PORT": str(port), "HUB_DATA_DIR": str(tmp_path / "var"), "HUB_SIMULATOR": "1"})
    log = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"

    def hub(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "hub", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr[-3000:])
        return done.stdout

    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_healthy(base, proc, log)
        hub("create-agent", "--account", "operator", "--email", "ops@op.test", "--name", "Ops",
            "--password", "ops-haslo-123", "--role", "admin", "--operator")  # fmt: skip
        hub("create-account", "--slug", "pizza", "--name", "Pizza Kraków", "--admin-email", "szef@pizza.test",
            "--admin-name", "Szef", "--admin-password", "pizza-haslo-1")  # fmt: skip
        hub("create-number", "--number", "+48 500 600 700", "--type", "NDI", "--account", "pizza",
            "--provider", "simulator")  # fmt: skip
        # Only the server that `hub serve` started runs: no command started a second one.
        assert len(secantus_children(proc.pid)) == 1
        sent = httpx.post(
            f"{base}/simulator/api/messages",
            json={"from": "+48600700800", "to": "500 600 700", "text": "Dzień dobry"},
        )
        assert sent.status_code == 201, sent.text
        token = httpx.post(
            f"{base}/api/auth/login", json={"email": "szef@pizza.test", "password": "pizza-haslo-1"}
        ).json()["token"]
        convs = httpx.get(f"{base}/api/conversations", headers={"Authorization": f"Bearer {token}"}).json()
        assert [(c["contact"]["phone"], c["number"]) for c in convs] == [("+48600700800", "+48500600700")]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()[-3000:]
    # Stopped, the hub leaves no address behind; a command now starts the database itself.
    assert not (tmp_path / "var" / "mongo.uri").exists()
    assert "pizza" in hub("list-numbers")


def test_create_agent_makes_the_account_and_marks_the_operator(mongo_uri: str, tmp_path: Path) -> None:
    from pymongo import MongoClient

    database = f"cli_{os.getpid()}_{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "HUB_WEBHOOK_SECRET"}}
    env.update({"MONGODB_URI": mongo_uri, "MONGODB_DATABASE": database, "HUB_DATA_DIR": str(tmp_path)})

    def create_agent(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "hub", "create-agent", "--password", "long-enough-pass", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    client: MongoClient[dict[str, object]] = MongoClient(mongo_uri)
    try:
        accounts = client[database]["accounts"]
        out = create_agent("--account", "shop", "--email", "a@shop.test", "--name", "A", "--role", "admin")
        assert out.strip() == "agent a@shop.test (admin) in account shop"
        assert accounts.find_one({"slug": "shop"}, {"operator": 1})["operator"] is False  # type: ignore[index]
        # An existing account becomes the operator; its next agents say so.
        out = create_agent("--account", "shop", "--email", "b@shop.test", "--name", "B", "--operator")
        assert out.strip() == "agent b@shop.test (agent) in account shop (the platform operator)"
        assert accounts.find_one({"slug": "shop"}, {"operator": 1})["operator"] is True  # type: ignore[index]
        assert accounts.count_documents({}) == 1
        assert client[database]["agents"].count_documents({}) == 2
    finally:
        client.drop_database(database)
        client.close()


async def test_operator_commands_set_up_a_working_account(running: RunningHub) -> None:
    """The production path with the commands only: the operator, an account with its admin, an NDI
    for it and an ND with a default reply; then texts reach the account or get the default reply."""

    async def hub(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = await asyncio.to_thread(hub_command, running, *args)
        assert (done.returncode == 0) is ok, (args, done.returncode, done.stdout, done.stderr)
        return done

    await hub(
        "create-agent", "--account", "operator", "--email", "root@op.test", "--name", "Root",
        "--password", "operator-password", "--role", "admin", "--operator",
    )  # fmt: skip
    out = await hub(
        "create-account", "--slug", "pizza", "--name", "Pizza Kraków", "--admin-email", "szef@pizza.test",
        "--admin-name", "Szef", "--admin-password", "pizza-password",
    )  # fmt: skip
    assert "account pizza" in out.stdout and "admin szef@pizza.test" in out.stdout
    out = await hub("create-number", "--number", "500 600 700", "--type", "ndi", "--account", "pizza")
    assert "number +48500600700 (NDI, simulator, account pizza)" in out.stdout
    await hub("create-number", "--number", "+48 503-340-503", "--type", "ND", "--provider", "simulator")
    await hub(
        "set-number", "--number", "503340503", "--default-reply", "Nie znamy hasła.",
        "--max-keywords-per-account", "1",
    )  # fmt: skip
    listed = (await hub("list-numbers")).stdout.splitlines()
    assert listed == ["+48500600700\tNDI\tsimulator\tpizza\t", "+48503340503\tND\tsimulator\t-\t"]

    # Bad input: a clear message on stderr and a non-zero exit, nothing stored.
    for args, message in [
        (("create-number", "--number", "500600700", "--type", "ND"), "already configured"),
        (("create-number", "--number", "500600701", "--type", "NDI"), "belongs to an account"),
        (
            ("create-number", "--number", "500600702", "--type", "ND", "--account", "pizza"),
            "belongs to no account",
        ),
        (("create-number", "--number", "500600703", "--type", "XYZ"), "type must be one of"),
        (("create-number", "--number", "7126", "--type", "ND"), "not the short code"),
        (
            ("create-number", "--number", "500600704", "--type", "ND", "--provider", "smsapi"),
            "provider must be",
        ),
        (("create-number", "--number", "500600705", "--type", "ND", "--eco-plus"), "ECO+"),
        (("create-account", "--slug", "Zła Nazwa", "--name", "X"), "slug must be"),
        (("create-account", "--slug", "pizza", "--name", "X"), "already exists"),
        (("assign-number", "--number", "503340503", "--account", "pizza"), "shared"),
        (("remove-number", "--number", "500999999"), "no number +48500999999"),
        (("set-number", "--number", "503340503", "--max-keywords-per-account", "dużo"), "whole number"),
        (("set-number", "--number", "500600700", "--keyword-approval"), "shared number"),
    ]:
        done = await hub(*args, ok=False)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)
    assert len((await hub("list-numbers")).stdout.splitlines()) == 2

    token = await login(running.base, "szef@pizza.test", "pizza-password")
    async with httpx.AsyncClient(
        base_url=running.base, headers={"Authorization": f"Bearer {token}"}, timeout=20
    ) as pizza:
        nd = next(n for n in (await pizza.get("/api/numbers")).json() if n["e164"] == "+48503340503")
        assert (
            await pizza.post("/api/keywords", json={"number_id": nd["id"], "text": "PIZZA"})
        ).status_code == 201
        # The number's cap, set by the command: one keyword per account.
        r = await pizza.post("/api/keywords", json={"number_id": nd["id"], "text": "CALZONE"})
        assert r.status_code == 409 and r.json()["code"] == "limit", r.text
        async with phone(running, "+48601222333") as customer:
            await customer.text("500600700", "Dzień dobry")
            await customer.text("+48503340503", "pizza")
            await customer.text("+48503340503", "coś innego")
            assert (await customer.next_sms())["text"] == "Nie znamy hasła."
        convs = (await pizza.get("/api/conversations")).json()
        assert sorted(c["number"] for c in convs) == ["+48500600700", "+48503340503"]


@pytest.mark.parametrize("redis_mode", [True], indirect=True)
async def test_a_command_s_change_reaches_a_running_hub_at_once(
    running: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hub set-number` in another process: the running hub forgets its cached set-up through Redis,
    however long it would otherwise keep it."""
    monkeypatch.setattr(routing._setups, "TTL_S", 3600.0)
    hub = running.hub
    while not hub.fanout.subscriber_count(setup_sync.channel(hub)):
        await asyncio.sleep(0.05)
    await add_number("+48503340503", NumberType.ND, default_reply="Stara odpowiedź")
    async with phone(running, "+48601222333") as customer:
        await customer.text("+48503340503", "hej")
        assert (await customer.next_sms())["text"] == "Stara odpowiedź"
        done = await asyncio.to_thread(
            hub_command, running, "set-number", "--number", "503 340 503", "--default-reply", "Nowa odpowiedź"
        )
        assert done.returncode == 0, done.stderr
        await customer.text("+48503340503", "hej")
        assert (await customer.next_sms())["text"] == "Nowa odpowiedź"
