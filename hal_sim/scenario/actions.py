"""The bench actions a scenario step can take (``do = "..."``), one frozen dataclass each.

Each action is a bench hook of :class:`~hal_sim.device.SimDevice` with its arguments as the
step's keys. :data:`ACTIONS` maps the name written in the file to the
:class:`~hal_sim.scenario.model.StepSpec` saying which keys the action takes on a given device;
``docs/simulator.md`` ("Scenarios") documents them for people. An action the simulated world
does not allow raises :class:`~hal_sim.device.BenchError` from :meth:`apply`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from agent.config.fields import Field
from agent.config.kinds import OPTIONAL, REQUIRED, Choice, Flag, Number, Text
from agent.config.schema import DeviceKind
from hal_sim.parts import ProbeFaultMode
from hal_sim.scenario.cabinet_actions import CABINET_ACTIONS
from hal_sim.scenario.kinds import HexBytes, Named, SlotNumber
from hal_sim.scenario.model import Action, Bench, DeviceFacts, StepSpec, call_text, one_of
from hal_sim.staff import STAFF

__all__ = ["ACTIONS"]

_FORCE = Field("force", Flag(), False)


def _din(facts: DeviceFacts, default: object = REQUIRED) -> Field:
    return Field("din", Named("unit DIN from a [[stock]] or [[unit]] table", facts.dins), default)


def _door(facts: DeviceFacts) -> Field:
    """The optional ``door`` key; absent means the device's first door."""
    return Field("door", Named("door", facts.doors), OPTIONAL)


def _slot(facts: DeviceFacts, default: object = REQUIRED) -> Field:
    return Field("slot", SlotNumber(facts.slots), default)


def _cabinet_slot(facts: DeviceFacts, default: object = REQUIRED) -> tuple[Field, ...]:
    """``slot`` on a cabinet (optional if the device is unknown); no such key elsewhere."""
    if facts.kind is DeviceKind.CABINET:
        return (_slot(facts, default),)
    if facts.kind is None:
        return (_slot(facts, OPTIONAL),)
    return ()


class _Call:
    """Shows an action as a call: ``open_door(force=true)``."""

    NAME: ClassVar[str]

    def describe(self) -> str:
        return call_text(self.NAME, self)


# --- contents --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PutUnit(_Call):
    """A person puts a unit in: into a slot (cabinet), or into the open fridge or box."""

    NAME: ClassVar[str] = "put_unit"
    din: str
    slot: int | None = None
    force: bool = False

    async def apply(self, bench: Bench) -> None:
        bench.device.put_unit(bench.units[self.din], self.slot, force=self.force)


@dataclass(frozen=True)
class TakeUnit(_Call):
    """A person takes a unit out: from a slot (cabinet), or by DIN or tag from the fridge or
    box."""

    NAME: ClassVar[str] = "take_unit"
    slot: int | None = None
    din: str | None = None
    tag: str | None = None
    force: bool = False

    async def apply(self, bench: Bench) -> None:
        tag = bench.units[self.din].tag_uid if self.din is not None else self.tag
        bench.device.take_unit(self.slot, tag_uid=tag, force=self.force)


def _take_fields(facts: DeviceFacts) -> tuple[Field, ...]:
    """A cabinet's units are taken by slot; a fridge's or box's by DIN or tag."""
    if facts.kind is DeviceKind.CABINET:
        return (_slot(facts), _FORCE)
    loose = (_din(facts, OPTIONAL), Field("tag", Text(), OPTIONAL))
    return (*_cabinet_slot(facts, OPTIONAL), *loose, _FORCE)


# --- doors, environment, power -----------------------------------------------------------------


@dataclass(frozen=True)
class OpenDoor(_Call):
    """A person opens a door or lid; a locked one only with ``force``."""

    NAME: ClassVar[str] = "open_door"
    door: str | None = None
    force: bool = False

    async def apply(self, bench: Bench) -> None:
        bench.device.open_door(self.door, force=self.force)


@dataclass(frozen=True)
class CloseDoor(_Call):
    """A person closes a door or lid."""

    NAME: ClassVar[str] = "close_door"
    door: str | None = None

    async def apply(self, bench: Bench) -> None:
        bench.device.close_door(self.door)


