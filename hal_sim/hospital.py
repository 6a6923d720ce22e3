"""The hospital side on this machine, for the simulator: a Mosquitto broker and a receiver.

``hemotrace sim`` syncs the simulated device the way a real one does: to an MQTT 5 broker and
a hospital receiver committing into a database - both started here as child processes in the
simulation's state directory, on a free loopback port, and stopped with it. The broker must be
Mosquitto: the protocol needs MQTT 5 (response topic, correlation data, reason codes) and the
pure-Python brokers on the package index speak MQTT 3.1.1 only. ``.ci/install-system-deps``
(run by ``make sim``) installs it; without it :class:`HospitalUnavailable` says so and the
simulator runs the device offline, its records waiting in the journal.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["HospitalUnavailable", "LocalHospital", "StoredSoFar"]

_READY_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0


class HospitalUnavailable(Exception):
    """The local broker cannot be started (not installed, or it failed); says what to do."""


@dataclass(frozen=True, slots=True)
class StoredSoFar:
    """What the hospital's database holds for one device: every record through
    ``contiguous_through``, and none above ``highest`` (-1: none yet)."""

    contiguous_through: int
    highest: int


def _mosquitto() -> str:
    found = os.environ.get("MOSQUITTO") or shutil.which("mosquitto")
    if found is None and Path("/usr/sbin/mosquitto").exists():
        found = "/usr/sbin/mosquitto"
    if found is None:
        raise HospitalUnavailable(
            "Mosquitto is not installed (an MQTT 5 broker is needed): run"
            " `bash .ci/install-system-deps` or `apt-get install mosquitto`"
        )
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalHospital:
    """A broker and a receiver in ``state_dir`` (``broker/``, ``hospital.db``, logs)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.database = state_dir / "hospital.db"
        self.port = 0
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def broker_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalHospital:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the broker, wait until it accepts connections, then start the receiver."""
        binary = _mosquitto()
        broker_dir = self.state_dir / "broker"
        broker_dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        config = broker_dir / "mosquitto.conf"
        config.write_text(
            "# Written by hemotrace sim (hal_sim/hospital.py)\n"
            # Started as root, Mosquitto would switch to the user "mosquitto", who cannot read
            # this directory: stay the user we are.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            f"log_dest file {broker_dir / 'mosquitto.log'}\n"
        )
        self._spawn([binary, "-c", str(config)], broker_dir / "stdout.log")
        self._wait_for_port()
        receiver_log = self.state_dir / "receiver.log"
        start_of_log = receiver_log.stat().st_size if receiver_log.exists() else 0
        receiver = [sys.executable, "-m", "hospital_receiver", "run"]
        self._spawn(
            [*receiver, "--broker", self.broker_url, "--db", str(self.database)], receiver_log
        )
        self._wait_for_receiver(receiver_log, start_of_log)

    def stop(self) -> None:
        """Stop the receiver and the broker: asked first, killed after ``_STOP_TIMEOUT_S``."""
        for process in self._processes:
            process.terminate()
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        for process in reversed(self._processes):
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()

    def stored(self, device_id: str) -> StoredSoFar:
        """How far the receiver's database holds ``device_id``'s records (an indexed lookup of
        the receiver's per-device progress: cheap enough for every redraw)."""
        if not self.database.exists():
            return StoredSoFar(-1, -1)
        try:
            with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=1) as db:
                row = db.execute(
                    "SELECT contiguous_through, highest FROM device_progress WHERE device = ?",
                    (device_id,),
                ).fetchone()
        except sqlite3.OperationalError:  # the receiver has not created its tables yet
            return StoredSoFar(-1, -1)
        return StoredSoFar(-1, -1) if row is None else StoredSoFar(int(row[0]), int(row[1]))

    def _spawn(self, command: list[str], log: Path) -> None:
        with log.open("ab") as output:
            self._processes.append(
                subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
            )

    def _wait_for_receiver(self, log: Path, offset: int) -> None:
        """Until the receiver says it is subscribed: a batch published before that would find
        no subscriber and be lost to it."""
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._processes[-1].poll() is not None:
                self.stop()
                raise HospitalUnavailable(f"the receiver exited at start; see {log}")
            with log.open("rb") as output:
                output.seek(offset)
                if b"msg=subscribed" in output.read():
                    return
            time.sleep(0.05)
        self.stop()
        raise HospitalUnavailable(f"the receiver did not subscribe in time; see {log}")

    def _wait_for_port(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._processes[-1].poll() is not None:
                self.stop()
                raise HospitalUnavailable(
                    f"Mosquitto exited at start; see {self.state_dir / 'broker'}"
                )
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise HospitalUnavailable(f"Mosquitto did not accept connections on port {self.port}")
