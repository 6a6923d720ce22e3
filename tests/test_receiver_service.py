"""The receiver service against a real Mosquitto, with a fake device made of protocol messages.

Real time (``asyncio.run``); every wait has a generous safety timeout that only a broken test
reaches. The fake device publishes hand-built :class:`RecordBatch` messages with a response
topic and correlation data, and listens on its ``acks`` and ``commands`` topics.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path

import aiomqtt
import cbor2
import pytest

from agent.events import DoorChanged, Event, RecordId, TemperatureSample
from agent.sync.protocol import (
    CONTENT_TYPE,
    VERSION,
    AckStatus,
    BatchAck,
    Command,
    CommandReply,
    Outcome,
    RecordBatch,
    RejectReason,
    Resync,
    SequenceRange,
    Topic,
    TopicKind,
    decode_message,
    encode_message,
)
from hospital_receiver.broker import BrokerSettings, publish_properties
from hospital_receiver.cli import main
from hospital_receiver.gaps import ResyncPolicy
from hospital_receiver.postgres_store import PostgresStore
from hospital_receiver.records import StoredRecord
from hospital_receiver.service import Receiver, ReceiverConfig
from hospital_receiver.sqlite_store import SqliteStore
from hospital_receiver.store import CommitResult, Query, RecordStore
from tests.support.broker import MosquittoBroker

SAFETY_S = 30.0
SITE = "stmary"
_correlations = itertools.count()


def event(device: str, sequence: int, epoch: int = 1) -> Event:
    payload = (
        TemperatureSample(("air", "product"), (4.25, 4.5))
        if sequence % 2
        else DoorChanged("main", open=True)
    )
    mono = 1_000_000_000 * (sequence + 1)
    return Event(
        RecordId(device, epoch, sequence), mono + 1_700_000_000 * 10**9, mono, True, payload
    )


def batch(device: str, sequences: Iterable[int], *, historical: bool = False) -> bytes:
    records = tuple(event(device, n) for n in sequences)
    return encode_message(RecordBatch(device, records, historical=historical))


class FakeDevice:
    """A device's MQTT side: sends batches, collects acks by correlation data, and commands."""

    def __init__(self, client: aiomqtt.Client, device: str) -> None:
        self.client = client
        self.device = device
        self.topic = Topic(SITE, device, TopicKind.RECORDS)
        self.acks: dict[bytes, BatchAck] = {}
        self.commands: asyncio.Queue[tuple[Command, aiomqtt.Message]] = asyncio.Queue()
        self._arrived = asyncio.Condition()

    async def send(
        self,
        payload: bytes,
        *,
        content_type: str | None = CONTENT_TYPE,
        response_topic: str | None = None,
    ) -> bytes:
        """Publish a batch; its correlation data."""
        correlation = f"{self.device}-{next(_correlations)}".encode()
        properties = publish_properties(
            correlation=correlation,
            response_topic=response_topic or str(self.topic.sibling(TopicKind.ACKS)),
        )
        if content_type is None:
            del properties.ContentType
        else:
            properties.ContentType = content_type
        await self.client.publish(str(self.topic), payload, qos=1, properties=properties)
        return correlation

    async def ack(self, correlation: bytes) -> BatchAck:
        async with self._arrived:
            await self._arrived.wait_for(lambda: correlation in self.acks)
        return self.acks[correlation]

    async def exchange(self, payload: bytes, **options: str | None) -> BatchAck:
        return await self.ack(await self.send(payload, **options))

    async def listen(self) -> None:
        acks = self.topic.sibling(TopicKind.ACKS)
        commands = self.topic.sibling(TopicKind.COMMANDS)
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            if message.topic.matches(str(acks)):
                ack = decode_message(message.payload, acks)
                assert isinstance(ack, BatchAck)
                assert message.properties is not None
                assert message.properties.ContentType == CONTENT_TYPE
                async with self._arrived:
                    self.acks[message.properties.CorrelationData] = ack
                    self._arrived.notify_all()
            elif message.topic.matches(str(commands)):
                command = decode_message(message.payload, commands)
                assert isinstance(command, Command)
                await self.commands.put((command, message))


