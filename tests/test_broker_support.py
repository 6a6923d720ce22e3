"""The test infrastructure itself: a real Mosquitto per test, and the fault-injecting proxy.

These run on real time (``asyncio.run``): a real broker answers on its own schedule. Every
wait is bounded by a generous ``asyncio.timeout`` that is only a safety net.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiomqtt
import pytest

from tests.support import broker as broker_module
from tests.support.broker import MosquittoBroker, MosquittoNotInstalled, find_mosquitto
from tests.support.fault_proxy import FaultProxy, ThreadedFaultProxy

SAFETY_S = 20.0  # a safety net against hangs, never a measure of speed
V5 = aiomqtt.ProtocolVersion.V5
PASSWORD = "correct horse"  # noqa: S105 - a throwaway broker's test user


def _client(host: str, port: int, **options: Any) -> aiomqtt.Client:
    return aiomqtt.Client(host, port, protocol=V5, **options)


@asynccontextmanager
async def _subscribed(host: str, port: int, topic: str) -> AsyncIterator[aiomqtt.Client]:
    async with _client(host, port) as subscriber:
        await subscriber.subscribe(topic, qos=1)
        yield subscriber


async def _next_message(client: aiomqtt.Client) -> aiomqtt.Message:
    async for message in client.messages:
        return message
    raise AssertionError("the message stream ended")


async def _round_trip(host: str, port: int, payload: bytes, topic: str = "t/round") -> None:
    async with _subscribed(host, port, topic) as subscriber, _client(host, port) as publisher:
        await publisher.publish(topic, payload, qos=1)
        message = await _next_message(subscriber)
        assert message.payload == payload
        assert message.topic.value == topic


async def _until(condition: Callable[[], bool]) -> None:
    """Poll until ``condition()`` holds (the caller's ``asyncio.timeout`` bounds it)."""
    while not condition():  # noqa: ASYNC110 - the state lives in the proxy's thread
        await asyncio.sleep(0.01)


def test_the_fixture_starts_a_private_broker_that_round_trips(mosquitto: MosquittoBroker) -> None:
    assert mosquitto.running
    assert mosquitto.port != 1883
    assert f"listener {mosquitto.port} 127.0.0.1" in mosquitto.config_text()
    assert "persistence false" in mosquitto.config_text()

    async def body() -> None:
        async with asyncio.timeout(SAFETY_S):
            await _round_trip(mosquitto.host, mosquitto.port, b"hello")

    asyncio.run(body())
    assert "mosquitto version" in mosquitto.log
    assert "New client connected" in mosquitto.log


def test_kill_then_restart_on_the_same_port_and_clients_reconnect(
    mosquitto: MosquittoBroker,
) -> None:
    port = mosquitto.port

    async def body() -> None:
        async with asyncio.timeout(SAFETY_S):
            client = _client(mosquitto.host, port)
            async with client:
                await client.publish("t/x", b"before", qos=1)
                old_pid = mosquitto.pid
                mosquitto.kill()
                assert not mosquitto.running
                with pytest.raises(aiomqtt.MqttError):
                    await _next_message(client)  # the client notices the broker is gone
                mosquitto.restart()
                assert mosquitto.port == port
                assert mosquitto.pid != old_pid
            # aiomqtt clients are reusable: the same client connects again to the same port.
            async with client:
                await client.publish("t/x", b"after", qos=1)
            await _round_trip(mosquitto.host, port, b"after restart")

    asyncio.run(body())
    assert mosquitto.starts == 2


def test_stop_is_clean_and_persistence_survives_a_restart_when_asked(
    mosquitto_factory: Callable[..., MosquittoBroker],
) -> None:
    broker = mosquitto_factory(persistence=True)
    assert "persistence true" in broker.config_text()

    async def publish_retained() -> None:
        async with _client(broker.host, broker.port) as client:
            await client.publish("t/retained", b"kept", qos=1, retain=True)

    async def read_retained() -> bytes | bytearray | int | float | str | None:
        async with _subscribed(broker.host, broker.port, "t/retained") as subscriber:
            return (await _next_message(subscriber)).payload

    async def body() -> None:
        async with asyncio.timeout(SAFETY_S):
            await publish_retained()
            broker.stop()  # SIGTERM: Mosquitto saves its database
            broker.start()
            assert await read_retained() == b"kept"

    asyncio.run(body())
    assert "terminating" in broker.log  # the clean shutdown of the first run


def test_passwords_and_acl_are_enforced(mosquitto_factory: Callable[..., MosquittoBroker]) -> None:
    broker = mosquitto_factory(
        allow_anonymous=False,
        users={"alice": PASSWORD},
        acl="user alice\ntopic readwrite alice/#\n",
        max_queued_messages=7,
    )
    assert "max_queued_messages 7" in broker.config_text()

    async def body() -> None:
        async with asyncio.timeout(SAFETY_S):
            with pytest.raises(aiomqtt.MqttCodeError):
                async with _client(
                    broker.host, broker.port, username="alice", password=PASSWORD + "!"
                ):
                    pass
            with pytest.raises(aiomqtt.MqttCodeError):
                async with _client(broker.host, broker.port):  # anonymous
                    pass
            async with _client(
                broker.host, broker.port, username="alice", password=PASSWORD
            ) as client:
                await client.subscribe("alice/#", qos=1)
                await client.publish("alice/x", b"mine", qos=1)
                assert (await _next_message(client)).payload == b"mine"

    asyncio.run(body())
    assert "Denied" not in broker.log


def test_missing_mosquitto_fails_with_install_instructions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MOSQUITTO", raising=False)
    monkeypatch.setattr(shutil, "which", lambda *_args, **_kw: None)
    with pytest.raises(MosquittoNotInstalled, match=r"\.ci/install-system-deps"):
        find_mosquitto()
    with pytest.raises(MosquittoNotInstalled, match="never skipped"):
        MosquittoBroker()
    monkeypatch.setenv("MOSQUITTO", "/nonexistent/mosquitto")
    with pytest.raises(MosquittoNotInstalled, match="not an executable"):
        find_mosquitto()


def test_the_broker_works_as_an_async_context_manager_outside_pytest_fixtures() -> None:
    async def body() -> int:
        async with asyncio.timeout(SAFETY_S), MosquittoBroker() as broker:
            await _round_trip(broker.host, broker.port, b"bench")
            workdir = broker.workdir
        assert not broker.running
        assert not workdir.exists()  # its own temporary directory is removed
        return broker.port

    asyncio.run(body())


# -- the fault proxy ---------------------------------------------------------------------


def _connect_raw(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5.0)


def test_proxy_forwards_and_cut_resets_both_sides(
    mosquitto: MosquittoBroker,
    fault_proxy_factory: Callable[..., ThreadedFaultProxy],
) -> None:
    proxy = fault_proxy_factory(mosquitto.host, mosquitto.port)

    async def body() -> None:
        async with asyncio.timeout(SAFETY_S):
            await _round_trip(proxy.host, proxy.port, b"through the proxy")
            await _until(lambda: proxy.connections == 0)  # both closed cleanly
            client = _client(proxy.host, proxy.port, identifier="victim")
            async with client:
                assert proxy.connections == 1
                assert proxy.cut() == 1
                with pytest.raises(aiomqtt.MqttError):
                    await _next_message(client)
            await _until(lambda: proxy.connections == 0)
            async with client:  # new connections still go through after a cut
                await client.publish("t/x", b"again", qos=1)

    asyncio.run(body())
    # The broker saw the cut as an abrupt disconnection, not a DISCONNECT packet.
    # (a DISCONNECT packet would log "Client victim disconnected." instead)
    assert "Client victim closed its connection." in mosquitto.log
    assert proxy.accepted >= 3


def test_blackhole_holds_traffic_both_ways_and_releases_it_intact(
    mosquitto: MosquittoBroker,
    fault_proxy_factory: Callable[..., ThreadedFaultProxy],
) -> None:
    proxy = fault_proxy_factory(mosquitto.host, mosquitto.port)

    async def body() -> None:
        async with (
            asyncio.timeout(SAFETY_S),
            _subscribed(mosquitto.host, mosquitto.port, "t/hole") as subscriber,
            _client(proxy.host, proxy.port) as publisher,
        ):
            proxy.blackhole(True)
            assert proxy.proxy.blackholed
            publishing = asyncio.ensure_future(publisher.publish("t/hole", b"held", qos=1))
            await asyncio.sleep(0.3)
            assert not publishing.done()  # no PUBACK: nothing gets through
            assert subscriber.messages.__len__() == 0
            # New connections are accepted, but their CONNACK never comes.
            with pytest.raises(aiomqtt.MqttError):
                async with _client(proxy.host, proxy.port, timeout=0.3):
                    pass
            proxy.blackhole(False)
            await publishing  # the held bytes are delivered, in order
            assert (await _next_message(subscriber)).payload == b"held"

    asyncio.run(body())


def test_refuse_closes_the_listener_and_reopens_on_the_same_port(
    mosquitto: MosquittoBroker,
    fault_proxy_factory: Callable[..., ThreadedFaultProxy],
) -> None:
    proxy = fault_proxy_factory(mosquitto.host, mosquitto.port)
    port = proxy.port

    async def body() -> None:
        async with asyncio.timeout(SAFETY_S), _client(proxy.host, port) as established:
            proxy.refuse(True)
            with pytest.raises(ConnectionRefusedError):
                _connect_raw(port).close()
            with pytest.raises(aiomqtt.MqttError):
                async with _client(proxy.host, port):
                    pass
            await established.publish("t/x", b"existing connections carry on", qos=1)
            proxy.refuse(False)
            assert proxy.port == port
            await _round_trip(proxy.host, port, b"accepted again")

    asyncio.run(body())


def test_delay_slows_every_chunk(
    mosquitto: MosquittoBroker,
    fault_proxy_factory: Callable[..., ThreadedFaultProxy],
) -> None:
    proxy = fault_proxy_factory(mosquitto.host, mosquitto.port)

    async def body() -> float:
        async with asyncio.timeout(SAFETY_S), _client(proxy.host, proxy.port) as client:
            proxy.delay = 0.25
            started = time.monotonic()
            await client.publish("t/x", b"slow", qos=1)  # PUBLISH, then PUBACK: two chunks
            return time.monotonic() - started

    assert asyncio.run(body()) >= 0.5  # a lower bound only: never depends on machine speed


def test_proxy_resets_the_client_when_the_server_is_down(
    fault_proxy_factory: Callable[..., ThreadedFaultProxy],
) -> None:
    proxy = fault_proxy_factory("127.0.0.1", broker_module.free_port())
    try:
        with _connect_raw(proxy.port) as sock:
            data = sock.recv(1)  # the 5 s socket timeout is the safety net against a hang
    except ConnectionResetError:
        data = b""  # the reset can even beat connect() back on loopback
    assert data == b""


def test_in_loop_proxy_forwards_and_cuts(mosquitto: MosquittoBroker) -> None:
    async def body() -> None:
        async with (
            asyncio.timeout(SAFETY_S),
            FaultProxy(mosquitto.host, mosquitto.port) as proxy,
        ):
            await _round_trip(proxy.host, proxy.port, b"in loop")
            await _until(lambda: proxy.connections == 0)
            client = _client(proxy.host, proxy.port)
            async with client:
                assert proxy.cut() == 1
                with pytest.raises(aiomqtt.MqttError):
                    await _next_message(client)
            proxy.refuse(True)
            assert proxy.refusing
            proxy.refuse(False)
            await _round_trip(proxy.host, proxy.port, b"after refuse")

    asyncio.run(body())
