"""Commands from the hospital and the device's replies (invariant 5: stale commands never act).

A command names its target device, a request id, when it was issued and when it expires (wall
clock, nanoseconds), and a random nonce; the device journals it before acting and refuses it -
with a reply saying why - when it has expired, when its nonce was seen before, when its kind is
unknown or when it is malformed. Each kind has its own strictly checked arguments map; a new
kind is a new class in :data:`COMMAND_TYPES`; the cabinet's dispensing decisions are in
:mod:`agent.sync.protocol.cabinet_commands`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from agent.sync.protocol.cabinet_commands import (
    Allocate,
    BadgeList,
    Cancel,
    ElectronicIssue,
    Inventory,
    UnitHistory,
)
from agent.sync.protocol.errors import ImpossibleValue, ProtocolError, UnknownCommand
from agent.sync.protocol.fields import Fields, as_text, as_uint
from agent.sync.protocol.topics import TopicKind, check_identifier

__all__ = [
    "COMMAND_TYPES",
    "MAX_NONCE_BYTES",
    "MIN_NONCE_BYTES",
    "Command",
    "CommandArgs",
    "CommandReply",
    "Outcome",
    "Ping",
    "RefusalReason",
    "Resync",
    "refusal_for",
]

MIN_NONCE_BYTES = 16
MAX_NONCE_BYTES = 64
_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Ping:
    """Asks for a reply and nothing else: proves the command path works end to end."""

    NAME: ClassVar[str] = "ping"

    def to_args(self) -> dict[str, Any]:
        """The arguments map."""
        return {}

    @classmethod
    def from_args(cls, _fields: Fields) -> Ping:
        """The arguments the map describes (none)."""
        return cls()


@dataclass(frozen=True, slots=True)
class Resync:
    """Resend every record whose sequence is ``from_sequence`` or later, acknowledged or not.

    What the receiver sends when it finds a gap in a device's sequences.
    """

    NAME: ClassVar[str] = "resync"
    from_sequence: int

    def __post_init__(self) -> None:
        as_uint(self.from_sequence, "from_sequence")

    def to_args(self) -> dict[str, Any]:
        """The arguments map."""
        return {"from_sequence": self.from_sequence}

    @classmethod
    def from_args(cls, fields: Fields) -> Resync:
        """The arguments the map describes."""
        return cls(from_sequence=fields.uint("from_sequence"))


CommandArgs = (
    Ping | Resync | Allocate | ElectronicIssue | Cancel | BadgeList | Inventory | UnitHistory
)

COMMAND_TYPES: dict[str, type[CommandArgs]] = {
    cls.NAME: cls
    for cls in (Ping, Resync, Allocate, ElectronicIssue, Cancel, BadgeList, Inventory, UnitHistory)
}


@dataclass(frozen=True, slots=True)
class Command:
    """One command to one device; ``args`` says which kind and with what arguments."""

    KIND: ClassVar[str] = "command"
    TOPIC: ClassVar[TopicKind] = TopicKind.COMMANDS

    device: str
    request_id: str
    issued_ns: int
    expires_ns: int
    nonce: bytes
    args: CommandArgs

    def __post_init__(self) -> None:
        check_identifier(self.device, "device")
        check_identifier(self.request_id, "request id")
        as_uint(self.issued_ns, "issued_ns")
        as_uint(self.expires_ns, "expires_ns")
        if self.expires_ns <= self.issued_ns:
            raise ImpossibleValue("a command expires after it is issued")
        if not MIN_NONCE_BYTES <= len(self.nonce) <= MAX_NONCE_BYTES:
            raise ImpossibleValue(f"a nonce has {MIN_NONCE_BYTES}-{MAX_NONCE_BYTES} bytes")

    def expired(self, wall_ns: int) -> bool:
        """Whether the command has expired at wall-clock time ``wall_ns``."""
        return wall_ns >= self.expires_ns

    def expiry_interval_s(self, wall_ns: int) -> int:
        """The MQTT 5 message expiry interval to publish it with at ``wall_ns`` (at least 1)."""
        return max(1, math.ceil((self.expires_ns - wall_ns) / _NS_PER_S))

    def to_fields(self) -> dict[str, Any]:
        """The message's fields (besides version and kind), ready for CBOR."""
        return {
            "device": self.device,
            "id": self.request_id,
            "issued_ns": self.issued_ns,
            "expires_ns": self.expires_ns,
            "nonce": self.nonce,
            "command": self.args.NAME,
            "args": self.args.to_args(),
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> Command:
        """The command the fields describe; errors carry its request id once it is read."""
        request_id = check_identifier(fields.text("id"), "request id")
        try:
            name = fields.text("command")
            kind = COMMAND_TYPES.get(name)
            if kind is None:
                raise UnknownCommand(f"unknown command {name!r}")
            args_fields = fields.submap("args")
            args = kind.from_args(args_fields)
            args_fields.finish()
            command = cls(
                device=fields.text("device"),
                request_id=request_id,
                issued_ns=fields.uint("issued_ns"),
                expires_ns=fields.uint("expires_ns"),
                nonce=fields.byte_string("nonce", MIN_NONCE_BYTES, MAX_NONCE_BYTES),
                args=args,
            )
            fields.finish()
        except ProtocolError as error:
            error.request_id = request_id
            raise
        return command


class Outcome(enum.StrEnum):
    """What the device did with a command."""

    DONE = "done"
    REFUSED = "refused"


class RefusalReason(enum.StrEnum):
    """Why the device refused a command; every refusal is journaled too."""

    EXPIRED = "expired"
    """Its expiry had passed (or the device's clock is not synchronised and it needs to be)."""
    REPLAYED = "replayed"
    """Its nonce was seen before."""
    UNKNOWN = "unknown"
    """Its kind is not one the device knows."""
    MALFORMED = "malformed"
    """It could not be decoded, or its arguments are wrong."""
    REJECTED = "rejected"
    """It was understood, but the device cannot carry it out (the unit is not here, it has
    expired ...); the detail says why."""


def refusal_for(error: ProtocolError) -> RefusalReason:
    """The refusal to reply with for a command that failed to decode with ``error``."""
    return RefusalReason.UNKNOWN if isinstance(error, UnknownCommand) else RefusalReason.MALFORMED


@dataclass(frozen=True, slots=True)
class CommandReply:
    """The device's answer to the command ``request_id``: done, or refused with a reason."""

    KIND: ClassVar[str] = "reply"
    TOPIC: ClassVar[TopicKind] = TopicKind.REPLIES

    device: str
    request_id: str
    outcome: Outcome
    reason: RefusalReason | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        check_identifier(self.device, "device")
        check_identifier(self.request_id, "request id")
        as_text(self.detail, "detail")
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        if (self.outcome is Outcome.REFUSED) != (self.reason is not None):
            raise ImpossibleValue("a refused command has a reason, a done one has none")
        if self.reason is not None:
            object.__setattr__(self, "reason", RefusalReason(self.reason))
        elif self.detail:
            raise ImpossibleValue("a done command has no detail")

    def to_fields(self) -> dict[str, Any]:
        """The message's fields (besides version and kind), ready for CBOR."""
        fields: dict[str, Any] = {
            "device": self.device,
            "id": self.request_id,
            "outcome": str(self.outcome),
        }
        if self.reason is not None:
            fields |= {"reason": str(self.reason), "detail": self.detail}
        return fields

    @classmethod
    def from_fields(cls, fields: Fields) -> CommandReply:
        """The reply the fields describe."""
        device = fields.text("device")
        request_id = fields.text("id")
        outcome = fields.choice("outcome", Outcome)
        if outcome is Outcome.DONE:
            return cls(device=device, request_id=request_id, outcome=outcome)
        return cls(
            device=device,
            request_id=request_id,
            outcome=outcome,
            reason=fields.choice("reason", RefusalReason),
            detail=fields.text("detail"),
        )
