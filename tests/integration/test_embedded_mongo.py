"""The embedded SecantusDB child process: durable storage, clean stops, clear failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient, MongoClient

from hub.embedded_mongo import LOG_FILE_NAME, EmbeddedMongo, EmbeddedMongoError


def _assert_gone(pid: int) -> None:
    # stop() reaps the child, so the pid no longer names any process (reuse within a test is unlikely).
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_data_survives_a_restart_on_the_same_directory(tmp_path: Path) -> None:
    storage = tmp_path / "db"

    first = EmbeddedMongo(storage)
    first.start_sync()
    try:
        assert first.running
        assert first.uri == f"mongodb://127.0.0.1:{first.port}/?directConnection=true"
        first_pid = first.pid
        assert first_pid is not None
        client: MongoClient[dict[str, object]] = MongoClient(first.uri)
        try:
            client.hub.probe.insert_one({"_id": "durable", "body": "still here"})
        finally:
            client.close()
    finally:
        first.stop_sync()
    assert not first.running
    assert first.returncode is not None
    _assert_gone(first_pid)
    first.stop_sync()  # a second stop is harmless

    log = storage / LOG_FILE_NAME
    assert log.is_file(), "the child's output goes to a file in its storage directory"
    assert "listening on" in log.read_text()

    with EmbeddedMongo(storage) as second:
        second_pid = second.pid
        assert second_pid is not None
        client = MongoClient(second.uri)
        try:
            found = client.hub.probe.find_one({"_id": "durable"})
        finally:
            client.close()
    assert found == {"_id": "durable", "body": "still here"}
    assert not second.running
    _assert_gone(second_pid)


async def test_async_start_and_stop_in_memory() -> None:
    mongo = EmbeddedMongo(":memory:")
    async with mongo:
        pid = mongo.pid
        assert pid is not None
        log = mongo.log_path
        assert log is not None and log.is_file()
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo.uri)
        try:
            await client.hub.probe.insert_one({"_id": 1})
            assert await client.hub.probe.count_documents({}) == 1
        finally:
            await client.close()
    assert not mongo.running
    _assert_gone(pid)
    assert not log.exists(), "an in-memory server's temporary log is removed on stop"
    await mongo.stop()  # idempotent
    mongo.stop_sync()


def test_missing_executable_is_reported_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "bin" / "secantusd-py"
    mongo = EmbeddedMongo(tmp_path / "db", executable=missing)
    with pytest.raises(RuntimeError, match="does not exist or is not executable") as caught:
        mongo.start_sync()
    assert isinstance(caught.value, EmbeddedMongoError)
    assert str(missing) in str(caught.value)
    assert not mongo.running


def test_executable_that_exits_at_once_shows_its_output(tmp_path: Path) -> None:
    fake = tmp_path / "fake-secantusd"
    fake.write_text("#!/bin/sh\necho 'cannot open storage: disk on fire' >&2\nexit 3\n")
    fake.chmod(0o755)
    mongo = EmbeddedMongo(tmp_path / "db", executable=fake, start_timeout=10)
    with pytest.raises(EmbeddedMongoError, match="exited with status 3") as caught:
        mongo.start_sync()
    assert "disk on fire" in str(caught.value)
    assert not mongo.running


def test_a_taken_port_is_refused_before_starting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        mongo = EmbeddedMongo(tmp_path / "db", port=port)
        with pytest.raises(EmbeddedMongoError, match=f"port {port} .* already in use"):
            mongo.start_sync()
    assert not mongo.running


def test_a_server_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    fake = tmp_path / "silent-secantusd"
    fake.write_text("#!/bin/sh\necho 'warming up forever'\nexec sleep 60\n")
    fake.chmod(0o755)
    mongo = EmbeddedMongo(tmp_path / "db", executable=fake, start_timeout=1)
    with pytest.raises(EmbeddedMongoError, match="did not answer within 1 s") as caught:
        mongo.start_sync()
    assert "warming up forever" in str(caught.value)
    assert not mongo.running
    assert mongo.returncode is not None, "the silent child was stopped, not left behind"


def test_losing_a_picked_port_to_another_program_retries_on_a_new_one(tmp_path: Path) -> None:
    fake = tmp_path / "unlucky-secantusd"
    fake.write_text("#!/bin/sh\necho 'OSError: [Errno 98] Address already in use'\nexit 1\n")
    fake.chmod(0o755)
    mongo = EmbeddedMongo(tmp_path / "db", executable=fake)
    with pytest.raises(EmbeddedMongoError, match="exited with status 1"):
        mongo.start_sync()
    starts = [
        line for line in (tmp_path / "db" / LOG_FILE_NAME).read_text().splitlines() if "starts:" in line
    ]
    assert len(starts) == 3
    assert len({line.split("--port ")[1].split()[0] for line in starts}) > 1, "each attempt picks a port"


def test_starting_twice_is_refused_and_leaves_the_server_running() -> None:
    with EmbeddedMongo() as mongo:
        with pytest.raises(EmbeddedMongoError, match="already running"):
            mongo.start_sync()
        assert mongo.running
        client: MongoClient[dict[str, object]] = MongoClient(mongo.uri)
        try:
            assert client.admin.command("ping")["ok"] == 1
        finally:
            client.close()


def _running(pid: int) -> bool:
    """Whether `pid` still runs. An exited child of a killed hub is reparented to whatever reaps
    orphans here (often a container's PID 1), which may collect it late; until then it is a zombie,
    which `kill(pid, 0)` still finds but which holds no files or ports any more."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in {"Z", "X"}


def test_the_server_does_not_outlive_a_killed_hub(tmp_path: Path) -> None:
    """A hub killed with SIGKILL takes its database down with it, so the next start finds the
    data directory free."""
    script = (
        "import sys, time\n"
        "from hub.embedded_mongo import EmbeddedMongo\n"
        f"server = EmbeddedMongo({str(tmp_path / 'data')!r})\n"
        "server.start_sync()\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as hub:
        try:
            assert hub.stdout is not None
            child = int(hub.stdout.readline())
            os.kill(hub.pid, signal.SIGKILL)
            hub.wait(10)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if not _running(child):
                    break
                time.sleep(0.1)
            else:
                os.kill(child, signal.SIGKILL)
                log = (tmp_path / "data" / "secantusd.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"SecantusDB (pid {child}) outlived its killed hub; its log ends with:\n{log}")
        finally:
            hub.kill()
    # The next hub starts on the same directory.
    with EmbeddedMongo(tmp_path / "data") as again, MongoClient(again.uri) as client:
        assert client.admin.command("ping")["ok"] == 1
