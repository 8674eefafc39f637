"""The real Debian Kannel for the tests: bearerbox, smsbox and fakesmsc (kannel-extras) as the SMS centre.

fakesmsc is started with no messages on its command line, so it reads them from stdin (its
"interactive mode"): one line per text, `sender receiver type text`. What Kannel sends to it, it
logs on stderr as `Got message N: <sender receiver type text>`, which `sent()` reads back.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote_to_bytes

import httpx
import pytest

from tests.conftest import free_port

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SENDSMS_USER = "hub"
SENDSMS_PASSWORD = "hub-sendsms-password"
SECRET = "kannel-test-secret"
ADMIN_PASSWORD = "kannel-admin"

GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>$")


def kannel_conf(dir: Path, hub_base: str, ports: dict[str, int]) -> str:
    """The kannel.conf of docs/gateways.md, on this test's ports and folder."""
    inbound = (
        f"{hub_base}/webhooks/kannel/inbound?secret={SECRET}"
        "&id=%I&from=%p&to=%P&text=%a&coding=%c&charset=%C&time=%T"
    )
    return f"""\
group = core
admin-port = {ports["admin"]}
admin-password = {ADMIN_PASSWORD}
admin-interface = 127.0.0.1
smsbox-port = {ports["smsbox"]}
box-allow-ip = 127.0.0.1
dlr-storage = internal
log-file = "{dir}/bearerbox.log"
log-level = 0

group = smsc
smsc = fake
smsc-id = fake
port = {ports["fake"]}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {ports["smsbox"]}
sendsms-port = {ports["sendsms"]}
sendsms-interface = 127.0.0.1
mo-recode = true
http-request-retry = 5
http-queue-delay = 1
log-file = "{dir}/smsbox.log"
log-level = 0

group = sendsms-user
username = {SENDSMS_USER}
password = {SENDSMS_PASSWORD}
concatenation = true
max-messages = 10

group = sms-service
keyword = default
catch-all = true
get-url = "{inbound}"
max-messages = 0
"""


@dataclass
class Sms:
    sender: str
    recipient: str
    type: str
    text: str


def _decode(kind: str, data: str) -> str:
    if kind == "ucs-2":
        return unquote_to_bytes(data.replace("+", " ")).decode("utf-16-be")
    if kind == "data":
        return unquote_to_bytes(data.replace("+", " ")).decode("utf-8")
    return data


@dataclass
class Kannel:
    dir: Path
    ports: dict[str, int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    files: list[BinaryIO] = field(default_factory=list)
    fakesmsc: subprocess.Popen[bytes] | None = None
    injected: int = 0

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    def inject(self, sender: str, recipient: str, text: str) -> None:
        """A phone's text reaching the SMS centre, sent to Kannel as UCS-2 as a phone sends Polish."""
        assert self.fakesmsc is not None and self.fakesmsc.stdin is not None
        data = quote(text.encode("utf-16-be"), safe="")
        self.fakesmsc.stdin.write(f"{sender} {recipient} ucs2 {data}\n".encode())
        self.fakesmsc.stdin.flush()
        self._handed_over()

    def inject_part(
        self, sender: str, recipient: str, reference: int, total: int, seq: int, text: str
    ) -> None:
        """One part of a concatenated text (8-bit reference UDH), as fakesmsc's `udh-text` sends it."""
        assert self.fakesmsc is not None and self.fakesmsc.stdin is not None
        udh = quote(bytes([5, 0, 3, reference, total, seq]), safe="")
        self.fakesmsc.stdin.write(f"{sender} {recipient} udh-text {udh} {text}\n".encode())
        self.fakesmsc.stdin.flush()
        self._handed_over()

    def _handed_over(self) -> None:
        """Wait until fakesmsc sent the line just written: it reads its stdin a line per read, so a second
        line written before it took the first would wait for a third."""
        self.injected += 1
        _wait(
            lambda: (
                f"sent message {self.injected}" in (self.dir / "fakesmsc.err").read_text(errors="replace")
            ),
            f"fakesmsc sending message {self.injected}",
            self.dir,
        )

    def sent(self) -> list[Sms]:
        """What Kannel handed the SMS centre so far, each part as fakesmsc logged it."""
        out: list[Sms] = []
        for line in (self.dir / "fakesmsc.err").read_text(encoding="utf-8", errors="replace").splitlines():
            match = GOT.search(line)
            if match:
                sender, recipient, kind, data = match.groups()
                out.append(Sms(sender, recipient, kind, data))
        return out

    def text_of(self, sms: Sms) -> str:
        """A single SMS's text (`text` or `ucs-2`)."""
        return _decode(sms.type, sms.text)


def concatenated(parts: list[Sms]) -> tuple[int, str] | None:
    """The text of a UCS-2 message Kannel split (`udh <header> data <bytes>` per part), with its
    part count; None until all its parts arrived."""
    chunks: dict[int, bytes] = {}
    total = 0
    for sms in parts:
        if sms.type != "udh":
            continue
        udh, _, data = sms.text.partition(" ")
        header = unquote_to_bytes(udh)
        # 05 00 03 <reference> <total> <sequence>: the 8-bit reference concatenation element.
        assert header[:3] == b"\x05\x00\x03", header
        total = header[4]
        chunks[header[5]] = unquote_to_bytes(data.removeprefix("data ").replace("+", " "))
    if not total or len(chunks) < total:
        return None
    return total, b"".join(chunks[i] for i in sorted(chunks)).decode("utf-16-be")


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def _wait(check: object, what: str, logs: Path, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-20:])
                for p in sorted(logs.glob("*.log")) + sorted(logs.glob("*.err"))
            )
            raise RuntimeError(f"Kannel: {what} did not happen within {timeout_s} s\n{tails}")
        time.sleep(0.1)


