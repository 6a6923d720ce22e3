"""The event: the one record type everything the agent observes or does becomes.

Events are what the journal stores and the sync link sends (invariants 3 and 7 of the brief):

* a stable identity - device id, boot epoch, 64-bit sequence - on which the hospital side
  upserts, so that a record sent twice is stored once;
* wall-clock time, monotonic time and whether the wall clock was synchronised when the event
  was stamped;
* a typed payload: one frozen dataclass per event type, whose ``TYPE`` names it on the wire.

Payloads are plain data (no behaviour) so that they encode to CBOR field by field. The payload
classes are listed in :data:`PAYLOAD_TYPES`: the device's own here, the dispensing cabinet's in
:mod:`agent.dispensing_events`; their names are in :mod:`agent.event_types`. Adding an event
type means adding a name there and a class in one of these modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from agent.dispensing_events import DISPENSING_PAYLOADS, DispensingPayload
from agent.event_types import EventType

__all__ = [
    "MAX_SEQUENCE",
    "PAYLOAD_TYPES",
    "AgentStarted",
    "AgentStopping",
    "BadgePresented",
    "BarcodeScanned",
    "CommandAnswered",
    "CommandReceived",
    "DoorChanged",
    "Event",
    "EventType",
    "HardwareFault",
    "InputRejected",
    "Payload",
    "PowerChanged",
    "PresenceChanged",
    "ProbeFault",
    "RecordId",
    "RecordUnreadable",
    "SyncRejected",
    "TagsChanged",
    "TemperatureSample",
]

MAX_SEQUENCE = 2**64 - 1
"""Sequences are unsigned 64-bit numbers: a device that appends a million records a second
would take half a million years to run out."""


@dataclass(frozen=True, slots=True)
class RecordId:
    """The identity of one record, unique across the fleet and across restarts.

    ``boot_epoch`` counts the agent's starts on this device (persisted before first use), and
    ``sequence`` counts records within the device; together with ``device_id`` they never
    repeat, so the hospital side can upsert on them.
    """

    device_id: str
    boot_epoch: int
    sequence: int

    def __post_init__(self) -> None:
        if not self.device_id:
            raise ValueError("device_id must not be empty")
        if self.boot_epoch < 0:
            raise ValueError(f"boot_epoch must be >= 0, got {self.boot_epoch}")
        if not 0 <= self.sequence <= MAX_SEQUENCE:
            raise ValueError(f"sequence must be an unsigned 64-bit number, got {self.sequence}")

    def __str__(self) -> str:
        return f"{self.device_id}/{self.boot_epoch}/{self.sequence}"


# --- payloads ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentStarted:
    """The agent came up: what it runs and on which profile."""

    TYPE: ClassVar[EventType] = EventType.AGENT_STARTED
    version: str
    profile: str
    backend: str


@dataclass(frozen=True, slots=True)
class AgentStopping:
    """The agent is shutting down in order (a signal or an operator), not crashing."""

    TYPE: ClassVar[EventType] = EventType.AGENT_STOPPING
    reason: str


@dataclass(frozen=True, slots=True)
class TemperatureSample:
    """One sampling tick of a group of probes: the valid reading of each, in degrees Celsius.

    ``probes[i]`` read ``celsius[i]``. The probes that share an interval are read together, and
    their readings are one record: the cabinet's temperatures at that moment, as a data logger
    keeps one row per logging interval. A probe that gave no valid reading in the tick is
    absent (its :class:`ProbeFault` says why), so a tick has at least one reading and each
    probe at most once.
    """

    TYPE: ClassVar[EventType] = EventType.TEMPERATURE_SAMPLE
    probes: tuple[str, ...]
    celsius: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.probes or len(self.probes) != len(self.celsius):
            raise ValueError(
                f"a temperature sample needs one reading per probe, at least one:"
                f" {len(self.probes)} probes, {len(self.celsius)} readings"
            )
        if len(set(self.probes)) != len(self.probes):
            raise ValueError(f"a probe is read at most once per tick: {list(self.probes)}")

    def readings(self) -> Iterator[tuple[str, float]]:
        """Each probe with its reading."""
        return zip(self.probes, self.celsius, strict=True)


@dataclass(frozen=True, slots=True)
class ProbeFault:
    """A probe stopped giving usable readings: no answer, a failed read or an impossible value.

    Recorded once when a fault begins (or its reason changes), and once with ``cleared`` when
    valid readings resume - not for every failed sample. ``value`` holds the rejected reading
    when there was one (an implausible number), so a reviewer can see what the probe said.
    """

    TYPE: ClassVar[EventType] = EventType.PROBE_FAULT
    probe: str
    reason: str
    value: float | None = None
    cleared: bool = False


@dataclass(frozen=True, slots=True)
class DoorChanged:
    """A door or lid sensor changed state (after debouncing)."""

    TYPE: ClassVar[EventType] = EventType.DOOR_CHANGED
    door: str
    open: bool


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A slot presence sensor changed state (after debouncing)."""

    TYPE: ClassVar[EventType] = EventType.PRESENCE_CHANGED
    slot: int
    present: bool


