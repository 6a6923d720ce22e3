"""The receiver service: the fleet's record batches off the broker, into the database, acked.

Invariants kept:

- **Ack after commit** (invariant 2). Each batch is handed to :class:`Ingest` in the database's
  worker thread; its ack is published only once that returned, i.e. after the commit. A receiver
  that dies in between sends no ack: the device resends and the upsert deduplicates.
- **The event loop never waits on the database.** Every store call runs in one dedicated worker
  thread, which also serialises the connection (SQLite and psycopg connections are not for
  concurrent use); up to ``max_in_flight`` messages are between receipt and ack at once. The
  checks and decoding of a message (:meth:`Ingest.check`) run in a second worker thread, so the
  next message is decoded while the database thread commits - SQLite gives the interpreter
  lock back while it writes and syncs.
- **Several receivers share the load**: records and replies come through MQTT 5 shared
  subscriptions of one group (each message to one member); status topics, retained, through a
  plain subscription (brokers send no retained messages to shared ones).
- **It never gives up**: a lost connection is retried for ever with jittered exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import aiomqtt

from agent.sync.backoff import Backoff
from agent.sync.mqtt_publish import CheckedPublisher, PublishError, disable_nagle
from agent.sync.protocol import (
    DEFAULT_SHARE_GROUP,
    Birth,
    CommandReply,
    Death,
    ProtocolError,
    Resync,
    TopicKind,
    decode_message,
    encode_message,
    fleet_filter,
    parse_topic,
    shared_filter,
)
from hospital_receiver.broker import BrokerSettings, publish_properties
from hospital_receiver.commands import new_command, publish_command
from hospital_receiver.fleet import FleetView
from hospital_receiver.gaps import ResyncPolicy, ResyncRequest
from hospital_receiver.ingest import Ingest, IngestResult
from hospital_receiver.store import RecordStore

__all__ = ["Receiver", "ReceiverConfig"]

_log = logging.getLogger("hospital_receiver.service")

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    """How a receiver connects and behaves."""

    broker: BrokerSettings
    group: str = DEFAULT_SHARE_GROUP
    """The shared-subscription group: receivers of one group split the fleet's batches."""
    resync: ResyncPolicy = field(default_factory=ResyncPolicy)
    gap_check_s: float = 10.0
    """How often devices with an open gap are looked at again, batches or not."""
    max_in_flight: int = 100
    """Messages between receipt and ack at once."""
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0


