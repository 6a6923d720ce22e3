"""The agent's sync link: the journal's records up to the hospital, acks and commands back.

Keeps invariants 2, 3 and 5 on the device side of the wire, with the journal as the only state
that matters (everything else is rebuilt on each connection):

* a record is marked acknowledged only when a :class:`~agent.sync.protocol.BatchAck` with status
  ``committed`` covers it - sent by the receiver after its database commit - and only if it was
  in the batch that ack answers (:class:`~agent.sync.session.SendSession`); a PUBACK means
  nothing, a negative PUBACK is a failure (:class:`~agent.sync.mqtt_publish.CheckedPublisher`);
* whatever is not acknowledged is sent again: after the ack timeout, after a reconnect, after a
  rejection's hold, after a resync command;
* commands are journaled before they are decided on, and acted on at most once
  (:class:`~agent.sync.commands.CommandDesk`).

One connection at a time, for ever: connect (MQTT 5, clean start, TLS for ``mqtts://``, the
password read from its file; the Will is a retained :class:`Death`), subscribe to the device's
``acks`` and ``commands`` topics, publish a retained :class:`Birth`, then send and receive
concurrently until the connection fails; then wait a jittered exponential backoff (full
jitter, 0.5 s doubling to 60 s, reset once a connection got as far as its birth) and start
again. Timeouts run on the event loop's clock; wall-clock times (acknowledgement times, command
expiry, the birth) come from the agent's :class:`~agent.clock.Clock`.

The runtime creates one :class:`SyncLink` and runs :meth:`SyncLink.run` as a task. The link
observes the event stream to wake up when records are appended through it; anything appended
to the journal another way calls :meth:`SyncLink.notify_appended`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import operator
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NoReturn

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent import __version__
from agent.clock import Clock
from agent.config.schema import SyncConfig
from agent.events import Event, HardwareFault, RecordUnreadable, SyncRejected
from agent.journal import Journal
from agent.journal.records import PendingRow
from agent.payload_codec import encode_payload
from agent.runtime.stream import EventStream
from agent.sink import SinkUnavailable
from agent.sync.backoff import Backoff
from agent.sync.broker_config import BrokerAddress, client_options
from agent.sync.commands import CommandDesk
from agent.sync.mqtt_publish import (
    CheckedPublisher,
    PublishAck,
    PublishError,
    PublishNotSent,
    PublishRejected,
    SlidingWindow,
    disable_nagle,
)
from agent.sync.nonces import NonceStore
from agent.sync.protocol import (
    CONTENT_TYPE,
    BatchAck,
    BatchLimits,
    Birth,
    Death,
    ProtocolError,
    Topic,
    TopicKind,
    decode_message,
    encode_message,
    pack_wire_batches,
)
from agent.sync.session import AckResult, SendSession

__all__ = ["LinkSettings", "SubscriptionRefused", "SyncLink"]

_log = logging.getLogger(__name__)

_KEY = operator.itemgetter(1, 0)
"""A journal outbox row's (boot epoch, sequence)."""
_SEQUENCE = operator.itemgetter(1)
"""A key's sequence."""
_FIRST_FAILURE_CODE = 0x80
_FETCH_BYTES_PER_BATCH = 8
"""How many of a batch's bytes (``BatchLimits.max_bytes``) one read of the outbox may fetch in
stored payloads: a stored temperature tick holds its readings as CBOR doubles and its probes'
names, about five times its share of a compact column on the wire, so a fetch bounded by the
batch's own bytes would fill half a batch. The batches are cut to the limits when packed."""
_MAX_REASON = 500
_MAX_RAW_BYTES = 4096
"""How much of an unreadable record's payload goes to the hospital, in bytes."""
_GOODBYE_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Tunables of the link; the defaults suit a device on a hospital network or cellular."""

    limits: BatchLimits = field(default_factory=BatchLimits)
    """Records and bytes per batch (``docs/protocol.md`` section 3)."""
    window: int = 32
    """Batches sent and waiting for the hospital's acknowledgement, at most."""
    ack_timeout_s: float = 30.0
    """A batch not acknowledged within this long is sent again."""
    puback_timeout_s: float = 30.0
    """A publish without a PUBACK within this long counts as lost (the ack timeout resends)."""
    unavailable_retry_s: float = 5.0
    """Records of a batch rejected as ``unavailable`` are sent again after this long."""
    rejected_retry_s: float = 3600.0
    """Records of a batch rejected for any other reason wait this long (and raise an alarm)."""
    publish_retry_s: float = 10.0
    """Records of a batch the broker refused (negative PUBACK) wait this long."""
    keepalive_s: int = 30
    connect_timeout_s: float = 10.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0


