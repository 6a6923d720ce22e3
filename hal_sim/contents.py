"""What is where in a simulated device: units in slots, loose units by antenna, tag memory.

The physical rules a bench must respect are kept here once, for every simulated backend (the
simulator's own parts, :class:`~hal_sim.device.SimDevice`, and the real drivers over their
fakes, :class:`~hal_sim.driven_device.DrivenDevice`): a locked slot or a closed door refuses
unless forced, a slot holds one unit, a unit is in one place, a tag is on one unit. Loose units
lie under an antenna: a fridge's or a box's, or a cabinet's scanning station. Each backend says
how a change is sensed - a presence signal, a fake chip's input pin, a tag in a fake reader's
field - through the callbacks it gives; an action that breaks a rule raises
:class:`BenchError` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.config.schema import STATION_ANTENNA, DeviceKind, Profile
from agent.hal.tag_data import encode_tag_data
from hal_sim.units import SimUnit

__all__ = ["BenchError", "Contents", "ContentsHooks"]


class BenchError(Exception):
    """A bench action the simulated world does not allow (the slot is locked, the slot is
    full, no such unit). Nothing was changed."""


class Contents:
    """The units of one simulated device; see the module docstring.

    ``slot_locked(slot)`` and ``door_open()`` say what the device's mechanics allow;
    ``on_slot(slot)`` is called after a slot filled or emptied, ``on_tag(antenna, unit,
    present)`` after a unit came under an antenna or left it.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        slot_locked: Callable[[int], bool],
        door_open: Callable[[], bool],
        on_slot: Callable[[int], None],
        on_tag: Callable[[str, SimUnit, bool], None],
    ) -> None:
        self._profile = profile
        self._slot_locked = slot_locked
        self._door_open = door_open
        self._on_slot = on_slot
        self._on_tag = on_tag
        self.slot_units: dict[int, SimUnit | None] = dict.fromkeys(
            range(1, profile.slots + 1), None
        )
        self.loose_units: dict[str, tuple[SimUnit, str]] = {}
        """Units not in a slot, by tag: the unit and the antenna it lies under."""
        self._reprogrammed: dict[str, bytes] = {}

    # --- what is where ---------------------------------------------------------------------

    def all_units(self) -> list[SimUnit]:
        """Every unit in the device, in slots first."""
        in_slots = [unit for unit in self.slot_units.values() if unit is not None]
        return in_slots + [unit for unit, _ in self.loose_units.values()]

    def find_unit(self, din: str) -> SimUnit | None:
        """The unit with this DIN, wherever it is in the device."""
        return next((unit for unit in self.all_units() if unit.din == din), None)

    def tags_at(self, antenna: str) -> frozenset[str]:
        """The tags an antenna covers: a slot's unit, or the loose units under it."""
        rfid = self._profile.rfid
        if antenna.startswith("slot-") and rfid is not None and rfid.per_slot:
            unit = self.slot_units.get(int(antenna.removeprefix("slot-")))
            return frozenset() if unit is None else frozenset({unit.tag_uid})
        return frozenset(
            unit.tag_uid for unit, where in self.loose_units.values() if where == antenna
        )

    def tag_memory(self, unit: SimUnit) -> bytes:
        """What ``unit``'s tag holds: its DIN, unless a bench reprogrammed it."""
        return self._reprogrammed.get(unit.tag_uid) or encode_tag_data(unit.din, unit.flags)

    def tag_memory_of(self, uid: str) -> bytes:
        """What the tag ``uid`` holds; :class:`BenchError` if no unit here carries it."""
        unit = next((unit for unit in self.all_units() if unit.tag_uid == uid), None)
        if unit is None:
            raise BenchError(f"no unit in the device has tag {uid}")
        return self.tag_memory(unit)

    def at_station(self) -> SimUnit | None:
        """The unit held at the scanning station, if any."""
        return next(
            (unit for unit, where in self.loose_units.values() if where == STATION_ANTENNA),
            None,
        )

    # --- bench hooks -----------------------------------------------------------------------

    def stock(self, unit: SimUnit, slot: int | None = None) -> None:
        """Load a unit before the agent starts (commissioning), ignoring locks and doors."""
        self._place(unit, slot)

    def put_unit(self, unit: SimUnit, slot: int | None = None, *, force: bool = False) -> None:
        """A person puts a unit into a slot (cabinet) or into the fridge or box; a unit held
        at the scanning station moves from there."""
        if slot is not None:
            self._require_slot_open(slot, force=force)
            held = self.loose_units.get(unit.tag_uid)
            if held is not None and held[1] == STATION_ANTENNA:
                self._lift(unit.tag_uid)
        elif not self._door_open():
            raise BenchError("the door is closed: open it before putting a unit in")
        self._place(unit, slot)

    def take_unit(
        self, slot: int | None = None, *, tag_uid: str | None = None, force: bool = False
    ) -> SimUnit:
        """A person takes a unit out of a slot (cabinet), or by tag out of a fridge or box."""
        if slot is not None:
            unit = self.unit_in(slot)
            if unit is None:
                raise BenchError(f"slot {slot} is empty")
            self._require_slot_open(slot, force=force)
            self.slot_units[slot] = None
            self._on_slot(slot)
            self._on_tag(f"slot-{slot}", unit, False)
            return unit
        if tag_uid is None:
            raise BenchError("say which unit: a slot or a tag UID")
        if tag_uid not in self.loose_units:
            raise BenchError(f"no unit with tag {tag_uid} is inside")
        if not self._door_open() and not force:
            raise BenchError("the door is closed: open it before taking a unit out")
        return self._lift(tag_uid)

    def hold_at_station(self, unit: SimUnit) -> None:
        """A person holds a unit at the cabinet's scanning station, over its ``station``
        antenna, to stock it in or return it. Its DIN may be one the cabinet already holds (a
        duplicate label is what stock-in must catch); its tag may not."""
        rfid = self._profile.rfid
        if rfid is None or STATION_ANTENNA not in rfid.antennas:
            raise BenchError("this device has no scanning station")
        if any(held.tag_uid == unit.tag_uid for held in self.all_units()):
            raise BenchError(f"a unit with tag {unit.tag_uid} is already in the device")
        self.loose_units[unit.tag_uid] = (unit, STATION_ANTENNA)
        self._on_tag(STATION_ANTENNA, unit, True)

    def take_from_station(self) -> SimUnit:
        """A person takes the unit held at the scanning station back off it."""
        unit = self.at_station()
        if unit is None:
            raise BenchError("no unit is held at the scanning station")
        return self._lift(unit.tag_uid)

    def reprogram_tag(self, tag_uid: str, din: str, flags: str) -> None:
        """Bench fault: the tag ``tag_uid`` carries another DIN than its unit's label."""
        self._reprogrammed[tag_uid] = encode_tag_data(din, flags)

    # --- the rules -------------------------------------------------------------------------

    def _place(self, unit: SimUnit, slot: int | None) -> None:
        if self.find_unit(unit.din) is not None:
            raise BenchError(f"unit {unit.din} is already in the device")
        if slot is not None:
            if self.unit_in(slot) is not None:
                raise BenchError(f"slot {slot} is already occupied")
            self.slot_units[slot] = unit
            self._on_slot(slot)
            rfid = self._profile.rfid
            if rfid is not None and rfid.per_slot:
                self._on_tag(f"slot-{slot}", unit, True)
            return
        if self._profile.device.kind is DeviceKind.CABINET:
            raise BenchError("a cabinet holds units in slots: say which slot")
        rfid = self._profile.rfid
        antennas = rfid.antennas if rfid is not None else ("inside",)
        antenna = antennas[len(self.loose_units) % len(antennas)]
        self.loose_units[unit.tag_uid] = (unit, antenna)
        self._on_tag(antenna, unit, True)

    def _lift(self, tag_uid: str) -> SimUnit:
        """Take a loose unit from under its antenna."""
        unit, antenna = self.loose_units.pop(tag_uid)
        self._on_tag(antenna, unit, False)
        return unit

    def unit_in(self, slot: int) -> SimUnit | None:
        """The unit in ``slot``; :class:`BenchError` if the device has no such slot."""
        if slot not in self.slot_units:
            raise BenchError(f"there is no slot {slot} (slots are 1-{len(self.slot_units)})")
        return self.slot_units[slot]

    def _require_slot_open(self, slot: int, *, force: bool) -> None:
        self.unit_in(slot)
        if self._slot_locked(slot) and not force:
            raise BenchError(f"slot {slot} is locked")


