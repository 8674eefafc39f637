"""Real mail servers for the tests: aiosmtpd as SMTP, Dovecot as IMAP (a non-daemon child process)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


@dataclass
class Inbox:
    """What the SMTP server was handed."""

    mails: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        mail = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 OK"


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@dataclass(frozen=True)
class Dovecot:
    port: int
    user: str
    password: str
    folder: Path


DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{dir}/mail/%u
default_internal_user = dovecot
default_login_user = dovenull
default_internal_group = dovecot
service imap-login {{
  inet_listener imap {{
    port = {port}
    address = 127.0.0.1
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={dir}/mail/%u
}}
"""


@contextlib.contextmanager
def dovecot_server() -> Iterator[Dovecot]:
    """Dovecot in the foreground (-F) with a throwaway config, Maildir and passwd-file user.

    Its folder is made directly under the system temp dir: Dovecot's helpers run as other users
    and cannot pass through pytest's private (0700) tmp_path.
    """
    folder = Path(tempfile.mkdtemp(prefix="hub-dovecot-"))
    try:
        with _dovecot(folder) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _dovecot(folder: Path) -> Iterator[Dovecot]:
    (folder / "mail").mkdir()
    for path in (folder, folder / "mail"):
        path.chmod(0o777)  # the mail processes run as nobody
    port = free_port()
    user, password = "hub@example.test", "imap-secret"
    (folder / "users").write_text(f"{user}:{{PLAIN}}{password}\n")
    conf = folder / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(dir=folder, port=port))
    with (folder / "stdout.log").open("wb") as out:
        # Output goes to a file: Dovecot keeps a pipe open after it forks its helpers.
        proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                log = folder / "dovecot.log"
                raise RuntimeError(f"dovecot exited: {log.read_text() if log.exists() else ''}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot did not listen")
            time.sleep(0.1)
        yield Dovecot(port=port, user=user, password=password, folder=folder)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