@contextlib.asynccontextmanager
async def fake_device(broker: MosquittoBroker, device: str) -> AsyncIterator[FakeDevice]:
    settings = BrokerSettings(broker.host, broker.port)
    async with settings.client("fake-device") as client:
        fake = FakeDevice(client, device)
        await client.subscribe(str(fake.topic.sibling(TopicKind.ACKS)), qos=1)
        await client.subscribe(str(fake.topic.sibling(TopicKind.COMMANDS)), qos=1)
        listener = asyncio.create_task(fake.listen())
        try:
            yield fake
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener


@contextlib.asynccontextmanager
async def running(
    broker: MosquittoBroker,
    open_store: Callable[[], RecordStore],
    *,
    group: str = "receivers",
    resync: ResyncPolicy | None = None,
) -> AsyncIterator[Receiver]:
    config = ReceiverConfig(
        broker=BrokerSettings(broker.host, broker.port),
        group=group,
        resync=resync or ResyncPolicy(),
    )
    receiver = Receiver(config, open_store)
    task = asyncio.create_task(receiver.run())
    try:
        await receiver.ready.wait()
        yield receiver
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sequences(path: Path | str, device: str) -> list[int]:
    store = SqliteStore(path) if isinstance(path, Path) else PostgresStore(path)
    try:
        return [identity.sequence for identity in store.identities(device)]
    finally:
        store.close()


def committed(*ranges: tuple[int, int, int]) -> tuple[AckStatus, tuple[SequenceRange, ...]]:
    return AckStatus.COMMITTED, tuple(SequenceRange(*r) for r in ranges)


def status(ack: BatchAck) -> tuple[AckStatus, tuple[SequenceRange, ...]]:
    return ack.status, ack.ranges


