"""TLS to the broker, as configured from files: the device's link (CA, client certificate and
key from its profile's ``[sync]``) and the receiver (``--ca-file/--cert-file/--key-file``) both
reach a Mosquitto that requires client certificates, and records go through end to end."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.clock import SystemClock
from agent.config.schema import SyncConfig
from agent.events import DoorChanged
from agent.journal import Journal
from agent.runtime.stream import EventStream
from agent.sync.link import LinkSettings, SyncLink
from agent.sync.nonces import NonceStore
from hospital_receiver.broker import BrokerSettings
from hospital_receiver.service import Receiver, ReceiverConfig
from hospital_receiver.sqlite_store import SqliteStore
from tests.support.broker import MosquittoBroker, free_port

DEVICE = "cab-tls-1"
SITE = "st-elsewhere"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    where = tmp_path_factory.mktemp("pki")
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=hemotrace test CA",
        "-keyout",
        str(where / "ca.key"),
        "-out",
        str(where / "ca.crt"),
    )
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        _openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(where / f"{name}.key"),
            "-out",
            str(where / f"{name}.csr"),
        )
        (where / f"{name}.ext").write_text(extension + "\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            str(where / f"{name}.csr"),
            "-CA",
            str(where / "ca.crt"),
            "-CAkey",
            str(where / "ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(where / f"{name}.ext"),
            "-out",
            str(where / f"{name}.crt"),
        )
    return where


@pytest.fixture
def tls_broker(pki: Path, tmp_path: Path) -> Iterator[tuple[MosquittoBroker, int]]:
    port = free_port()
    extra = (
        f"listener {port} 127.0.0.1\n"
        f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\nkeyfile {pki / 'server.key'}\n"
        "require_certificate true\n"
    )
    broker = MosquittoBroker(tmp_path / "broker", extra_config=extra)
    broker.start()
    try:
        yield broker, port
    finally:
        broker.close()


def test_records_go_through_a_broker_that_requires_client_certificates(
    pki: Path, tls_broker: tuple[MosquittoBroker, int], tmp_path: Path
) -> None:
    _, port = tls_broker
    url = f"mqtts://127.0.0.1:{port}"

    async def body() -> tuple[int, int]:
        journal = await Journal.open(tmp_path / "journal.db", device_id=DEVICE)
        clock = SystemClock()
        stream = EventStream(device_id=DEVICE, boot_epoch=1, clock=clock, sink=journal)
        link = SyncLink(
            config=SyncConfig(
                broker_url=url,
                ca_file=pki / "ca.crt",
                cert_file=pki / "client.crt",
                key_file=pki / "client.key",
            ),
            site=SITE,
            boot_epoch=1,
            journal=journal,
            stream=stream,
            clock=clock,
            nonces=NonceStore(tmp_path / "nonces.db"),
            settings=LinkSettings(backoff_base_s=0.05, backoff_cap_s=0.5),
            rng=random.Random(3),
        )
        receiver = Receiver(
            ReceiverConfig(
                broker=BrokerSettings.from_url(
                    url,
                    ca_file=pki / "ca.crt",
                    cert_file=pki / "client.crt",
                    key_file=pki / "client.key",
                )
            ),
            lambda: SqliteStore(tmp_path / "hospital.db"),
        )
        tasks = [asyncio.create_task(receiver.run()), asyncio.create_task(link.run())]
        try:
            for index in range(20):
                await stream.record(DoorChanged("main", open=index % 2 == 0))
            deadline = time.monotonic() + 60
            while await journal.pending_count() and time.monotonic() < deadline:  # noqa: ASYNC110 - the journal's state, no event to wait on
                await asyncio.sleep(0.05)
            pending = await journal.pending_count()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await journal.close()
        store = SqliteStore(tmp_path / "hospital.db")
        try:
            stored = len(store.identities(DEVICE))
        finally:
            store.close()
        return pending, stored

    pending, stored = asyncio.run(body())
    assert pending == 0, "every record acknowledged over TLS"
    assert stored == 20


def test_a_device_without_a_client_certificate_is_not_let_in(
    pki: Path, tls_broker: tuple[MosquittoBroker, int], tmp_path: Path
) -> None:
    _, port = tls_broker

    async def body() -> tuple[bool, int]:
        journal = await Journal.open(tmp_path / "journal.db", device_id=DEVICE)
        clock = SystemClock()
        stream = EventStream(device_id=DEVICE, boot_epoch=1, clock=clock, sink=journal)
        link = SyncLink(
            config=SyncConfig(broker_url=f"mqtts://127.0.0.1:{port}", ca_file=pki / "ca.crt"),
            site=SITE,
            boot_epoch=1,
            journal=journal,
            stream=stream,
            clock=clock,
            nonces=NonceStore(tmp_path / "nonces.db"),
            settings=LinkSettings(backoff_base_s=0.05, backoff_cap_s=0.2),
        )
        task = asyncio.create_task(link.run())
        await stream.record(DoorChanged("main", open=True))
        await asyncio.sleep(2.0)
        connected = link.connected
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        pending = await journal.pending_count()
        await journal.close()
        return connected, pending

    connected, pending = asyncio.run(body())
    assert not connected
    assert pending == 1, "the record waits in the journal"
