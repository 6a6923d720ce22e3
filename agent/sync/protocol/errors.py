"""Typed errors for everything a peer may send us wrong (invariant 8).

Decoding never raises anything but a :class:`ProtocolError`; each subclass names one way a
message can be wrong, and carries the :class:`RejectReason` a receiver puts in its negative
acknowledgement. Errors raised while decoding a command that had a readable request id carry
that id, so the device can still answer the command with a refusal.
"""

from __future__ import annotations

import enum
from typing import ClassVar

__all__ = [
    "BadPayload",
    "ImpossibleValue",
    "InvalidIdentifier",
    "InvalidTopic",
    "MessageTooLarge",
    "MissingField",
    "NotCbor",
    "ProtocolError",
    "RejectReason",
    "UnexpectedField",
    "UnknownCommand",
    "UnknownKind",
    "UnknownRecordType",
    "UnsupportedVersion",
    "WrongDevice",
    "WrongTopic",
    "WrongType",
]


class RejectReason(enum.StrEnum):
    """Why a receiver refused a message, as carried in a negative :class:`BatchAck`."""

    MALFORMED = "malformed"
    """Not CBOR, or not a valid message of this protocol: resending it will not help."""
    TOO_LARGE = "too_large"
    """Larger than the receiver accepts."""
    UNSUPPORTED = "unsupported"
    """A protocol version, message kind or record type the receiver does not know."""
    WRONG_DEVICE = "wrong_device"
    """The message names a device or site other than the topic it came on."""
    UNAVAILABLE = "unavailable"
    """The receiver could not commit (database down): the device resends later."""


class ProtocolError(ValueError):
    """A message that cannot be accepted; ``str(error)`` says what was expected and found."""

    reason: ClassVar[RejectReason] = RejectReason.MALFORMED

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id
        """The request id of the command being decoded, when it could be read."""


class MessageTooLarge(ProtocolError):
    """The message is larger than the limit; it was not decoded at all."""

    reason = RejectReason.TOO_LARGE


class NotCbor(ProtocolError):
    """The bytes are not one well-formed CBOR data item."""


class UnsupportedVersion(ProtocolError):
    """The message's schema version is not one this side speaks."""

    reason = RejectReason.UNSUPPORTED


class UnknownKind(ProtocolError):
    """The message's kind is not one this protocol version defines."""

    reason = RejectReason.UNSUPPORTED


class MissingField(ProtocolError):
    """A required field is absent."""


class UnexpectedField(ProtocolError):
    """A field this message does not define is present."""


class WrongType(ProtocolError):
    """A field holds a value of the wrong CBOR type."""


class ImpossibleValue(ProtocolError):
    """A field has the right type but a value that cannot be (a negative sequence...)."""


class WrongDevice(ProtocolError):
    """The message names a device (or site) other than the one its topic names."""

    reason = RejectReason.WRONG_DEVICE


class WrongTopic(ProtocolError):
    """A message of this kind is never sent on this topic."""


class InvalidTopic(ProtocolError):
    """A topic name that is not one of this protocol's topics."""


class InvalidIdentifier(ProtocolError):
    """A site, device or group id that is not safe to put in a topic."""


class UnknownRecordType(ProtocolError):
    """A record of an event type this protocol version does not define."""

    reason = RejectReason.UNSUPPORTED


class BadPayload(ProtocolError):
    """A record whose payload does not match its event type."""


class UnknownCommand(ProtocolError):
    """A command kind the device does not know; answered with a ``unknown`` refusal."""

    reason = RejectReason.UNSUPPORTED