class Receiver:
    """Serves the fleet until cancelled (:meth:`run`, once per receiver). ``open_store`` opens
    the database; it is called in the database thread, again after a database error."""

    def __init__(
        self,
        config: ReceiverConfig,
        open_store: Callable[[], RecordStore],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.fleet = FleetView()
        self.ready = asyncio.Event()
        """Set while connected and subscribed."""
        self._ingest = Ingest(open_store, resync=config.resync, clock=clock)
        self._database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="receiver-db")
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="receiver-check")
        self._resyncs: dict[str, str] = {}
        """Device → request id of the resync we last sent it."""

    async def run(self) -> None:
        """Connect, serve, reconnect after a jittered backoff, for ever; on cancellation, let
        the commit in progress finish and close the database."""
        backoff = Backoff(base=self.config.backoff_initial_s, cap=self.config.backoff_max_s)
        try:
            while True:
                try:
                    await self._serve(backoff)
                except* aiomqtt.MqttError as group:
                    errors = "; ".join(str(error) for error in group.exceptions)
                    _log.warning("broker connection lost", extra={"fields": {"error": errors}})
                # The reconnect supervisor: whatever else ends one connection's service is
                # logged and followed by a reconnection, never a dead receiver.
                except* Exception:  # noqa: BLE001
                    _log.exception("receiver failed; reconnecting")
                delay = backoff.next_delay()
                _log.info("reconnecting", extra={"fields": {"in_s": round(delay, 2)}})
                await asyncio.sleep(delay)
        finally:
            self.ready.clear()
            await asyncio.get_running_loop().run_in_executor(self._database, self._ingest.close)
            self._database.shutdown(wait=True)
            self._checks.shutdown(wait=True)

    async def _serve(self, backoff: Backoff) -> None:
        config = self.config
        async with config.broker.client("hemotrace-receiver") as client:
            disable_nagle(client)
            publisher = CheckedPublisher(client)
            await client.subscribe(shared_filter(TopicKind.RECORDS, config.group), qos=1)
            await client.subscribe(shared_filter(TopicKind.REPLIES, config.group), qos=1)
            await client.subscribe(fleet_filter(TopicKind.STATUS), qos=1)
            backoff.reset()
            self.ready.set()
            _log.info(
                "subscribed",
                extra={
                    "fields": {
                        "broker": f"{config.broker.host}:{config.broker.port}",
                        "group": config.group,
                    }
                },
            )
            slots = asyncio.Semaphore(config.max_in_flight)
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._check_gaps(publisher), name="gap-check")
                    async for message in client.messages:
                        await slots.acquire()
                        tasks.create_task(self._dispatch(message, publisher, slots))
            finally:
                self.ready.clear()

    async def _dispatch(
        self, message: aiomqtt.Message, publisher: CheckedPublisher, slots: asyncio.Semaphore
    ) -> None:
        try:
            if message.topic.matches(fleet_filter(TopicKind.STATUS)):
                self._status(message)
            elif message.topic.matches(fleet_filter(TopicKind.REPLIES)):
                await self._reply(message)
            else:
                await self._records(message, publisher)
        finally:
            slots.release()

    async def _records(self, message: aiomqtt.Message, publisher: CheckedPublisher) -> None:
        properties = message.properties
        checked = await asyncio.get_running_loop().run_in_executor(
            self._checks,
            self._ingest.check,
            message.topic.value,
            getattr(properties, "ContentType", None),
            _payload(message),
        )
        if isinstance(checked, IngestResult):
            result = checked
        else:
            result = await self._in_database(self._ingest.commit, checked)
        response_topic = getattr(properties, "ResponseTopic", None)
        if response_topic not in (None, result.ack_topic):
            _log.warning(
                "response topic ignored: acks go to the device's own acks topic",
                extra={"fields": {"topic": message.topic.value, "response": response_topic}},
            )
        await self._send_ack(result, getattr(properties, "CorrelationData", None), publisher)
        if result.resync is not None:
            await self._send_resync(result.resync, publisher)

    async def _send_ack(
        self, result: IngestResult, correlation: bytes | None, publisher: CheckedPublisher
    ) -> None:
        if result.ack is None or result.ack_topic is None:
            return
        properties = publish_properties(correlation=correlation)
        try:
            await publisher.publish(
                result.ack_topic, encode_message(result.ack), properties=properties
            )
        except PublishError as error:
            # Committed but not acknowledged: the device resends, the upsert deduplicates.
            _log.warning("ack not delivered", extra={"fields": {"error": error}})

    async def _send_resync(self, request: ResyncRequest, publisher: CheckedPublisher) -> None:
        topic = request.topic
        command = new_command(topic.device, Resync(request.from_sequence), request.lifetime_s)
        self._resyncs[topic.device] = command.request_id
        try:
            await publish_command(publisher, topic.site, command)
        except PublishError as error:
            _log.warning(
                "resync not delivered", extra={"fields": {"device": topic.device, "error": error}}
            )
            return
        _log.info(
            "resync sent",
            extra={
                "fields": {
                    "device": topic.device,
                    "from": request.from_sequence,
                    "id": command.request_id,
                }
            },
        )

    async def _check_gaps(self, publisher: CheckedPublisher) -> None:
        while True:
            await asyncio.sleep(self.config.gap_check_s)
            for request in await self._in_database(self._ingest.check_gaps):
                await self._send_resync(request, publisher)

    async def _reply(self, message: aiomqtt.Message) -> None:
        reply = _decode(message)
        if not isinstance(reply, CommandReply):
            return
        _log.info(
            "command reply",
            extra={
                "fields": {
                    "device": reply.device,
                    "id": reply.request_id,
                    "outcome": str(reply.outcome),
                    "reason": reply.reason,
                    "detail": reply.detail,
                }
            },
        )
        if self._resyncs.get(reply.device) == reply.request_id:
            del self._resyncs[reply.device]
            await self._in_database(self._ingest.resync_answered, reply.device)

    def _status(self, message: aiomqtt.Message) -> None:
        status = _decode(message)
        if isinstance(status, Birth | Death):
            self.fleet.update(status)

    async def _in_database(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``call`` in the database thread; a cancelled caller leaves it to finish there."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._database, lambda: call(*args, **kwargs))


def _payload(message: aiomqtt.Message) -> bytes:
    assert isinstance(message.payload, bytes)  # aiomqtt hands over paho's payload bytes
    return message.payload


def _decode(message: aiomqtt.Message) -> object:
    """The message on a status or replies topic, or None (logged) when it is wrong."""
    payload = _payload(message)
    if not payload:  # a cleared retained status
        return None
    try:
        return decode_message(payload, parse_topic(message.topic.value))
    except ProtocolError as error:
        _log.warning(
            "message rejected",
            extra={
                "fields": {
                    "reason": str(error.reason),
                    "topic": message.topic.value,
                    "bytes": len(payload),
                    "detail": error,
                }
            },
        )
        return None
