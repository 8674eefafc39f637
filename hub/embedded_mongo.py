"""Run SecantusDB as a child process, so the hub works without a MongoDB to set up.

SecantusDB is GPL-licensed. The hub only starts it through its command-line launcher and talks to it over
the MongoDB wire protocol; it never imports it, so the two stay separate programs.

Typical use::

    async with EmbeddedMongo("var/mongo") as mongo:
        client = AsyncMongoClient(mongo.uri)

    with EmbeddedMongo(":memory:") as mongo:  # tests
        client = MongoClient(mongo.uri)
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import PyMongoError

__all__ = ["EXECUTABLE_NAME", "MEMORY", "EmbeddedMongo", "EmbeddedMongoError", "find_executable"]

EXECUTABLE_NAME = "secantusd-py"
"""Name of SecantusDB's server launcher, installed by the `secantusdb` package."""
MEMORY = ":memory:"
"""Storage path that keeps everything in a throw-away directory removed when the server stops."""
LOG_FILE_NAME = "secantusd.log"
"""Name of the server's log file inside its storage directory."""

_log = logging.getLogger(__name__)

_POLL_INTERVAL_S = 0.1
_PROBE_TIMEOUT_S = 1.0
_PROBE_SOCKET_MS = 2000
_PROBE_SELECTION_MS = 2000
_KILL_GRACE_S = 5.0
_LOG_TAIL_LINES = 40
# A port picked by binding to port 0 is free only until the socket closes, so another program can take
# it before the child binds; a few fresh ports make that race harmless.
_PORT_ATTEMPTS = 3
_ADDRESS_IN_USE = "Address already in use"


class EmbeddedMongoError(RuntimeError):
    """The embedded database could not be found, started or reached."""


