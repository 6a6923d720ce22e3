"""CheckedPublisher and SlidingWindow against a real Mosquitto (2.0.11 on our machines).

Real time (``asyncio.run``); every wait is bounded by a generous safety timeout. Faults are made
deterministic by pausing the broker (SIGSTOP) so a PUBACK is surely outstanding.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import aiomqtt
import pytest

from agent.sync.mqtt_publish import (
    CheckedPublisher,
    PublishAck,
    PublishConnectionLost,
    PublishOutcomeUnknown,
    PublishRejected,
    PublishTimeout,
    SlidingWindow,
    disable_nagle,
)
from tests.support.broker import MosquittoBroker

SAFETY_S = 20.0
ACL = "topic readwrite allowed/#\n"  # anonymous clients: allowed/# only
BrokerFactory = Callable[..., MosquittoBroker]


def _client(broker: MosquittoBroker, **options: Any) -> aiomqtt.Client:
    options.setdefault("protocol", aiomqtt.ProtocolVersion.V5)
    return aiomqtt.Client(broker.host, broker.port, **options)


def test_a_normal_publish_is_acknowledged(mosquitto: MosquittoBroker) -> None:
    async def body() -> tuple[PublishAck, PublishAck, bytes | Any]:
        async with asyncio.timeout(SAFETY_S), _client(mosquitto) as client:
            publisher = CheckedPublisher(client)
            nobody = await publisher.publish("t/nobody", b"1")
            await client.subscribe("t/someone", qos=1)
            someone = await publisher.publish("t/someone", b"2")
            async for message in client.messages:
                return nobody, someone, message.payload
            raise AssertionError("no message")

    nobody, someone, payload = asyncio.run(body())
    # 0x10 "No matching subscribers" is a success: the broker took the message.
    assert (nobody.reason_code, nobody.no_matching_subscribers) == (0x10, True)
    assert (someone.reason_code, someone.reason) == (0x00, "Success")
    assert not someone.no_matching_subscribers
    assert payload == b"2"


def test_disable_nagle_sets_tcp_nodelay_on_the_connected_socket(mosquitto: MosquittoBroker) -> None:
    async def body() -> tuple[int, int]:
        async with asyncio.timeout(SAFETY_S), _client(mosquitto) as client:
            sock = client._client.socket()
            assert isinstance(sock, socket.socket)
            before = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            disable_nagle(client)
            return before, sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    assert asyncio.run(body()) == (0, 1)


def test_a_publish_denied_by_the_acl_is_rejected_not_taken_as_success(
    mosquitto_factory: BrokerFactory,
) -> None:
    broker = mosquitto_factory(acl=ACL, verbose_log=True)

    async def body() -> PublishRejected:
        async with asyncio.timeout(SAFETY_S), _client(broker) as client:
            # The gap this module closes: aiomqtt's own publish returns normally.
            await client.publish("denied/x", b"lost", qos=1)
            publisher = CheckedPublisher(client)
            with pytest.raises(PublishRejected) as rejected:
                await publisher.publish("denied/x", b"lost")
            # The connection stays usable after a rejection.
            assert (await publisher.publish("allowed/x", b"ok")).reason_code < 0x80
            assert publisher.in_flight == 0
            return rejected.value

    rejected = asyncio.run(body())
    # Mosquitto 2.0.11 answers a denied QoS 1 publish under MQTT 5 with PUBACK 0x87.
    assert rejected.reason_code == 0x87
    assert rejected.reason == "Not authorized"
    assert rejected.topic == "denied/x"
    assert "Denied PUBLISH" in broker.log


def test_under_mqtt_3_1_1_a_denied_publish_looks_delivered(
    mosquitto_factory: BrokerFactory,
) -> None:
    """Why we speak MQTT 5 only, and why only the hospital's acknowledgement proves delivery."""
    broker = mosquitto_factory(acl=ACL, verbose_log=True)

    async def body() -> PublishAck:
        async with (
            asyncio.timeout(SAFETY_S),
            _client(broker, protocol=aiomqtt.ProtocolVersion.V311) as client,
        ):
            return await CheckedPublisher(client).publish("denied/x", b"silently dropped")

    ack = asyncio.run(body())
    assert ack.reason_code == 0x00  # no reason codes in 3.1.1: the drop is invisible
    assert "Denied PUBLISH" in broker.log


