"""End to end, real processes: the broker, the network and the receiver failing during a drain;
hostile messages; commands.

Every test runs a real Mosquitto, a real receiver (``hemotrace-receiver run``, SQLite; its
database is the ground truth for "arrived") and the real agent (``hemotrace run`` on a small
simulated cabinet sampling 8 probes every 50 ms; its journal is the ground truth for
"committed"). Most start the agent with a backlog already in its journal (records of an earlier
boot epoch, as a device that was offline has), so that a fault can land in the middle of a
drain. Each test ends the same way: wait until everything the journal held is acknowledged,
stop the agent with SIGTERM, and check record by record (:func:`check_delivered`) that every
committed record arrived exactly once, unchanged, and nothing else did.

Nothing here measures time: every wait is a condition with a generous safety timeout. A
receiver killed mid-drain costs the agent's ack timeout (30 s) before the resend.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiomqtt
import cbor2
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.events import Event, RecordId, TemperatureSample
from agent.payload_codec import decode_payload
from agent.sync.protocol import (
    CONTENT_TYPE,
    VERSION,
    Command,
    CommandReply,
    Ping,
    RecordBatch,
    Topic,
    TopicKind,
    decode_message,
    encode_message,
)
from hal_sim.backlog import WEEK_OF_RECORDS
from tests.support.broker import MosquittoBroker
from tests.support.fault_proxy import ThreadedFaultProxy
from tests.support.processes import (
    Proc,
    ProcessGroup,
    check_delivered,
    drain,
    journal_path,
    journal_progress,
    prefill_journal,
    receiver_count,
    receiver_records,
    wait_for,
    write_profile,
)

SITE = "st-test"
DEVICE = "cab-faults"
BACKLOG = WEEK_OF_RECORDS  # a week offline: 60,480 sampling ticks of 8 probes, 5,000 others


class Rig:
    """One test's receiver database, agent state and processes."""

    def __init__(self, tmp_path: Path, processes: ProcessGroup) -> None:
        self.tmp_path = tmp_path
        self.processes = processes
        self.db = tmp_path / "receiver.db"
        self.state = tmp_path / "state"
        self.journal = journal_path(self.state, DEVICE)

    def profile(self, broker_url: str) -> Path:
        return write_profile(
            self.tmp_path / "cabinet.toml", device_id=DEVICE, site=SITE, broker_url=broker_url
        )

    def backlog(self, count: int = BACKLOG) -> int:
        """Records waiting in the journal before the agent starts; the agent's epoch will be 2."""
        prefill_journal(self.state, DEVICE, count)
        return count

    def receiver(self, broker_url: str) -> Proc:
        return self.processes.receiver(broker_url, self.db)

    def agent(self, broker_url: str) -> Proc:
        return self.processes.agent(self.profile(broker_url), self.state)

    def arrived(self) -> int:
        return receiver_count(self.db, DEVICE)

    def wait_arrived(self, count: int, *watch: Proc) -> None:
        wait_for(lambda: self.arrived() >= count, f"{count} records in the database", watch=watch)

    def finish(self, agent: Proc, *watch: Proc) -> None:
        """Let the agent drain, stop it, check every record it committed."""
        mark = drain(self.journal, self.db, DEVICE, watch=[agent, *watch])
        assert agent.terminate() == 0
        check_delivered(self.journal, self.db, DEVICE, mark)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(tmp_path / "logs")
    try:
        yield group
    finally:
        group.close()
        sys.stderr.write(group.report())  # shown with a failing test's report


@pytest.fixture
def rig(tmp_path: Path, processes: ProcessGroup) -> Rig:
    return Rig(tmp_path, processes)


def _wait_log(process: Proc, pattern: str, what: str) -> re.Match[str]:
    found: list[re.Match[str]] = []

    def seen() -> bool:
        match = re.search(pattern, process.log)
        if match:
            found.append(match)
        return match is not None

    wait_for(seen, what, watch=[process])
    return found[0]


# --- faults during a drain -------------------------------------------------------------------


