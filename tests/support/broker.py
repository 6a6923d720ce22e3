"""A real Mosquitto broker on a free loopback port, for tests and benchmarks.

:class:`MosquittoBroker` writes a config into a private directory, starts ``mosquitto -c`` on
``127.0.0.1:<free port>`` and returns once the broker accepts TCP connections. It works as a
plain context manager (``with MosquittoBroker() as broker:``), as an async one (``async with``:
start and stop then run in a worker thread so the event loop is never blocked) and by hand
(``start()`` / ``close()``). The pytest fixtures wrapping it are in :mod:`tests.support.fixtures`.

Faults: :meth:`~MosquittoBroker.kill` (SIGKILL: no clean shutdown, persistence not saved),
:meth:`~MosquittoBroker.stop` (SIGTERM, a clean shutdown), :meth:`~MosquittoBroker.restart`
(start again on the *same* port, so clients configured with it can reconnect) and
:meth:`~MosquittoBroker.pause` / :meth:`~MosquittoBroker.resume` (SIGSTOP / SIGCONT: a hung
broker whose connections stay open - a PUBACK is then deterministically outstanding). The broker's
log (stdout and stderr of every run, appended) is :attr:`~MosquittoBroker.log`.

Configuration: MQTT 3.1.1 and 5 are both accepted (Mosquitto's listeners speak every version);
anonymous clients are allowed unless ``allow_anonymous=False``; persistence is off unless
``persistence=True`` (then it lives in the private directory and survives ``restart()``).
``acl`` is the text of an ACL file (Mosquitto's syntax: lines before the first ``user`` line
apply to anonymous clients) and ``users`` maps user names to passwords (a password file is
generated; passwords are hashed as Mosquitto 2.0 expects). ``extra_config`` is appended verbatim.

Mosquitto missing is an error, never a skip: CI must run these tests. The error says how to
install it (``.ci/install-system-deps``, or ``apt-get install mosquitto``); ``$MOSQUITTO``
names a binary outside ``PATH`` and ``/usr/sbin``.

Never use the system broker on port 1883: every test gets its own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = [
    "BrokerStartError",
    "MosquittoBroker",
    "MosquittoNotInstalled",
    "find_mosquitto",
    "free_port",
]

HOST = "127.0.0.1"

_INSTALL_HINT = (
    "Mosquitto (the MQTT broker the sync tests run against) is not installed. "
    "Install it with `.ci/install-system-deps` (as root, or with sudo: it runs apt-get), "
    "or `apt-get install mosquitto`; or set $MOSQUITTO to the path of a mosquitto binary. "
    "These tests are never skipped: CI must run them."
)

# A broker must accept connections within this long; only a safety net (it takes ~10 ms).
_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0


class MosquittoNotInstalled(RuntimeError):
    """The ``mosquitto`` binary could not be found."""


class BrokerStartError(RuntimeError):
    """Mosquitto exited or did not accept connections in time; the message holds its log."""


def find_mosquitto() -> str:
    """The path of the ``mosquitto`` binary, or :class:`MosquittoNotInstalled` explaining how
    to install it (Debian installs it in ``/usr/sbin``, which is not on every user's PATH)."""
    given = os.environ.get("MOSQUITTO")
    if given:
        if not os.access(given, os.X_OK):
            raise MosquittoNotInstalled(f"$MOSQUITTO={given!r} is not an executable file")
        return given
    found = shutil.which("mosquitto") or shutil.which(
        "mosquitto", path="/usr/sbin:/usr/local/sbin:/sbin"
    )
    if found is None:
        raise MosquittoNotInstalled(_INSTALL_HINT)
    return found


def free_port(host: str = HOST) -> int:
    """A TCP port that was free a moment ago (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = 101) -> str:
    """``password`` hashed as a Mosquitto 2.0 password file entry (``$7$``: PBKDF2-SHA512,
    what ``mosquitto_passwd`` writes), so tests need not run ``mosquitto_passwd``."""
    salt = os.urandom(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    encoded_salt = base64.b64encode(salt).decode()
    return f"$7${iterations}${encoded_salt}${base64.b64encode(digest).decode()}"


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _kill_quietly(process: subprocess.Popen[bytes]) -> None:
    """Finalizer: never leave a broker behind, even when a test forgot to close it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_STOP_TIMEOUT_S)


