"""The hemotrace wire protocol, version 1: topics, messages and their CBOR encoding.

Pure code, no I/O: the MQTT link on the device and the hospital receiver publish what
:func:`encode_message` returns with :data:`CONTENT_TYPE`, and hand what they receive to
:func:`decode_message`, which returns a message or raises a typed :class:`ProtocolError`.
The specification for integrators is ``docs/protocol.md`` (with ``docs/protocol.cddl``).
"""

from agent.sync.protocol.acks import AckStatus, BatchAck, SequenceRange, ranges_of
from agent.sync.protocol.batching import (
    BatchLimits,
    PackedBatch,
    PackedWireBatch,
    pack_batches,
    pack_wire_batches,
)
from agent.sync.protocol.commands import (
    COMMAND_TYPES,
    Command,
    CommandArgs,
    CommandReply,
    Outcome,
    Ping,
    RefusalReason,
    Resync,
    refusal_for,
)
from agent.sync.protocol.envelope import (
    CONTENT_TYPE,
    MAX_MESSAGE_BYTES,
    VERSION,
    Message,
    decode_message,
    decode_record_rows,
    encode_message,
)
from agent.sync.protocol.errors import (
    BadPayload,
    ImpossibleValue,
    InvalidIdentifier,
    InvalidTopic,
    MessageTooLarge,
    MissingField,
    NotCbor,
    ProtocolError,
    RejectReason,
    UnexpectedField,
    UnknownCommand,
    UnknownKind,
    UnknownRecordType,
    UnsupportedVersion,
    WrongDevice,
    WrongTopic,
    WrongType,
)
from agent.sync.protocol.presence import Birth, Death
from agent.sync.protocol.records import RecordBatch, RecordRows, WireBatch
from agent.sync.protocol.topics import (
    DEFAULT_SHARE_GROUP,
    TOPIC_ROOT,
    Topic,
    TopicKind,
    check_identifier,
    fleet_filter,
    parse_topic,
    shared_filter,
)
from agent.sync.protocol.wire import RecordRow, WireRecord

__all__ = [
    "COMMAND_TYPES",
    "CONTENT_TYPE",
    "DEFAULT_SHARE_GROUP",
    "MAX_MESSAGE_BYTES",
    "TOPIC_ROOT",
    "VERSION",
    "AckStatus",
    "BadPayload",
    "BatchAck",
    "BatchLimits",
    "Birth",
    "Command",
    "CommandArgs",
    "CommandReply",
    "Death",
    "ImpossibleValue",
    "InvalidIdentifier",
    "InvalidTopic",
    "Message",
    "MessageTooLarge",
    "MissingField",
    "NotCbor",
    "Outcome",
    "PackedBatch",
    "PackedWireBatch",
    "Ping",
    "ProtocolError",
    "RecordBatch",
    "RecordRow",
    "RecordRows",
    "RefusalReason",
    "RejectReason",
    "Resync",
    "SequenceRange",
    "Topic",
    "TopicKind",
    "UnexpectedField",
    "UnknownCommand",
    "UnknownKind",
    "UnknownRecordType",
    "UnsupportedVersion",
    "WireBatch",
    "WireRecord",
    "WrongDevice",
    "WrongTopic",
    "WrongType",
    "check_identifier",
    "decode_message",
    "decode_record_rows",
    "encode_message",
    "fleet_filter",
    "pack_batches",
    "pack_wire_batches",
    "parse_topic",
    "ranges_of",
    "refusal_for",
    "shared_filter",
]