class ContentsHooks:
    """The bench hooks that move units, for a simulated device holding its :class:`Contents`
    in ``contents``: the same for every backend, since only how a change is sensed differs."""

    contents: Contents

    def stock(self, unit: SimUnit, slot: int | None = None) -> None:
        """Load a unit before the agent starts (commissioning), ignoring locks and doors."""
        self.contents.stock(unit, slot)

    def put_unit(self, unit: SimUnit, slot: int | None = None, *, force: bool = False) -> None:
        """A person puts a unit into a slot, the fridge or the box (:class:`Contents`)."""
        self.contents.put_unit(unit, slot, force=force)

    def take_unit(
        self, slot: int | None = None, *, tag_uid: str | None = None, force: bool = False
    ) -> SimUnit:
        """A person takes a unit out of a slot, the fridge or the box (:class:`Contents`)."""
        return self.contents.take_unit(slot, tag_uid=tag_uid, force=force)

    def hold_at_station(self, unit: SimUnit) -> None:
        """A person holds a unit at the cabinet's scanning station (:class:`Contents`)."""
        self.contents.hold_at_station(unit)

    def at_station(self) -> SimUnit | None:
        """The unit held at the scanning station, if any."""
        return self.contents.at_station()

    def take_from_station(self) -> SimUnit:
        """A person takes the unit held at the scanning station back off it."""
        return self.contents.take_from_station()

    def reprogram_tag(self, tag_uid: str, din: str, flags: str) -> None:
        """Bench fault: the tag ``tag_uid`` carries another DIN than its unit's label."""
        self.contents.reprogram_tag(tag_uid, din, flags)

    def find_unit(self, din: str) -> SimUnit | None:
        """The unit with this DIN, wherever it is in the device."""
        return self.contents.find_unit(din)