class SubscriptionRefused(Exception):
    """The broker refused a subscription the link needs (its ACL, most likely)."""


def _properties(
    packet: int = PacketTypes.PUBLISH,
    *,
    correlation: bytes | None = None,
    response_topic: Topic | None = None,
) -> Properties:
    properties = Properties(packet)  # type: ignore[no-untyped-call]  # paho is untyped here
    properties.ContentType = CONTENT_TYPE
    if correlation is not None:
        properties.CorrelationData = correlation
    if response_topic is not None:
        properties.ResponseTopic = str(response_topic)
    return properties


class SyncLink:
    """The device's MQTT link to the hospital (see the module docstring).

    ``site`` and the journal's device id name the topics; ``boot_epoch`` goes into the birth and
    death certificates; ``nonces`` remembers command nonces across restarts (one file in the
    state directory); ``rng`` drives the backoff jitter (a seeded one in tests).
    """

    def __init__(
        self,
        *,
        config: SyncConfig,
        site: str,
        boot_epoch: int,
        journal: Journal,
        stream: EventStream,
        clock: Clock,
        nonces: NonceStore,
        settings: LinkSettings | None = None,
        firmware: str = __version__,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = LinkSettings() if settings is None else settings
        self.address = BrokerAddress.from_config(config)
        self.device_id = journal.device_id
        self._status = Topic(site, self.device_id, TopicKind.STATUS)
        self._records = self._status.sibling(TopicKind.RECORDS)
        self._acks = self._status.sibling(TopicKind.ACKS)
        self._commands = self._status.sibling(TopicKind.COMMANDS)
        self._replies = self._status.sibling(TopicKind.REPLIES)
        self._boot_epoch = boot_epoch
        self._journal = journal
        self._stream = stream
        self._clock = clock
        self._firmware = firmware
        self._backoff = Backoff(
            base=self.settings.backoff_base_s, cap=self.settings.backoff_cap_s, rng=rng
        )
        self._session = SendSession(
            window=self.settings.window,
            ack_timeout=self.settings.ack_timeout_s,
            unavailable_retry=self.settings.unavailable_retry_s,
            rejected_retry=self.settings.rejected_retry_s,
            correlation_prefix=os.urandom(8),
            live_from=journal.next_sequence,
        )
        self._desk = CommandDesk(
            device_id=self.device_id,
            journal=journal,
            stream=stream,
            clock=clock,
            nonces=nonces,
            on_resync=self._resync,
        )
        self._wake = asyncio.Event()
        self._acked: list[int] = []
        self._acked_ready = asyncio.Event()
        self._marked = asyncio.Event()
        self.connections = 0
        """Connections that got as far as the birth, in this boot epoch."""
        self.connected = False
        stream.observe(self._on_event)
        self._unreadable: set[int] = set()
        """Sequences of journal records already reported unreadable."""

    @property
    def commands(self) -> CommandDesk:
        """The desk that decides on the hospital's commands (the agent hands it the cabinet's
        workflows)."""
        return self._desk

    # --- for the runtime -----------------------------------------------------------------

    def notify_appended(self) -> None:
        """Records were appended to the journal: send them soon. Cheap; call it freely."""
        self._session.appended()
        self._wake.set()

    async def run(self) -> NoReturn:
        """Connect and sync, reconnecting for ever; returns only by cancellation."""
        while True:
            try:
                await self._connection()
            # The supervisor: whatever ends one connection - the broker, the network, TLS, a
            # refused subscription, the journal failing - is logged, and the link tries again
            # after the backoff. The journal keeps everything that matters.
            except Exception as error:  # noqa: BLE001
                _log.warning("sync link to %s lost: %s", self.address, _describe(error))
            self.connected = False
            delay = self._backoff.next_delay()
            _log.info("sync link: reconnecting in %.2f s", delay)
            await asyncio.sleep(delay)

    # --- one connection ------------------------------------------------------------------

    async def _connection(self) -> None:
        connection = self.connections + 1
        death = Death(self._status.site, self.device_id, self._boot_epoch, connection)
        will = aiomqtt.Will(
            str(self._status),
            encode_message(death),
            qos=1,
            retain=True,
            properties=_properties(PacketTypes.WILLMESSAGE),
        )
        client = aiomqtt.Client(
            **client_options(self.address, self.device_id),
            identifier=f"hemotrace-{self.device_id}",
            protocol=aiomqtt.ProtocolVersion.V5,
            will=will,
            clean_start=True,
            keepalive=self.settings.keepalive_s,
            timeout=self.settings.connect_timeout_s,
        )
        async with client:
            disable_nagle(client)
            publisher = CheckedPublisher(client, ack_timeout=self.settings.puback_timeout_s)
            window = SlidingWindow(publisher, self.settings.window + 8)
            await self._subscribe(client)
            try:
                await publisher.publish(
                    str(self._status),
                    encode_message(await self._birth(connection)),
                    retain=True,
                    properties=_properties(),
                )
            except PublishRejected as error:
                # A broker misconfiguration; the records still matter more than the status.
                _log.error("birth certificate refused by the broker: %s", error)
            self.connections = connection
            self.connected = True
            self._backoff.reset()
            self._session.restart(self._journal.next_sequence)
            _log.info("sync link to %s up (connection %d)", self.address, connection)
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._send(window))
                    tasks.create_task(self._receive(client, publisher))
                    tasks.create_task(self._mark_acknowledged())
            except asyncio.CancelledError:
                await self._goodbye(publisher, death)
                raise

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        granted: Sequence[int | ReasonCode] = await client.subscribe(
            [(str(self._acks), 1), (str(self._commands), 1)]
        )
        for topic, code in zip((self._acks, self._commands), granted, strict=True):
            value = int(code.value) if isinstance(code, ReasonCode) else code
            if value >= _FIRST_FAILURE_CODE:
                raise SubscriptionRefused(f"subscription to {topic} refused: 0x{value:02X}")

    async def _birth(self, connection: int) -> Birth:
        """The birth certificate: ``last_acked`` is the highest sequence up to which every
        record has been acknowledged (below the oldest pending record)."""
        last_acked = await self._journal.last_acknowledged()
        if last_acked is not None:
            oldest = await self._journal.pending(limit=1)
            if oldest and oldest[0].sequence <= last_acked:
                last_acked = oldest[0].sequence - 1 if oldest[0].sequence > 0 else None
        return Birth(
            site=self._status.site,
            device=self.device_id,
            epoch=self._boot_epoch,
            connection=connection,
            firmware=self._firmware,
            last_acked=last_acked,
            wall_ns=self._clock.wall_ns(),
            mono_ns=int(self._clock.monotonic() * 1e9),
            synchronised=self._clock.synchronised(),
        )

    async def _goodbye(self, publisher: CheckedPublisher, death: Death) -> None:
        """An orderly stop: a clean DISCONNECT does not fire the Will, so say it ourselves."""
        with contextlib.suppress(PublishError):
            await publisher.publish(
                str(self._status),
                encode_message(death),
                retain=True,
                properties=_properties(),
                ack_timeout=_GOODBYE_TIMEOUT_S,
            )

    # --- sending -------------------------------------------------------------------------

    async def _send(self, window: SlidingWindow) -> NoReturn:
        loop = asyncio.get_running_loop()
        session = self._session
        limits = self.settings.limits
        while True:
            session.expire(loop.time())
            self._wake.clear()
            fetch = session.next_fetch()
            if fetch is None:
                await self._sleep(session.next_deadline())
                continue
            rows = await self._journal.pending_rows(
                fetch.after,
                limit=limits.max_records,
                max_bytes=limits.max_bytes * _FETCH_BYTES_PER_BATCH,
                before_sequence=fetch.before,
            )
            keys = list(map(_KEY, rows))
            chosen = session.take(fetch, keys)
            if not chosen:
                continue
            if len(chosen) < len(rows):
                wanted = set(chosen)
                rows = [row for row, key in zip(rows, keys, strict=True) if key in wanted]
            # The journal's rows go to the batches as they are: their payloads are checked and
            # turned into the wire's forms there (samples straight from their bytes). A row
            # that cannot be sent as it is never blocks the rest: it goes as record_unreadable.
            try:
                packed = pack_wire_batches(
                    self.device_id, rows, historical=fetch.historical, limits=limits
                )
            except (ProtocolError, ValueError):
                rows = [await self._sendable(row, limits) for row in rows]
                packed = pack_wire_batches(
                    self.device_id, rows, historical=fetch.historical, limits=limits
                )
            now = loop.time()
            ready: list[tuple[bytes, bytes]] = []
            start = 0  # the batches are consecutive runs of the chosen records, in order
            for batch in packed:
                if not session.free_slots:
                    session.release(chosen[start:])
                    break
                end = start + len(batch.batch.records)
                correlation = session.sent(chosen[start:end], historical=fetch.historical, now=now)
                ready.append((correlation, batch.data))
                start = end
            for correlation, data in ready:
                properties = _properties(correlation=correlation, response_topic=self._acks)
                future = await window.submit(str(self._records), data, properties=properties)
                future.add_done_callback(functools.partial(self._published, correlation))

    async def _sendable(self, row: PendingRow, limits: BatchLimits) -> PendingRow:
        """``row``, or - if it cannot be sent as it is (a damaged payload) - a
        ``record_unreadable`` row with its identity, reported once as a journal fault."""
        try:
            pack_wire_batches(self.device_id, [row], historical=False, limits=limits)
        except (ProtocolError, ValueError) as error:
            sequence, epoch, kind, wall_ns, mono_ns, synced, payload = row
            reason = str(error)[:_MAX_REASON]
            if sequence not in self._unreadable:
                self._unreadable.add(sequence)
                _log.error(
                    "journal record %d/%d (%s) unreadable: %s", epoch, sequence, kind, reason
                )
                with contextlib.suppress(SinkUnavailable):
                    await self._stream.record(
                        HardwareFault(
                            "journal",
                            "ReadFailed",
                            f"record {epoch}/{sequence} ({kind}) cannot be read; sent to the "
                            f"hospital as record_unreadable: {reason}",
                        )
                    )
            stand_in = RecordUnreadable(kind, reason, payload[:_MAX_RAW_BYTES].hex())
            return (
                sequence,
                epoch,
                str(stand_in.TYPE),
                wall_ns,
                mono_ns,
                synced,
                encode_payload(stand_in),
            )
        return row

    async def _sleep(self, deadline: float | None) -> None:
        """Until woken, or until ``deadline`` (event loop time) if there is one."""
        timeout = None if deadline is None else deadline - asyncio.get_running_loop().time()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    def _published(self, correlation: bytes, future: asyncio.Future[PublishAck]) -> None:
        """A batch's PUBACK (or its absence): a refusal, or a PUBACK saying no receiver was
        subscribed, makes the batch's records wait ``publish_retry_s`` and go again."""
        if future.cancelled():
            return
        error = future.exception()
        if error is None and future.result().no_matching_subscribers:
            # No receiver is subscribed: nobody will ever acknowledge this batch, so do not
            # wait out the ack timeout - send it again soon.
            _log.warning("no hospital receiver is subscribed; records batch will be resent")
            retry_at = asyncio.get_running_loop().time() + self.settings.publish_retry_s
            self._session.failed(correlation, retry_at=retry_at)
            self._wake.set()
        elif isinstance(error, PublishRejected | PublishNotSent):
            _log.error("records batch not accepted by the broker, retrying later: %s", error)
            retry_at = asyncio.get_running_loop().time() + self.settings.publish_retry_s
            self._session.failed(correlation, retry_at=retry_at)
            self._wake.set()
        elif error is not None:
            # No PUBACK: the broker may have it. The ack timeout or the reconnect resends it.
            _log.debug("records batch outcome unknown: %s", error)

    # --- receiving -----------------------------------------------------------------------

    async def _receive(self, client: aiomqtt.Client, publisher: CheckedPublisher) -> None:
        async for message in client.messages:
            name = message.topic.value
            data = message.payload
            properties = message.properties
            content_type = getattr(properties, "ContentType", None)
            correlation = getattr(properties, "CorrelationData", None)
            if not isinstance(data, bytes) or content_type != CONTENT_TYPE:
                _log.warning("ignored a message on %s: content type %r", name, content_type)
            elif name == str(self._acks):
                await self._on_ack(data, correlation)
            elif name == str(self._commands):
                await self._on_command(data, correlation, properties, publisher)
            else:
                _log.warning("ignored a message on unexpected topic %s", name)

    async def _on_ack(self, data: bytes, correlation: bytes | None) -> None:
        try:
            ack = decode_message(data, self._acks)
        except ProtocolError as error:
            _log.warning("ignored an ack: %s: %s", error.reason, error)
            return
        if not isinstance(ack, BatchAck):  # decode_message checks the kind against the topic
            raise TypeError(f"decode_message returned a {ack.KIND} for {self._acks}")
        if correlation is None:
            _log.warning("ignored an ack without correlation data")
            return
        now = asyncio.get_running_loop().time()
        result = self._session.acknowledged(bytes(correlation), ack, now)
        self._wake.set()
        if not result.known:
            _log.info(
                "ignored an ack of a batch this link does not know (an earlier run?): %s%s",
                ack.status,
                "" if ack.reason is None else f" ({ack.reason}: {ack.detail})",
            )
        if result.acknowledged:
            self._acked.extend(map(_SEQUENCE, result.acknowledged))
            self._acked_ready.set()
        if result.held:
            _log.warning(
                "records batch rejected by the receiver (%s: %s); retrying later",
                ack.reason,
                ack.detail,
            )
        if result.alarm is not None:
            await self._alarm(result, ack.detail)

    async def _mark_acknowledged(self) -> None:
        """Mark acknowledged records in the journal, the acks that arrived meanwhile together:
        one transaction for many acks while a backlog drains. Records are marked only after
        their ack; an ack not marked when the connection drops costs a resend, nothing else."""
        while True:
            await self._acked_ready.wait()
            self._acked_ready.clear()
            sequences, self._acked = self._acked, []
            await self._journal.acknowledge(sequences, self._clock.wall_ns())
            self._marked.set()

    async def flush(self, timeout_s: float) -> bool:
        """An orderly stop's grace: wait, for at most ``timeout_s``, until the journal has
        nothing pending - when what is pending is the tail of live records (at most one
        batch). A backlog is not drained at a stop: it goes when the link is next up. True if
        nothing is left pending."""
        pending = await self._journal.pending_count()
        if pending > self.settings.limits.max_records:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while await self._journal.pending_count():
                    self._marked.clear()
                    self._wake.set()
                    await self._marked.wait()
                return True
        return False

    async def _alarm(self, result: AckResult, detail: str) -> None:
        sequences = [sequence for _, sequence in result.held]
        await self._stream.record(
            SyncRejected(
                reason=str(result.alarm),
                detail=detail,
                first_sequence=min(sequences),
                last_sequence=max(sequences),
                records=len(sequences),
            )
        )

    async def _on_command(
        self,
        data: bytes,
        correlation: bytes | None,
        properties: Properties | None,
        publisher: CheckedPublisher,
    ) -> None:
        response_topic = getattr(properties, "ResponseTopic", None)
        if response_topic not in (None, str(self._replies)):
            _log.warning("command asks for replies on %s; replying on our own", response_topic)
        reply = await self._desk.handle(data, self._commands)
        if reply is None:
            return
        try:
            await publisher.publish(
                str(self._replies),
                encode_message(reply),
                properties=_properties(
                    correlation=None if correlation is None else bytes(correlation)
                ),
            )
        except PublishRejected as error:
            _log.error("reply to command %s refused by the broker: %s", reply.request_id, error)

    def _resync(self, from_sequence: int) -> None:
        self._session.resync(from_sequence)
        self._wake.set()

    def _on_event(self, _event: Event) -> None:
        self.notify_appended()


def _describe(error: BaseException) -> str:
    """A one-line account of what ended a connection (the leaves of an exception group)."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"
