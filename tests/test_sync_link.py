"""The sync link against a real Mosquitto, with a tiny hospital in the test (no MQTT mocks).

The hospital here subscribes to the device's records, status and replies, decodes everything
with the protocol module, "commits" records into a dict and acknowledges each batch on its
response topic with its correlation data - unless a test tells it not to. Everything runs on a
real-time loop; faults are triggered by what has arrived (not by sleeping), and every wait is
bounded by a generous safety timeout that only a hang reaches.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import cbor2
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.config.schema import SyncConfig
from agent.events import (
    CommandAnswered,
    CommandReceived,
    DoorChanged,
    Event,
    EventType,
    HardwareFault,
    RecordId,
    RecordUnreadable,
    TemperatureSample,
)
from agent.journal import Journal
from agent.runtime.stream import EventStream
from agent.sync.link import LinkSettings, SyncLink
from agent.sync.nonces import NonceStore
from agent.sync.protocol import (
    CONTENT_TYPE,
    BatchAck,
    BatchLimits,
    Birth,
    Command,
    CommandReply,
    Death,
    Ping,
    RecordBatch,
    Resync,
    Topic,
    TopicKind,
    decode_message,
    encode_message,
    parse_topic,
)
from tests.support.broker import MosquittoBroker
from tests.support.fault_proxy import ThreadedFaultProxy

SAFETY_S = 90.0
SITE = "stmary"
DEVICE = "cab-01"
TOPIC = Topic(SITE, DEVICE, TopicKind.STATUS)
T = TypeVar("T")
BrokerFactory = Callable[..., MosquittoBroker]
ProxyFactory = Callable[..., ThreadedFaultProxy]


class RealClock:
    """The system's clocks, reported synchronised."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall_ns(self) -> int:
        return time.time_ns()

    def synchronised(self) -> bool:
        return True