@dataclass(frozen=True)
class SetAmbient(_Call):
    """The room (or the vehicle) around the device changes temperature."""

    NAME: ClassVar[str] = "set_ambient"
    celsius: float

    async def apply(self, bench: Bench) -> None:
        bench.device.set_ambient(self.celsius)


@dataclass(frozen=True)
class CutPower(_Call):
    """Mains power fails."""

    NAME: ClassVar[str] = "cut_power"

    async def apply(self, bench: Bench) -> None:
        bench.device.cut_power()


@dataclass(frozen=True)
class RestorePower(_Call):
    """Mains power comes back."""

    NAME: ClassVar[str] = "restore_power"

    async def apply(self, bench: Bench) -> None:
        bench.device.restore_power()


@dataclass(frozen=True)
class DrainBattery(_Call):
    """The battery is suddenly at ``fraction`` state of charge (a worn or dying battery)."""

    NAME: ClassVar[str] = "drain_battery"
    fraction: float

    async def apply(self, bench: Bench) -> None:
        bench.device.drain_battery(self.fraction)


# --- people at the readers ---------------------------------------------------------------------


@dataclass(frozen=True)
class PresentBadge(_Call):
    """A person holds a badge to the badge reader: a badge ``uid``, or the badge of a member
    of the simulator's ``staff`` (:data:`hal_sim.staff.STAFF`)."""

    NAME: ClassVar[str] = "present_badge"
    uid: str | None = None
    staff: str | None = None

    async def apply(self, bench: Bench) -> None:
        bench.device.present_badge(self.uid or STAFF[self.staff or ""].uid)


@dataclass(frozen=True)
class Scan(_Call):
    """A person scans a barcode; ``symbology`` is the AIM identifier the scanner sends."""

    NAME: ClassVar[str] = "scan"
    data: str
    symbology: str | None = None

    async def apply(self, bench: Bench) -> None:
        bench.device.scan(self.data, self.symbology)


@dataclass(frozen=True)
class ScanUnit(_Call):
    """A person scans every barcode on a unit's label, in label order."""

    NAME: ClassVar[str] = "scan_unit"
    din: str

    async def apply(self, bench: Bench) -> None:
        bench.device.scan_unit(bench.units[self.din])


@dataclass(frozen=True)
class FeedGarbage(_Call):
    """A reader (``scanner`` or ``badge``) delivers bytes it cannot decode."""

    NAME: ClassVar[str] = "feed_garbage"
    source: str
    hex: str

    async def apply(self, bench: Bench) -> None:
        bench.device.feed_garbage(self.source, bytes.fromhex(self.hex))


# --- faults --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JamLock(_Call):
    """A slot's lock (``slot``) or a door's lock (``door``, or the first door) jams, or is
    freed with ``jammed = false``."""

    NAME: ClassVar[str] = "jam_lock"
    slot: int | None = None
    door: str | None = None
    jammed: bool = True

    async def apply(self, bench: Bench) -> None:
        bench.device.jam_lock(self.slot, door=self.door, jammed=self.jammed)


@dataclass(frozen=True)
class StickPresence(_Call):
    """A slot's presence sensor sticks, reporting ``present`` whatever is in the slot."""

    NAME: ClassVar[str] = "stick_presence"
    slot: int
    present: bool

    async def apply(self, bench: Bench) -> None:
        bench.device.stick_presence(self.slot, self.present)


@dataclass(frozen=True)
class UnstickPresence(_Call):
    """A stuck presence sensor works again."""

    NAME: ClassVar[str] = "unstick_presence"
    slot: int

    async def apply(self, bench: Bench) -> None:
        bench.device.stick_presence(self.slot, None)


@dataclass(frozen=True)
class StickDoorSensor(_Call):
    """A door contact sticks, reporting ``open`` whatever the door does."""

    NAME: ClassVar[str] = "stick_door_sensor"
    open: bool
    door: str | None = None

    async def apply(self, bench: Bench) -> None:
        bench.device.stick_door_sensor(self.door, self.open)


@dataclass(frozen=True)
class UnstickDoorSensor(_Call):
    """A stuck door contact works again."""

    NAME: ClassVar[str] = "unstick_door_sensor"
    door: str | None = None

    async def apply(self, bench: Bench) -> None:
        bench.device.stick_door_sensor(self.door, None)