def test_broker_killed_and_restarted_mid_drain(
    rig: Rig, mosquitto_factory: Callable[..., MosquittoBroker]
) -> None:
    broker = mosquitto_factory()
    broker.stop()  # the device is offline: its backlog grows
    total = rig.backlog()
    receiver = rig.receiver(broker.url)
    agent = rig.agent(broker.url)
    _wait_log(agent, "type=agent_started", "the agent to start")
    _wait_log(agent, "sync link .* lost", "the agent to fail to reach the broker")
    time.sleep(1.0)  # live records pile up behind the backlog while the broker is down

    broker.start()  # same port: both ends reconnect by themselves
    rig.wait_arrived(1000, agent, receiver)
    at_kill = rig.arrived()
    broker.kill()
    assert at_kill < total, "the backlog drained before the broker could be killed mid-drain"
    time.sleep(0.5)
    broker.start()

    rig.finish(agent, receiver)
    assert receiver.terminate() == 0
    assert len(re.findall(r"sync link to \S+ up", agent.log)) >= 2


def _links_up(agent: Proc) -> int:
    """Connections on which the agent's sync link got as far as its birth, so far."""
    return len(re.findall(r"sync link to \S+ up", agent.log))


def test_connections_cut_by_a_proxy_during_a_drain(
    rig: Rig,
    mosquitto: MosquittoBroker,
    fault_proxy_factory: Callable[..., ThreadedFaultProxy],
) -> None:
    proxy = fault_proxy_factory(mosquitto.host, mosquitto.port)
    total = rig.backlog()
    receiver = rig.receiver(mosquitto.url)
    agent = rig.agent(f"mqtt://{proxy.host}:{proxy.port}")

    # Each cut lands on a link that is up (not while the agent waits out its backoff, which
    # would cut nothing), and every cut must be followed by a new connection that comes up.
    ups = 0
    cuts_mid_drain = 0
    for fraction in (0.05, 0.25, 0.45, 0.65):
        rig.wait_arrived(int(total * fraction), agent, receiver)
        wait_for(lambda up=ups: _links_up(agent) > up, "the link up (again)", watch=[agent])
        ups = _links_up(agent)
        cuts_mid_drain += rig.arrived() < total
        assert proxy.cut() >= 1, "the link was up, yet the proxy had no connection to cut"
    assert cuts_mid_drain >= 2, "the backlog drained before the cuts"
    wait_for(lambda: _links_up(agent) > ups, "the link up after the last cut", watch=[agent])
    assert ups >= 4  # the first connection and one after each of the first three cuts

    rig.finish(agent, receiver)
    assert receiver.terminate() == 0
    assert proxy.accepted >= 5  # the first connection and one after each cut