class MosquittoBroker:
    """One Mosquitto process (restartable on the same port) with a generated config.

    ``workdir`` holds the config, ACL, password file, persistence and log; a temporary
    directory (removed on :meth:`close`) when not given. ``port`` defaults to a free one.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        port: int | None = None,
        allow_anonymous: bool = True,
        persistence: bool = False,
        acl: str | None = None,
        users: Mapping[str, str] | None = None,
        max_queued_messages: int | None = None,
        max_inflight_messages: int | None = None,
        verbose_log: bool = False,
        extra_config: str = "",
    ) -> None:
        self._binary = find_mosquitto()
        self._own_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix="hemotrace-mosquitto-")) if workdir is None else workdir
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._fixed_port = port is not None
        self.port: int = port if port is not None else free_port()
        self.allow_anonymous = allow_anonymous
        self.persistence = persistence
        self.acl = acl
        self.users = dict(users or {})
        self.max_queued_messages = max_queued_messages
        self.max_inflight_messages = max_inflight_messages
        self.verbose_log = verbose_log
        self.extra_config = extra_config
        self.log_path = self.workdir / "mosquitto.log"
        self.config_path = self.workdir / "mosquitto.conf"
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[..., MosquittoBroker] | None = None
        self.starts = 0

    # -- what clients need -------------------------------------------------------------

    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        return f"mqtt://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log(self) -> str:
        """Everything every run of this broker wrote (appended across restarts)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- config ------------------------------------------------------------------------

    def config_text(self) -> str:
        """The ``mosquitto.conf`` this broker runs with."""
        user = pwd.getpwuid(os.geteuid()).pw_name
        lines = [
            "# Generated by tests/support/broker.py",
            # Mosquitto started as root drops to the user "mosquitto", which could not read
            # this private directory: stay the user we are.
            f"user {user}",
            f"listener {self.port} {HOST}",
            f"allow_anonymous {'true' if self.allow_anonymous else 'false'}",
            "log_dest stderr",
            "log_timestamp true",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            "connection_messages true",
        ]
        if self.verbose_log:
            lines.append("log_type all")
        else:
            lines += [f"log_type {kind}" for kind in ("error", "warning", "notice", "information")]
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.workdir}/",
                "persistence_file mosquitto.db",
            ]
        else:
            lines.append("persistence false")
        if self.acl is not None:
            acl_path = self.workdir / "acl"
            acl_path.write_text(self.acl)
            acl_path.chmod(0o600)
            lines.append(f"acl_file {acl_path}")
        if self.users:
            password_path = self.workdir / "passwords"
            password_path.write_text(
                "".join(f"{name}:{hash_password(pw)}\n" for name, pw in self.users.items())
            )
            password_path.chmod(0o600)
            lines.append(f"password_file {password_path}")
        if self.max_queued_messages is not None:
            lines.append(f"max_queued_messages {self.max_queued_messages}")
        if self.max_inflight_messages is not None:
            lines.append(f"max_inflight_messages {self.max_inflight_messages}")
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> Self:
        """Start the broker and return once it accepts connections.

        A first start whose free port was taken in the meantime retries on another free port;
        a restart keeps its port (and retries binding it for a while).
        """
        if self.running:
            raise RuntimeError(f"Mosquitto is already running on port {self.port}")
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            self.config_path.write_text(self.config_text())
            try:
                self._spawn_and_wait(deadline)
            except BrokerStartError as exc:
                if exc.args[1:] != (errno.EADDRINUSE,) or time.monotonic() >= deadline:
                    raise
                if self.starts == 0 and not self._fixed_port:
                    self.port = free_port()
                else:
                    time.sleep(0.05)
            else:
                self.starts += 1
                return self

    def _log_since(self, offset: int) -> str:
        try:
            return self.log_path.read_bytes()[offset:].decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _spawn_and_wait(self, deadline: float) -> None:
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            process = self._spawn(log)
        self._process = process
        self._finalizer = weakref.finalize(self, _kill_quietly, process)
        while not _accepts_connections(self.port):
            if process.poll() is not None:
                self._process = None
                this_run = self._log_since(log_start)
                code = errno.EADDRINUSE if "Address already in use" in this_run else 0
                raise BrokerStartError(
                    f"mosquitto exited with status {process.returncode} on start "
                    f"(port {self.port}); its log:\n{this_run}",
                    code,
                )
            if time.monotonic() >= deadline:
                self.kill()
                raise BrokerStartError(
                    f"mosquitto did not accept connections on port {self.port} within "
                    f"{_START_TIMEOUT_S} s; its log:\n{self._log_since(log_start)}"
                )
            time.sleep(0.01)

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self._binary, "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: the broker dies at once (nothing flushed, persistence not saved)."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (persistence saved when on); SIGKILL if it hangs."""
        self._end(signal.SIGTERM)

    def pause(self) -> None:
        """SIGSTOP: the broker hangs (connections stay open, nothing is answered)."""
        if self._process is None:
            raise RuntimeError("mosquitto is not running")
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT: a paused broker carries on where it stopped."""
        if self._process is None:
            raise RuntimeError("mosquitto is not running")
        self._process.send_signal(signal.SIGCONT)

    def restart(self, *, kill: bool = False) -> Self:
        """Stop (or kill) the broker if it runs, then start it again on the same port."""
        if self.running:
            self._end(signal.SIGKILL if kill else signal.SIGTERM)
        return self.start()

    def _end(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        if sig != signal.SIGKILL:
            process.send_signal(signal.SIGCONT)  # a paused broker handles SIGTERM only then
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=_STOP_TIMEOUT_S)

    def close(self) -> None:
        """Kill the broker if it still runs and remove the private directory if it is ours."""
        self.kill()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- context managers --------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.__enter__)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<MosquittoBroker {HOST}:{self.port} {state} pid={self.pid}>"