@dataclass(frozen=True)
class FailProbe(_Call):
    """A temperature probe fails in ``mode``: ``disconnected``, ``garbage``, ``crc_error``;
    ``none`` repairs it."""

    NAME: ClassVar[str] = "probe_fault"
    probe: str
    mode: ProbeFaultMode

    async def apply(self, bench: Bench) -> None:
        bench.device.probe_fault(self.probe, self.mode)


@dataclass(frozen=True)
class RfidMissRate(_Call):
    """Each tag is missed by an RFID inventory with probability ``rate``."""

    NAME: ClassVar[str] = "rfid_miss_rate"
    rate: float

    async def apply(self, bench: Bench) -> None:
        bench.device.rfid_miss_rate(self.rate)


@dataclass(frozen=True)
class Unplug(_Call):
    """A part (by its name, such as ``slot-3-presence`` or ``scanner``) stops answering."""

    NAME: ClassVar[str] = "unplug"
    part: str

    async def apply(self, bench: Bench) -> None:
        bench.device.set_connected(self.part, connected=False)


@dataclass(frozen=True)
class Plug(_Call):
    """An unplugged part is plugged back in."""

    NAME: ClassVar[str] = "plug"
    part: str

    async def apply(self, bench: Bench) -> None:
        bench.device.set_connected(self.part, connected=True)


ACTIONS: dict[str, StepSpec[Action]] = {
    PutUnit.NAME: StepSpec(lambda facts: (_din(facts), *_cabinet_slot(facts), _FORCE), PutUnit),
    TakeUnit.NAME: StepSpec(_take_fields, TakeUnit, one_of("slot", "din", "tag")),
    OpenDoor.NAME: StepSpec(lambda facts: (_door(facts), _FORCE), OpenDoor),
    CloseDoor.NAME: StepSpec(lambda facts: (_door(facts),), CloseDoor),
    SetAmbient.NAME: StepSpec(
        (Field("celsius", Number("a temperature in °C", ge=-50.0, le=80.0)),),
        SetAmbient,
    ),
    CutPower.NAME: StepSpec((), CutPower),
    RestorePower.NAME: StepSpec((), RestorePower),
    DrainBattery.NAME: StepSpec(
        (Field("fraction", Number("a state of charge", ge=0.0, le=1.0)),),
        DrainBattery,
    ),
    PresentBadge.NAME: StepSpec(
        (
            Field("uid", Text(), OPTIONAL),
            Field("staff", Named("staff member", tuple(STAFF)), OPTIONAL),
        ),
        PresentBadge,
        one_of("uid", "staff"),
    ),
    Scan.NAME: StepSpec((Field("data", Text()), Field("symbology", Text(), OPTIONAL)), Scan),
    ScanUnit.NAME: StepSpec(lambda facts: (_din(facts),), ScanUnit),
    FeedGarbage.NAME: StepSpec(
        (Field("source", Named("reader", ("scanner", "badge"))), Field("hex", HexBytes())),
        FeedGarbage,
    ),
    JamLock.NAME: StepSpec(
        lambda facts: (
            *_cabinet_slot(facts, OPTIONAL),
            _door(facts),
            Field("jammed", Flag(), True),
        ),
        JamLock,
        one_of("slot", "door", required=False),
    ),
    StickPresence.NAME: StepSpec(
        lambda facts: (_slot(facts), Field("present", Flag())), StickPresence
    ),
    UnstickPresence.NAME: StepSpec(lambda facts: (_slot(facts),), UnstickPresence),
    StickDoorSensor.NAME: StepSpec(
        lambda facts: (_door(facts), Field("open", Flag())), StickDoorSensor
    ),
    UnstickDoorSensor.NAME: StepSpec(lambda facts: (_door(facts),), UnstickDoorSensor),
    FailProbe.NAME: StepSpec(
        lambda facts: (
            Field("probe", Named("probe", facts.probes)),
            Field("mode", Choice(ProbeFaultMode)),
        ),
        FailProbe,
    ),
    RfidMissRate.NAME: StepSpec(
        (Field("rate", Number("a probability", ge=0.0, le=1.0)),), RfidMissRate
    ),
    Unplug.NAME: StepSpec((Field("part", Text()),), Unplug),
    Plug.NAME: StepSpec((Field("part", Text()),), Plug),
    **CABINET_ACTIONS,
}
"""Every action by the name a step gives in ``do``: the bench actions here, and the cabinet
workflow actions of :mod:`hal_sim.scenario.cabinet_actions`."""