@dataclass(frozen=True, slots=True)
class TagsChanged:
    """An RFID inventory of one antenna found tags arriving or leaving since the last one."""

    TYPE: ClassVar[EventType] = EventType.TAGS_CHANGED
    antenna: str
    arrived: tuple[str, ...]
    left: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PowerChanged:
    """Mains power was lost or restored, or the battery crossed its low threshold."""

    TYPE: ClassVar[EventType] = EventType.POWER_CHANGED
    on_mains: bool
    battery_fraction: float | None
    battery_low: bool


@dataclass(frozen=True, slots=True)
class BadgePresented:
    """A badge was read at the badge reader; its UID as the reader reported it."""

    TYPE: ClassVar[EventType] = EventType.BADGE_PRESENTED
    reader: str
    badge_uid: str


@dataclass(frozen=True, slots=True)
class BarcodeScanned:
    """A barcode was read; ``symbology`` is the AIM identifier when the scanner sent one."""

    TYPE: ClassVar[EventType] = EventType.BARCODE_SCANNED
    scanner: str
    data: str
    symbology: str | None = None


@dataclass(frozen=True, slots=True)
class InputRejected:
    """Input from a reader or scanner that could not be understood (invariant 8).

    ``raw`` is the offending bytes in hexadecimal, kept so the incident can be examined.
    """

    TYPE: ClassVar[EventType] = EventType.INPUT_REJECTED
    source: str
    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class HardwareFault:
    """A part failed: a lock that did not move, a sensor that stopped answering.

    ``recovered`` is True on the event that reports the part working again.
    """

    TYPE: ClassVar[EventType] = EventType.HARDWARE_FAULT
    part: str
    error: str
    detail: str
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class CommandReceived:
    """A command from the hospital, journaled before the device decides on it or acts (invariant 5).

    ``nonce`` is the command's nonce in hexadecimal; ``arguments`` its arguments as JSON text
    with sorted keys. Times are the hospital's wall clock, nanoseconds since the Unix epoch.
    """

    TYPE: ClassVar[EventType] = EventType.COMMAND_RECEIVED
    request_id: str
    command: str
    issued_ns: int
    expires_ns: int
    nonce: str
    arguments: str


@dataclass(frozen=True, slots=True)
class CommandAnswered:
    """What the device did with a command, as it replied: ``done``, or ``refused`` with a
    ``reason`` (``expired``, ``replayed``, ``unknown``, ``malformed``) and a ``detail``."""

    TYPE: ClassVar[EventType] = EventType.COMMAND_ANSWERED
    request_id: str
    outcome: str
    reason: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SyncRejected:
    """Alarm: the hospital side refused a batch of records for a reason resending soon will not
    cure (``malformed``, ``too_large``, ``unsupported``, ``wrong_device``). The records are
    kept and sent again later; someone must look at the device or the receiver."""

    TYPE: ClassVar[EventType] = EventType.SYNC_REJECTED
    reason: str
    detail: str
    first_sequence: int
    last_sequence: int
    records: int


@dataclass(frozen=True, slots=True)
class RecordUnreadable:
    """Stands in, on the wire only, for a journal record the device can no longer send as it
    is (a damaged payload): the hospital still gets its identity and type, why, and up to 4 KiB
    of its raw bytes in hexadecimal, so no record is silently missing; the journal keeps the
    original for an operator."""

    TYPE: ClassVar[EventType] = EventType.RECORD_UNREADABLE
    original_type: str
    reason: str
    raw: str


Payload = (
    AgentStarted
    | AgentStopping
    | TemperatureSample
    | ProbeFault
    | DoorChanged
    | PresenceChanged
    | TagsChanged
    | PowerChanged
    | BadgePresented
    | BarcodeScanned
    | InputRejected
    | HardwareFault
    | CommandReceived
    | CommandAnswered
    | SyncRejected
    | RecordUnreadable
    | DispensingPayload
)

PAYLOAD_TYPES: dict[EventType, type[Payload]] = {
    cls.TYPE: cls
    for cls in (
        AgentStarted,
        AgentStopping,
        TemperatureSample,
        ProbeFault,
        DoorChanged,
        PresenceChanged,
        TagsChanged,
        PowerChanged,
        BadgePresented,
        BarcodeScanned,
        InputRejected,
        HardwareFault,
        CommandReceived,
        CommandAnswered,
        SyncRejected,
        RecordUnreadable,
        *DISPENSING_PAYLOADS,
    )
}


@dataclass(frozen=True, slots=True)
class Event:
    """One stamped record: identity, the three facts about time, and a typed payload.

    ``wall_ns`` is nanoseconds since the Unix epoch as the device's clock read it;
    ``monotonic_ns`` is nanoseconds on the device's monotonic clock (meaningful within one boot
    epoch); ``clock_synchronised`` tells whether ``wall_ns`` can be trusted.
    """

    id: RecordId
    wall_ns: int
    monotonic_ns: int
    clock_synchronised: bool
    payload: Payload

    @property
    def type(self) -> EventType:
        """The event type, taken from the payload's class."""
        return self.payload.TYPE
