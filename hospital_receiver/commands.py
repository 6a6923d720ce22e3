"""Commands to devices: building them, publishing them, and waiting for the device's reply.

Invariant kept: **a command is never stale when it acts, and never replayable** (invariant 5):
each carries a fresh random nonce (``os.urandom``), a request id, its issue and expiry times on
the wall clock, and is published with an MQTT message expiry so the broker drops it once stale.
Its response topic is always the target device's own ``replies`` topic.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import uuid

import aiomqtt

from agent.sync.mqtt_publish import CheckedPublisher, PublishAck
from agent.sync.protocol import (
    Command,
    CommandArgs,
    CommandReply,
    ProtocolError,
    Topic,
    TopicKind,
    decode_message,
    encode_message,
)
from hospital_receiver.broker import publish_properties

__all__ = ["NONCE_BYTES", "new_command", "publish_command", "round_trip"]

_log = logging.getLogger("hospital_receiver.commands")

NONCE_BYTES = 16
_NS_PER_S = 1_000_000_000


def new_command(device: str, args: CommandArgs, lifetime_s: float) -> Command:
    """A command to ``device``, issued now (wall clock) and expiring ``lifetime_s`` later."""
    issued = time.time_ns()
    return Command(
        device=device,
        request_id=f"{args.NAME}-{uuid.uuid4().hex[:16]}",
        issued_ns=issued,
        expires_ns=issued + max(1, math.ceil(lifetime_s * _NS_PER_S)),
        nonce=os.urandom(NONCE_BYTES),
        args=args,
    )


def publish_command(
    publisher: CheckedPublisher, site: str, command: Command
) -> asyncio.Future[PublishAck]:
    """Publish ``command`` to its device's ``commands`` topic (QoS 1, expiring with it); the
    future resolves on the broker's PUBACK."""
    topic = Topic(site, command.device, TopicKind.COMMANDS)
    properties = publish_properties(
        correlation=command.request_id.encode(),
        response_topic=str(topic.sibling(TopicKind.REPLIES)),
        expiry_s=command.expiry_interval_s(time.time_ns()),
    )
    return publisher.send(str(topic), encode_message(command), properties=properties)


async def round_trip(
    client: aiomqtt.Client, site: str, command: Command, timeout_s: float
) -> CommandReply | None:
    """Publish ``command`` on the connected ``client`` and wait for its reply (None: no reply
    within ``timeout_s``). Raises a ``PublishError`` when the broker refused the command, and
    ``LookupError`` when no device is subscribed to receive it."""
    replies = Topic(site, command.device, TopicKind.REPLIES)
    await client.subscribe(str(replies), qos=1)
    acked = await publish_command(CheckedPublisher(client), site, command)
    if acked.no_matching_subscribers:
        raise LookupError(f"no subscriber for {command.device}'s commands: is it connected?")
    try:
        async with asyncio.timeout(timeout_s):
            async for message in client.messages:
                reply = _reply_to(command, replies, message)
                if reply is not None:
                    return reply
    except TimeoutError:
        return None
    raise aiomqtt.MqttError("the connection ended while waiting for the reply")


def _reply_to(command: Command, topic: Topic, message: aiomqtt.Message) -> CommandReply | None:
    """The reply to ``command`` that ``message`` is, if it is one."""
    assert isinstance(message.payload, bytes)  # aiomqtt hands over paho's payload bytes
    try:
        reply = decode_message(message.payload, topic)
    except ProtocolError as error:
        _log.warning("undecodable reply ignored", extra={"fields": {"error": error}})
        return None
    if isinstance(reply, CommandReply) and reply.request_id == command.request_id:
        return reply
    return None
