"""pytest fixtures for the MQTT tests: a real Mosquitto per test, and fault-injecting proxies.

Load them with ``pytest_plugins = ["tests.support.fixtures"]`` (in ``tests/conftest.py``, or in
the test module until it is there).

- ``mosquitto``: a running :class:`~tests.support.broker.MosquittoBroker` with the defaults
  (anonymous, no persistence), killed and removed after the test.
- ``mosquitto_factory``: ``mosquitto_factory(acl=..., users=..., persistence=True, ...)`` starts
  more brokers, or brokers with another config (same keywords as ``MosquittoBroker``); all are
  killed after the test.
- ``fault_proxy_factory``: ``fault_proxy_factory(broker.host, broker.port)`` starts a
  :class:`~tests.support.fault_proxy.ThreadedFaultProxy` (usable from any loop), closed after.

When a test fails, each broker's log is printed with the test's report.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.broker import MosquittoBroker, MosquittoNotInstalled
from tests.support.fault_proxy import ThreadedFaultProxy

__all__ = ["fault_proxy_factory", "mosquitto", "mosquitto_factory"]

BrokerFactory = Callable[..., MosquittoBroker]
ProxyFactory = Callable[..., ThreadedFaultProxy]


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[BrokerFactory]:
    brokers: list[MosquittoBroker] = []

    def start(**options: Any) -> MosquittoBroker:
        workdir = tmp_path / f"mosquitto-{len(brokers)}"
        try:
            broker = MosquittoBroker(workdir, **options)
        except MosquittoNotInstalled as missing:
            pytest.fail(str(missing), pytrace=False)  # never a skip: CI must run these tests
        brokers.append(broker)
        return broker.start()

    try:
        yield start
    finally:
        for broker in brokers:
            broker.close()
            # Shown with the report of a failing test (pytest keeps teardown output then).
            sys.stderr.write(f"--- log of {broker!r} ---\n{broker.log}\n")


@pytest.fixture
def mosquitto(mosquitto_factory: BrokerFactory) -> MosquittoBroker:
    return mosquitto_factory()


@pytest.fixture
def fault_proxy_factory() -> Iterator[ProxyFactory]:
    proxies: list[ThreadedFaultProxy] = []

    def start(target_host: str, target_port: int, **options: Any) -> ThreadedFaultProxy:
        proxy = ThreadedFaultProxy(target_host, target_port, **options)
        proxies.append(proxy)
        return proxy.start()

    try:
        yield start
    finally:
        for proxy in proxies:
            proxy.close()