def test_receiver_killed_and_restarted_mid_drain(rig: Rig, mosquitto: MosquittoBroker) -> None:
    total = rig.backlog()
    receiver = rig.receiver(mosquitto.url)
    agent = rig.agent(mosquitto.url)
    rig.wait_arrived(total // 10, agent, receiver)
    receiver.kill()  # between a commit and its ack, quite likely: commits never stop here
    at_kill = rig.arrived()
    assert at_kill < total, "the backlog drained before the receiver could be killed"
    time.sleep(0.5)

    restarted = rig.receiver(mosquitto.url)
    # The batches in flight were lost with the receiver's session: the agent resends them
    # after its ack timeout, and the restarted receiver stores each record once.
    rig.finish(agent, restarted)
    assert restarted.terminate() == 0
    assert rig.arrived() > at_kill


# --- hostile messages ------------------------------------------------------------------------


def _properties(*, content_type: str | None = CONTENT_TYPE, **values: object) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if content_type is not None:
        properties.ContentType = content_type
    for name, value in values.items():
        setattr(properties, name, value)
    return properties


def _stranger_batch() -> bytes:
    """A well-formed batch of another device (``cab-intruder``)."""
    sample = TemperatureSample(("p",), (4.0,))
    event = Event(RecordId("cab-intruder", 1, 0), time.time_ns(), 1, True, sample)
    return encode_message(RecordBatch(device="cab-intruder", records=(event,)))


async def _inject(broker: MosquittoBroker) -> dict[str, int]:
    """Capture one genuine batch of the device, then publish hostile messages on its records
    topic (and garbage on its commands topic); returns the size of each."""
    records = str(Topic(SITE, DEVICE, TopicKind.RECORDS))
    acks = str(Topic(SITE, DEVICE, TopicKind.ACKS))
    commands = str(Topic(SITE, DEVICE, TopicKind.COMMANDS))
    async with aiomqtt.Client(
        broker.host, broker.port, identifier="hostile", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        await client.subscribe(records, qos=1)
        async with asyncio.timeout(60):
            genuine = await anext(aiter(client.messages))
        await client.unsubscribe(records)
        assert isinstance(genuine.payload, bytes)
        genuine_properties = genuine.properties
        assert genuine_properties is not None
        correlation = genuine_properties.CorrelationData
        # Let its ack come back first: the replay is then a resend of a committed batch.
        await asyncio.sleep(1.0)
        hostile: dict[str, tuple[bytes, Properties]] = {
            "malformed": (b"\xa3\x61v\x01\x64kind", _properties(CorrelationData=b"inject-1")),
            "oversized": (b"\x00" * (300 * 1024), _properties(CorrelationData=b"inject-2")),
            "wrong_schema": (
                cbor2.dumps({"v": VERSION + 1, "kind": "records", "device": DEVICE}),
                _properties(CorrelationData=b"inject-3"),
            ),
            "wrong_content_type": (
                genuine.payload,
                _properties(content_type="application/json", CorrelationData=b"inject-4"),
            ),
            "wrong_device": (_stranger_batch(), _properties(CorrelationData=b"inject-5")),
            "replayed": (
                genuine.payload,
                _properties(CorrelationData=correlation, ResponseTopic=acks),
            ),
        }
        for payload, properties in hostile.values():
            await client.publish(records, payload, qos=1, properties=properties)
        await client.publish(commands, b"\xff garbage", qos=1, properties=_properties())
        return {name: len(payload) for name, (payload, _) in hostile.items()}


def test_hostile_messages_are_rejected_and_affect_nothing(
    rig: Rig, mosquitto: MosquittoBroker
) -> None:
    rig.backlog(5000)
    receiver = rig.receiver(mosquitto.url)
    agent = rig.agent(mosquitto.url)
    _wait_log(agent, r"sync link to \S+ up", "the agent's link")

    sizes = asyncio.run(_inject(mosquitto))

    for reason, name in (
        ("malformed", "malformed"),
        ("too_large", "oversized"),
        ("unsupported", "wrong_schema"),
        ("unsupported", "wrong_content_type"),
        ("wrong_device", "wrong_device"),
    ):
        _wait_log(
            receiver,
            rf'msg="message rejected" reason={reason} device={DEVICE} bytes={sizes[name]} ',
            f"the receiver to reject the {name} message",
        )
    replay = _wait_log(
        receiver,
        rf'msg="batch committed" device={DEVICE} records=(\d+) new=0 duplicates=(\d+) '
        rf"historical=\w+ bytes={sizes['replayed']}\b",
        "the receiver to store the replayed batch once (no new record)",
    )
    assert replay.group(1) == replay.group(2)
    # The device's end: the rejections' acks answer no batch of its own, the garbage command
    # cannot be answered; both are logged and ignored.
    _wait_log(agent, "ignored an ack", "the agent to ignore the acks of batches it never sent")
    _wait_log(agent, "command ignored, no reply possible", "the agent to ignore the garbage")
    assert "cab-intruder" not in _devices(rig.db)

    rig.finish(agent, receiver)
    assert receiver.terminate() == 0


def _devices(db: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT DISTINCT device FROM records")]
    finally:
        connection.close()


# --- commands --------------------------------------------------------------------------------


def _command(request_id: str, *, issued_ns: int, lifetime_s: float, nonce: bytes) -> Command:
    return Command(
        device=DEVICE,
        request_id=request_id,
        issued_ns=issued_ns,
        expires_ns=issued_ns + int(lifetime_s * 1e9),
        nonce=nonce,
        args=Ping(),
    )


async def _send_commands(broker: MosquittoBroker, commands: list[Command]) -> list[CommandReply]:
    """Publish each command in turn (waiting for its reply before the next); the replies."""
    topic = Topic(SITE, DEVICE, TopicKind.COMMANDS)
    replies_topic = topic.sibling(TopicKind.REPLIES)
    replies: list[CommandReply] = []
    async with aiomqtt.Client(
        broker.host, broker.port, identifier="hand-built", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        await client.subscribe(str(replies_topic), qos=1)
        for command in commands:
            properties = _properties(
                CorrelationData=command.request_id.encode(), ResponseTopic=str(replies_topic)
            )
            await client.publish(str(topic), encode_message(command), qos=1, properties=properties)
            async with asyncio.timeout(60):
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    reply = decode_message(message.payload, replies_topic)
                    assert isinstance(reply, CommandReply)
                    if reply.request_id == command.request_id:
                        replies.append(reply)
                        break
    return replies


def _answered(db: Path) -> dict[str, list[tuple[str, str, str | None]]]:
    """The command records that arrived, by request id: (type, outcome or command, reason)."""
    found: dict[str, list[tuple[str, str, str | None]]] = {}
    for record in receiver_records(db, DEVICE).values():
        if record.type not in ("command_received", "command_answered"):
            continue
        payload = decode_payload(record.type, record.payload)
        if record.type == "command_received":
            entry = (record.type, payload.command, None)  # type: ignore[union-attr]
        else:
            entry = (record.type, payload.outcome, payload.reason)  # type: ignore[union-attr]
        found.setdefault(payload.request_id, []).append(entry)  # type: ignore[union-attr]
    return found


def test_commands_answered_and_stale_ones_refused(rig: Rig, mosquitto: MosquittoBroker) -> None:
    rig.backlog(20_000)
    receiver = rig.receiver(mosquitto.url)
    agent = rig.agent(mosquitto.url)
    _wait_log(agent, r"sync link to \S+ up", "the agent's link")
    drain(rig.journal, rig.db, DEVICE, watch=[agent, receiver])

    ping = rig.processes.receiver_command(mosquitto.url, SITE, DEVICE, "ping")
    assert ping.returncode == 0, ping.stderr
    assert re.fullmatch(rf"{DEVICE} ping-\w+ done\n", ping.stdout), ping.stdout

    before = set(receiver_records(rig.db, DEVICE))
    resync = rig.processes.receiver_command(mosquitto.url, SITE, DEVICE, "resync", "--from", "0")
    assert resync.returncode == 0, resync.stderr
    assert re.fullmatch(rf"{DEVICE} resync-\w+ done\n", resync.stdout), resync.stdout
    _wait_log(
        receiver,
        rf'msg="batch committed" device={DEVICE} records=(\d+) new=0 duplicates=\1 '
        r"historical=True",
        "the resent backlog to arrive again (stored once)",
    )

    now = time.time_ns()
    nonce = os.urandom(16)
    expired = _command(
        "expired-1", issued_ns=now - 120 * 10**9, lifetime_s=60, nonce=os.urandom(16)
    )
    fresh = _command("replayed-1", issued_ns=now, lifetime_s=120, nonce=nonce)
    replies = asyncio.run(_send_commands(mosquitto, [expired, fresh, fresh]))
    assert [(r.request_id, str(r.outcome), r.reason) for r in replies] == [
        ("expired-1", "refused", "expired"),
        ("replayed-1", "done", None),
        ("replayed-1", "refused", "replayed"),
    ]

    # Every command and every answer was journaled by the agent and reached the hospital.
    def journaled() -> bool:
        answered = _answered(rig.db)
        return (
            answered.get("expired-1", []).count(("command_answered", "refused", "expired")) == 1
            and ("command_answered", "done", None) in answered.get("replayed-1", [])
            and ("command_answered", "refused", "replayed") in answered.get("replayed-1", [])
            and sum(1 for e in answered.get("replayed-1", []) if e[0] == "command_received") == 2
            and any(k.startswith("ping-") for k in answered)
            and any(k.startswith("resync-") for k in answered)
        )

    wait_for(journaled, "the command records in the receiver's database", watch=[agent])
    rig.finish(agent, receiver)
    assert receiver.terminate() == 0
    after = set(receiver_records(rig.db, DEVICE))
    assert before <= after  # the resync stored nothing twice (checked) and lost nothing


# --- an orderly stop ---------------------------------------------------------------------------


def test_an_orderly_stop_leaves_nothing_pending(rig: Rig, mosquitto: MosquittoBroker) -> None:
    """SIGTERM: the agent stops its services, records why, and gives the link a grace period
    to see the last records - agent_stopping included - acknowledged before it disconnects."""
    receiver = rig.receiver(mosquitto.url)
    agent = rig.agent(mosquitto.url)
    rig.wait_arrived(200, agent, receiver)
    assert agent.terminate() == 0
    progress = journal_progress(rig.journal)
    assert progress.pending == 0, "every record acknowledged before the agent exited"
    stored = receiver_records(rig.db, DEVICE)
    assert len(stored) == progress.held
    assert any(record.type == "agent_stopping" for record in stored.values())