def run(body: Coroutine[Any, Any, T]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(SAFETY_S):
            return await body

    return asyncio.run(bounded())


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Poll until ``predicate()``; the test's safety timeout is the only bound."""
    while not predicate():  # noqa: ASYNC110 - watching other tasks' state, no event to wait on
        await asyncio.sleep(0.01)
    del what  # named for the reader of a hanging test's traceback


async def until_async(predicate: Callable[[], Awaitable[bool]]) -> None:
    while not await predicate():  # noqa: ASYNC110 - the journal's state, no event to wait on
        await asyncio.sleep(0.02)


def publish_properties(
    correlation: bytes | None, response_topic: Topic | None = None
) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ContentType = CONTENT_TYPE
    if correlation is not None:
        properties.CorrelationData = correlation
    if response_topic is not None:
        properties.ResponseTopic = str(response_topic)
    return properties


# --- the hospital ------------------------------------------------------------------------


@dataclass
class Hospital:
    """A minimal receiver: stores records by identity, acks each batch after "committing"."""

    host: str
    port: int
    should_ack: Callable[[RecordBatch], bool] = lambda _batch: True
    batches: list[tuple[float, RecordBatch]] = field(default_factory=list)
    records: dict[tuple[int, int], Event] = field(default_factory=dict)
    deliveries: int = 0
    status: list[Birth | Death] = field(default_factory=list)
    replies: list[tuple[bytes | None, CommandReply]] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    client: aiomqtt.Client | None = None

    async def run(self) -> None:
        while True:
            with contextlib.suppress(aiomqtt.MqttError):
                await self._serve()
            self.connected.clear()
            await asyncio.sleep(0.05)

    async def _serve(self) -> None:
        client = aiomqtt.Client(
            self.host, self.port, protocol=aiomqtt.ProtocolVersion.V5, identifier="hospital"
        )
        async with client:
            await client.subscribe(
                [(str(TOPIC.sibling(kind)), 1) for kind in (TopicKind.RECORDS, TopicKind.REPLIES)]
                + [(str(TOPIC), 1)]
            )
            self.client = client
            self.connected.set()
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                assert message.properties is not None
                assert getattr(message.properties, "ContentType", None) == CONTENT_TYPE
                decoded = decode_message(message.payload, parse_topic(message.topic.value))
                correlation = getattr(message.properties, "CorrelationData", None)
                if isinstance(decoded, RecordBatch):
                    await self._commit(client, decoded, message.properties)
                elif isinstance(decoded, Birth | Death):
                    self.status.append(decoded)
                elif isinstance(decoded, CommandReply):
                    self.replies.append((correlation, decoded))

    async def _commit(
        self, client: aiomqtt.Client, batch: RecordBatch, properties: Properties
    ) -> None:
        self.batches.append((time.monotonic(), batch))
        self.deliveries += len(batch.records)
        for event in batch.records:
            key = (event.id.boot_epoch, event.id.sequence)
            assert self.records.setdefault(key, event) == event  # same identity, same content
        if self.should_ack(batch):
            response_topic = getattr(properties, "ResponseTopic", None)
            assert response_topic == str(TOPIC.sibling(TopicKind.ACKS))
            await client.publish(
                response_topic,
                encode_message(BatchAck.committed(batch)),
                qos=1,
                properties=publish_properties(getattr(properties, "CorrelationData", None)),
            )

    async def send(self, payload: bytes, correlation: bytes) -> None:
        """Publish raw bytes on the device's commands topic, as a command."""
        assert self.client is not None
        properties = publish_properties(correlation, TOPIC.sibling(TopicKind.REPLIES))
        await self.client.publish(
            str(TOPIC.sibling(TopicKind.COMMANDS)), payload, qos=1, properties=properties
        )

    async def command(self, command: Command, correlation: bytes) -> CommandReply:
        """Send ``command`` and wait for the reply carrying ``correlation``."""
        await self.send(encode_message(command), correlation)
        return await self.reply(correlation)

    async def reply(self, correlation: bytes) -> CommandReply:
        while True:
            for seen, reply in self.replies:
                if seen == correlation:
                    return reply
            await asyncio.sleep(0.01)

    def of_type(self, kind: EventType) -> list[Event]:
        return [e for _, e in sorted(self.records.items()) if e.type is kind]


def command(args: Ping | Resync, *, request_id: str = "req-1", expires_in_s: float = 60.0,
            nonce: bytes | None = None) -> Command:  # fmt: skip
    now = time.time_ns()
    return Command(
        device=DEVICE,
        request_id=request_id,
        issued_ns=now - 1_000_000_000,
        expires_ns=now + int(expires_in_s * 1e9),
        nonce=os.urandom(16) if nonce is None else nonce,
        args=args,
    )


# --- the device --------------------------------------------------------------------------


@dataclass
class Device:
    journal: Journal
    stream: EventStream
    link: SyncLink

    async def record_doors(self, count: int) -> None:
        for index in range(count):
            await self.stream.record(DoorChanged("main", index % 2 == 0))


FAST = LinkSettings(backoff_base_s=0.05, backoff_cap_s=0.5)


async def open_device(
    tmp_path: Path,
    url: str,
    settings: LinkSettings = FAST,
    *,
    boot_epoch: int = 1,
    backlog: int = 0,
    period_ns: int = 10**10,
) -> Device:
    """The journal (with ``backlog`` sampling ticks of an earlier boot epoch), stream and link."""
    journal = await Journal.open(tmp_path / "journal.db", device_id=DEVICE)
    if backlog:
        await append_samples(journal, backlog, period_ns=period_ns)
    clock = RealClock()
    stream = EventStream(
        device_id=DEVICE,
        boot_epoch=boot_epoch,
        clock=clock,
        sink=journal,
        first_sequence=journal.next_sequence,
    )
    link = SyncLink(
        config=SyncConfig(broker_url=url),
        site=SITE,
        boot_epoch=boot_epoch,
        journal=journal,
        stream=stream,
        clock=clock,
        nonces=NonceStore(tmp_path / "nonces.db"),
        settings=settings,
        rng=random.Random(7),
    )
    return Device(journal, stream, link)


@contextlib.asynccontextmanager
async def running(*bodies: Coroutine[Any, Any, Any]) -> Any:
    """Run the coroutines (the link, the hospital) as tasks; cancel them on the way out."""
    tasks = [asyncio.create_task(body) for body in bodies]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def drain(device: Device, hospital: Hospital) -> None:
    """Run the hospital and the device's link until the hospital has acknowledged every record
    of the device's journal, then close the journal."""
    async with running(hospital.run()):
        await hospital.connected.wait()
        async with running(device.link.run()):
            await until_async(lambda: all_acknowledged(device.journal))
    await device.journal.close()


async def all_acknowledged(journal: Journal) -> bool:
    return await journal.pending_count() == 0


PROBES = tuple(f"probe-{p}" for p in range(8))


def sample(sequence: int, epoch: int, wall_ns: int, celsius: tuple[float, ...]) -> Event:
    """The tick of the 8 probes, one reading each."""
    return Event(
        RecordId(DEVICE, epoch, sequence),
        wall_ns,
        wall_ns - 1_700_000_000_000_000_000,
        True,
        TemperatureSample(PROBES, celsius),
    )


async def append_samples(journal: Journal, count: int, *, period_ns: int = 10**10) -> None:
    """``count`` sampling ticks of 8 probes, ``period_ns`` apart, ending now."""
    start = time.time_ns() - (count + 1) * period_ns
    rng = random.Random(3)
    events = [
        sample(
            journal.next_sequence + i,
            0,
            start + i * period_ns + rng.randrange(10**6),
            tuple(round(4.0 + rng.uniform(-0.05, 0.05), 2) for _ in PROBES),
        )
        for i in range(count)
    ]
    await journal.append_many(events)


# --- tests -------------------------------------------------------------------------------


def test_records_arrive_are_acknowledged_and_marked_with_birth_and_death(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def body() -> tuple[Hospital, Device, int]:
        device = await open_device(tmp_path, mosquitto.url, backlog=300)
        hospital = Hospital(mosquitto.host, mosquitto.port)
        async with running(hospital.run()) as _:
            await hospital.connected.wait()
            async with running(device.link.run()):
                await device.record_doors(20)  # live, appended through the stream
                await until_async(lambda: all_acknowledged(device.journal))
                await device.record_doors(5)  # the link wakes up for these
                await until_async(lambda: all_acknowledged(device.journal))
                births = [s for s in hospital.status if isinstance(s, Birth)]
            # Cancelled: an orderly stop says goodbye with the death certificate.
            await until(lambda: isinstance(hospital.status[-1], Death), "the death")
        last = await device.journal.last_acknowledged()
        await device.journal.close()
        assert births
        assert births[0].connection == 1
        assert births[0].epoch == 1
        assert last is not None
        return hospital, device, last

    hospital, device, last = run(body())
    assert len(hospital.records) == 325 == last + 1
    assert device.link.connections == 1
    assert all(
        batch.historical for _, batch in hospital.batches if batch.records[0].id.sequence < 300
    )


def test_a_batch_whose_ack_never_comes_is_sent_again_after_the_timeout(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    seen: set[int] = set()

    def ack_the_second_time(batch: RecordBatch) -> bool:
        first = batch.records[0].id.sequence
        if first in seen:
            return True
        seen.add(first)
        return False

    async def body() -> Hospital:
        settings = LinkSettings(
            ack_timeout_s=0.3, limits=BatchLimits(max_records=50), backoff_base_s=0.05
        )
        device = await open_device(tmp_path, mosquitto.url, settings, backlog=200)
        hospital = Hospital(mosquitto.host, mosquitto.port, should_ack=ack_the_second_time)
        await drain(device, hospital)
        return hospital

    hospital = run(body())
    assert len(hospital.records) == 200
    assert hospital.deliveries >= 400  # every record went twice: once unanswered, once acked


def test_the_broker_killed_and_restarted_mid_drain_loses_nothing(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def body() -> tuple[Hospital, int]:
        settings = LinkSettings(
            limits=BatchLimits(max_records=100), window=4, backoff_base_s=0.05, backoff_cap_s=0.3
        )
        device = await open_device(tmp_path, mosquitto.url, settings, backlog=5000)
        hospital = Hospital(mosquitto.host, mosquitto.port)
        async with running(hospital.run(), device.link.run()):
            await until(lambda: len(hospital.records) >= 1000, "a fifth has arrived")
            await asyncio.to_thread(mosquitto.kill)
            pending_while_down = await device.journal.pending_count()
            await asyncio.sleep(0.3)
            await asyncio.to_thread(mosquitto.start)
            await until_async(lambda: all_acknowledged(device.journal))
        await device.journal.close()
        return hospital, pending_while_down

    hospital, pending_while_down = run(body())
    assert pending_while_down > 0  # the kill did land mid-drain
    assert len(hospital.records) == 5000
    assert hospital.deliveries >= 5000  # duplicates at most


def test_connections_cut_repeatedly_during_a_drain_lose_nothing(
    mosquitto: MosquittoBroker, fault_proxy_factory: ProxyFactory, tmp_path: Path
) -> None:
    proxy = fault_proxy_factory(mosquitto.host, mosquitto.port)

    async def body() -> tuple[Hospital, int]:
        settings = LinkSettings(
            limits=BatchLimits(max_records=100), window=4, backoff_base_s=0.02, backoff_cap_s=0.2
        )
        url = f"mqtt://{proxy.host}:{proxy.port}"
        device = await open_device(tmp_path, url, settings, backlog=6000)
        hospital = Hospital(mosquitto.host, mosquitto.port)  # directly on the broker
        cuts = 0
        async with running(hospital.run(), device.link.run()):
            for threshold in range(1000, 6000, 1000):
                await until(lambda t=threshold: len(hospital.records) >= t, "more arrived")  # type: ignore[misc]
                if await device.journal.pending_count() == 0:
                    break
                cuts += await asyncio.to_thread(proxy.cut)
            await until_async(lambda: all_acknowledged(device.journal))
        await device.journal.close()
        return hospital, cuts

    hospital, cuts = run(body())
    assert cuts >= 3
    assert proxy.accepted >= cuts + 1  # the link reconnected after every cut
    assert len(hospital.records) == 6000


def test_a_week_of_backlog_drains_while_live_records_get_through(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def body() -> tuple[Hospital, list[int]]:
        settings = LinkSettings(limits=BatchLimits(max_records=500), window=4)
        # A week offline: a tick of 8 probes every 10 s, stamped over the last 7 days.
        device = await open_device(tmp_path, mosquitto.url, settings, backlog=60_480)
        hospital = Hospital(mosquitto.host, mosquitto.port)
        live: list[int] = []
        async with running(hospital.run()):
            await hospital.connected.wait()
            async with running(device.link.run()):
                for threshold in (2000, 10_000, 20_000):
                    await until(lambda t=threshold: len(hospital.records) >= t, "backlog flows")  # type: ignore[misc]
                    live.append((await device.stream.record(DoorChanged("main", True))).id.sequence)
                await until_async(lambda: all_acknowledged(device.journal))
        await device.journal.close()
        return hospital, live

    hospital, live = run(body())
    assert len(hospital.records) == 60_483
    arrival: dict[int, tuple[int, bool]] = {}
    for index, (_, batch) in enumerate(hospital.batches):
        for event in batch.records:
            arrival.setdefault(event.id.sequence, (index, batch.historical))
    backlog_batches = [i for i, (_, b) in enumerate(hospital.batches) if b.historical]
    for sequence in live:
        index, historical = arrival[sequence]
        assert not historical
        # Not stuck behind the backlog: most of it was still to come when the live record got in.
        still_to_come = sum(1 for i in backlog_batches if i > index)
        assert still_to_come >= 30, (sequence, index, still_to_come)
    assert all(
        event.id.boot_epoch == 0 for _, b in hospital.batches if b.historical for event in b.records
    )
    # The backlog goes in full batches: a read of the outbox is not cut short by the stored
    # ticks' bytes (several times their share of a compact batch on the wire).
    sizes = [len(b.records) for _, b in hospital.batches if b.historical]
    assert len(sizes) <= 60_480 // 500 + 4, sizes


def test_samples_journaled_by_an_earlier_build_arrive_as_ticks_of_their_one_probe(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """A device upgraded with records pending from before samples became ticks: each old
    per-probe sample (``{"probe": p, "celsius": c}`` in the journal) goes as the tick of that
    one probe, in the same batches as the ticks recorded since."""
    legacy = {sequence: (f"probe-{sequence % 8}", 4.0 + sequence / 100) for sequence in range(40)}

    async def body() -> Hospital:
        device = await open_device(tmp_path, mosquitto.url, backlog=60)
        with sqlite3.connect(tmp_path / "journal.db") as connection:
            connection.executemany(
                "UPDATE records SET payload = ?, series = ? WHERE sequence = ?",
                [
                    (cbor2.dumps({"probe": probe, "celsius": celsius}), probe, sequence)
                    for sequence, (probe, celsius) in legacy.items()
                ],
            )
        connection.close()
        hospital = Hospital(mosquitto.host, mosquitto.port)
        await drain(device, hospital)
        return hospital

    hospital = run(body())
    assert len(hospital.records) == 60
    for (_, sequence), event in hospital.records.items():
        assert isinstance(event.payload, TemperatureSample)
        if sequence in legacy:
            probe, celsius = legacy[sequence]
            assert event.payload == TemperatureSample((probe,), (celsius,))
        else:
            assert event.payload.probes == PROBES


# --- commands ----------------------------------------------------------------------------


def test_resync_makes_acknowledged_records_go_again(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def body() -> tuple[Hospital, CommandReply]:
        device = await open_device(tmp_path, mosquitto.url)
        hospital = Hospital(mosquitto.host, mosquitto.port)
        await device.record_doors(30)
        async with running(hospital.run()):
            await hospital.connected.wait()
            async with running(device.link.run()):
                await until_async(lambda: all_acknowledged(device.journal))
                before = hospital.deliveries
                reply = await hospital.command(command(Resync(from_sequence=10)), b"c-1")
                # 20 doors, plus the command's own two records, all go again.
                await until(lambda: hospital.deliveries >= before + 20, "resent")
                await until_async(lambda: all_acknowledged(device.journal))
        await device.journal.close()
        return hospital, reply

    hospital, reply = run(body())
    assert (reply.request_id, reply.outcome, reply.reason) == ("req-1", "done", None)
    resent = [e.id.sequence for _, b in hospital.batches for e in b.records]
    assert all(resent.count(s) >= 2 for s in range(10, 30))
    assert all(resent.count(s) == 1 for s in range(10))
    received = hospital.of_type(EventType.COMMAND_RECEIVED)
    answered = hospital.of_type(EventType.COMMAND_ANSWERED)
    assert [e.payload for e in answered] == [CommandAnswered("req-1", "done")]
    assert isinstance(received[0].payload, CommandReceived)
    assert received[0].payload.arguments == '{"from_sequence": 10}'
    assert received[0].id.sequence < answered[0].id.sequence  # journaled before acting


def test_expired_replayed_and_malformed_commands_are_refused_and_journaled(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    nonce = os.urandom(16)

    async def body() -> tuple[Hospital, list[CommandReply]]:
        device = await open_device(tmp_path, mosquitto.url)
        hospital = Hospital(mosquitto.host, mosquitto.port)
        replies = []
        async with running(hospital.run()):
            await hospital.connected.wait()
            async with running(device.link.run()):
                await until(lambda: device.link.connected, "the link is up")
                expired = command(Ping(), request_id="old", expires_in_s=-0.5)
                replies.append(await hospital.command(expired, b"1"))
                once = command(Ping(), request_id="once", nonce=nonce)
                replies.append(await hospital.command(once, b"2"))
                replies.append(await hospital.command(once, b"3"))
                bad = cbor2.loads(encode_message(command(Resync(5), request_id="bad")))
                bad["args"] = {"from_sequence": "five"}
                await hospital.send(cbor2.dumps(bad), b"4")
                replies.append(await hospital.reply(b"4"))
                # No request id to answer to: logged and ignored; the next command still works.
                await hospital.send(b"\xff garbage", b"5")
                replies.append(await hospital.command(command(Ping(), request_id="after"), b"6"))
                await until_async(lambda: all_acknowledged(device.journal))
        await device.journal.close()
        # A restart remembers the nonce: the same command is still a replay.
        device = await open_device(tmp_path, mosquitto.url)
        async with running(hospital.run()):
            await hospital.connected.wait()
            async with running(device.link.run()):
                await until(lambda: device.link.connected, "the link is up again")
                replies.append(await hospital.command(once, b"7"))
                await until_async(lambda: all_acknowledged(device.journal))
        await device.journal.close()
        return hospital, replies

    hospital, replies = run(body())
    assert [(r.request_id, r.outcome, r.reason) for r in replies] == [
        ("old", "refused", "expired"),
        ("once", "done", None),
        ("once", "refused", "replayed"),
        ("bad", "refused", "malformed"),
        ("after", "done", None),
        ("once", "refused", "replayed"),
    ]
    assert not any(c == b"5" for c, _ in hospital.replies)
    answered = [e.payload for e in hospital.of_type(EventType.COMMAND_ANSWERED)]
    assert [(a.request_id, a.reason) for a in answered if isinstance(a, CommandAnswered)] == [
        ("old", "expired"),
        ("once", None),
        ("once", "replayed"),
        ("bad", "malformed"),
        ("after", None),
        ("once", "replayed"),
    ]
    received = [e.payload.request_id for e in hospital.of_type(EventType.COMMAND_RECEIVED)]  # type: ignore[union-attr]
    # The malformed one is journaled as its refusal only.
    assert received == ["old", "once", "once", "after", "once"]


def test_a_publish_denied_by_the_broker_is_not_taken_as_sent(
    mosquitto_factory: BrokerFactory, tmp_path: Path
) -> None:
    acl = (
        "".join(
            f"topic readwrite hemotrace/v2/+/+/{kind}\n"
            for kind in ("status", "acks", "commands", "replies")
        )
        + "topic read hemotrace/v2/+/+/records\n"
    )
    broker = mosquitto_factory(acl=acl, verbose_log=True)

    async def body() -> tuple[int, Hospital]:
        settings = LinkSettings(publish_retry_s=0.1, backoff_base_s=0.05)
        device = await open_device(tmp_path, broker.url, settings)
        hospital = Hospital(broker.host, broker.port)
        await device.record_doors(10)
        async with running(hospital.run()):
            await hospital.connected.wait()
            async with running(device.link.run()):
                # Refused, held, tried again, refused again - on one connection.
                await until(lambda: broker.log.count("Denied PUBLISH") >= 3, "retries")
                connections = device.link.connections
                pending = await device.journal.pending_count()
        await device.journal.close()
        assert connections == 1
        return pending, hospital

    pending, hospital = run(body())
    assert pending == 10
    assert not hospital.records
    assert hospital.status  # the birth went through: only the records topic is denied


def test_batches_nobody_received_are_sent_again_soon_not_after_the_ack_timeout(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    """With no receiver subscribed the broker answers 0x10 (no matching subscribers): nobody
    will ever acknowledge, so the link retries after ``publish_retry_s`` instead of waiting out
    a long ack timeout - records sent before the hospital came up still arrive promptly."""

    async def body() -> Hospital:
        settings = LinkSettings(
            ack_timeout_s=3600.0, publish_retry_s=0.2, backoff_base_s=0.05, backoff_cap_s=0.5
        )
        device = await open_device(tmp_path, mosquitto.url, settings, backlog=100)
        async with running(device.link.run()):
            await until(lambda: device.link.connected, "the link")
            await device.record_doors(10)
            await asyncio.sleep(0.5)  # published into the void
            hospital = Hospital(mosquitto.host, mosquitto.port)
            async with running(hospital.run()):
                await hospital.connected.wait()
                await until_async(lambda: all_acknowledged(device.journal))
        await device.journal.close()
        return hospital

    hospital = run(body())
    assert len(hospital.records) == 110


def test_a_damaged_journal_record_goes_as_unreadable_and_never_blocks_the_rest(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    async def prepare() -> None:
        device = await open_device(tmp_path, mosquitto.url)
        await device.record_doors(10)
        await device.journal.close()

    run(prepare())
    with sqlite3.connect(tmp_path / "journal.db") as database:  # a sector gone bad
        database.execute("UPDATE records SET payload = X'A2FF00' WHERE sequence = 4")

    async def body() -> Hospital:
        device = await open_device(tmp_path, mosquitto.url, boot_epoch=2)
        hospital = Hospital(mosquitto.host, mosquitto.port)
        async with running(hospital.run()):
            await hospital.connected.wait()
            async with running(device.link.run()):
                await device.record_doors(3)
                await until_async(lambda: all_acknowledged(device.journal))
        await device.journal.close()
        return hospital

    hospital = run(body())
    doors = hospital.of_type(EventType.DOOR_CHANGED)
    assert len(doors) == 12  # the other nine of the first boot and three of the second
    (stand_in,) = hospital.of_type(EventType.RECORD_UNREADABLE)
    assert stand_in.id.sequence == 4
    assert isinstance(stand_in.payload, RecordUnreadable)
    assert stand_in.payload.original_type == "door_changed"
    assert stand_in.payload.raw == "a2ff00"
    (fault,) = hospital.of_type(EventType.HARDWARE_FAULT)
    assert isinstance(fault.payload, HardwareFault)
    assert fault.payload.part == "journal"
    assert "record 1/4 (door_changed) cannot be read" in fault.payload.detail