def find_executable(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Locate the SecantusDB launcher.

    The virtualenv running the hub is searched before PATH, so a system-wide install of another version
    cannot shadow the one the hub was installed with.

    Args:
        explicit: A path to the launcher, or a bare command name looked up on PATH. None searches for
            `secantusd-py`.

    Returns:
        The launcher's path.

    Raises:
        EmbeddedMongoError: No usable launcher was found.
    """
    if explicit is not None:
        text = os.fspath(explicit)
        if os.sep not in text and (os.altsep is None or os.altsep not in text):
            found = shutil.which(text)
            if found is None:
                raise EmbeddedMongoError(f"SecantusDB launcher {text!r} was not found on PATH")
            return Path(found)
        path = Path(text)
        if not path.is_file() or not os.access(path, os.X_OK):
            raise EmbeddedMongoError(f"SecantusDB launcher {str(path)!r} does not exist or is not executable")
        return path

    # sys.executable is not resolved: in a virtualenv it is a symlink whose target lies outside the
    # venv's bin directory, where the launcher lives.
    beside_python = Path(sys.executable).parent / EXECUTABLE_NAME
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    found = shutil.which(EXECUTABLE_NAME)
    if found is not None:
        return Path(found)
    raise EmbeddedMongoError(
        f"SecantusDB launcher {EXECUTABLE_NAME!r} was found neither next to {sys.executable} nor on PATH. "
        "Install it with `pip install secantusdb` (the hub depends on it), or set MONGODB_URI to use an "
        "existing MongoDB."
    )


_PR_SET_PDEATHSIG = 1


def _can_die_with_parent() -> bool:
    # Linux sends the signal when the *thread* that started the child ends, so only a child
    # started from the main thread (the hub's event loop, a test) may ask for it.
    return sys.platform == "linux" and threading.current_thread() is threading.main_thread()


def _die_with_parent() -> None:
    """Runs in the child before exec: have Linux send it SIGTERM when the hub dies, even by
    SIGKILL, so that no orphaned server keeps the data directory's lock (and its port) after a
    crash, and the next `hub serve` starts."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _free_port(host: str) -> int:
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(host: str, port: int) -> bool:
    # SO_REUSEADDR makes the test ignore TIME_WAIT leftovers of a previous run on the same port: only a
    # live listener makes the bind fail, which is exactly what would stop the child.
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class EmbeddedMongo:
    """A SecantusDB server running as a child process of this one.

    The child stays in this process's process group, so a Ctrl-C in the terminal reaches it too. An
    `atexit` hook stops it if the owner never does. An instance can be started again after it stopped;
    it is meant to have one owner and is not thread-safe.

    Args:
        storage_path: Directory holding the database files (created if missing, reopened intact by
            later runs), or `":memory:"` for a throw-away database.
        port: TCP port to listen on; None picks a free one at every start.
        host: Interface to listen on; the default keeps the database unreachable from other machines.
        executable: The SecantusDB launcher, as for `find_executable`; None searches for it.
        extra_args: More command-line arguments, e.g. `["--sync-on-commit"]`. They come after the
            hub's own, so they override them.
        log_path: File receiving the child's output, appended to. Defaults to `secantusd.log` in the
            storage directory, or to a temporary file removed on stop for `":memory:"`.
        start_timeout: Seconds the child gets to answer a `hello` command.
        stop_timeout: Seconds the child gets to exit after SIGTERM before it is killed.
    """

    def __init__(
        self,
        storage_path: str | os.PathLike[str] = MEMORY,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        executable: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        log_path: str | os.PathLike[str] | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        raw = os.fspath(storage_path)
        self._storage: Path | None = None if raw == MEMORY else Path(raw).absolute()
        self._requested_port = port
        self._host = host
        self._executable = executable
        self._extra_args = list(extra_args)
        self._log_path_setting = Path(log_path).absolute() if log_path is not None else None
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout

        self._resolved_executable: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._run_dir: Path | None = None
        self._log_path: Path | None = None
        self._log_offset = 0
        self._returncode: int | None = None

    # ----------------------------------------------------------------------------------------- state

    @property
    def uri(self) -> str:
        """MongoDB URI of the running server.

        Raises:
            EmbeddedMongoError: The server is not running.
        """
        host = f"[{self._host}]" if ":" in self._host else self._host
        # directConnection: talk to this one server only. Its hello reply describes a one-node replica
        # set, whose member list the driver would otherwise trust over the address it was given.
        return f"mongodb://{host}:{self.port}/?directConnection=true"

    @property
    def port(self) -> int:
        """TCP port of the running server.

        Raises:
            EmbeddedMongoError: The server is not running.
        """
        if self._port is None or self._proc is None:
            raise EmbeddedMongoError("the embedded MongoDB is not running")
        return self._port

    @property
    def host(self) -> str:
        """Interface the server listens on."""
        return self._host

    @property
    def storage_path(self) -> Path | None:
        """Directory of the database files, or None for an in-memory database."""
        return self._storage

    @property
    def pid(self) -> int | None:
        """Process id of the child, or None when not running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the child was started, has not been stopped, and is still alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status of the child from the last stop; None before the first one."""
        return self._returncode

    @property
    def log_path(self) -> Path | None:
        """File receiving the child's output, or None when not started and not configured."""
        return self._log_path or self._log_path_setting

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """Return the end of what the child wrote during its current (or latest) run.

        Args:
            lines: Most lines returned.

        Returns:
            The text, possibly empty.
        """
        if self._log_path is None:
            return ""
        try:
            with self._log_path.open("rb") as handle:
                handle.seek(self._log_offset)
                data = handle.read()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])

    # ---------------------------------------------------------------------------------- sync control

    def start_sync(self) -> None:
        """Start the server and wait until it answers.

        Raises:
            EmbeddedMongoError: The launcher is missing, the port is taken, or the child exited or did
                not answer within the start timeout; the message ends with the tail of its log.
        """
        self._refuse_double_start()
        try:
            self._prepare()
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self._launch()
                if self._wait_ready_sync(attempt):
                    self._started()
                    return
            raise AssertionError("unreachable: the last attempt raises instead of retrying")
        except BaseException:
            self.stop_sync()
            raise

    def stop_sync(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL after the stop timeout. Does nothing if not running."""
        proc = self._proc
        if proc is None:
            self._remove_run_dir()
            return
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=self._stop_timeout)
                except subprocess.TimeoutExpired:
                    _log.warning("embedded MongoDB (pid %d) ignored SIGTERM; killing it", proc.pid)
                    proc.kill()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=_KILL_GRACE_S)
        finally:
            self._forget(proc)

    def __enter__(self) -> Self:
        self.start_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_sync()

    # --------------------------------------------------------------------------------- async control

    async def start(self) -> None:
        """Start the server and wait until it answers, without blocking the event loop while waiting.

        Raises:
            EmbeddedMongoError: As for `start_sync`.
        """
        self._refuse_double_start()
        try:
            self._prepare()
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                self._launch()
                if await self._wait_ready_async(attempt):
                    self._started()
                    return
            raise AssertionError("unreachable: the last attempt raises instead of retrying")
        except BaseException:
            # Also on cancellation: a half-started child must not outlive the task that wanted it.
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the server as `stop_sync` does, but without blocking the event loop.

        Does nothing if not running.
        """
        proc = self._proc
        if proc is None:
            self._remove_run_dir()
            return
        try:
            if proc.poll() is None:
                proc.terminate()
                try:
                    async with asyncio.timeout(self._stop_timeout):
                        await self._wait_exit(proc)
                except TimeoutError:
                    _log.warning("embedded MongoDB (pid %d) ignored SIGTERM; killing it", proc.pid)
                    proc.kill()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_KILL_GRACE_S):
                            await self._wait_exit(proc)
        finally:
            self._forget(proc)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------------- internals

    def _refuse_double_start(self) -> None:
        # Checked outside the try of start(), whose cleanup would otherwise stop the running server.
        if self._proc is not None:
            raise EmbeddedMongoError(f"the embedded MongoDB is already running (pid {self._proc.pid})")

    def _prepare(self) -> None:
        self._resolved_executable = find_executable(self._executable)
        if self._requested_port is not None and not _port_is_free(self._host, self._requested_port):
            raise EmbeddedMongoError(
                f"cannot start the embedded MongoDB: port {self._requested_port} on {self._host} is already "
                "in use"
            )
        if self._storage is not None:
            self._storage.mkdir(parents=True, exist_ok=True)
        self._run_dir = Path(tempfile.mkdtemp(prefix="hub-secantus-"))
        # An explicit, empty config file turns off SecantusDB's search of ./secantusd.toml, ~/.secantus
        # and /etc/secantus: a stray file there (say one turning on auth) must not change how the hub's
        # own database behaves.
        (self._run_dir / "secantusd.toml").write_bytes(b"")
        if self._log_path_setting is not None:
            self._log_path = self._log_path_setting
        elif self._storage is not None:
            self._log_path = self._storage / LOG_FILE_NAME
        else:
            self._log_path = self._run_dir / LOG_FILE_NAME
        self._log_path.parent.mkdir(parents=True, exist_ok=True)

    def _launch(self) -> None:
        assert self._run_dir is not None and self._log_path is not None
        assert self._resolved_executable is not None
        port = self._requested_port if self._requested_port is not None else _free_port(self._host)
        storage = str(self._storage) if self._storage is not None else MEMORY
        argv = [
            str(self._resolved_executable),
            "--config",
            str(self._run_dir / "secantusd.toml"),
            "--host",
            self._host,
            "--port",
            str(port),
            "--storage-path",
            storage,
            *self._extra_args,
        ]
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self._log_path.open("ab") as log:
            log.write(f"--- {stamp} hub pid {os.getpid()} starts: {' '.join(argv)}\n".encode())
            log.flush()
            self._log_offset = log.tell()
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            try:
                # The child gets its own copy of the log descriptor; a file (not a pipe) means its
                # output never blocks it, however long nobody reads it.
                self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    preexec_fn=_die_with_parent if _can_die_with_parent() else None,
                )
            except OSError as exc:
                raise EmbeddedMongoError(f"cannot run the SecantusDB launcher {argv[0]!r}: {exc}") from exc
        self._port = port
        atexit.register(self._stop_at_exit)

    def _check_exited(self, attempt: int) -> bool:
        """Decide what an early exit of the child means.

        Returns:
            False while the child runs; True if it lost a race for a port this class picked and a new
            attempt may follow.

        Raises:
            EmbeddedMongoError: The child exited for any other reason.
        """
        assert self._proc is not None
        code = self._proc.poll()
        if code is None:
            return False
        tail = self.log_tail()
        if self._requested_port is None and _ADDRESS_IN_USE in tail and attempt < _PORT_ATTEMPTS:
            _log.info("port %s was taken before the embedded MongoDB bound it; trying another", self._port)
            self._forget(self._proc, keep_files=True)
            return True
        raise self._failure(f"exited with status {code} while starting")

    def _failure(self, what: str) -> EmbeddedMongoError:
        tail = self.log_tail() or "(no output)"
        return EmbeddedMongoError(
            f"embedded MongoDB ({self._resolved_executable}, port {self._port}) {what}; "
            f"its log ({self._log_path}) ends with:\n{tail}"
        )

    def _wait_ready_sync(self, attempt: int) -> bool:
        deadline = time.monotonic() + self._start_timeout
        while True:
            if self._check_exited(attempt):
                return False
            if self._probe_sync():
                return True
            if time.monotonic() >= deadline:
                raise self._failure(f"did not answer within {self._start_timeout:g} s")
            time.sleep(_POLL_INTERVAL_S)

    async def _wait_ready_async(self, attempt: int) -> bool:
        deadline = time.monotonic() + self._start_timeout
        while True:
            if self._check_exited(attempt):
                return False
            if await self._probe_async():
                return True
            if time.monotonic() >= deadline:
                raise self._failure(f"did not answer within {self._start_timeout:g} s")
            await asyncio.sleep(_POLL_INTERVAL_S)

    def _probe_sync(self) -> bool:
        # The bare TCP connect is cheap and fails fast while the child is still importing; only then is a
        # driver worth building for the real question, whether it serves commands.
        try:
            with socket.create_connection((self._host, self.port), timeout=_PROBE_TIMEOUT_S):
                pass
        except OSError:
            return False
        client: MongoClient[dict[str, object]] = MongoClient(
            self.uri,
            serverSelectionTimeoutMS=_PROBE_SELECTION_MS,
            connectTimeoutMS=_PROBE_SOCKET_MS,
            socketTimeoutMS=_PROBE_SOCKET_MS,
        )
        try:
            client.admin.command("hello")
        except PyMongoError:
            return False
        finally:
            client.close()
        return True

    async def _probe_async(self) -> bool:
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self.port), timeout=_PROBE_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
            self.uri,
            serverSelectionTimeoutMS=_PROBE_SELECTION_MS,
            connectTimeoutMS=_PROBE_SOCKET_MS,
            socketTimeoutMS=_PROBE_SOCKET_MS,
        )
        try:
            await client.admin.command("hello")
        except PyMongoError:
            return False
        finally:
            await client.close()
        return True

    @staticmethod
    async def _wait_exit(proc: subprocess.Popen[bytes]) -> None:
        # Polling rather than a thread blocked in wait(): cancelling the caller then leaves nothing
        # behind, and the atexit hook still reaps the child. No event exists to wait on instead: the
        # child's exit is only seen by asking for it.
        while proc.poll() is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    def _started(self) -> None:
        assert self._proc is not None
        _log.info(
            "embedded MongoDB (SecantusDB) ready at %s, pid %d, storage %s, log %s",
            self.uri,
            self._proc.pid,
            self._storage or MEMORY,
            self._log_path,
        )

    def _forget(self, proc: subprocess.Popen[bytes], *, keep_files: bool = False) -> None:
        self._returncode = proc.poll()
        if self._returncode is None:
            _log.error("embedded MongoDB (pid %d) survived SIGKILL; leaving it behind", proc.pid)
        self._proc = None
        self._port = None
        atexit.unregister(self._stop_at_exit)
        if not keep_files:
            self._remove_run_dir()

    def _remove_run_dir(self) -> None:
        if self._run_dir is None:
            return
        if self._log_path is not None and self._log_path.is_relative_to(self._run_dir):
            self._log_path = None
        shutil.rmtree(self._run_dir, ignore_errors=True)
        self._run_dir = None

    def _stop_at_exit(self) -> None:
        if self._proc is not None:
            _log.warning("embedded MongoDB (pid %d) still running at exit; stopping it", self._proc.pid)
            self.stop_sync()
