"""The envelope every message shares, and the one way in and out of CBOR.

Every message is a CBOR map with ``v`` (the protocol version, :data:`VERSION`), ``kind`` and
``device``. Decoding is strict and safe (invariant 8): the size is checked before any byte is
parsed, the bytes must be exactly one CBOR item, and then version, kind, fields, the device
against the topic's and the kind against the topic's kind - every failure a typed
:class:`ProtocolError`, nothing else.
"""

from __future__ import annotations

import io
from typing import Any

import cbor2

from agent.sync.protocol.acks import BatchAck
from agent.sync.protocol.commands import Command, CommandReply
from agent.sync.protocol.errors import (
    MessageTooLarge,
    NotCbor,
    UnknownKind,
    UnsupportedVersion,
    WrongDevice,
    WrongTopic,
)
from agent.sync.protocol.fields import Fields
from agent.sync.protocol.presence import Birth, Death
from agent.sync.protocol.records import RecordBatch, RecordRows, WireBatch
from agent.sync.protocol.topics import Topic

__all__ = [
    "CONTENT_TYPE",
    "MAX_MESSAGE_BYTES",
    "VERSION",
    "Message",
    "decode_message",
    "decode_record_rows",
    "encode_message",
]

VERSION = 2
"""The protocol version this module speaks, in every message's ``v`` and in the topics."""

CONTENT_TYPE = f"application/cbor; schema=hemotrace-{VERSION}"
"""The MQTT 5 content type property of every PUBLISH."""

MAX_MESSAGE_BYTES = 256 * 1024
"""The largest message a decoder accepts by default."""

Message = Birth | Death | RecordBatch | BatchAck | Command | CommandReply

_KINDS: dict[str, type[Message]] = {
    cls.KIND: cls for cls in (Birth, Death, RecordBatch, BatchAck, Command, CommandReply)
}


def encode_message(message: Message | WireBatch) -> bytes:
    """The CBOR bytes of ``message``, ready to publish with :data:`CONTENT_TYPE`."""
    fields: dict[str, Any] = {"v": VERSION, "kind": message.KIND}
    fields.update(message.to_fields())
    return cbor2.dumps(fields)


def decode_message(data: bytes, topic: Topic, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """The message ``data`` received on ``topic``; a :class:`ProtocolError` if it is wrong.

    Besides the message itself, checks that its device (and a status message's site) is the
    topic's, and that its kind is one that flows on the topic's kind.
    """
    fields, kind, cls = _open(data, max_bytes)
    message = cls.from_fields(fields)
    fields.finish()
    _check_topic(message, kind, topic)
    return message


def decode_record_rows(data: bytes, topic: Topic, max_bytes: int = MAX_MESSAGE_BYTES) -> RecordRows:
    """A record batch received on ``topic``, as rows to store: exactly what
    :func:`decode_message` accepts as a :class:`RecordBatch` - the same records, every other
    message refused with the error :func:`decode_message` raises for it (a message of another
    kind: its own errors, then :class:`WrongTopic` at the latest)."""
    fields, kind, cls = _open(data, max_bytes)
    message: Message | RecordRows
    message = RecordRows.from_fields(fields) if cls is RecordBatch else cls.from_fields(fields)
    fields.finish()
    _check_topic(message, kind, topic)
    if not isinstance(message, RecordRows):
        raise WrongTopic(f"a {kind} message where a records batch was expected")
    return message


def _open(data: bytes, max_bytes: int) -> tuple[Fields, str, type[Message]]:
    """The message's fields, kind and class, its size, CBOR and version checked."""
    if len(data) > max_bytes:
        raise MessageTooLarge(f"{len(data)} bytes, more than the limit of {max_bytes}")
    fields = Fields(_load(data), "message")
    version = fields.raw("v")
    if type(version) is not int or version != VERSION:
        raise UnsupportedVersion(f"schema version {version!r}; this side speaks {VERSION}")
    kind = fields.text("kind")
    cls = _KINDS.get(kind)
    if cls is None:
        raise UnknownKind(f"unknown message kind {kind!r}")
    return fields, kind, cls


def _check_topic(message: Message | RecordRows, kind: str, topic: Topic) -> None:
    """The message's device (and a status message's site) is the topic's, and its kind flows
    on the topic's kind."""
    if message.device != topic.device:
        raise WrongDevice(f"a {kind} of device {message.device!r} on {topic}")
    if isinstance(message, Birth | Death) and message.site != topic.site:
        raise WrongDevice(f"a {kind} of site {message.site!r} on {topic}")
    if message.TOPIC is not topic.kind:
        raise WrongTopic(f"a {kind} message on a {topic.kind} topic")


def _load(data: bytes) -> object:
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    # A third-party decoder on hostile input: whatever it raises, the bytes are not CBOR we take.
    except Exception as error:  # noqa: BLE001
        raise NotCbor(f"not well-formed CBOR: {error}") from None
    if stream.tell() != len(data):
        raise NotCbor(f"{len(data) - stream.tell()} bytes after the CBOR item")
    return value