def test_a_batch_is_committed_then_acked_and_a_resend_is_stored_once(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    db = tmp_path / "r.db"

    async def body() -> tuple[BatchAck, BatchAck]:
        async with (
            asyncio.timeout(SAFETY_S),
            running(mosquitto, lambda: SqliteStore(db)),
            fake_device(mosquitto, "cab-1") as device,
        ):
            correlation = await device.send(batch("cab-1", [0, 1, 2, 4]))
            first = await device.ack(correlation)
            assert sequences(db, "cab-1") == [0, 1, 2, 4], "acked only once committed"
            again = await device.exchange(batch("cab-1", [0, 1, 2, 4]))
            return first, again

    first, again = asyncio.run(body())
    assert status(first) == committed((1, 0, 2), (1, 4, 4))
    assert again == first
    assert sequences(db, "cab-1") == [0, 1, 2, 4]


class PausingStore(SqliteStore):
    """A real SQLite store that, once armed, stops right after a commit until released: the
    moment between the receiver's commit and its ack, made to last."""

    def __init__(self, path: Path, committed: threading.Event, release: threading.Event) -> None:
        super().__init__(path)
        self._committed = committed
        self._release = release

    def commit(self, records: Sequence[StoredRecord]) -> CommitResult:
        result = super().commit(records)
        self._committed.set()
        self._release.wait(SAFETY_S)
        return result


def test_a_receiver_killed_between_commit_and_ack_dedups_the_resend(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    db = tmp_path / "r.db"
    was_committed, release = threading.Event(), threading.Event()

    async def body() -> tuple[BatchAck | None, BatchAck]:
        async with asyncio.timeout(SAFETY_S), fake_device(mosquitto, "cab-1") as device:
            config = ReceiverConfig(broker=BrokerSettings(mosquitto.host, mosquitto.port))
            receiver = Receiver(config, lambda: PausingStore(db, was_committed, release))
            service = asyncio.create_task(receiver.run())
            await receiver.ready.wait()
            correlation = await device.send(batch("cab-1", range(5)))
            await asyncio.to_thread(was_committed.wait, SAFETY_S)
            assert sequences(db, "cab-1") == [0, 1, 2, 3, 4]
            # Killed now, between its commit and its ack: once its connection's tasks are gone
            # (ready cleared), the commit thread may return - there is nobody left to ack.
            service.cancel()
            while receiver.ready.is_set():  # noqa: ASYNC110 - no event for "cleared"
                await asyncio.sleep(0.01)
            release.set()
            with contextlib.suppress(asyncio.CancelledError):
                await service
            lost = device.acks.get(correlation)
            async with running(mosquitto, lambda: SqliteStore(db)):
                resent = await device.exchange(batch("cab-1", range(5)))
            return lost, resent

    lost, resent = asyncio.run(body())
    assert lost is None, "the killed receiver never acknowledged"
    assert status(resent) == committed((1, 0, 4))
    assert sequences(db, "cab-1") == [0, 1, 2, 3, 4]


def _with(data: bytes, **changes: object) -> bytes:
    fields = cbor2.loads(data)
    fields.update(changes)
    return cbor2.dumps(fields)


BAD = {
    "malformed-cbor": ({}, b"\xff\xfe\x00", RejectReason.MALFORMED),
    "oversized": ({}, b"\x00" * 300_000, RejectReason.TOO_LARGE),
    "earlier-version": ({}, _with(batch("cab-1", [7]), v=VERSION - 1), RejectReason.UNSUPPORTED),
    "later-version": ({}, _with(batch("cab-1", [7]), v=VERSION + 1), RejectReason.UNSUPPORTED),
    "wrong-device": ({}, batch("cab-2", [7]), RejectReason.WRONG_DEVICE),
    "content-type": (
        {"content_type": "application/json"},
        batch("cab-1", [7]),
        RejectReason.UNSUPPORTED,
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_batches_are_rejected_logged_and_nothing_else_is_affected(
    mosquitto: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    options, payload, reason = BAD[case]
    db = tmp_path / "r.db"

    async def body() -> tuple[BatchAck, BatchAck]:
        async with (
            asyncio.timeout(SAFETY_S),
            running(mosquitto, lambda: SqliteStore(db)),
            fake_device(mosquitto, "cab-1") as device,
        ):
            rejected = await device.exchange(payload, **options)
            good = await device.exchange(batch("cab-1", [0, 1]))
            return rejected, good

    with caplog.at_level(logging.INFO, "hospital_receiver"):
        rejected, good = asyncio.run(body())
    assert (rejected.status, rejected.reason) == (AckStatus.REJECTED, reason)
    logged = [r for r in caplog.records if r.getMessage() == "message rejected"]
    assert [r.fields["reason"] for r in logged] == [reason]  # type: ignore[attr-defined]
    assert logged[0].fields["device"] == "cab-1"  # type: ignore[attr-defined]
    assert status(good) == committed((1, 0, 1))
    assert sequences(db, "cab-1") == [0, 1], "nothing stored from the rejected message"
    assert sequences(db, "cab-2") == []


def test_acks_go_to_the_devices_own_topic_whatever_the_response_topic_says(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    db = tmp_path / "r.db"

    async def body() -> tuple[BatchAck, dict[bytes, BatchAck]]:
        async with (
            asyncio.timeout(SAFETY_S),
            running(mosquitto, lambda: SqliteStore(db)),
            fake_device(mosquitto, "cab-1") as device,
            fake_device(mosquitto, "cab-2") as victim,
        ):
            ack = await device.exchange(
                batch("cab-1", [0]), response_topic=str(victim.topic.sibling(TopicKind.ACKS))
            )
            await victim.exchange(batch("cab-2", [0]))  # the victim's own acks still arrive
            return ack, victim.acks

    ack, victim_acks = asyncio.run(body())
    assert status(ack) == committed((1, 0, 0))
    assert len(victim_acks) == 1


def test_a_gap_makes_the_receiver_ask_for_a_resync(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    db = tmp_path / "r.db"

    async def body() -> tuple[Command, aiomqtt.Message]:
        async with (
            asyncio.timeout(SAFETY_S),
            running(mosquitto, lambda: SqliteStore(db), resync=ResyncPolicy(grace_s=0)),
            fake_device(mosquitto, "cab-1") as device,
        ):
            await device.exchange(batch("cab-1", range(10)))
            assert device.commands.empty()
            await device.exchange(batch("cab-1", range(20, 30)))
            command, message = await device.commands.get()
            # The device answers on the response topic; the resync is then no longer outstanding.
            assert message.properties is not None
            reply = CommandReply("cab-1", command.request_id, Outcome.DONE)
            await device.client.publish(
                message.properties.ResponseTopic,
                encode_message(reply),
                qos=1,
                properties=publish_properties(correlation=message.properties.CorrelationData),
            )
            return command, message

    command, message = asyncio.run(body())
    assert command.args == Resync(10)
    assert command.device == "cab-1"
    assert command.expires_ns > command.issued_ns
    assert len(command.nonce) >= 16
    properties = message.properties
    assert properties is not None
    assert properties.ResponseTopic == f"hemotrace/v2/{SITE}/cab-1/replies"
    assert properties.CorrelationData == command.request_id.encode()
    assert properties.ContentType == CONTENT_TYPE
    assert 1 <= properties.MessageExpiryInterval <= 60


async def exchange_until_acked(device: FakeDevice, payload: bytes) -> BatchAck:
    """Send, and resend after an ack timeout, as a device does until a receiver answers."""
    while True:
        correlation = await device.send(payload)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                return await device.ack(correlation)


def test_the_receiver_reconnects_after_the_broker_restarts(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    db = tmp_path / "r.db"

    async def body() -> tuple[BatchAck, BatchAck]:
        async with asyncio.timeout(SAFETY_S), running(mosquitto, lambda: SqliteStore(db)):
            async with fake_device(mosquitto, "cab-1") as device:
                before = await device.exchange(batch("cab-1", range(2)))
            await asyncio.to_thread(mosquitto.restart, kill=True)
            async with fake_device(mosquitto, "cab-1") as device:
                after = await exchange_until_acked(device, batch("cab-1", range(2, 4)))
            return before, after

    before, after = asyncio.run(body())
    assert status(before) == committed((1, 0, 1))
    assert status(after) == committed((1, 2, 3))
    assert sequences(db, "cab-1") == [0, 1, 2, 3]


class CountingStore(SqliteStore):
    """A real SQLite store that counts the records each receiver committed."""

    def __init__(self, path: Path, counts: collections.Counter[str], name: str) -> None:
        super().__init__(path)
        self._counts = counts
        self._name = name

    def commit(self, records: Sequence[StoredRecord]) -> CommitResult:
        result = super().commit(records)
        self._counts[self._name] += len(records)
        return result


def test_two_receivers_in_one_group_share_the_work_and_store_each_record_once(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    db = tmp_path / "r.db"
    counts: collections.Counter[str] = collections.Counter()
    devices = [f"cab-{n}" for n in range(4)]

    async def body() -> list[BatchAck]:
        async with (
            asyncio.timeout(SAFETY_S),
            running(mosquitto, lambda: CountingStore(db, counts, "a"), group="hospital"),
            running(mosquitto, lambda: CountingStore(db, counts, "b"), group="hospital"),
            contextlib.AsyncExitStack() as stack,
        ):
            fakes = [await stack.enter_async_context(fake_device(mosquitto, d)) for d in devices]
            sent = [
                (fake, await fake.send(batch(fake.device, range(10 * n, 10 * n + 10))))
                for n in range(10)
                for fake in fakes
            ]
            return [await fake.ack(correlation) for fake, correlation in sent]

    acks = asyncio.run(body())
    assert all(ack.status is AckStatus.COMMITTED for ack in acks)
    assert counts["a"] > 0, "the first receiver got work"
    assert counts["b"] > 0, "the second receiver got work"
    assert counts["a"] + counts["b"] == 4 * 100, "each batch went to one receiver"
    for device in devices:
        assert sequences(db, device) == list(range(100))


def test_the_service_works_on_postgresql(mosquitto: MosquittoBroker, postgres_url: str) -> None:
    async def body() -> tuple[BatchAck, BatchAck]:
        async with (
            asyncio.timeout(SAFETY_S),
            running(mosquitto, lambda: PostgresStore(postgres_url)),
            fake_device(mosquitto, "cab-1") as device,
        ):
            first = await device.exchange(batch("cab-1", range(3), historical=True))
            again = await device.exchange(batch("cab-1", range(5)))
            return first, again

    first, again = asyncio.run(body())
    assert status(first) == committed((1, 0, 2))
    assert status(again) == committed((1, 0, 4))
    assert sequences(postgres_url, "cab-1") == [0, 1, 2, 3, 4]
    store = PostgresStore(postgres_url)
    try:
        historical = [r.historical for r in store.find(Query(device="cab-1"))]
    finally:
        store.close()
    assert historical == [True, True, True, False, False], "the first copy wins"


# -- the command line -------------------------------------------------------------------------


async def _replying_device(broker: MosquittoBroker, ready: asyncio.Event) -> Command:
    """A device that answers the first command it gets with ``done``."""
    async with fake_device(broker, "cab-1") as device:
        ready.set()
        command, message = await device.commands.get()
        assert message.properties is not None
        await device.client.publish(
            message.properties.ResponseTopic,
            encode_message(CommandReply("cab-1", command.request_id, Outcome.DONE)),
            qos=1,
            properties=publish_properties(correlation=message.properties.CorrelationData),
        )
        return command


def test_the_command_cli_sends_a_command_and_prints_the_reply(
    mosquitto: MosquittoBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["command", "--broker", mosquitto.url, "--site", SITE, "--device", "cab-1"]

    async def body() -> tuple[int, Command]:
        async with asyncio.timeout(SAFETY_S):
            ready = asyncio.Event()
            device = asyncio.create_task(_replying_device(mosquitto, ready))
            await ready.wait()
            code = await asyncio.to_thread(main, [*argv, "resync", "--from", "42"])
            return code, await device

    code, command = asyncio.run(body())
    assert code == 0
    assert command.args == Resync(42)
    assert capsys.readouterr().out == f"cab-1 {command.request_id} done\n"


def test_the_command_cli_without_a_reply_exits_1(
    mosquitto: MosquittoBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["command", "--broker", mosquitto.url, "--site", SITE, "--device", "cab-1"]

    async def body() -> tuple[int, int]:
        async with asyncio.timeout(SAFETY_S):
            offline = await asyncio.to_thread(main, [*argv, "ping"])
            async with fake_device(mosquitto, "cab-1"):  # subscribed, never answers
                silent = await asyncio.to_thread(main, [*argv, "--expires", "1s", "ping"])
            return offline, silent

    offline, silent = asyncio.run(body())
    err = capsys.readouterr().err
    assert (offline, silent) == (1, 1)
    assert "no subscriber" in err
    assert "no reply from cab-1 within 1 s" in err


def test_the_run_cli_serves_and_stops_cleanly_on_sigterm(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    db = tmp_path / "r.db"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("hemotrace-receiver")),
            "run",
            "--broker",
            mosquitto.url,
            "--db",
            str(db),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "msg=subscribed" in line:
                break
        else:
            pytest.fail("the receiver exited before subscribing")

        async def body() -> BatchAck:
            async with asyncio.timeout(SAFETY_S), fake_device(mosquitto, "cab-1") as device:
                return await device.exchange(batch("cab-1", range(3)))

        ack = asyncio.run(body())
        process.send_signal(signal.SIGTERM)
        assert process.wait(SAFETY_S) == 0
        assert "msg=stopped" in process.stderr.read()
    finally:
        process.kill()
        process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert status(ack) == committed((1, 0, 2))
    assert sequences(db, "cab-1") == [0, 1, 2]