def test_broker_killed_mid_publish_is_a_typed_error_not_a_hang(
    mosquitto: MosquittoBroker,
) -> None:
    async def body() -> tuple[PublishConnectionLost, PublishConnectionLost]:
        async with asyncio.timeout(SAFETY_S), _client(mosquitto) as client:
            publisher = CheckedPublisher(client, ack_timeout=SAFETY_S * 2)
            await publisher.publish("t/x", b"warm up")
            mosquitto.pause()  # the PUBLISH is surely outstanding when the broker dies
            pending = publisher.send("t/x", b"in flight")
            await asyncio.sleep(0.05)
            assert not pending.done()
            mosquitto.kill()
            with pytest.raises(PublishConnectionLost) as lost:
                await pending
            with pytest.raises(PublishConnectionLost) as refused:
                publisher.send("t/x", b"after")  # not connected: refused at once
            assert publisher.in_flight == 0
            return lost.value, refused.value

    lost, refused = asyncio.run(body())
    assert isinstance(lost, PublishOutcomeUnknown)
    assert lost.topic == "t/x"
    assert lost.mid is not None
    assert lost.reason is not None
    assert refused.mid is None  # never handed to paho, so never resent behind our back


def test_no_puback_within_the_timeout_is_a_typed_timeout(mosquitto: MosquittoBroker) -> None:
    async def body() -> PublishTimeout:
        async with asyncio.timeout(SAFETY_S), _client(mosquitto) as client:
            publisher = CheckedPublisher(client)
            mosquitto.pause()
            try:
                with pytest.raises(PublishTimeout) as timed_out:
                    await publisher.publish("t/x", b"unanswered", ack_timeout=0.2)
                assert publisher.in_flight == 0
            finally:
                mosquitto.resume()
            # The late PUBACK for the expired publish is ignored; the link still works.
            assert (await publisher.publish("t/x", b"next")).reason_code < 0x80
            return timed_out.value

    assert "within 0.2 s" in str(asyncio.run(body()))


def test_an_oversized_publish_costs_the_connection(mosquitto_factory: BrokerFactory) -> None:
    """Mosquitto 2.0.11 answers a publish above ``message_size_limit`` with PUBACK 0x95, which
    MQTT 5 does not allow in a PUBACK: paho 2.2 treats it as a protocol error and drops the
    connection. The sync link must keep its messages under the broker's limit."""
    broker = mosquitto_factory(extra_config="message_size_limit 1000", verbose_log=True)

    async def body() -> PublishConnectionLost:
        async with asyncio.timeout(SAFETY_S), _client(broker) as client:
            with pytest.raises(PublishConnectionLost) as lost:
                await CheckedPublisher(client).publish("t/big", bytes(5000))
            return lost.value

    assert asyncio.run(body()).reason == "Protocol error"
    assert "Dropped too large PUBLISH" in broker.log


def test_a_cancelled_publish_leaves_no_bookkeeping(mosquitto: MosquittoBroker) -> None:
    async def body() -> None:
        async with asyncio.timeout(SAFETY_S), _client(mosquitto) as client:
            publisher = CheckedPublisher(client)
            mosquitto.pause()
            try:
                pending = publisher.send("t/x", b"abandoned")
                assert publisher.in_flight == 1
                pending.cancel()
                await asyncio.sleep(0)
                assert publisher.in_flight == 0
            finally:
                mosquitto.resume()
            assert (await publisher.publish("t/x", b"next")).reason_code < 0x80

    asyncio.run(body())


def test_the_sliding_window_bounds_in_flight_and_reports_each_outcome(
    mosquitto_factory: BrokerFactory,
) -> None:
    broker = mosquitto_factory(acl=ACL, max_queued_messages=10_000)
    count, window_size = 600, 50

    async def body() -> tuple[list[PublishAck | BaseException], int, int]:
        async with (
            asyncio.timeout(SAFETY_S),
            _client(broker) as subscriber,
            _client(broker) as client,
        ):
            await subscriber.subscribe("allowed/#", qos=1)
            window = SlidingWindow(CheckedPublisher(client), size=window_size)
            assert client.pending_calls_threshold >= window_size
            futures = []
            peak = 0
            for i in range(count):
                topic = "denied/x" if i % 100 == 7 else "allowed/x"
                futures.append(await window.submit(topic, i.to_bytes(4, "big")))
                peak = max(peak, window.in_flight)
            await window.drain()
            assert window.in_flight == 0
            outcomes = list(await asyncio.gather(*futures, return_exceptions=True))
            received = 0
            async for _message in subscriber.messages:
                received += 1
                if received == count - 6:
                    break
            return outcomes, peak, received

    outcomes, peak, received = asyncio.run(body())
    assert peak <= window_size
    rejected = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, PublishRejected)]
    assert rejected == [i for i in range(count) if i % 100 == 7]
    assert all(
        isinstance(outcome, PublishAck)
        for i, outcome in enumerate(outcomes)
        if i not in set(rejected)
    )
    assert received == count - 6