def _fake_online(ports: dict[str, int]) -> bool:
    try:
        r = httpx.get(
            f"http://127.0.0.1:{ports['admin']}/status.txt", params={"password": ADMIN_PASSWORD}, timeout=2
        )
    except httpx.HTTPError:
        return False
    return "online" in r.text


@contextlib.contextmanager
def run_kannel(dir: Path, hub_base: str, ports: dict[str, int]) -> Iterator[Kannel]:
    """bearerbox, smsbox and a connected fakesmsc on `ports`, stopped on exit."""
    for binary in (BEARERBOX, SMSBOX, FAKESMSC):
        if not Path(binary).exists() and shutil.which(Path(binary).name) is None:
            pytest.fail(f"{binary} is missing: install Debian's kannel and kannel-extras (.ci/run does)")
    dir.mkdir(parents=True, exist_ok=True)
    conf = dir / "kannel.conf"
    conf.write_text(kannel_conf(dir, hub_base, ports), encoding="utf-8")
    kannel = Kannel(dir=dir, ports=ports)

    def start(args: list[str], name: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        out, err = (dir / f"{name}.out").open("wb"), (dir / f"{name}.err").open("wb")
        kannel.files += [out, err]
        proc = subprocess.Popen(args, stdin=stdin, stdout=out, stderr=err)
        kannel.procs.append(proc)
        return proc

    try:
        start([BEARERBOX, str(conf)], "bearerbox")
        _wait(lambda: _port_open(ports["smsbox"]), "bearerbox listening", dir)
        start([SMSBOX, str(conf)], "smsbox")
        _wait(lambda: _port_open(ports["sendsms"]), "smsbox listening", dir)
        kannel.fakesmsc = start(
            [FAKESMSC, "-H", "127.0.0.1", "-r", str(ports["fake"])], "fakesmsc", stdin=subprocess.PIPE
        )
        _wait(lambda: _fake_online(ports), "fakesmsc connected", dir)
        yield kannel
    finally:
        for proc in reversed(kannel.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(kannel.procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if kannel.fakesmsc is not None and kannel.fakesmsc.stdin is not None:
            kannel.fakesmsc.stdin.close()
        for file in kannel.files:
            file.close()


def kannel_ports() -> dict[str, int]:
    return {name: free_port() for name in ("admin", "smsbox", "fake", "sendsms")}


async def eventually_sync(check: object, timeout_s: float = 20.0) -> object:
    """Poll a synchronous check until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()  # type: ignore[operator]
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s (last: {result!r})")
        await asyncio.sleep(0.1)
