"""A private PostgreSQL server for the receiver's tests.

``HEMOTRACE_TEST_POSTGRES_URL`` names an existing server to use instead. Otherwise the fixture
creates a throwaway cluster with ``initdb`` on a free loopback port (as the ``postgres`` user
when the tests run as root, which PostgreSQL requires) and removes it afterwards. The binaries
come from Debian's ``postgresql`` package, which ``.ci/install-system-deps`` installs; where
they cannot be found the tests that need PostgreSQL are skipped with that reason, visibly.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["postgres_server", "postgres_url"]

_URL_VARIABLE = "HEMOTRACE_TEST_POSTGRES_URL"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


@contextlib.contextmanager
def _private_cluster() -> Iterator[str]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(
            "PostgreSQL is not installed and could not be: run .ci/install-system-deps "
            f"(or set {_URL_VARIABLE})"
        )
    owner = "postgres" if os.geteuid() == 0 else None
    with tempfile.TemporaryDirectory(prefix="hemotrace-pg-") as base:
        data = Path(base) / "data"
        data.mkdir()
        if owner is not None:
            user = pwd.getpwnam(owner)
            os.chown(base, user.pw_uid, user.pw_gid)
            os.chown(data, user.pw_uid, user.pw_gid)
        port = _free_port()
        subprocess.run(
            _as_owner([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"], owner),
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=on"
        subprocess.run(
            _as_owner(
                [pg_ctl, "-D", str(data), "-o", options, "-w", "-l", f"{base}/log", "start"], owner
            ),
            check=True,
            capture_output=True,
        )
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "stop"], owner),
                check=False,
                capture_output=True,
            )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database, for the whole session."""
    given = os.environ.get(_URL_VARIABLE)
    if given:
        yield given
        return
    with _private_cluster() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server; dropped afterwards."""
    import psycopg

    name = f"hemotrace_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
